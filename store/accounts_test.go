package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
	"github.com/paycode/paycode/webauthn"
)

// newAccount walks a sign-up through the store and creates its account.
func newAccount(t *testing.T, s *store.Store, contactHash string) (store.NewAccount, error) {
	t.Helper()
	ctx := context.Background()
	sid, b, err := store.NewSignupID()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutSignup(ctx, store.Signup{ID: sid, Contact: "a@example.com", ContactKind: "email", ContactHash: contactHash, TriesLeft: 5}, "otphash", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifySignupOTP(ctx, sid, "otphash"); err != nil {
		t.Fatalf("VerifySignupOTP: %v", err)
	}
	acct, _ := store.NewID("acct", b)
	dev, _ := store.NewID("dev", b)
	n := store.NewAccount{
		SignupID: sid,
		Account:  store.Account{ID: acct, Contact: "a@example.com", ContactKind: "email", CreatedAt: time.Now(), DeviceID: dev, DeviceJKT: "jkt-1"},
		Device:   store.Device{ID: dev, AccountID: acct, JKT: "jkt-1", Label: "phone"},
		Credential: store.CredentialRecord{AccountID: acct, DeviceID: dev,
			Credential: gowebauthn.Credential{ID: []byte("cred-1"), Authenticator: gowebauthn.Authenticator{SignCount: 5}}},
		RecoveryHashes: []string{"r1", "r2"},
		ContactHash:    contactHash,
	}
	return n, s.CreateAccount(ctx, n)
}

// TestAccountConformance runs the account, session and ceremony scripts on
// every backend; on the Cluster it proves they stay in one slot.
func TestAccountConformance(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := context.Background()
			contact, _ := store.RandomID()

			n, err := newAccount(t, s, contact)
			if err != nil {
				t.Fatalf("CreateAccount: %v", err)
			}
			acct := n.Account.ID

			t.Run("account written whole", func(t *testing.T) {
				a, err := s.Account(ctx, acct)
				if err != nil || a.DeviceID != n.Device.ID || a.DeviceStatus != store.DeviceActive || a.Status != store.AccountActive {
					t.Fatalf("Account = %+v, %v", a, err)
				}
				if left, err := s.RecoveryCodesLeft(ctx, acct); err != nil || left != 2 {
					t.Errorf("recovery codes = %d, %v; want 2", left, err)
				}
				recs, err := s.Credentials(ctx, acct)
				if err != nil || len(recs) != 1 || recs[0].Credential.Authenticator.SignCount != 5 {
					t.Errorf("Credentials = %+v, %v", recs, err)
				}
				if id, err := s.AccountByContact(ctx, contact); err != nil || id != acct {
					t.Errorf("AccountByContact = %q, %v", id, err)
				}
			})

			// Two sign-ups racing for one contact: the second gets
			// ErrContactTaken and leaves nothing behind.
			t.Run("contact taken", func(t *testing.T) {
				n2, err := newAccount(t, s, contact)
				if !errors.Is(err, store.ErrContactTaken) {
					t.Fatalf("second CreateAccount error = %v; want ErrContactTaken", err)
				}
				if _, err := s.Account(ctx, n2.Account.ID); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("the losing account exists: %v", err)
				}
			})

			t.Run("counter compare", func(t *testing.T) {
				rec := n.Credential
				rec.Credential.Authenticator.SignCount = 6
				if regressed, err := s.RecordAssertion(ctx, rec); err != nil || regressed {
					t.Fatalf("counter 5->6 = %v, %v; want accepted", regressed, err)
				}
				rec.Credential.Authenticator.SignCount = 6
				if regressed, err := s.RecordAssertion(ctx, rec); err != nil || !regressed {
					t.Fatalf("counter 6->6 = %v, %v; want regression", regressed, err)
				}
			})

			sid, _ := store.NewSessionID(acct)
			now := time.Now()
			sess := store.Session{ID: sid, AccountID: acct, DeviceID: n.Device.ID, JKT: "jkt-1", AuthTime: now, CreatedAt: now, AbsoluteExpiry: now.Add(time.Hour)}
			if err := s.CreateSession(ctx, sess, "h1", 15*time.Minute, now); err != nil {
				t.Fatal(err)
			}

			t.Run("touch", func(t *testing.T) {
				got, err := s.TouchSession(ctx, sid, acct, "jkt-1", 15*time.Minute, now)
				if err != nil || got.DeviceID != n.Device.ID || got.AccountStatus != store.AccountActive {
					t.Fatalf("TouchSession = %+v, %v", got, err)
				}
				if _, err := s.TouchSession(ctx, sid, acct, "other", 15*time.Minute, now); !errors.Is(err, store.ErrWrongKey) {
					t.Errorf("touch with another key = %v; want ErrWrongKey", err)
				}
				if _, err := s.TouchSession(ctx, sid, acct, "jkt-1", 15*time.Minute, now.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("touch past the absolute expiry = %v; want ErrNotFound", err)
				}
			})

			sid2, _ := store.NewSessionID(acct)
			sess.ID = sid2
			if err := s.CreateSession(ctx, sess, "h1", 15*time.Minute, now); err != nil {
				t.Fatal(err)
			}
			t.Run("refresh rotation and reuse", func(t *testing.T) {
				if _, err := s.RotateRefresh(ctx, sid2, acct, "jkt-1", "h1", "h2", 15*time.Minute, now); err != nil {
					t.Fatalf("rotate h1->h2: %v", err)
				}
				if _, err := s.RotateRefresh(ctx, sid2, acct, "jkt-1", "nope", "h3", 15*time.Minute, now); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("unknown token = %v; want ErrNotFound", err)
				}
				if _, err := s.RotateRefresh(ctx, sid2, acct, "jkt-1", "h1", "h3", 15*time.Minute, now); !errors.Is(err, store.ErrRefreshReuse) {
					t.Fatalf("reuse of h1 = %v; want ErrRefreshReuse", err)
				}
				if _, err := s.RotateRefresh(ctx, sid2, acct, "jkt-1", "h2", "h3", 15*time.Minute, now); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("current token after reuse = %v; want ErrNotFound (family revoked)", err)
				}
			})

			t.Run("device revocation ends sessions", func(t *testing.T) {
				sid3, _ := store.NewSessionID(acct)
				sess.ID = sid3
				if err := s.CreateSession(ctx, sess, "x", 15*time.Minute, now); err != nil {
					t.Fatal(err)
				}
				if ok, err := s.SetDeviceStatus(ctx, acct, n.Device.ID, store.DeviceRevoked); err != nil || !ok {
					t.Fatalf("SetDeviceStatus = %v, %v", ok, err)
				}
				if _, err := s.TouchSession(ctx, sid3, acct, "jkt-1", 15*time.Minute, now); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("session of a revoked device = %v; want ErrNotFound", err)
				}
				if ok, err := s.RevokeSessions(ctx, acct); err != nil || !ok {
					t.Errorf("RevokeSessions = %v, %v", ok, err)
				}
			})

			t.Run("otp tries", func(t *testing.T) {
				id, _, _ := store.NewSignupID()
				if err := s.PutSignup(ctx, store.Signup{ID: id, TriesLeft: 2}, "right", time.Minute); err != nil {
					t.Fatal(err)
				}
				for range 2 {
					if err := s.VerifySignupOTP(ctx, id, "wrong"); !errors.Is(err, store.ErrOTPWrong) {
						t.Fatalf("wrong guess = %v", err)
					}
				}
				if err := s.VerifySignupOTP(ctx, id, "right"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("right code after the tries = %v; want ErrNotFound", err)
				}
			})

			t.Run("dpop jti once", func(t *testing.T) {
				jti, _ := store.RandomID()
				first, err := s.ClaimJTI(ctx, "jkt", jti, time.Minute)
				if err != nil || !first {
					t.Fatalf("first claim = %v, %v", first, err)
				}
				again, err := s.ClaimJTI(ctx, "jkt", jti, time.Minute)
				if err != nil || again {
					t.Fatalf("second claim = %v, %v; want false", again, err)
				}
			})

			t.Run("challenge taken once", func(t *testing.T) {
				id, _ := store.NewCeremonyID(acct)
				if err := s.PutChallenge(ctx, id, &webauthn.Challenge{Purpose: webauthn.PurposeLogin, JKT: "k"}, time.Minute); err != nil {
					t.Fatal(err)
				}
				c, err := s.TakeChallenge(ctx, id)
				if err != nil || c.JKT != "k" {
					t.Fatalf("TakeChallenge = %+v, %v", c, err)
				}
				if _, err := s.TakeChallenge(ctx, id); !errors.Is(err, webauthn.ErrChallengeNotFound) {
					t.Errorf("second take = %v; want ErrChallengeNotFound", err)
				}
			})

			if b.Cluster {
				t.Run("account keys share a slot", func(t *testing.T) {
					bk, _ := store.BucketOf(acct)
					k := s.Keys()
					keys := []string{k.Account(bk, acct), k.Devices(bk, acct), k.Credentials(bk, acct), k.Counters(bk, acct),
						k.Recovery(bk, acct), k.Session(bk, sid), k.Sessions(bk, acct), k.Signup(bk, n.SignupID), k.Challenge(bk, "cer_x")}
					want, err := s.Client().ClusterKeySlot(ctx, keys[0]).Result()
					if err != nil {
						t.Fatal(err)
					}
					for _, key := range keys[1:] {
						if got, err := s.Client().ClusterKeySlot(ctx, key).Result(); err != nil || got != want {
							t.Errorf("CLUSTER KEYSLOT %s = %d, %v; want %d", key, got, err, want)
						}
					}
				})
			}
		})
	}
}
