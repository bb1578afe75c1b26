package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// TestSalesLog runs the store's sales log on every backend: approved
// movements are in it (refunds in the store's log only), a declined one
// never shows, pages follow their cursor in both orders, a time range
// bounds them, and a refund shows on its payment at once.
func TestSalesLog(t *testing.T) {
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
			start := time.Now().Truncate(time.Millisecond)
			now := start
			limits := store.Limits{PerPayment: 50000, PerDay: 100000, PerTopup: 50000, TopupsPerDay: 5, ProbationPerDay: 10000}
			codes := 0
			move := func(m store.Movement) *store.Outcome {
				t.Helper()
				now = now.Add(time.Second)
				m.TerminalID, m.StoreID, m.Currency, m.Now, m.Day, m.Limits = "term_a", "store-s", "JPY", now, "20261126", limits
				if m.Kind != store.KindRefund {
					codes++
					m.CodeBucket, m.CodeName = bucket, "c"+string(rune('a'+codes))
					if err := s.IssueCode(ctx, store.CodeRecord{Name: m.CodeName, AccountID: acct, DeviceID: n.Device.ID, SessionID: "s",
						IssuedAt: now, ExpiresAt: now.Add(time.Minute)}, time.Minute, 5*time.Second); err != nil {
						t.Fatal(err)
					}
				}
				m.IdemKey, m.BodyHash = m.CodeName+m.PaymentID, "h"
				out, err := s.Move(ctx, m)
				if err != nil {
					t.Fatalf("Move(%s): %v", m.Kind, err)
				}
				return out
			}
			top := move(store.Movement{Kind: store.KindTopup, Amount: 1000})
			pay := move(store.Movement{Kind: store.KindPayment, Amount: 400, OrderRef: "o-1"})
			if declined := move(store.Movement{Kind: store.KindPayment, Amount: 5000}); declined.Approved {
				t.Fatal("a payment over the balance was approved")
			}
			rfd := move(store.Movement{Kind: store.KindRefund, Amount: 150, PaymentID: pay.PaymentID})
			if !top.Approved || !pay.Approved || !rfd.Approved {
				t.Fatalf("movements: %+v %+v %+v", top, pay, rfd)
			}

			read := func(q store.SalesQuery) []store.Sale {
				t.Helper()
				var all []store.Sale
				for range 10 {
					page, err := s.Sales(ctx, q)
					if err != nil {
						t.Fatalf("Sales(%+v): %v", q, err)
					}
					all = append(all, page.Sales...)
					if page.Next == "" {
						return all
					}
					q.Cursor = page.Next
				}
				t.Fatal("the cursor never ended")
				return nil
			}
			ids := func(sales []store.Sale) []string {
				var out []string
				for _, x := range sales {
					out = append(out, x.ID)
				}
				return out
			}
			want := []string{rfd.PaymentID, pay.PaymentID, top.PaymentID}
			for _, limit := range []int{1, 2, 50} {
				got := read(store.SalesQuery{StoreID: "store-s", Limit: limit})
				if !equal(ids(got), want) {
					t.Errorf("newest first, pages of %d: %v; want %v", limit, ids(got), want)
				}
				got = read(store.SalesQuery{StoreID: "store-s", Limit: limit, Oldest: true})
				if !equal(ids(got), []string{top.PaymentID, pay.PaymentID, rfd.PaymentID}) {
					t.Errorf("oldest first, pages of %d: %v", limit, ids(got))
				}
			}
			got := read(store.SalesQuery{StoreID: "store-s", TerminalID: "term_a", Limit: 10})
			if !equal(ids(got), []string{pay.PaymentID, top.PaymentID}) {
				t.Fatalf("the terminal's sales: %v; want the payment and the top-up", ids(got))
			}
			p := got[0]
			if p.Kind != store.KindPayment || p.Amount != 400 || p.Refunded != 150 || p.OrderRef != "o-1" || p.Currency != "JPY" ||
				p.TerminalID != "term_a" || p.StoreID != "store-s" || p.AccountID != acct || p.CreatedAt.UnixMilli() != start.Add(2*time.Second).UnixMilli() {
				t.Errorf("the payment as listed: %+v", p)
			}
			r := read(store.SalesQuery{StoreID: "store-s", Limit: 10})[0]
			if r.Kind != store.KindRefund || r.PaymentID != pay.PaymentID || r.Amount != 150 || r.Currency != "JPY" || r.AccountID != acct {
				t.Errorf("the refund as listed: %+v", r)
			}
			got = read(store.SalesQuery{StoreID: "store-s", Limit: 10, From: start.Add(2 * time.Second), To: start.Add(4 * time.Second)})
			if !equal(ids(got), []string{pay.PaymentID}) {
				t.Errorf("[+2s, +4s): %v; want the payment only (the decline at +3s never happened)", ids(got))
			}
			if got := read(store.SalesQuery{StoreID: "store-other", Limit: 10}); len(got) != 0 {
				t.Errorf("another store's log: %v", ids(got))
			}
			if _, err := s.Sales(ctx, store.SalesQuery{StoreID: "store-s", Limit: 10, Cursor: "x"}); err != store.ErrBadCursor {
				t.Errorf("a forged cursor: %v; want ErrBadCursor", err)
			}

			// The declined payment's intent is in the set until a reader a
			// minute later prunes it.
			key := s.SalesKey("store-s")
			if n := s.Client().ZCard(ctx, key).Val(); n != 4 {
				t.Errorf("the log holds %d entries before pruning; want 4 (three movements and the declined intent)", n)
			}
			read(store.SalesQuery{StoreID: "store-s", Limit: 10, Now: now.Add(2 * time.Minute)})
			if n := s.Client().ZCard(ctx, key).Val(); n != 3 {
				t.Errorf("the log holds %d entries after pruning; want 3", n)
			}

			// A movement whose entry is missing (its first answer lost
			// before the entry was written) gets it back from its retry,
			// at the movement's own time.
			if err := s.Client().Del(ctx, key).Err(); err != nil {
				t.Fatal(err)
			}
			again, err := s.Move(ctx, store.Movement{Kind: store.KindRefund, TerminalID: "term_a", StoreID: "store-s", Amount: 150,
				PaymentID: pay.PaymentID, IdemKey: pay.PaymentID, BodyHash: "h", Now: now.Add(time.Hour), Day: "20261126"})
			if err != nil || !again.Replayed || again.PaymentID != rfd.PaymentID {
				t.Fatalf("the refund's retry: %+v %v", again, err)
			}
			got = read(store.SalesQuery{StoreID: "store-s", Limit: 10})
			if !equal(ids(got), []string{rfd.PaymentID}) || !got[0].CreatedAt.Equal(r.CreatedAt) {
				t.Errorf("after the retry the log is %v (%v); want the refund at %v", ids(got), got, r.CreatedAt)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
