package bff

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// The operator's kill switches (DESIGN principle 5, the 7pay story): sign-ups,
// cash top-ups, new devices, a forced re-authentication of every session,
// and blocked countries. Each is one admin call (PUT /v1/switches/{name}),
// audited, and in force on every replica at once: the change is announced
// on the switch channel, every replica's hub hears it and its cache reads
// the store again (tens of milliseconds); switchTTL bounds the staleness
// when the hub is down.

// Problem codes of the switches.
const (
	codeSignupsDisabled    = "signups_disabled"
	codeNewDevicesDisabled = "new_devices_disabled"
	codeCountryBlocked     = "country_blocked"
	codeUnknownSwitch      = "unknown_switch"
	codeInvalidSwitchValue = "invalid_switch_value"
)

// switchTTL is how long a replica uses the switches it read: the "within a
// second" of principle 5.
const switchTTL = time.Second

// switchCache is the one piece of in-memory state a replica keeps: the
// operator's switches as last read from the store, and when. Every request
// that depends on a switch asks get, which answers from the cache while it
// is younger than ttl and otherwise reads the store again (one HGETALL; the
// mutex lets one request read while the others wait for its answer, so a
// replica reads the switches at most once per ttl, however busy).
//
// A failed read is cached like a value, for ttl, and makes get return the
// error: the risky channels then fail closed (sign-ups, top-ups, new devices
// and every session check answer 503, and a request that carries a country
// answers 503) until a read succeeds. The clock is the server's, so tests
// move the cache's time with the test clock.
type switchCache struct {
	read func(context.Context) (store.Switches, error)
	now  func() time.Time
	// ttl is switchTTL; tests may set 0 (every get reads the store).
	ttl     time.Duration
	observe func(store.Switches, error)

	mu  sync.Mutex
	at  time.Time // when val/err were read; zero: never
	val store.Switches
	err error
	// gen counts the changes announced through the replica's hub; a value
	// read before the latest announcement is not used again (readGen is
	// the gen at the start of the read that produced val).
	gen     atomic.Uint64
	readGen uint64
	// changed, when set, is called after each announcement (tests).
	changed atomic.Pointer[func()]
}

// invalidate is called by the hub when a switch changed on any replica (or
// may have, while the hub was down): the next get reads the store, so the
// change is in force here within a round trip of Redis pub/sub instead of
// within ttl. When the hub is down nothing calls it and ttl bounds the
// staleness as before.
func (sc *switchCache) invalidate() {
	sc.gen.Add(1)
	if f := sc.changed.Load(); f != nil {
		(*f)()
	}
}

// get returns the switches, at most ttl old, or the error of the last read.
func (sc *switchCache) get(ctx context.Context) (store.Switches, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	now := sc.now()
	gen := sc.gen.Load()
	if !sc.at.IsZero() && now.Sub(sc.at) < sc.ttl && now.Sub(sc.at) >= 0 && sc.readGen == gen {
		return sc.val, sc.err
	}
	sc.val, sc.err = sc.read(ctx)
	sc.at, sc.readGen = now, gen
	if sc.observe != nil {
		sc.observe(sc.val, sc.err)
	}
	return sc.val, sc.err
}

// set records a value this replica just wrote, so the replica that makes a
// change applies it at once.
func (sc *switchCache) set(w store.Switches) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.val, sc.err, sc.at, sc.readGen = w, nil, sc.now(), sc.gen.Load()
	if sc.observe != nil {
		sc.observe(w, nil)
	}
}

func (s *Server) newSwitchCache() *switchCache {
	return &switchCache{read: s.store.Switches, now: s.now, ttl: switchTTL, observe: s.observeSwitches}
}

// observeSwitches keeps the switch gauges in step with what this replica
// enforces.
func (s *Server) observeSwitches(w store.Switches, err error) {
	if err != nil {
		s.metrics.switchErrors.Inc()
		s.log.Error("switches not read: risky channels fail closed", "error", err.Error())
		return
	}
	off := func(name string, v bool) {
		g := 0.0
		if v {
			g = 1
		}
		s.metrics.switchOff.WithLabelValues(name).Set(g)
	}
	off(store.SwitchSignups, !w.Signups)
	off(store.SwitchTopups, !w.Topups)
	off(store.SwitchNewDevices, !w.NewDevices)
	off(store.SwitchBlockedCountries, len(w.BlockedCountries) > 0)
	off(store.SwitchReauthAfter, !w.ReauthAfter.IsZero())
	ts := 0.0
	if !w.ReauthAfter.IsZero() {
		ts = float64(w.ReauthAfter.UnixMilli()) / 1000
	}
	s.metrics.reauthAfter.Set(ts)
}

// switchesUnavailable is the fail-closed answer when the switches cannot be
// read.
func switchesUnavailable(err error) *Problem {
	p := problemText(fiber.StatusServiceUnavailable, codeUnavailable, text.M(text.SwitchesUnknown))
	p.Headers = map[string]string{fiber.HeaderRetryAfter: "1"}
	p.Err = err
	return p
}

// switches returns the cached switches, or the fail-closed 503.
func (s *Server) switches(c *fiber.Ctx) (store.Switches, error) {
	w, err := s.switchCache.get(c.UserContext())
	if err != nil {
		return store.Switches{}, switchesUnavailable(err)
	}
	return w, nil
}

// requireSignups answers 503 signups_disabled while sign-ups are off.
func (s *Server) requireSignups(c *fiber.Ctx) error {
	w, err := s.switches(c)
	if err != nil {
		return err
	}
	if !w.Signups {
		p := problemText(fiber.StatusServiceUnavailable, codeSignupsDisabled, text.M(text.SignupsDisabled))
		p.Headers = map[string]string{fiber.HeaderRetryAfter: "600"}
		return p
	}
	return nil
}

// requireNewDevices answers 403 new_devices_disabled while new devices are
// off.
func (s *Server) requireNewDevices(c *fiber.Ctx) error {
	w, err := s.switches(c)
	if err != nil {
		return err
	}
	if !w.NewDevices {
		return problemText(fiber.StatusForbidden, codeNewDevicesDisabled, text.M(text.NewDevicesDisabled))
	}
	return nil
}

// sessionCutOff reports whether the session predates the operator's forced
// re-authentication.
func (s *Server) sessionCutOff(c *fiber.Ctx, sess *store.Session) (bool, error) {
	w, err := s.switches(c)
	if err != nil {
		return false, err
	}
	return !w.ReauthAfter.IsZero() && sess.AuthTime.Before(w.ReauthAfter), nil
}

// requestCountry is the client's country as the trusted proxy reported it,
// upper-case, or "" when unknown: no header configured, a peer that is not
// a configured proxy, or no header on the request.
func (s *Server) requestCountry(c *fiber.Ctx) string {
	if s.cfg.CountryHeader == "" || !s.peerTrusted(c) {
		return ""
	}
	return strings.ToUpper(strings.TrimSpace(c.Get(s.cfg.CountryHeader)))
}

// countryGate closes the customer API (/v1/* except the terminal API, whose
// scanners stand in stores) to requests from a blocked country. It is a
// coarse control: a request whose country is unknown is allowed.
func (s *Server) countryGate(c *fiber.Ctx) error {
	if strings.HasPrefix(c.Path(), "/v1/terminal/") {
		return c.Next()
	}
	country := s.requestCountry(c)
	if country == "" {
		return c.Next()
	}
	w, err := s.switches(c)
	if err != nil {
		return err
	}
	if w.CountryBlocked(country) {
		return problemText(fiber.StatusForbidden, codeCountryBlocked, text.M(text.CountryBlocked))
	}
	return c.Next()
}

// Admin calls.

func (s *Server) switchRoutes(ops fiber.Router) {
	ops.Get("/switches", s.adminSwitches)
	ops.Put("/switches/:name", s.adminSetSwitch)
}

// switchView is the admin representation of the switches; values read as
// the PUT takes them.
func switchView(w store.Switches) fiber.Map {
	toggle := func(on bool) string {
		if on {
			return store.SwitchOn
		}
		return store.SwitchOff
	}
	var reauth any
	if !w.ReauthAfter.IsZero() {
		reauth = w.ReauthAfter.UTC().Format(time.RFC3339Nano)
	}
	countries := w.BlockedCountries
	if countries == nil {
		countries = []string{}
	}
	return fiber.Map{
		store.SwitchSignups: toggle(w.Signups), store.SwitchTopups: toggle(w.Topups), store.SwitchNewDevices: toggle(w.NewDevices),
		store.SwitchReauthAfter: reauth, store.SwitchBlockedCountries: countries,
	}
}

// switchText is one switch's value as the audit trail records it.
func switchText(w store.Switches, name string) string {
	v, _ := switchView(w)[name].(string) // toggles and reauth_after
	if name == store.SwitchBlockedCountries {
		v = strings.Join(w.BlockedCountries, ",")
	}
	return v
}

// adminSwitches returns the switches as the store holds them now (not this
// replica's cache).
func (s *Server) adminSwitches(c *fiber.Ctx) error {
	w, err := s.store.Switches(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(switchView(w))
}

// adminSetSwitch sets one switch: body {value, operator, reason}. Values:
// "on"/"off" for signups, topups and new_devices; "now" or an RFC 3339 time
// (not in the future, not before the current cut-off: a forced
// re-authentication is never undone) for reauth_after; a comma list of
// ISO 3166-1 alpha-2 codes, "" to clear, for blocked_countries. The answer
// is every switch after the change; the change is audited as
// "switch.changed" with the switch, its old and new value and the reason.
func (s *Server) adminSetSwitch(c *fiber.Ctx) error {
	var req struct {
		operatorReason
		Value *string `json:"value"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	name := c.Params("name")
	if !slices.Contains(store.SwitchNames, name) {
		return problemText(fiber.StatusBadRequest, codeUnknownSwitch, text.M(text.UnknownSwitchList, "switches", strings.Join(store.SwitchNames, ", "))).about("name")
	}
	if err := req.check(); err != nil {
		return err
	}
	if req.Value == nil {
		return missing("value")
	}
	ctx := c.UserContext()
	old, err := s.store.Switches(ctx)
	if err != nil && !errors.Is(err, store.ErrBadSwitch) {
		return err
	}
	value := *req.Value
	if name == store.SwitchReauthAfter {
		if value, err = s.reauthValue(value, old.ReauthAfter); err != nil {
			return err
		}
	}
	if err := s.store.SetSwitch(ctx, name, value); errors.Is(err, store.ErrBadSwitch) {
		p := problemText(fiber.StatusBadRequest, codeInvalidSwitchValue, switchValueHelp[name]).about("value")
		p.Err = err
		return p
	} else if err != nil {
		return err
	}
	// The change is made: it is audited even if the read-back fails.
	now, err := s.store.Switches(ctx)
	newText := switchText(now, name)
	if err != nil {
		newText = value
	}
	s.auditAs(c, "operator:"+req.Operator, "switch.changed", "", "", map[string]string{
		"switch": name, "old": switchText(old, name), "new": newText, "reason": req.Reason})
	if err != nil {
		return err
	}
	s.switchCache.set(now)
	return c.JSON(switchView(now))
}

// switchValueHelp says which values each switch takes.
var switchValueHelp = map[string]text.Message{
	store.SwitchSignups:          text.M(text.SwitchToggleValue, "switch", store.SwitchSignups),
	store.SwitchTopups:           text.M(text.SwitchToggleValue, "switch", store.SwitchTopups),
	store.SwitchNewDevices:       text.M(text.SwitchToggleValue, "switch", store.SwitchNewDevices),
	store.SwitchReauthAfter:      text.M(text.ReauthAfterValue),
	store.SwitchBlockedCountries: text.M(text.BlockedCountriesValue),
}

// reauthValue turns "now" or an RFC 3339 time into the stored Unix ms. The
// cut-off only moves forward, and never past now: a future cut-off would
// refuse the fresh logins it asks for.
func (s *Server) reauthValue(v string, current time.Time) (string, error) {
	bad := problemText(fiber.StatusBadRequest, codeInvalidSwitchValue, switchValueHelp[store.SwitchReauthAfter]).about("value")
	now := s.now()
	t := now
	if v != "now" {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, v); err != nil {
			bad.Err = err
			return "", bad
		}
	}
	if t.After(now) || t.Before(current) || t.UnixMilli() <= 0 {
		return "", bad
	}
	return strconv.FormatInt(t.UnixMilli(), 10), nil
}
