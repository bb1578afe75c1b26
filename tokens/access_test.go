package tokens_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paycode/paycode/tokens"
	"github.com/paycode/paycode/tokens/dpoptest"
)

const (
	testIssuer   = "https://pay.example.com"
	testAudience = "https://pay.example.com/v1"
)

func newAccessTokens(t testing.TB, now time.Time, keys ...tokens.SigningKey) *tokens.AccessTokens {
	t.Helper()
	ks, err := tokens.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return &tokens.AccessTokens{Keys: ks, Issuer: testIssuer, Audience: testAudience, Now: clock(now)}
}

func sampleClaims() tokens.AccessClaims {
	return tokens.AccessClaims{
		Subject:   "acct_0042abcdefghijklmnopqrstuvwx",
		SessionID: "sess_0042abcdefghijklmnopqrstuvwx",
		DeviceID:  "dev_0042abcdefghijklmnopqrstuvwx",
		JKT:       "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		AuthTime:  t0.Add(-2 * time.Minute),
		ACR:       "phr",
		AMR:       []string{"hwk", "user"},
	}
}

// signWith signs arbitrary header and claims with a key's own private key
// through the jwt library, for tokens the server's Issue would never make.
func signWith(t testing.TB, k tokens.SigningKey, header map[string]any, claims map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(k.Alg), jwt.MapClaims(claims))
	tok.Header = header
	s, err := tok.SignedString(k.Private)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func baseHeader(k tokens.SigningKey) map[string]any {
	return map[string]any{"typ": "at+jwt", "alg": k.Alg, "kid": k.KID}
}

func baseClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer, "aud": []string{testAudience},
		"sub": "acct_1", "sid": "sess_1", "did": "dev_1",
		"cnf": map[string]any{"jkt": "jkt-1"},
		"iat": t0.Unix(), "exp": t0.Add(5 * time.Minute).Unix(), "jti": "jti-1",
	}
}

func TestAccessTokenRoundTrip(t *testing.T) {
	for _, alg := range []string{tokens.AlgES256, tokens.AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			key := generate(t, alg)
			a := newAccessTokens(t, t0, key)
			in := sampleClaims()
			in.Issuer, in.JTI = "ignored", "ignored" // set by Issue
			tok, exp, err := a.Issue(in)
			if err != nil {
				t.Fatalf("Issue: %v", err)
			}
			if !exp.Equal(t0.Add(tokens.DefaultAccessTTL)) {
				t.Errorf("expiry = %v, want %v", exp, t0.Add(tokens.DefaultAccessTTL))
			}
			h, c, _ := parts(t, tok)
			if h["typ"] != "at+jwt" || h["alg"] != alg || h["kid"] != key.KID || len(h) != 3 {
				t.Errorf("header = %v", h)
			}
			for _, claim := range []string{"iss", "aud", "sub", "sid", "did", "cnf", "auth_time", "acr", "amr", "iat", "exp", "jti"} {
				if _, ok := c[claim]; !ok {
					t.Errorf("claim %s missing from %v", claim, c)
				}
			}

			got, err := a.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := sampleClaims()
			want.Issuer, want.Audience = testIssuer, testAudience
			want.IssuedAt, want.Expiry = t0, exp
			want.JTI = got.JTI
			if got.Subject != want.Subject || got.SessionID != want.SessionID || got.DeviceID != want.DeviceID ||
				got.JKT != want.JKT || !got.AuthTime.Equal(want.AuthTime) || got.ACR != want.ACR ||
				!slices.Equal(got.AMR, want.AMR) || got.Issuer != want.Issuer || got.Audience != want.Audience ||
				!got.IssuedAt.Equal(want.IssuedAt) || !got.Expiry.Equal(want.Expiry) {
				t.Errorf("Verify = %+v\nwant      %+v", *got, want)
			}
			if len(b64mustDecode(t, got.JTI)) != 16 {
				t.Errorf("jti %q is not 128 random bits", got.JTI)
			}
			tok2, _, _ := a.Issue(sampleClaims())
			if got2, _ := a.Verify(tok2); got2 == nil || got2.JTI == got.JTI {
				t.Error("two tokens share a jti")
			}

			// Interoperability: a plain jwt-go verification with the public
			// key accepts the token (signature format, claims encoding).
			if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return key.Private.Public(), nil },
				jwt.WithValidMethods([]string{alg}), jwt.WithTimeFunc(clock(t0))); err != nil {
				t.Errorf("jwt.Parse of an issued token: %v", err)
			}
		})
	}

	t.Run("custom TTL, type and an HSM-like signer", func(t *testing.T) {
		key := generate(t, tokens.AlgES256)
		key.Private = opaqueSigner{key.Private}
		a := newAccessTokens(t, t0, key)
		a.TTL, a.Type = 2*time.Minute, "terminal+jwt"
		tok, exp, err := a.Issue(sampleClaims())
		if err != nil {
			t.Fatalf("Issue: %v", err)
		}
		if !exp.Equal(t0.Add(2 * time.Minute)) {
			t.Errorf("expiry = %v", exp)
		}
		if _, err := a.Verify(tok); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		// Token kind confusion: a token of one kind is not accepted as another.
		def := *a
		def.Type = ""
		if _, err := def.Verify(tok); !errors.Is(err, tokens.ErrInvalidToken) {
			t.Errorf("terminal+jwt accepted as at+jwt: %v", err)
		}
	})

	t.Run("no auth_time", func(t *testing.T) {
		a := newAccessTokens(t, t0, generate(t, tokens.AlgEdDSA))
		c := sampleClaims()
		c.AuthTime = time.Time{}
		tok, _, err := a.Issue(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.Verify(tok)
		if err != nil || !got.AuthTime.IsZero() {
			t.Fatalf("Verify = %+v, %v; want a zero AuthTime", got, err)
		}
	})
}

func b64mustDecode(t testing.TB, s string) []byte { t.Helper(); return mustB64(t, s) }

func TestAccessTokenLeeway(t *testing.T) {
	key := generate(t, tokens.AlgES256)
	tok, exp, err := newAccessTokens(t, t0, key).Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		now    time.Time
		leeway time.Duration
		ok     bool
	}{
		{"just before exp", exp.Add(-time.Second), 0, true},
		{"at exp", exp, 0, false},
		{"within leeway", exp.Add(29 * time.Second), 30 * time.Second, true},
		// Attack: using a stolen token after it expired, counting on leeway.
		{"beyond leeway", exp.Add(31 * time.Second), 30 * time.Second, false},
		// Tokens from the future (a signing host with a fast clock).
		{"iat ahead within leeway", t0.Add(-20 * time.Second), 30 * time.Second, true},
		{"iat ahead beyond leeway", t0.Add(-31 * time.Second), 30 * time.Second, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newAccessTokens(t, c.now, key)
			a.Leeway = c.leeway
			_, err := a.Verify(tok)
			if c.ok && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !c.ok && !errors.Is(err, tokens.ErrInvalidToken) {
				t.Fatalf("Verify error = %v, want ErrInvalidToken", err)
			}
		})
	}
}

// TestAccessTokenRejected: each case is an attack on, or a malformation of,
// an access token; every one must fail with ErrInvalidToken.
func TestAccessTokenRejected(t *testing.T) {
	key := generate(t, tokens.AlgES256)
	edKey := generate(t, tokens.AlgEdDSA)
	a := newAccessTokens(t, t0, key, edKey)
	outsider := generate(t, tokens.AlgES256)
	impostor := outsider
	impostor.KID = key.KID // an outside key claiming the active kid

	valid, _, err := a.Issue(sampleClaims())
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
	signed := func(h, c map[string]any) func() string {
		return func() string { return signWith(t, key, h, c) }
	}

	pub := key.Private.Public().(*ecdsa.PublicKey)
	pkix, _ := x509.MarshalPKIXPublicKey(pub)
	rawPoint, _ := pub.Bytes()
	jwks, _ := a.Keys.JWKS()
	hmacSecrets := map[string][]byte{
		"PKIX DER":    pkix,
		"PEM":         pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"raw point":   rawPoint,
		"JWKS":        jwks,
		"kid":         []byte(key.KID),
		"Ed25519 key": []byte(edKey.Private.Public().(ed25519.PublicKey)),
	}

	type tc struct {
		name  string
		token func() string
	}
	cases := []tc{
		// Token type confusion (RFC 8725 3.11): other JWTs signed by the
		// same key must not pass as access tokens.
		{"typ JWT", signed(with(baseHeader(key), "typ", "JWT"), baseClaims())},
		{"typ missing", signed(with(baseHeader(key), "typ", nil), baseClaims())},
		{"typ dpop+jwt", signed(with(baseHeader(key), "typ", "dpop+jwt"), baseClaims())},
		{"typ other case", signed(with(baseHeader(key), "typ", "AT+JWT"), baseClaims())},
		{"a DPoP proof", func() string { return dpoptest.NewES256(t).Proof("GET", testURL, "", "", t0) }},

		// alg=none: an unsigned token with our kid.
		{"alg none", func() string {
			return jws(t, with(baseHeader(key), "alg", "none"), baseClaims(), nil)
		}},
		{"alg none with a valid signature kept", func() string {
			_, _, sig := parts(t, valid)
			return jws(t, with(baseHeader(key), "alg", "none"), baseClaims(), sig)
		}},
		// Signature stripping.
		{"signature stripped", func() string { return valid[:strings.LastIndexByte(valid, '.')+1] }},
		// Algorithm/key confusion: an ES256 signature presented under the
		// EdDSA key's kid, and the reverse.
		{"ES256 under the EdDSA kid", func() string {
			return signWith(t, outsider, with(baseHeader(edKey), "alg", tokens.AlgES256), baseClaims())
		}},
		{"EdDSA alg under the ES256 kid", func() string {
			return signWith(t, edKey, with(baseHeader(edKey), "kid", key.KID), baseClaims())
		}},

		// Key injection: a kid the server does not have, or none.
		{"unknown kid", func() string { return signWith(t, outsider, baseHeader(outsider), baseClaims()) }},
		{"kid missing", signed(with(baseHeader(key), "kid", nil), baseClaims())},
		{"kid not a string", signed(with(baseHeader(key), "kid", 7), baseClaims())},
		{"jwk header ignored: unknown kid with embedded key", func() string {
			h := with(baseHeader(outsider), "jwk", publicJWK(t, outsider.Private.Public()))
			return signWith(t, outsider, h, baseClaims())
		}},
		// Forgery: a key outside the set signing under the active kid.
		{"signed by a key not in the set", func() string { return signWith(t, impostor, baseHeader(impostor), baseClaims()) }},
		// Tampering after signing: widen the subject.
		{"claims modified after signing", func() string {
			h, c, sig := parts(t, valid)
			c["sub"] = "acct_victim"
			return jws(t, h, c, sig)
		}},
		{"crit header", signed(with(baseHeader(key), "crit", []string{"exp"}), baseClaims())},

		// Claims.
		{"expired", signed(baseHeader(key), with(baseClaims(), "exp", t0.Add(-time.Second).Unix()))},
		{"exp missing", signed(baseHeader(key), with(baseClaims(), "exp", nil))},
		{"iat missing", signed(baseHeader(key), with(baseClaims(), "iat", nil))},
		{"iat in the future", signed(baseHeader(key), with(baseClaims(), "iat", t0.Add(time.Minute).Unix()))},
		{"nbf in the future", signed(baseHeader(key), with(baseClaims(), "nbf", t0.Add(time.Minute).Unix()))},
		// A token of another issuer or for another audience, signed with a
		// key that happens to be trusted (shared keys, misconfiguration).
		{"wrong iss", signed(baseHeader(key), with(baseClaims(), "iss", "https://evil.example.com"))},
		{"iss missing", signed(baseHeader(key), with(baseClaims(), "iss", nil))},
		{"wrong aud", signed(baseHeader(key), with(baseClaims(), "aud", []string{"https://other.example.com"}))},
		{"aud missing", signed(baseHeader(key), with(baseClaims(), "aud", nil))},
		{"sub missing", signed(baseHeader(key), with(baseClaims(), "sub", nil))},
		{"sid missing", signed(baseHeader(key), with(baseClaims(), "sid", nil))},
		{"jti missing", signed(baseHeader(key), with(baseClaims(), "jti", nil))},
		// An unbound (bearer) token: usable by whoever steals it.
		{"cnf missing", signed(baseHeader(key), with(baseClaims(), "cnf", nil))},
		{"cnf.jkt missing", signed(baseHeader(key), with(baseClaims(), "cnf", map[string]any{"x5t#S256": "abc"}))},
		{"cnf.jkt empty", signed(baseHeader(key), with(baseClaims(), "cnf", map[string]any{"jkt": ""}))},
		{"cnf not an object", signed(baseHeader(key), with(baseClaims(), "cnf", "jkt-1"))},

		// Malformed.
		{"empty", func() string { return "" }},
		{"garbage", func() string { return "not.a.jwt" }},
		{"two segments", func() string { return valid[:strings.LastIndexByte(valid, '.')] }},
		{"larger than 8 KiB", signed(baseHeader(key), with(baseClaims(), "pad", strings.Repeat("A", 8<<10)))},
	}
	// Algorithm confusion: HS256 with the public key (in any encoding) as
	// the HMAC secret.
	for name, secret := range hmacSecrets {
		cases = append(cases, tc{"HS256 keyed with the " + name, func() string {
			in := signingInput(t, with(baseHeader(key), "alg", "HS256"), baseClaims())
			return in + "." + b64.EncodeToString(hs256(secret, in))
		}})
	}

	// The base claims, signed properly, are accepted: every case above
	// differs from a valid token in the one way its name says.
	if _, err := a.Verify(signWith(t, key, baseHeader(key), baseClaims())); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := a.Verify(c.token())
			if !errors.Is(err, tokens.ErrInvalidToken) || got != nil {
				t.Fatalf("Verify = %+v, %v; want nil, ErrInvalidToken", got, err)
			}
			t.Log(err)
		})
	}
}

// Rotation: the new key signs, tokens signed by the old key keep working
// while it stays in the set, and stop once it is dropped.
func TestAccessTokenKeyRotation(t *testing.T) {
	oldKey, newKey := generate(t, tokens.AlgES256), generate(t, tokens.AlgEdDSA)
	before := newAccessTokens(t, t0, oldKey)
	oldToken, _, err := before.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}

	during := newAccessTokens(t, t0.Add(time.Minute), newKey, oldKey)
	if _, err := during.Verify(oldToken); err != nil {
		t.Fatalf("token of the old (second) key refused during rotation: %v", err)
	}
	newToken, _, err := during.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	if h, _, _ := parts(t, newToken); h["kid"] != newKey.KID || h["alg"] != tokens.AlgEdDSA {
		t.Errorf("new token header %v, want the first key %s", h, newKey.KID)
	}
	if _, err := during.Verify(newToken); err != nil {
		t.Fatalf("new token: %v", err)
	}
	// The old verifier does not know the new key.
	if _, err := before.Verify(newToken); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Errorf("old set accepted a token of the new key: %v", err)
	}

	after := newAccessTokens(t, t0.Add(time.Minute), newKey)
	if _, err := after.Verify(oldToken); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Errorf("token of a dropped key accepted: %v", err)
	}
}

func TestAccessTokensMisconfigured(t *testing.T) {
	key := generate(t, tokens.AlgES256)
	good := newAccessTokens(t, t0, key)
	tok, _, err := good.Issue(sampleClaims())
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(a *tokens.AccessTokens)) *tokens.AccessTokens {
		a := *good
		f(&a)
		return &a
	}
	cases := map[string]*tokens.AccessTokens{
		// The jwt library skips iss/aud checks when they are empty: an
		// empty Issuer or Audience must be an error, not "accept any".
		"no issuer":         mutate(func(a *tokens.AccessTokens) { a.Issuer = "" }),
		"no audience":       mutate(func(a *tokens.AccessTokens) { a.Audience = "" }),
		"no keys":           mutate(func(a *tokens.AccessTokens) { a.Keys = nil }),
		"leeway over 1 min": mutate(func(a *tokens.AccessTokens) { a.Leeway = 61 * time.Second }),
		"negative leeway":   mutate(func(a *tokens.AccessTokens) { a.Leeway = -time.Second }),
		"negative TTL":      mutate(func(a *tokens.AccessTokens) { a.TTL = -time.Minute }),
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := a.Issue(sampleClaims()); err == nil {
				t.Error("Issue succeeded")
			}
			got, err := a.Verify(tok)
			if err == nil || got != nil {
				t.Fatalf("Verify = %v, %v; want an error", got, err)
			}
			if errors.Is(err, tokens.ErrInvalidToken) {
				t.Errorf("a configuration error is reported as an invalid token: %v", err)
			}
		})
	}

	for name, f := range map[string]func(c *tokens.AccessClaims){
		"no subject": func(c *tokens.AccessClaims) { c.Subject = "" },
		"no session": func(c *tokens.AccessClaims) { c.SessionID = "" },
		"no jkt":     func(c *tokens.AccessClaims) { c.JKT = "" },
	} {
		t.Run("Issue refuses "+name, func(t *testing.T) {
			c := sampleClaims()
			f(&c)
			if _, _, err := good.Issue(c); err == nil {
				t.Fatal("Issue succeeded")
			}
		})
	}
}
