package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// go-redis resends a command whose reply was lost (MaxRetries 1). A
// resent script must answer as its first run did, or the caller acts on a
// false failure. Each test runs the same call twice with the same
// arguments, as the resend does.
func TestResentScriptsAnswerAsTheFirstRun(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := context.Background()
			// Account creation: answered "exists", the caller released the
			// contact claim of the account it had just made, and the same
			// address could then sign up a second account.
			contact, _ := store.RandomID()
			n, err := newAccount(t, s, contact)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CreateAccount(ctx, n); err != nil {
				t.Fatalf("CreateAccount resent: %v; want the first run's answer", err)
			}
			if owner, err := s.AccountByContact(ctx, contact); err != nil || owner != n.Account.ID {
				t.Fatalf("contact index after the resend = %q, %v; want %s", owner, err, n.Account.ID)
			}
			// Code issuance: answered as a name collision (a 500), with the
			// limit spent twice.
			now := time.Now()
			rec := store.CodeRecord{Name: "resent-code", AccountID: n.Account.ID, DeviceID: n.Device.ID, SessionID: "s",
				IssuedAt: now, ExpiresAt: now.Add(time.Minute)}
			for i := range 2 {
				if err := s.IssueCode(ctx, rec, time.Minute, 5*time.Second); err != nil {
					t.Fatalf("IssueCode run %d: %v", i+1, err)
				}
			}
			// Another request drawing the same name is still a collision.
			other := rec
			other.SessionID = "another"
			if err := s.IssueCode(ctx, other, time.Minute, 5*time.Second); !errors.Is(err, store.ErrExists) {
				t.Errorf("another request on a taken name = %v; want ErrExists", err)
			}
		})
	}
}
