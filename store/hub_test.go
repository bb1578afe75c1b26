package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// One hub (one PSUBSCRIBE connection) hears every account's events,
// whatever slot the account's bucket is on (a Cluster forwards classic
// PUBLISH to every node), delivers each only to that account's
// subscriptions, announces switch changes, and enforces its caps.
func TestHubConformance(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			hub := s.NewHub(nil)
			defer hub.Close()
			if err := hub.WaitUp(ctx); err != nil {
				t.Fatal(err)
			}
			switched := make(chan struct{}, 4)
			hub.OnSwitch(func() { switched <- struct{}{} })

			const n = 24 // buckets drawn at random: several slots, several Cluster nodes
			accts := make([]string, n)
			subs := make([]*store.Subscription, n)
			for i := range n {
				id, _, err := store.NewAccountID()
				if err != nil {
					t.Fatal(err)
				}
				accts[i] = id
				if subs[i], err = hub.Subscribe(id, store.HubLimits{PerAccount: 1, Total: n}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := hub.Subscribe(accts[0], store.HubLimits{PerAccount: 1}); !errors.Is(err, store.ErrStreamLimit) {
				t.Errorf("second subscription past a per-account cap of 1: %v; want ErrStreamLimit", err)
			}
			extra, _, _ := store.NewAccountID()
			var lim *store.StreamLimitError
			if _, err := hub.Subscribe(extra, store.HubLimits{Total: n}); !errors.As(err, &lim) || lim.PerAccount {
				t.Errorf("subscription past the hub's cap: %v; want the replica's StreamLimitError", err)
			}
			for i, id := range accts {
				if err := s.Publish(ctx, id, store.Event{Type: "test.event", Data: map[string]any{"i": i}}); err != nil {
					t.Fatal(err)
				}
			}
			for i, sub := range subs {
				select {
				case e := <-sub.C:
					if e.Type != "test.event" || e.Data["i"] != float64(i) || e.ID == "" {
						t.Errorf("account %d got %+v; want its own event with an id", i, e)
					}
				case <-ctx.Done():
					t.Fatalf("account %d heard nothing", i)
				}
				if len(sub.C) != 0 {
					t.Errorf("account %d got another account's event", i)
				}
			}
			if err := s.SetSwitch(ctx, store.SwitchTopups, store.SwitchOff); err != nil {
				t.Fatal(err)
			}
			select {
			case <-switched:
			case <-ctx.Done():
				t.Fatal("the switch change was not announced")
			}
			subs[0].Close()
			if _, ok := <-subs[0].C; ok {
				t.Error("a closed subscription's channel is open")
			}
			if got := hub.Streams(); got != n-1 {
				t.Errorf("hub serves %d after one Close; want %d", got, n-1)
			}
			hub.Close()
			if _, ok := <-subs[1].C; ok {
				t.Error("a subscription outlived its hub")
			}
			if _, err := hub.Subscribe(accts[1], store.HubLimits{}); !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Subscribe on a closed hub: %v; want ErrUnavailable", err)
			}
		})
	}
}
