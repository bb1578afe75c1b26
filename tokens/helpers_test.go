package tokens_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is the fixed "now" of every test clock.
var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

var b64 = base64.RawURLEncoding

// memReplay is an in-memory ReplayCache for these tests only; the real one
// is in the Redis layer and has its own conformance tests.
type memReplay struct {
	mu    sync.Mutex
	seen  map[string]bool
	calls int
	ttls  []time.Duration
	err   error // returned by every call when set
}

func newMemReplay() *memReplay { return &memReplay{seen: make(map[string]bool)} }

func (m *memReplay) ClaimJTI(_ context.Context, jkt, jti string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	m.ttls = append(m.ttls, ttl)
	if m.err != nil {
		return false, m.err
	}
	k := jkt + "\x00" + jti
	if m.seen[k] {
		return false, nil
	}
	m.seen[k] = true
	return true, nil
}

func (m *memReplay) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// jws assembles a compact JWS from raw parts: header and claims are
// marshalled unless they are already []byte.
func jws(t testing.TB, header, claims any, sig []byte) string {
	t.Helper()
	return signingInput(t, header, claims) + "." + b64.EncodeToString(sig)
}

func signingInput(t testing.TB, header, claims any) string {
	t.Helper()
	enc := func(v any) string {
		if b, ok := v.([]byte); ok {
			return b64.EncodeToString(b)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		return b64.EncodeToString(b)
	}
	return enc(header) + "." + enc(claims)
}

// parts splits a compact JWS into its decoded header, claims and signature.
func parts(t testing.TB, token string) (header, claims map[string]any, sig []byte) {
	t.Helper()
	seg := strings.Split(token, ".")
	if len(seg) != 3 {
		t.Fatalf("not a JWS: %q", token)
	}
	dec := func(s string, v any) {
		b, err := b64.DecodeString(s)
		if err != nil {
			t.Fatalf("segment: %v", err)
		}
		d := json.NewDecoder(strings.NewReader(string(b)))
		d.UseNumber()
		if err := d.Decode(v); err != nil {
			t.Fatalf("segment: %v", err)
		}
	}
	dec(seg[0], &header)
	dec(seg[1], &claims)
	sig, err := b64.DecodeString(seg[2])
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	return header, claims, sig
}

// signECDSARaw signs input with any ECDSA key and hash, raw r||s.
func signECDSARaw(t testing.TB, priv *ecdsa.PrivateKey, h crypto.Hash, input string) []byte {
	t.Helper()
	hh := h.New()
	hh.Write([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, priv, hh.Sum(nil))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	size := (priv.Curve.Params().BitSize + 7) / 8
	sig := make([]byte, 2*size)
	r.FillBytes(sig[:size])
	s.FillBytes(sig[size:])
	return sig
}

func hs256(key []byte, input string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	return mac.Sum(nil)
}
