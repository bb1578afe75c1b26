package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/tokens"
)

// Seeded accounts look like a shopper's a day after sign-up: the passkey a
// platform authenticator registers (P-256, synced, internal and hybrid
// transports), ten recovery codes, one session, and two codes redeemed: a
// cash top-up of seedTopUp, then a payment of seedPayment.
const (
	seedTopUp    = 5000
	seedPayment  = 1200
	seedRecovery = 10
	seedCurrency = "JPY"
)

// seed is the -seed mode: N accounts in -redis, -seed-batch to a pipeline,
// from a few pipelines in parallel. Keyed hashes use a random key of this
// run (the server's secret is not needed: no seeded secret is ever used).
func seed(ctx context.Context, o *options, stdout, stderr io.Writer) int {
	st, err := store.Open(ctx, store.Options{URL: o.redisURL, Prefix: o.redisPrefix, Timeout: time.Minute})
	if err != nil {
		fmt.Fprintf(stderr, "paycode-load: %v\n", err)
		return exitFailed
	}
	defer st.Close()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	term, err := store.RandomID()
	if err != nil {
		fmt.Fprintf(stderr, "paycode-load: %v\n", err)
		return exitFailed
	}
	term = "term_" + term
	start := time.Now()
	var done atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				lo := next.Add(int64(o.seedBatch)) - int64(o.seedBatch)
				if lo >= int64(o.seed) {
					return
				}
				n := min(int64(o.seedBatch), int64(o.seed)-lo)
				batch := make([]store.SeedAccount, n)
				for i := range batch {
					var err error
					if batch[i], err = seedAccount(key, term, time.Now()); err != nil {
						once.Do(func() { first = err; cancel() })
						return
					}
				}
				if err := st.Seed(ctx, batch, 15*time.Minute); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
				if d := done.Add(n); d/100000 != (d-n)/100000 {
					fmt.Fprintf(stderr, "paycode-load: seeded %d accounts in %v\n", d, time.Since(start).Round(time.Second))
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		fmt.Fprintf(stderr, "paycode-load: after %d accounts: %v\n", done.Load(), first)
		return exitFailed
	}
	fmt.Fprintf(stdout, "seeded %d accounts in %v\n", done.Load(), time.Since(start).Round(time.Millisecond))
	return exitOK
}

// seedAccount draws one account as seed writes it.
func seedAccount(key []byte, terminal string, now time.Time) (store.SeedAccount, error) {
	accountID, b, err := store.NewAccountID()
	if err != nil {
		return store.SeedAccount{}, err
	}
	ids := map[string]string{}
	for _, kind := range []string{"sgn", "dev"} {
		if ids[kind], err = store.NewID(kind, b); err != nil {
			return store.SeedAccount{}, err
		}
	}
	sessID, err := store.NewSessionID(accountID)
	if err != nil {
		return store.SeedAccount{}, err
	}
	rnd := make([]byte, 32+32+16+16)
	_, _ = rand.Read(rnd)
	contact := "seed-" + hex.EncodeToString(rnd[:8]) + "@example.com"
	jkt := base64.RawURLEncoding.EncodeToString(rnd[:32])
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return store.SeedAccount{}, err
	}
	cred := gowebauthn.Credential{
		ID: rnd[32:64], PublicKey: coseP256(&priv.PublicKey), AttestationType: "none",
		Transport:     []protocol.AuthenticatorTransport{protocol.Internal, protocol.Hybrid},
		Flags:         gowebauthn.CredentialFlags{UserPresent: true, UserVerified: true, BackupEligible: true, BackupState: true},
		Authenticator: gowebauthn.Authenticator{AAGUID: rnd[64:80], SignCount: 0},
	}
	hash := func(purpose, v string) string { return tokens.KeyedHash(key, purpose, v) }
	var recovery []string
	for i := range seedRecovery {
		recovery = append(recovery, hash("recovery", fmt.Sprint(accountID, i)))
	}
	acct := store.Account{ID: accountID, Contact: contact, ContactKind: "email", Status: store.AccountActive,
		CreatedAt: now, DeviceID: ids["dev"], DeviceJKT: jkt, DeviceStatus: store.DeviceActive, Lang: "ja"}
	sa := store.SeedAccount{
		Account: store.NewAccount{SignupID: ids["sgn"], Account: acct,
			Device: store.Device{ID: ids["dev"], AccountID: accountID, JKT: jkt, Label: "iPhone",
				CredentialID: store.CredentialKey(cred.ID), CreatedAt: now},
			Credential:     store.CredentialRecord{Credential: cred, AccountID: accountID, DeviceID: ids["dev"], CreatedAt: now},
			RecoveryHashes: recovery, ContactHash: hash("contact", contact)},
		Session: store.Session{ID: sessID, AccountID: accountID, DeviceID: ids["dev"], JKT: jkt, AuthTime: now, CreatedAt: now,
			AbsoluteExpiry: now.Add(24 * time.Hour), AMR: []string{"hwk", "user"}},
		RefreshHash: hash("refresh", sessID),
	}
	day := now.Format("20060102")
	for i, mv := range []struct {
		kind   store.Kind
		amount int64
	}{{store.KindTopup, seedTopUp}, {store.KindPayment, seedPayment}} {
		at := now.Add(time.Duration(i) * time.Second)
		name := hash("code", fmt.Sprint(accountID, i))
		sa.Codes = append(sa.Codes, store.CodeIssue{
			Record: store.CodeRecord{Name: name, AccountID: accountID, DeviceID: ids["dev"], SessionID: sessID,
				IssuedAt: at, ExpiresAt: at.Add(time.Minute)},
			TTL: time.Minute, Grace: 5 * time.Second, PerMinute: 20, JKT: jkt,
			Event: &store.Event{Type: "code.issued", Time: at, Data: map[string]any{"code_id": store.CodeID(name), "expires_at": at.Add(time.Minute)}},
		})
		body := sha256.Sum256([]byte(fmt.Sprint(mv.kind, name, mv.amount)))
		sa.Moves = append(sa.Moves, store.Movement{
			Kind: mv.kind, TerminalID: terminal, StoreID: "seed-store", Amount: mv.amount, Currency: seedCurrency,
			OrderRef: fmt.Sprintf("seed-%d", i), CodeBucket: b, CodeName: name,
			IdemKey: hash("idem", fmt.Sprint(accountID, i)), BodyHash: hex.EncodeToString(body[:]),
			Now: at.Add(time.Second), Day: day,
			Limits: store.Limits{PerPayment: 50000, PerDay: 100000, PerTopup: 50000, TopupsPerDay: 5, ProbationPerDay: 10000},
		})
	}
	return sa, nil
}

// coseP256 is the COSE_Key (RFC 9053) of a P-256 public key, as an
// authenticator registers it: {1: 2, 3: -7, -1: 1, -2: x, -3: y}.
func coseP256(pub *ecdsa.PublicKey) []byte {
	out := []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}
	out = append(out, pub.X.FillBytes(make([]byte, 32))...)
	out = append(out, 0x22, 0x58, 0x20)
	return append(out, pub.Y.FillBytes(make([]byte, 32))...)
}
