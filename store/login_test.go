package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
	"github.com/paycode/paycode/webauthn"
)

// The login's store steps on every backend (the embedded one starts with
// no script cached, so ReadLogin's pipeline takes its NOSCRIPT path): the
// start is limited per address and refuses a replayed proof; the finish
// reads the challenge once, with the account and its passkey; the session
// step refuses a counter that went back and a device that changed,
// writing nothing.
func TestLoginSteps(t *testing.T) {
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
			now := time.Now()
			ip := "192.0.2." + contact[:3]
			begin := func(jti string) (string, time.Duration, error) {
				id, err := store.NewLoginID(ip)
				if err != nil {
					t.Fatal(err)
				}
				wait, err := s.BeginLogin(ctx, store.LoginStart{ID: id, IP: ip, KeyLimit: store.Rate{N: 3, Per: time.Minute},
					IPLimit:   store.Rate{N: 100, Per: time.Minute},
					Challenge: &webauthn.Challenge{Purpose: webauthn.PurposeLogin, JKT: "jkt-1"}, TTL: time.Minute,
					JKT: "jkt-1", JTI: jti, JTITTL: time.Minute, Now: now})
				return id, wait, err
			}
			id, _, err := begin("j1")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := begin("j1"); !errors.Is(err, store.ErrReplay) {
				t.Errorf("a replayed start proof = %v; want ErrReplay", err)
			}
			for range 2 {
				if _, _, err := begin(""); err != nil {
					t.Fatal(err)
				}
			}
			if _, wait, err := begin(""); !errors.Is(err, store.ErrKeyRateLimited) || wait <= 0 {
				t.Errorf("a fourth start by one key within the limit's minute = %v, %v; want ErrKeyRateLimited and a wait", wait, err)
			}

			read := store.LoginRead{CeremonyID: id, JKT: "jkt-1", JTI: "f1", JTITTL: time.Minute, AccountID: acct}
			st, err := s.ReadLogin(ctx, read)
			if err != nil {
				t.Fatal(err)
			}
			if st.Challenge == nil || st.Challenge.JKT != "jkt-1" || st.Account == nil || st.Account.ID != acct ||
				len(st.Credentials) != 1 || st.Credentials[0].Credential.Authenticator.SignCount != 5 {
				t.Fatalf("ReadLogin = %+v", st)
			}
			if _, err := s.ReadLogin(ctx, read); !errors.Is(err, store.ErrReplay) {
				t.Errorf("a replayed finish proof = %v; want ErrReplay", err)
			}
			read.JTI = "f2"
			if st, err := s.ReadLogin(ctx, read); err != nil || st.Challenge != nil {
				t.Errorf("the challenge read twice: %+v, %v", st, err)
			}

			rec := st.Credentials[0]
			sid, _ := store.NewSessionID(acct)
			sess := store.Session{ID: sid, AccountID: acct, DeviceID: n.Device.ID, JKT: "jkt-1", AuthTime: now, CreatedAt: now,
				AbsoluteExpiry: now.Add(time.Hour)}
			rec.Credential.Authenticator.SignCount = 5 // not above the stored 5
			if regressed, err := s.LoginSession(ctx, rec, sess, "h", time.Minute, now); err != nil || !regressed {
				t.Errorf("a counter that did not go up = %v, %v; want regressed", regressed, err)
			}
			if _, err := s.TouchSession(ctx, sid, acct, "jkt-1", time.Minute, now); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a regressed login made a session: %v", err)
			}
			rec.Credential.Authenticator.SignCount = 6
			other := sess
			other.JKT = "jkt-other"
			if _, err := s.LoginSession(ctx, rec, other, "h", time.Minute, now); !errors.Is(err, store.ErrLoginChanged) {
				t.Errorf("a login for another key = %v; want ErrLoginChanged", err)
			}
			if regressed, err := s.LoginSession(ctx, rec, sess, "h", time.Minute, now); err != nil || regressed {
				t.Fatalf("LoginSession = %v, %v", regressed, err)
			}
			if _, err := s.TouchSession(ctx, sid, acct, "jkt-1", time.Minute, now); err != nil {
				t.Errorf("the login's session: %v", err)
			}
			if recs, err := s.Credentials(ctx, acct); err != nil || recs[0].Credential.Authenticator.SignCount != 6 {
				t.Errorf("the counter after the login = %+v, %v; want 6", recs, err)
			}
			// Revoking the account's sessions ends this one (its generation).
			if ok, err := s.RevokeSessions(ctx, acct); err != nil || !ok {
				t.Fatal(ok, err)
			}
			if _, err := s.TouchSession(ctx, sid, acct, "jkt-1", time.Minute, now); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a session after RevokeSessions: %v", err)
			}
		})
	}
}
