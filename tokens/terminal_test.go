package tokens_test

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/tokens"
)

const testTerminalAudience = "https://pay.example.com/v1/terminal"

// bothKinds returns customer and terminal token issuers sharing one key set
// and one issuer, as the server configures them.
func bothKinds(t testing.TB, now time.Time, keys ...tokens.SigningKey) (*tokens.AccessTokens, *tokens.TerminalTokens) {
	t.Helper()
	a := newAccessTokens(t, now, keys...)
	return a, &tokens.TerminalTokens{Keys: a.Keys, Issuer: testIssuer, Audience: testTerminalAudience, Now: clock(now)}
}

func sampleTerminal() tokens.TerminalClaims {
	return tokens.TerminalClaims{TerminalID: testTerminal, StoreID: "store_0042"}
}

func terminalHeader(k tokens.SigningKey) map[string]any {
	return map[string]any{"typ": "terminal+jwt", "alg": k.Alg, "kid": k.KID}
}

func terminalClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer, "aud": []string{testTerminalAudience},
		"sub": testTerminal, "store_id": "store_0042", "scope": "payments",
		"iat": t0.Unix(), "exp": t0.Add(5 * time.Minute).Unix(), "jti": "jti-1",
	}
}

func TestTerminalTokenRoundTrip(t *testing.T) {
	for _, alg := range []string{tokens.AlgES256, tokens.AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			key := generate(t, alg)
			_, tt := bothKinds(t, t0, key)
			in := sampleTerminal()
			in.Issuer, in.JTI = "ignored", "ignored" // set by Issue
			tok, exp, err := tt.Issue(in)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if !exp.Equal(t0.Add(tokens.DefaultTerminalTTL)) {
				t.Errorf("expiry = %v, want %v", exp, t0.Add(tokens.DefaultTerminalTTL))
			}
			h, c, _ := parts(t, tok)
			if h["typ"] != "terminal+jwt" || h["alg"] != alg || h["kid"] != key.KID || len(h) != 3 {
				t.Errorf("header = %v", h)
			}
			if c["iss"] != testIssuer || c["sub"] != testTerminal || c["store_id"] != "store_0042" || c["scope"] != "payments" ||
				fmt.Sprint(c["aud"]) != "["+testTerminalAudience+"]" || len(c) != 8 {
				t.Errorf("claims = %v", c)
			}
			got, err := tt.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := tokens.TerminalClaims{
				TerminalID: testTerminal, StoreID: "store_0042", Issuer: testIssuer, Audience: testTerminalAudience,
				IssuedAt: t0, Expiry: exp, JTI: got.JTI,
			}
			if got.TerminalID != want.TerminalID || got.StoreID != want.StoreID || got.Issuer != want.Issuer ||
				got.Audience != want.Audience || !got.IssuedAt.Equal(want.IssuedAt) || !got.Expiry.Equal(want.Expiry) {
				t.Errorf("Verify = %+v\nwant      %+v", *got, want)
			}
			if len(mustB64(t, got.JTI)) != 16 {
				t.Errorf("jti %q is not 128 random bits", got.JTI)
			}
		})
	}
}

func TestTerminalTokenIssueRefused(t *testing.T) {
	key := generate(t, tokens.AlgES256)
	_, tt := bothKinds(t, t0, key)
	for name, c := range map[string]tokens.TerminalClaims{
		"no terminal id": {StoreID: "store_1"},
		"no store id":    {TerminalID: testTerminal},
	} {
		if tok, _, err := tt.Issue(c); err == nil || tok != "" {
			t.Errorf("%s: Issue = %q, %v", name, tok, err)
		}
	}
	ks := tt.Keys
	for name, bad := range map[string]*tokens.TerminalTokens{
		"no keys":        {Issuer: testIssuer, Audience: testTerminalAudience},
		"no issuer":      {Keys: ks, Audience: testTerminalAudience},
		"no audience":    {Keys: ks, Issuer: testIssuer},
		"negative TTL":   {Keys: ks, Issuer: testIssuer, Audience: testTerminalAudience, TTL: -1},
		"leeway too big": {Keys: ks, Issuer: testIssuer, Audience: testTerminalAudience, Leeway: 2 * time.Minute},
	} {
		if tok, _, err := bad.Issue(sampleTerminal()); err == nil || tok != "" {
			t.Errorf("%s: Issue = %q, %v", name, tok, err)
		}
		if got, err := bad.Verify("x.y.z"); err == nil || got != nil || errors.Is(err, tokens.ErrInvalidToken) {
			t.Errorf("%s: Verify = %v, %v; want a configuration error", name, got, err)
		}
	}
}

// Customer tokens are refused on terminal calls and terminal tokens on
// customer calls, although both are signed by the same keys for the same
// issuer. Attack: a customer (who holds a valid access token) calling the
// redeem endpoint as if it were a store, or a terminal's leaked token used
// against a customer's wallet.
func TestTokenKindsAreNotInterchangeable(t *testing.T) {
	key := generate(t, tokens.AlgES256)
	at, tt := bothKinds(t, t0, key)

	customer, _, err := at.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	terminal, _, err := tt.Issue(sampleTerminal())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := at.Verify(customer); err != nil {
		t.Fatalf("control: customer token refused by AccessTokens: %v", err)
	}
	if _, err := tt.Verify(terminal); err != nil {
		t.Fatalf("control: terminal token refused by TerminalTokens: %v", err)
	}
	if got, err := tt.Verify(customer); !errors.Is(err, tokens.ErrInvalidToken) || got != nil {
		t.Errorf("a customer token on a terminal call: Verify = %+v, %v", got, err)
	}
	if got, err := at.Verify(terminal); !errors.Is(err, tokens.ErrInvalidToken) || got != nil {
		t.Errorf("a terminal token on a customer call: Verify = %+v, %v", got, err)
	}

	// Each of the three differences (typ, aud, kind-specific claims) is
	// enough on its own: take away the other two and the token is still
	// refused.
	with := func(m map[string]any, kv ...any) map[string]any {
		m = maps.Clone(m)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	customerLike := map[string]any{"typ": "at+jwt", "alg": key.Alg, "kid": key.KID}
	cases := []struct {
		name   string
		token  string
		verify func(string) error
	}{
		{"terminal verifier, only typ differs", signWith(t, key, customerLike, terminalClaims()),
			func(s string) error { _, err := tt.Verify(s); return err }},
		{"terminal verifier, only aud differs", signWith(t, key, terminalHeader(key), with(terminalClaims(), "aud", []string{testAudience})),
			func(s string) error { _, err := tt.Verify(s); return err }},
		{"terminal verifier, only store_id missing", signWith(t, key, terminalHeader(key), with(baseClaims(), "aud", []string{testTerminalAudience}, "scope", "payments")),
			func(s string) error { _, err := tt.Verify(s); return err }},
		{"customer verifier, only typ differs", signWith(t, key, terminalHeader(key), baseClaims()),
			func(s string) error { _, err := at.Verify(s); return err }},
		{"customer verifier, only aud differs", signWith(t, key, customerLike, with(baseClaims(), "aud", []string{testTerminalAudience})),
			func(s string) error { _, err := at.Verify(s); return err }},
		{"customer verifier, only sid and cnf missing", signWith(t, key, customerLike, with(terminalClaims(), "aud", []string{testAudience})),
			func(s string) error { _, err := at.Verify(s); return err }},
	}
	for _, tc := range cases {
		err := tc.verify(tc.token)
		t.Logf("%s: %v", tc.name, err)
		if !errors.Is(err, tokens.ErrInvalidToken) {
			t.Errorf("%s: %v; want ErrInvalidToken", tc.name, err)
		}
	}
}

func TestTerminalTokenRejected(t *testing.T) {
	key := generate(t, tokens.AlgES256)
	edKey := generate(t, tokens.AlgEdDSA)
	_, tt := bothKinds(t, t0, key, edKey)
	outsider := generate(t, tokens.AlgES256)
	impostor := outsider
	impostor.KID = key.KID
	valid, _, err := tt.Issue(sampleTerminal())
	if err != nil {
		t.Fatal(err)
	}
	with := func(m map[string]any, k string, v any) map[string]any {
		m = maps.Clone(m)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	signed := func(h, c map[string]any) string { return signWith(t, key, h, c) }
	pkix, _ := x509.MarshalPKIXPublicKey(key.Private.Public().(*ecdsa.PublicKey))
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})

	cases := []struct{ name, token string }{
		// Token type confusion (RFC 8725 3.11).
		{"typ missing", signed(with(terminalHeader(key), "typ", nil), terminalClaims())},
		{"typ JWT", signed(with(terminalHeader(key), "typ", "JWT"), terminalClaims())},
		{"typ other case", signed(with(terminalHeader(key), "typ", "Terminal+JWT"), terminalClaims())},
		// Unsigned and algorithm-confused tokens.
		{"alg none", jws(t, with(terminalHeader(key), "alg", "none"), terminalClaims(), nil)},
		{"HS256 keyed with the public key", func() string {
			in := signingInput(t, with(terminalHeader(key), "alg", "HS256"), terminalClaims())
			return in + "." + b64.EncodeToString(hs256(pubPEM, in))
		}()},
		{"EdDSA alg under the ES256 kid", signWith(t, edKey, with(terminalHeader(edKey), "kid", key.KID), terminalClaims())},
		{"signature stripped", valid[:strings.LastIndexByte(valid, '.')+1]},
		// Key injection and forgery.
		{"unknown kid", signWith(t, outsider, terminalHeader(outsider), terminalClaims())},
		{"kid missing", signed(with(terminalHeader(key), "kid", nil), terminalClaims())},
		{"signed by a key not in the set", signWith(t, impostor, terminalHeader(impostor), terminalClaims())},
		// Widening the token to another store after signing.
		{"store_id modified after signing", func() string {
			h, c, sig := parts(t, valid)
			c["store_id"] = "store_victim"
			return jws(t, h, c, sig)
		}()},
		{"crit header", signed(with(terminalHeader(key), "crit", []string{"exp"}), terminalClaims())},
		// Claims.
		{"expired", signed(terminalHeader(key), with(terminalClaims(), "exp", t0.Add(-time.Second).Unix()))},
		{"exp missing", signed(terminalHeader(key), with(terminalClaims(), "exp", nil))},
		{"iat missing", signed(terminalHeader(key), with(terminalClaims(), "iat", nil))},
		{"iat in the future", signed(terminalHeader(key), with(terminalClaims(), "iat", t0.Add(time.Minute).Unix()))},
		{"nbf in the future", signed(terminalHeader(key), with(terminalClaims(), "nbf", t0.Add(time.Minute).Unix()))},
		{"wrong iss", signed(terminalHeader(key), with(terminalClaims(), "iss", "https://evil.example.com"))},
		{"aud missing", signed(terminalHeader(key), with(terminalClaims(), "aud", nil))},
		{"sub missing", signed(terminalHeader(key), with(terminalClaims(), "sub", nil))},
		{"store_id missing", signed(terminalHeader(key), with(terminalClaims(), "store_id", nil))},
		{"scope missing", signed(terminalHeader(key), with(terminalClaims(), "scope", nil))},
		{"scope of something else", signed(terminalHeader(key), with(terminalClaims(), "scope", "payments:read"))},
		{"jti missing", signed(terminalHeader(key), with(terminalClaims(), "jti", nil))},
		// Malformed.
		{"empty", ""},
		{"garbage", "not.a.jwt"},
		{"larger than 8 KiB", signed(terminalHeader(key), with(terminalClaims(), "pad", strings.Repeat("A", 8<<10)))},
	}
	if _, err := tt.Verify(signed(terminalHeader(key), terminalClaims())); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	if _, err := tt.Verify(signed(terminalHeader(key), with(terminalClaims(), "scope", "refunds payments"))); err != nil {
		t.Errorf("a scope list containing payments refused: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := tt.Verify(c.token)
			if !errors.Is(err, tokens.ErrInvalidToken) || got != nil {
				t.Fatalf("Verify = %+v, %v; want nil, ErrInvalidToken", got, err)
			}
			t.Log(err)
		})
	}
}

func TestTerminalTokenLeewayAndRotation(t *testing.T) {
	oldKey, newKey := generate(t, tokens.AlgES256), generate(t, tokens.AlgEdDSA)
	_, before := bothKinds(t, t0, oldKey)
	tok, exp, err := before.Issue(sampleTerminal())
	if err != nil {
		t.Fatal(err)
	}
	_, after := bothKinds(t, exp.Add(30*time.Second), newKey, oldKey)
	if _, err := after.Verify(tok); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Errorf("expired 30 s ago without leeway: %v", err)
	}
	after.Leeway = tokens.MaxLeeway
	if _, err := after.Verify(tok); err != nil {
		t.Errorf("old key, within leeway: %v", err)
	}
	_, dropped := bothKinds(t, t0, newKey)
	if _, err := dropped.Verify(tok); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Errorf("the old key dropped: %v", err)
	}
	custom := &tokens.TerminalTokens{Keys: before.Keys, Issuer: testIssuer, Audience: testTerminalAudience, Now: clock(t0), TTL: time.Minute}
	if _, exp, _ := custom.Issue(sampleTerminal()); !exp.Equal(t0.Add(time.Minute)) {
		t.Errorf("TTL 1 min: expiry %v", exp)
	}
}

func FuzzVerifyTerminalToken(f *testing.F) {
	key := generate(f, tokens.AlgES256)
	_, tt := bothKinds(f, t0, key)
	tok, _, err := tt.Issue(sampleTerminal())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add(signWith(f, key, terminalHeader(key), terminalClaims()))
	f.Add(jws(f, map[string]any{"alg": "none", "typ": "terminal+jwt", "kid": key.KID}, terminalClaims(), nil))
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		got, err := tt.Verify(token)
		if err != nil {
			if got != nil {
				t.Fatalf("Verify returned %+v with error %v", got, err)
			}
			if !errors.Is(err, tokens.ErrInvalidToken) {
				t.Fatalf("Verify error %v is not ErrInvalidToken", err)
			}
			return
		}
		if got.TerminalID == "" || got.StoreID == "" || got.JTI == "" {
			t.Fatalf("Verify = %+v with no error; want complete claims", got)
		}
	})
}
