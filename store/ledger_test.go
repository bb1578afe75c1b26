package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// A ledger written before issue 12 is a stream. It is read, never
// written: its entries come out older than the list's, the new entries'
// ids continue after its last one (even when the clock reads earlier), and
// a page cursor walks across both.
func TestLedgerReadsTheOldStream(t *testing.T) {
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
			k := s.Keys()
			// Two entries in the old form, the second "in the future".
			now := time.Now()
			future := now.Add(time.Hour).UnixMilli()
			for i, id := range []string{fmt.Sprintf("%d-0", now.Add(-time.Hour).UnixMilli()), fmt.Sprintf("%d-0", future)} {
				err := s.Client().XAdd(ctx, &redis.XAddArgs{Stream: k.LedgerStream(bucket, acct), ID: id, Values: []any{
					"kind", "topup", "amount", 100, "balance", 100 * (i + 1), "payment", fmt.Sprintf("pay_old%d", i),
					"terminal", "term_1", "store", "store-1", "currency", "JPY", "at", now.UnixMilli()}}).Err()
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Client().HSet(ctx, k.Wallet(bucket, acct), "balance", 200, "currency", "JPY").Err(); err != nil {
				t.Fatal(err)
			}
			limits := store.Limits{PerPayment: 50000, PerDay: 100000, PerTopup: 50000, TopupsPerDay: 5}
			for i := range 3 {
				name := fmt.Sprintf("c%d", i)
				if err := s.IssueCode(ctx, store.CodeRecord{Name: name, AccountID: acct, DeviceID: n.Device.ID, SessionID: "s",
					IssuedAt: now, ExpiresAt: now.Add(time.Minute)}, time.Minute, 5*time.Second); err != nil {
					t.Fatal(err)
				}
				out, err := s.Move(ctx, store.Movement{Kind: store.KindPayment, TerminalID: "term_1", StoreID: "store two", Currency: "JPY",
					Amount: 10, CodeBucket: bucket, CodeName: name, IdemKey: name, BodyHash: name, Now: now, Day: "20261126", Limits: limits})
				if err != nil || !out.Approved {
					t.Fatalf("payment %d: %+v, %v", i, out, err)
				}
			}
			all, err := s.Ledger(ctx, acct)
			if err != nil {
				t.Fatal(err)
			}
			want := []int64{100, 200, 190, 180, 170}
			if len(all) != len(want) {
				t.Fatalf("ledger = %+v; want %d entries", all, len(want))
			}
			for i, e := range all {
				if e.Balance != want[i] {
					t.Errorf("entry %d (%s) balance %d; want %d", i, e.ID, e.Balance, want[i])
				}
			}
			if all[2].ID != fmt.Sprintf("%d-1", future) || all[2].Store != "store two" || all[2].Amount != -10 || all[2].Kind != "payment" {
				t.Errorf("first new entry = %+v; want id %d-1 after the stream's last, store \"store two\", -10", all[2], future)
			}
			if all[0].Payment != "pay_old0" || all[0].Kind != "topup" {
				t.Errorf("old entry = %+v", all[0])
			}
			// Pages of two, newest first, across both forms.
			var got []int64
			before := ""
			for range 4 {
				page, err := s.LedgerPage(ctx, acct, before, 2)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range page {
					got = append(got, e.Balance)
				}
				if len(page) < 2 {
					break
				}
				before = page[len(page)-1].ID
			}
			if fmt.Sprint(got) != "[170 180 190 200 100]" {
				t.Errorf("pages = %v; want [170 180 190 200 100]", got)
			}
			w, err := s.Wallet(ctx, acct, 4)
			if err != nil || len(w.Recent) != 4 || w.Recent[3].Balance != 200 || w.Balance != 170 {
				t.Errorf("wallet = %+v, %v; want 4 recent entries ending with the old 200", w, err)
			}
		})
	}
}
