package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// TestPairing runs pairing codes on every backend (on the Cluster the
// redemption script touches the pairing and the terminal: one slot). A
// code registers one terminal once; expired, spent and unknown codes
// register nothing; of concurrent redemptions exactly one wins.
func TestPairing(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := context.Background()
			now := time.Now()
			open := func() string {
				t.Helper()
				id, _ := store.NewTerminalID()
				if err := s.CreatePairing(ctx, store.Pairing{TerminalID: id, StoreID: "store-p", Label: "tablet", Operator: "op",
					CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
					t.Fatalf("CreatePairing: %v", err)
				}
				return id
			}
			id := open()
			if err := s.CreatePairing(ctx, store.Pairing{TerminalID: id, StoreID: "store-x", ExpiresAt: now.Add(time.Minute)}); !errors.Is(err, store.ErrExists) {
				t.Errorf("a second pairing for one id: %v; want ErrExists", err)
			}
			term, err := s.RedeemPairing(ctx, id, "PEM", now)
			if err != nil || term.ID != id || term.StoreID != "store-p" || term.Label != "tablet" || term.Status != store.TerminalActive {
				t.Fatalf("RedeemPairing = %+v, %v", term, err)
			}
			if got, err := s.Terminal(ctx, id); err != nil || got.PublicKeyPEM != "PEM" || got.StoreID != "store-p" {
				t.Errorf("the registered terminal: %+v, %v", got, err)
			}
			if _, err := s.RedeemPairing(ctx, id, "PEM2", now); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a spent code: %v; want ErrNotFound", err)
			}
			if got, _ := s.Terminal(ctx, id); got.PublicKeyPEM != "PEM" {
				t.Error("a spent code replaced the terminal's key")
			}
			if err := s.CreatePairing(ctx, store.Pairing{TerminalID: id, StoreID: "store-x", ExpiresAt: now.Add(time.Minute)}); !errors.Is(err, store.ErrExists) {
				t.Errorf("a pairing for a registered terminal's id: %v; want ErrExists", err)
			}

			late := open()
			if _, err := s.RedeemPairing(ctx, late, "PEM", now.Add(10*time.Minute)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("an expired code: %v; want ErrNotFound", err)
			}
			if _, err := s.Terminal(ctx, late); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("an expired code registered a terminal: %v", err)
			}
			if ttl := s.Client().PTTL(ctx, s.PairingKey(open())).Val(); ttl <= 0 || ttl > 10*time.Minute {
				t.Errorf("a pairing's TTL is %v; want its 10 minutes", ttl)
			}

			race := open()
			var wg sync.WaitGroup
			var mu sync.Mutex
			won := 0
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := s.RedeemPairing(ctx, race, "PEM", now)
					if err == nil {
						mu.Lock()
						won++
						mu.Unlock()
					} else if !errors.Is(err, store.ErrNotFound) {
						t.Errorf("a concurrent redemption: %v", err)
					}
				}()
			}
			wg.Wait()
			if won != 1 {
				t.Errorf("%d of 16 concurrent redemptions registered the terminal; want 1", won)
			}
		})
	}
}
