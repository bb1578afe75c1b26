package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// TestSwitchesConformance: the operator's kill switches on every backend.
// An empty hash is every channel open; SetSwitch refuses unknown names and
// values and stores canonical values only; a value written by hand that
// SetSwitch would not have written makes Switches fail (callers fail
// closed), while a switch of a newer release is ignored.
func TestSwitchesConformance(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := context.Background()
			w, err := s.Switches(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !w.Signups || !w.Topups || !w.NewDevices || !w.ReauthAfter.IsZero() || len(w.BlockedCountries) != 0 {
				t.Fatalf("defaults = %+v; want every channel open", w)
			}
			cut := time.UnixMilli(1764192000123)
			for _, set := range [][2]string{
				{store.SwitchSignups, "off"}, {store.SwitchTopups, "off"}, {store.SwitchNewDevices, "off"},
				{store.SwitchReauthAfter, "1764192000123"}, {store.SwitchBlockedCountries, " ru, kp,,RU "},
			} {
				if err := s.SetSwitch(ctx, set[0], set[1]); err != nil {
					t.Fatalf("SetSwitch(%s, %q): %v", set[0], set[1], err)
				}
			}
			w, err = s.Switches(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if w.Signups || w.Topups || w.NewDevices || !w.ReauthAfter.Equal(cut) || !slices.Equal(w.BlockedCountries, []string{"KP", "RU"}) {
				t.Fatalf("after setting = %+v", w)
			}
			if !w.CountryBlocked("kp") || w.CountryBlocked("JP") {
				t.Error("CountryBlocked does not follow the list")
			}
			for _, bad := range [][2]string{
				{"payments", "off"}, {store.SwitchSignups, "OFF"}, {store.SwitchSignups, ""}, {store.SwitchReauthAfter, "-1"},
				{store.SwitchReauthAfter, "now"}, {store.SwitchBlockedCountries, "RUS"}, {store.SwitchBlockedCountries, "K1"},
			} {
				if err := s.SetSwitch(ctx, bad[0], bad[1]); !errors.Is(err, store.ErrBadSwitch) {
					t.Errorf("SetSwitch(%s, %q) = %v; want ErrBadSwitch", bad[0], bad[1], err)
				}
			}
			if err := s.SetSwitch(ctx, store.SwitchBlockedCountries, ""); err != nil {
				t.Fatal(err)
			}
			if w, _ = s.Switches(ctx); len(w.BlockedCountries) != 0 {
				t.Errorf("cleared list = %v", w.BlockedCountries)
			}
			if err := s.Client().HSet(ctx, s.Keys().Switches(), "from_the_future", "x").Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Switches(ctx); err != nil {
				t.Errorf("an unknown field (newer release) = %v; want ignored", err)
			}
			if err := s.Client().HSet(ctx, s.Keys().Switches(), store.SwitchTopups, "yes").Err(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Switches(ctx); !errors.Is(err, store.ErrBadSwitch) {
				t.Errorf("a hand-written value = %v; want ErrBadSwitch", err)
			}
		})
	}
}
