package webauthn_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
	"github.com/paycode/paycode/webauthn"
	"github.com/paycode/paycode/webauthn/softauthn"
)

const origin = "http://localhost:8080"

func newRP(t testing.TB, st *store.Store, mutate func(*webauthn.Config)) *webauthn.RP {
	t.Helper()
	cfg := webauthn.Config{RPID: "localhost", RPName: "paycode test", Origins: []string{origin}}
	if mutate != nil {
		mutate(&cfg)
	}
	rp, err := webauthn.New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

// register runs a registration with auth and returns the error of finish.
func register(t testing.TB, rp *webauthn.RP, auth *softauthn.Authenticator) error {
	t.Helper()
	ctx := context.Background()
	id, _ := store.NewCeremonyID("")
	acct, _, _ := store.NewAccountID()
	opts, err := rp.BeginRegistration(ctx, id, webauthn.Challenge{Purpose: webauthn.PurposeSignup, JKT: "k", AccountID: acct},
		&webauthn.User{ID: []byte(acct), Name: "a", DisplayName: "a"})
	if err != nil {
		t.Fatal(err)
	}
	body, err := auth.Register(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = rp.FinishRegistration(ctx, id, webauthn.Expect{Purpose: webauthn.PurposeSignup, JKT: "k"}, body)
	return err
}

// Policy: with PAYCODE_PASSKEY_DEVICE_BOUND_ONLY a synced passkey (BE=1)
// is refused at registration; a device-bound one is accepted.
func TestDeviceBoundPolicy(t *testing.T) {
	st := storetest.Open(t)
	rp := newRP(t, st, func(c *webauthn.Config) { c.RequireDeviceBound = true })
	synced := softauthn.New(origin)
	synced.BE, synced.BS = true, true
	if err := register(t, rp, synced); !errors.Is(err, webauthn.ErrRejected) {
		t.Errorf("synced passkey under device-bound policy: %v; want ErrRejected", err)
	}
	if err := register(t, rp, softauthn.New(origin)); err != nil {
		t.Errorf("device-bound passkey refused: %v", err)
	}
}

// Policy: with an AAGUID allow-list, a credential without real
// attestation (none, or packed self attestation) or from another model is
// refused, even when it claims a listed AAGUID.
func TestAAGUIDPolicy(t *testing.T) {
	st := storetest.Open(t)
	listed := uuid.MustParse("50f7a0c3-7e57-4a17-9e57-000000000001")
	rp := newRP(t, st, func(c *webauthn.Config) { c.AllowedAAGUIDs = []uuid.UUID{listed} })
	for _, tc := range []struct {
		name        string
		attestation string
		aaguid      uuid.UUID
	}{
		{"none attestation claiming a listed model", softauthn.AttestationNone, listed},
		{"self attestation claiming a listed model", softauthn.AttestationPacked, listed},
		{"zero AAGUID", softauthn.AttestationPacked, uuid.Nil},
		{"unlisted model", softauthn.AttestationPacked, uuid.MustParse("00000000-0000-4000-8000-000000000009")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := softauthn.New(origin)
			a.Attestation = tc.attestation
			a.AAGUID = tc.aaguid
			if err := register(t, rp, a); !errors.Is(err, webauthn.ErrRejected) {
				t.Errorf("registration = %v; want ErrRejected", err)
			}
		})
	}
}

// A challenge is bound to its purpose: a login challenge cannot finish a
// registration, nor a reauth of another session.
func TestChallengeBinding(t *testing.T) {
	st := storetest.Open(t)
	rp := newRP(t, st, nil)
	ctx := context.Background()
	id, _ := store.NewCeremonyID("")
	if _, err := rp.BeginLogin(ctx, id, webauthn.Challenge{Purpose: webauthn.PurposeReauth, JKT: "k", SessionID: "s1"}, nil); err != nil {
		t.Fatal(err)
	}
	_, err := rp.FinishLogin(ctx, id, webauthn.Expect{Purpose: webauthn.PurposeReauth, JKT: "k", SessionID: "s2"}, []byte(`{}`), nil)
	if !errors.Is(err, webauthn.ErrRejected) {
		t.Fatalf("reauth of another session = %v; want ErrRejected", err)
	}
	// The failed attempt consumed the challenge: the right session cannot
	// use it afterwards either.
	_, err = rp.FinishLogin(ctx, id, webauthn.Expect{Purpose: webauthn.PurposeReauth, JKT: "k", SessionID: "s1"}, []byte(`{}`), nil)
	if !errors.Is(err, webauthn.ErrRejected) {
		t.Fatalf("second attempt = %v; want ErrRejected (challenge consumed)", err)
	}
}

// The clock decides expiry, not the wall clock: a challenge finished after
// ChallengeTTL is refused.
func TestChallengeExpiry(t *testing.T) {
	st := storetest.Open(t)
	now := time.Now()
	rp := newRP(t, st, func(c *webauthn.Config) { c.Now = func() time.Time { return now } })
	auth := softauthn.New(origin)
	ctx := context.Background()
	id, _ := store.NewCeremonyID("")
	acct, _, _ := store.NewAccountID()
	opts, err := rp.BeginRegistration(ctx, id, webauthn.Challenge{Purpose: webauthn.PurposeSignup, JKT: "k", AccountID: acct},
		&webauthn.User{ID: []byte(acct), Name: "a", DisplayName: "a"})
	if err != nil {
		t.Fatal(err)
	}
	body, err := auth.Register(opts)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(5*time.Minute + time.Millisecond)
	if _, _, err := rp.FinishRegistration(ctx, id, webauthn.Expect{Purpose: webauthn.PurposeSignup, JKT: "k"}, body); !errors.Is(err, webauthn.ErrRejected) {
		t.Fatalf("finish after 5 minutes = %v; want ErrRejected", err)
	}
}

// FuzzFinishLogin feeds arbitrary bodies to a login finish: it must never
// panic, and a failure returns no assertion.
func FuzzFinishLogin(f *testing.F) {
	st := storetest.Open(f)
	rp := newRP(f, st, nil)
	ctx := context.Background()
	auth := softauthn.New(origin)
	if err := register(f, rp, auth); err != nil {
		f.Fatal(err)
	}
	id, _ := store.NewCeremonyID("")
	opts, err := rp.BeginLogin(ctx, id, webauthn.Challenge{Purpose: webauthn.PurposeLogin, JKT: "k"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	valid, err := auth.Assert(opts)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"","rawId":"","type":"public-key","response":{}}`))
	lookup := func(ctx context.Context, userHandle, credentialID []byte) (*webauthn.User, error) {
		return nil, webauthn.ErrRejected
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		id, _ := store.NewCeremonyID("")
		if _, err := rp.BeginLogin(ctx, id, webauthn.Challenge{Purpose: webauthn.PurposeLogin, JKT: "k"}, nil); err != nil {
			t.Fatal(err)
		}
		a, err := rp.FinishLogin(ctx, id, webauthn.Expect{Purpose: webauthn.PurposeLogin, JKT: "k"}, body, lookup)
		if err == nil || a != nil {
			t.Fatalf("a fuzzed body was accepted: %v %v", a, err)
		}
		if !errors.Is(err, webauthn.ErrRejected) {
			t.Fatalf("failure is not ErrRejected: %v", err)
		}
	})
}

// FuzzFinishRegistration does the same for registration bodies.
func FuzzFinishRegistration(f *testing.F) {
	st := storetest.Open(f)
	rp := newRP(f, st, nil)
	ctx := context.Background()
	acct, _, _ := store.NewAccountID()
	user := &webauthn.User{ID: []byte(acct), Name: "a", DisplayName: "a"}
	id, _ := store.NewCeremonyID("")
	opts, err := rp.BeginRegistration(ctx, id, webauthn.Challenge{Purpose: webauthn.PurposeSignup, JKT: "k", AccountID: acct}, user)
	if err != nil {
		f.Fatal(err)
	}
	valid, err := softauthn.New(origin).Register(opts)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte(`{"response":{"attestationObject":"","clientDataJSON":""}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		id, _ := store.NewCeremonyID("")
		if _, err := rp.BeginRegistration(ctx, id, webauthn.Challenge{Purpose: webauthn.PurposeSignup, JKT: "k", AccountID: acct}, user); err != nil {
			t.Fatal(err)
		}
		cred, _, err := rp.FinishRegistration(ctx, id, webauthn.Expect{Purpose: webauthn.PurposeSignup, JKT: "k"}, body)
		// The valid seed was made for another challenge, so nothing passes.
		if err == nil || cred != nil {
			t.Fatalf("a fuzzed body was accepted: %v", err)
		}
		if !errors.Is(err, webauthn.ErrRejected) {
			t.Fatalf("failure is not ErrRejected: %v", err)
		}
	})
}
