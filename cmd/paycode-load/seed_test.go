package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// Seeded accounts read back through the store's own readers as a real
// account does: account, passkey, contact index, wallet and ledger (a
// top-up, then a payment). Seeding the same accounts again changes nothing
// (the scripts answer a resend as its first run: no second top-up), and
// another account with a seeded contact is refused.
func TestSeed(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Open(t)
			ctx := context.Background()
			key := make([]byte, 32)
			accts := make([]store.SeedAccount, 3)
			for i := range accts {
				var err error
				if accts[i], err = seedAccount(key, "term_seedtest", time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Seed(ctx, accts, 15*time.Minute); err != nil {
				t.Fatal(err)
			}
			for _, a := range accts {
				id := a.Account.Account.ID
				acct, err := st.Account(ctx, id)
				if err != nil || acct.DeviceJKT != a.Account.Device.JKT || acct.Contact != a.Account.Account.Contact {
					t.Fatalf("account %s: %+v, %v", id, acct, err)
				}
				creds, err := st.Credentials(ctx, id)
				if err != nil || len(creds) != 1 || string(creds[0].Credential.PublicKey) != string(a.Account.Credential.Credential.PublicKey) {
					t.Fatalf("credentials of %s: %+v, %v", id, creds, err)
				}
				if owner, err := st.AccountByContact(ctx, a.Account.ContactHash); err != nil || owner != id {
					t.Errorf("contact index: %q, %v", owner, err)
				}
				w, err := st.Wallet(ctx, id, 10)
				if err != nil || w.Balance != seedTopUp-seedPayment || w.Currency != seedCurrency || len(w.Recent) != 2 ||
					w.Recent[0].Kind != "payment" || w.Recent[1].Kind != "topup" {
					t.Errorf("wallet of %s: %+v, %v", id, w, err)
				}
			}
			if err := st.Seed(ctx, accts, 15*time.Minute); err != nil {
				t.Fatalf("seeding the same accounts again: %v", err)
			}
			if w, err := st.Wallet(ctx, accts[0].Account.Account.ID, 10); err != nil || w.Balance != seedTopUp-seedPayment || len(w.Recent) != 2 {
				t.Errorf("after seeding again: %+v, %v; want the same wallet", w, err)
			}
			other, err := seedAccount(key, "term_seedtest", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			other.Account.ContactHash = accts[0].Account.ContactHash
			err = st.Seed(ctx, []store.SeedAccount{other}, 15*time.Minute)
			if err == nil || !strings.Contains(err.Error(), "contact") {
				t.Errorf("seeding another account with a taken contact: %v; want it refused", err)
			}
		})
	}
}
