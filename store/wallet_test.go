package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// TestMoneyConformance runs the money scripts on every backend; on the
// Cluster it asserts that every key a redemption touches is in one slot.
func TestMoneyConformance(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := context.Background()
			contact, _ := store.RandomID()
			n, err := newAccount(t, s, contact)
			if err != nil {
				t.Fatal(err)
			}
			acct := n.Account.ID
			bucket, _ := store.BucketOf(acct)
			now := time.Now()
			limits := store.Limits{PerPayment: 50000, PerDay: 100000, PerTopup: 50000, TopupsPerDay: 5, ProbationPerDay: 10000}
			issue := func(name string) {
				t.Helper()
				err := s.IssueCode(ctx, store.CodeRecord{Name: name, AccountID: acct, DeviceID: n.Device.ID, SessionID: "s",
					IssuedAt: now, ExpiresAt: now.Add(time.Minute)}, time.Minute, 5*time.Second)
				if err != nil {
					t.Fatalf("IssueCode: %v", err)
				}
			}
			move := func(m store.Movement) *store.Outcome {
				t.Helper()
				m.TerminalID, m.StoreID, m.Currency, m.Now, m.Day, m.Limits = "term_1", "store-1", "JPY", now, "20261126", limits
				if m.Kind != store.KindRefund {
					m.CodeBucket = bucket
				}
				out, err := s.Move(ctx, m)
				if err != nil {
					t.Fatalf("Move(%s): %v", m.Kind, err)
				}
				return out
			}

			issue("c1")
			top := move(store.Movement{Kind: store.KindTopup, CodeName: "c1", Amount: 1000, IdemKey: "k1", BodyHash: "h1"})
			if !top.Approved || top.Balance != 1000 {
				t.Fatalf("top-up = %+v", top)
			}
			issue("c2")
			pay := move(store.Movement{Kind: store.KindPayment, CodeName: "c2", Amount: 400, IdemKey: "k2", BodyHash: "h2"})
			if !pay.Approved || pay.Balance != 600 {
				t.Fatalf("payment = %+v", pay)
			}
			again := move(store.Movement{Kind: store.KindPayment, CodeName: "c2", Amount: 400, IdemKey: "k2", BodyHash: "h2"})
			if !again.Replayed || again.PaymentID != pay.PaymentID {
				t.Errorf("replay = %+v; want the first outcome", again)
			}
			if _, err := s.Move(ctx, store.Movement{Kind: store.KindPayment, TerminalID: "term_1", CodeBucket: bucket, CodeName: "c2",
				Amount: 401, IdemKey: "k2", BodyHash: "other", Now: now, Limits: limits}); !errors.Is(err, store.ErrIdempotencyMismatch) {
				t.Errorf("same key, other body = %v; want ErrIdempotencyMismatch", err)
			}
			used := move(store.Movement{Kind: store.KindPayment, CodeName: "c2", Amount: 1, IdemKey: "k3", BodyHash: "h3"})
			if used.Approved || used.Decline != store.DeclineCodeUsed {
				t.Errorf("second use = %+v; want code_used", used)
			}
			unknown := move(store.Movement{Kind: store.KindPayment, CodeName: "never-issued", Amount: 1, IdemKey: "k4", BodyHash: "h4"})
			if unknown.Decline != store.DeclineCodeUnknown {
				t.Errorf("unknown code = %+v", unknown)
			}
			refund := move(store.Movement{Kind: store.KindRefund, PaymentID: pay.PaymentID, Amount: 400, IdemKey: "k5", BodyHash: "h5"})
			if !refund.Approved || refund.Balance != 1000 {
				t.Errorf("refund = %+v", refund)
			}
			over := move(store.Movement{Kind: store.KindRefund, PaymentID: pay.PaymentID, Amount: 1, IdemKey: "k6", BodyHash: "h6"})
			if over.Decline != store.DeclineRefundExceeds {
				t.Errorf("refund beyond the payment = %+v", over)
			}
			entries, err := s.Ledger(ctx, acct)
			if err != nil || len(entries) != 3 || entries[2].Balance != 1000 {
				t.Errorf("ledger = %+v, %v; want 3 entries ending at 1000", entries, err)
			}
			settled, err := s.Client().XLen(ctx, s.Keys().Settlement(bucket)).Result()
			if err != nil || settled != 3 {
				t.Errorf("settlement entries = %d, %v; want 3", settled, err)
			}

			if b.Cluster {
				k := s.Keys()
				keys := []string{k.Code(bucket, "c2"), k.Account(bucket, acct), k.Wallet(bucket, acct), k.Ledger(bucket, acct),
					k.Payment(bucket, pay.PaymentID), k.Idem(bucket, "term_1", "k2"),
					k.Settlement(bucket), k.Events(bucket, acct), k.Refunds(bucket, pay.PaymentID), k.LiveCode(bucket, acct)}
				want, err := s.Client().ClusterKeySlot(ctx, keys[0]).Result()
				if err != nil {
					t.Fatal(err)
				}
				for _, key := range keys[1:] {
					if got, err := s.Client().ClusterKeySlot(ctx, key).Result(); err != nil || got != want {
						t.Errorf("CLUSTER KEYSLOT %s = %d, %v; want %d (one slot per redemption)", key, got, err, want)
					}
				}
			}
		})
	}
}
