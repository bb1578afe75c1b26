package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The operator's kill switches: one hash (Keys.Switches), one field per
// switch, read by every replica at most a second apart. A missing field is
// the default (the channel is open); only SetSwitch writes the hash, and it
// writes only canonical values.

// Switch names: the hash's fields.
const (
	// SwitchSignups ("on"/"off") opens or closes sign-ups.
	SwitchSignups = "signups"
	// SwitchTopups ("on"/"off") opens or closes cash top-ups at the register.
	SwitchTopups = "topups"
	// SwitchNewDevices ("on"/"off") opens or closes new devices: creating
	// enrollments, finishing them, and the new-device branch of login.
	SwitchNewDevices = "new_devices"
	// SwitchReauthAfter (Unix ms, "0" for never) ends every session whose
	// last user-verified passkey assertion is older.
	SwitchReauthAfter = "reauth_after"
	// SwitchBlockedCountries (comma-separated ISO 3166-1 alpha-2 codes,
	// sorted, "" for none) closes the customer API to requests from those
	// countries.
	SwitchBlockedCountries = "blocked_countries"
)

// SwitchNames lists every switch, in the order an operator reads them.
var SwitchNames = []string{SwitchSignups, SwitchTopups, SwitchNewDevices, SwitchReauthAfter, SwitchBlockedCountries}

// Toggle values.
const (
	SwitchOn  = "on"
	SwitchOff = "off"
)

// ErrBadSwitch is returned for an unknown switch name or a value the switch
// does not take, and by Switches for a stored value SetSwitch would not
// have written.
var ErrBadSwitch = errors.New("unknown switch or invalid switch value")

// Switches are the operator's settings. The zero value closes every toggle;
// DefaultSwitches is what an empty hash means.
type Switches struct {
	Signups    bool // true: sign-ups are open
	Topups     bool // true: cash top-ups are accepted
	NewDevices bool // true: new devices may enroll
	// ReauthAfter is the zero time when never set; sessions authenticated
	// before it are refused.
	ReauthAfter time.Time
	// BlockedCountries are upper-case ISO 3166-1 alpha-2 codes, sorted.
	BlockedCountries []string
}

// DefaultSwitches is every channel open, no cut-off, no country blocked.
func DefaultSwitches() Switches {
	return Switches{Signups: true, Topups: true, NewDevices: true}
}

// CountryBlocked reports whether country (any case) is in the list.
func (w Switches) CountryBlocked(country string) bool {
	_, found := slices.BinarySearch(w.BlockedCountries, strings.ToUpper(country))
	return found
}

// Switches reads every switch in one HGETALL; missing fields are the
// defaults and fields of unknown switches are ignored. It wraps ErrUnavailable when Redis cannot be reached and
// ErrBadSwitch when a stored value is not canonical (written by hand):
// callers fail closed on both.
func (s *Store) Switches(ctx context.Context) (Switches, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.Switches()).Result()
	if err != nil {
		return Switches{}, wrap("reading the switches", err)
	}
	w := DefaultSwitches()
	for name, v := range m {
		if !slices.Contains(SwitchNames, name) {
			continue // a switch of a newer release, during a rolling upgrade
		}
		canon, err := CanonicalSwitch(name, v)
		if err != nil || canon != v {
			return Switches{}, fmt.Errorf("reading the switches: %s=%q: %w", name, v, ErrBadSwitch)
		}
		switch name {
		case SwitchSignups:
			w.Signups = v == SwitchOn
		case SwitchTopups:
			w.Topups = v == SwitchOn
		case SwitchNewDevices:
			w.NewDevices = v == SwitchOn
		case SwitchReauthAfter:
			if ms, _ := strconv.ParseInt(v, 10, 64); ms > 0 {
				w.ReauthAfter = time.UnixMilli(ms)
			}
		case SwitchBlockedCountries:
			w.BlockedCountries = ParseCountries(v)
		}
	}
	return w, nil
}

// SetSwitch writes one switch. The value must be what CanonicalSwitch
// accepts; it is stored in its canonical form. It returns ErrBadSwitch for
// an unknown name or value, and wraps ErrUnavailable.
func (s *Store) SetSwitch(ctx context.Context, name, value string) error {
	canon, err := CanonicalSwitch(name, value)
	if err != nil {
		return err
	}
	if err := s.rdb.HSet(ctx, s.keys.Switches(), name, canon).Err(); err != nil {
		return wrap("setting a switch", err)
	}
	// Every replica's hub hears this and re-reads the switches; if the
	// announcement is lost, each replica's one-second re-read still applies
	// the change. The change is written either way, so a failed
	// announcement is not an error of the call.
	_ = s.rdb.Publish(ctx, s.keys.SwitchChannel(), "").Err()
	return nil
}

// CanonicalSwitch validates a value of the named switch and returns its
// stored form: "on"/"off" for the toggles; a decimal Unix millisecond count
// (0 or more) for reauth_after; for blocked_countries a comma list of
// two-letter codes (any case, spaces and empty items ignored), returned
// upper-case, sorted and without duplicates. It returns ErrBadSwitch.
func CanonicalSwitch(name, value string) (string, error) {
	switch name {
	case SwitchSignups, SwitchTopups, SwitchNewDevices:
		if value == SwitchOn || value == SwitchOff {
			return value, nil
		}
	case SwitchReauthAfter:
		ms, err := strconv.ParseInt(value, 10, 64)
		if err == nil && ms >= 0 && !strings.HasPrefix(value, "+") {
			return strconv.FormatInt(ms, 10), nil
		}
	case SwitchBlockedCountries:
		var out []string
		for _, c := range strings.Split(value, ",") {
			c = strings.ToUpper(strings.TrimSpace(c))
			if c == "" {
				continue
			}
			if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
				return "", fmt.Errorf("%s: %q is not a two-letter country code: %w", name, c, ErrBadSwitch)
			}
			out = append(out, c)
		}
		slices.Sort(out)
		return strings.Join(slices.Compact(out), ","), nil
	default:
		return "", fmt.Errorf("%q: %w", name, ErrBadSwitch)
	}
	return "", fmt.Errorf("%s: %q: %w", name, value, ErrBadSwitch)
}

// ParseCountries splits a canonical blocked_countries value.
func ParseCountries(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}
