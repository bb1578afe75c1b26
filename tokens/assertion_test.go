package tokens_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycode/paycode/tokens"
)

const (
	testTokenURL = "https://pay.example.com/v1/terminal/token"
	testTerminal = "term_0042abcdefghijklmnop"
)

// registry is the operator's terminal registry as Verify's keyFor sees it.
type registry struct {
	mu      sync.Mutex
	keys    map[string]crypto.PublicKey
	err     error // returned for every lookup when set (the registry is down)
	lookups []string
}

func newRegistry(keys map[string]crypto.PublicKey) *registry {
	return &registry{keys: keys}
}

func (r *registry) keyFor(_ context.Context, id string) (crypto.PublicKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups = append(r.lookups, id)
	if r.err != nil {
		return nil, r.err
	}
	k, ok := r.keys[id]
	if !ok {
		return nil, fmt.Errorf("terminal %s: %w", id, tokens.ErrUnknownClient)
	}
	return k, nil
}

func newAssertionVerifier(now time.Time) (*tokens.ClientAssertionVerifier, *memReplay) {
	r := newMemReplay()
	return &tokens.ClientAssertionVerifier{Audience: testTokenURL, Replay: r, Now: clock(now)}, r
}

func assertionHeader(k tokens.SigningKey) map[string]any {
	return map[string]any{"alg": k.Alg, "typ": "JWT"}
}

func assertionClaims(id string) map[string]any {
	return map[string]any{
		"iss": id, "sub": id, "aud": testTokenURL,
		"iat": t0.Unix(), "exp": t0.Add(time.Minute).Unix(), "jti": "jti-" + id,
	}
}

// signAssertion signs header and claims with a terminal key, independently
// of tokens.NewClientAssertion (crypto/ecdsa and crypto/ed25519 directly).
func signAssertion(t testing.TB, k tokens.SigningKey, header, claims any) string {
	t.Helper()
	input := signingInput(t, header, claims)
	switch priv := k.Private.(type) {
	case *ecdsa.PrivateKey:
		return input + "." + b64.EncodeToString(signECDSARaw(t, priv, crypto.SHA256, input))
	case ed25519.PrivateKey:
		return input + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(input)))
	default:
		t.Fatalf("signAssertion: %T", k.Private)
		return ""
	}
}

// terminalKeys makes an ES256 and an EdDSA terminal and a registry of both.
func terminalKeys(t testing.TB) (es, ed tokens.SigningKey, reg *registry) {
	t.Helper()
	es, ed = generate(t, tokens.AlgES256), generate(t, tokens.AlgEdDSA)
	reg = newRegistry(map[string]crypto.PublicKey{
		testTerminal:         es.Private.Public(),
		testTerminal + "-ed": ed.Private.Public(),
	})
	return es, ed, reg
}

// publicAnswer is what a token endpoint shows the client for an error:
// every assertion failure alike, anything else as unavailable.
func publicAnswer(err error) string {
	switch {
	case err == nil:
		return "200"
	case errors.Is(err, tokens.ErrInvalidAssertion):
		return "401 invalid_client"
	default:
		return "503"
	}
}

func TestClientAssertionValid(t *testing.T) {
	es, ed, reg := terminalKeys(t)
	cases := []struct {
		name string
		key  tokens.SigningKey
		id   string
		edit func(c map[string]any)
	}{
		{"ES256", es, testTerminal, nil},
		{"EdDSA", ed, testTerminal + "-ed", nil},
		{"aud as an array containing the endpoint", es, testTerminal, func(c map[string]any) {
			c["aud"] = []string{"https://other.example", testTokenURL}
		}},
		{"exp exactly MaxLifetime ahead", es, testTerminal, func(c map[string]any) {
			c["exp"] = t0.Add(tokens.DefaultAssertionMaxLifetime).Unix()
		}},
		{"expired within the leeway", es, testTerminal, func(c map[string]any) { c["exp"] = t0.Add(-4 * time.Second).Unix() }},
		{"iat in the future within the leeway", es, testTerminal, func(c map[string]any) { c["iat"] = t0.Add(5 * time.Second).Unix() }},
		{"no iat", es, testTerminal, func(c map[string]any) { delete(c, "iat") }},
		{"jti of 256 characters", es, testTerminal, func(c map[string]any) { c["jti"] = strings.Repeat("j", 256) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, replay := newAssertionVerifier(t0)
			c := assertionClaims(tc.id)
			if tc.edit != nil {
				tc.edit(c)
			}
			got, err := v.Verify(context.Background(), signAssertion(t, tc.key, assertionHeader(tc.key), c), reg.keyFor)
			if err != nil || got != tc.id {
				t.Fatalf("Verify = %q, %v; want %q", got, err, tc.id)
			}
			// The jti is claimed, scoped by the terminal, until exp + leeway.
			exp := time.Unix(c["exp"].(int64), 0)
			if replay.Calls() != 1 || !replay.seen[tc.id+"\x00"+c["jti"].(string)] {
				t.Errorf("jti not claimed for the terminal: %v", replay.seen)
			}
			if want := max(exp.Add(tokens.DefaultAssertionLeeway).Sub(t0), time.Second); replay.ttls[0] != want {
				t.Errorf("ttl = %v, want %v", replay.ttls[0], want)
			}
		})
	}
}

func TestNewClientAssertion(t *testing.T) {
	es, ed, reg := terminalKeys(t)
	for _, tc := range []struct {
		key tokens.SigningKey
		id  string
	}{{es, testTerminal}, {ed, testTerminal + "-ed"}} {
		t.Run(tc.key.Alg, func(t *testing.T) {
			a, err := tokens.NewClientAssertion(tc.key, tc.id, testTokenURL, t0, 0)
			if err != nil {
				t.Fatal(err)
			}
			h, c, _ := parts(t, a)
			if h["alg"] != tc.key.Alg || h["typ"] != "JWT" || h["kid"] != tc.key.KID || len(h) != 3 {
				t.Errorf("header = %v", h)
			}
			if c["iss"] != tc.id || c["sub"] != tc.id || c["aud"] != testTokenURL ||
				fmt.Sprint(c["iat"]) != fmt.Sprint(t0.Unix()) ||
				fmt.Sprint(c["exp"]) != fmt.Sprint(t0.Add(tokens.DefaultAssertionLifetime).Unix()) || len(c) != 6 {
				t.Errorf("claims = %v", c)
			}
			if jti, _ := c["jti"].(string); len(mustB64(t, jti)) != 16 {
				t.Errorf("jti %q is not 128 random bits", jti)
			}
			v, _ := newAssertionVerifier(t0)
			if got, err := v.Verify(context.Background(), a, reg.keyFor); err != nil || got != tc.id {
				t.Fatalf("Verify = %q, %v", got, err)
			}
			b, _ := tokens.NewClientAssertion(tc.key, tc.id, testTokenURL, t0, 0)
			if _, cb, _ := parts(t, b); cb["jti"] == c["jti"] {
				t.Error("two assertions share a jti")
			}
		})
	}
	for name, call := range map[string]func() (string, error){
		"no terminal id": func() (string, error) { return tokens.NewClientAssertion(es, "", testTokenURL, t0, 0) },
		"space in id":    func() (string, error) { return tokens.NewClientAssertion(es, "a b", testTokenURL, t0, 0) },
		"no audience":    func() (string, error) { return tokens.NewClientAssertion(es, testTerminal, "", t0, 0) },
		"negative lifetime": func() (string, error) {
			return tokens.NewClientAssertion(es, testTerminal, testTokenURL, t0, -time.Second)
		},
		"no key": func() (string, error) {
			return tokens.NewClientAssertion(tokens.SigningKey{}, testTerminal, testTokenURL, t0, 0)
		},
	} {
		if a, err := call(); err == nil || a != "" {
			t.Errorf("%s: NewClientAssertion = %q, %v; want an error", name, a, err)
		}
	}
}

func TestClientAssertionRefused(t *testing.T) {
	es, ed, reg := terminalKeys(t)
	other := generate(t, tokens.AlgES256)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := tokens.MarshalPublicKeyPEM(es.Private.Public())
	if err != nil {
		t.Fatal(err)
	}
	valid := func() (map[string]any, map[string]any) { return assertionHeader(es), assertionClaims(testTerminal) }
	signed := func(edit func(h, c map[string]any)) string {
		h, c := valid()
		edit(h, c)
		return signAssertion(t, es, h, c)
	}
	claimsWith := func(edit func(c map[string]any)) string {
		return signed(func(_, c map[string]any) { edit(c) })
	}

	cases := []struct {
		name      string
		assertion string
	}{
		// An unsigned token must not authenticate anyone.
		{"alg none", func() string {
			h, c := valid()
			h["alg"] = "none"
			return jws(t, h, c, nil)
		}()},
		// Key confusion: the public key (known to everyone) used as an HMAC
		// secret by a verifier that lets the token choose its algorithm.
		{"HS256 keyed with the public key", func() string {
			h, c := valid()
			h["alg"] = "HS256"
			in := signingInput(t, h, c)
			return in + "." + b64.EncodeToString(hs256(pubPEM, in))
		}()},
		// An algorithm we do not accept, by a key we never registered.
		{"RS256", func() string {
			h, c := valid()
			h["alg"] = "RS256"
			in := signingInput(t, h, c)
			sum := sha256.Sum256([]byte(in))
			sig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, sum[:])
			if err != nil {
				t.Fatal(err)
			}
			return in + "." + b64.EncodeToString(sig)
		}()},
		// alg must be the registered key's, not whatever the token names.
		{"EdDSA alg for an ES256 terminal", func() string {
			h, c := assertionHeader(ed), assertionClaims(testTerminal)
			return signAssertion(t, ed, h, c)
		}()},
		// An assertion made for another server (or another endpoint of ours)
		// must not be usable here.
		{"wrong aud", claimsWith(func(c map[string]any) { c["aud"] = "https://evil.example/v1/terminal/token" })},
		{"aud of the customer API", claimsWith(func(c map[string]any) { c["aud"] = "https://pay.example.com/v1" })},
		{"aud array without the endpoint", claimsWith(func(c map[string]any) { c["aud"] = []string{"https://evil.example"} })},
		{"no aud", claimsWith(func(c map[string]any) { delete(c, "aud") })},
		// A terminal authenticating as another one (sub names the victim).
		{"iss != sub", claimsWith(func(c map[string]any) { c["sub"] = testTerminal + "-ed" })},
		{"no sub", claimsWith(func(c map[string]any) { delete(c, "sub") })},
		// Forgery: a valid-looking assertion signed by a key the terminal
		// does not hold.
		{"signed by another key", func() string {
			h, c := valid()
			return signAssertion(t, other, h, c)
		}()},
		{"signature of another assertion", func() string {
			a := signed(func(_, c map[string]any) {})
			b := signed(func(_, c map[string]any) { c["jti"] = "other" })
			return a[:strings.LastIndexByte(a, '.')] + b[strings.LastIndexByte(b, '.'):]
		}()},
		// A captured old assertion.
		{"expired", claimsWith(func(c map[string]any) { c["exp"] = t0.Add(-6 * time.Second).Unix() })},
		{"no exp", claimsWith(func(c map[string]any) { delete(c, "exp") })},
		// A long-lived assertion is a long-lived credential if stolen, and
		// would make the jti cache hold it as long.
		{"exp too far ahead", claimsWith(func(c map[string]any) {
			c["exp"] = t0.Add(tokens.DefaultAssertionMaxLifetime + time.Second).Unix()
		})},
		{"exp a year ahead", claimsWith(func(c map[string]any) { c["exp"] = t0.AddDate(1, 0, 0).Unix() })},
		// Pre-made assertions for later use.
		{"iat in the future", claimsWith(func(c map[string]any) { c["iat"] = t0.Add(6 * time.Second).Unix() })},
		{"nbf in the future", claimsWith(func(c map[string]any) { c["nbf"] = t0.Add(time.Minute).Unix() })},
		{"exp as a string", claimsWith(func(c map[string]any) { c["exp"] = fmt.Sprint(t0.Add(time.Minute).Unix()) })},
		// Without a jti the assertion could not be single-use.
		{"no jti", claimsWith(func(c map[string]any) { delete(c, "jti") })},
		{"empty jti", claimsWith(func(c map[string]any) { c["jti"] = "" })},
		{"jti of 257 characters", claimsWith(func(c map[string]any) { c["jti"] = strings.Repeat("j", 257) })},
		{"jti not a string", claimsWith(func(c map[string]any) { c["jti"] = 42 })},
		// iss reaches the registry lookup: keep it bounded and plain.
		{"no iss", claimsWith(func(c map[string]any) { delete(c, "iss") })},
		{"iss not a string", claimsWith(func(c map[string]any) { c["iss"] = []string{testTerminal} })},
		{"iss with a space", claimsWith(func(c map[string]any) { c["iss"], c["sub"] = testTerminal+" ", testTerminal+" " })},
		{"iss too long", claimsWith(func(c map[string]any) { c["iss"] = strings.Repeat("t", 257); c["sub"] = c["iss"] })},
		// Another kind of token signed by the same key is not an assertion.
		{"typ dpop+jwt", signed(func(h, _ map[string]any) { h["typ"] = "dpop+jwt" })},
		{"typ at+jwt", signed(func(h, _ map[string]any) { h["typ"] = "at+jwt" })},
		{"crit header", signed(func(h, _ map[string]any) { h["crit"] = []string{"exp"} })},
		// Parser differentials: two iss members that two parsers could read
		// differently (one to find the key, one to check the claims).
		{"duplicate iss", func() string {
			raw := []byte(`{"iss":"` + testTerminal + `","iss":"term_victim","sub":"` + testTerminal + `","aud":"` + testTokenURL +
				`","exp":` + fmt.Sprint(t0.Add(time.Minute).Unix()) + `,"jti":"dup"}`)
			return signAssertion(t, es, assertionHeader(es), raw)
		}()},
		// encoding/json matches member names case-insensitively: a second
		// "EXP" (or "Sub") must not override what was checked.
		{"case variant of exp", claimsWith(func(c map[string]any) { c["EXP"] = t0.AddDate(1, 0, 0).Unix() })},
		{"case variant of sub", claimsWith(func(c map[string]any) { c["Sub"] = "term_victim" })},
		// Denial of service: big inputs are refused before any parsing.
		{"oversized", claimsWith(func(c map[string]any) { c["pad"] = strings.Repeat("x", tokens.MaxClientAssertionBytes) })},
		// Malformed input.
		{"empty", ""},
		{"two segments", "e30.e30"},
		{"four segments", "e30.e30.e30.e30"},
		{"padded base64", func() string {
			a := signed(func(_, _ map[string]any) {})
			return a + "="
		}()},
		{"header not JSON", "bm90IGpzb24." + b64.EncodeToString([]byte(`{}`)) + ".AA"},
		{"claims an array", func() string {
			h, _ := valid()
			return signAssertion(t, es, h, []byte(`[]`))
		}()},
		{"no signature", func() string {
			a := signed(func(_, _ map[string]any) {})
			return a[:strings.LastIndexByte(a, '.')+1]
		}()},
	}
	// The base header and claims, signed properly, are accepted: every case
	// above differs from a valid assertion in the one way its name says.
	control, _ := newAssertionVerifier(t0)
	if _, err := control.Verify(context.Background(), signed(func(_, _ map[string]any) {}), reg.keyFor); err != nil {
		t.Fatalf("control assertion refused: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, replay := newAssertionVerifier(t0)
			got, err := v.Verify(context.Background(), tc.assertion, reg.keyFor)
			if err == nil || got != "" {
				t.Fatalf("Verify = %q, %v; want a refusal", got, err)
			}
			if !errors.Is(err, tokens.ErrInvalidAssertion) {
				t.Fatalf("error %v does not wrap ErrInvalidAssertion", err)
			}
			if errors.Is(err, tokens.ErrAssertionReplay) || errors.Is(err, tokens.ErrUnknownClient) {
				t.Errorf("error %v claims replay or unknown client", err)
			}
			// Invalid assertions never reach the cache, so they cannot use up
			// a terminal's jti.
			if replay.Calls() != 0 {
				t.Errorf("the jti cache was called %d times for an invalid assertion", replay.Calls())
			}
		})
	}
}

// An unknown (or suspended) terminal and a known terminal with a bad
// signature look the same from the outside, so that the token endpoint
// cannot be used to find which terminal ids exist.
func TestClientAssertionUnknownTerminal(t *testing.T) {
	es, _, reg := terminalKeys(t)
	other := generate(t, tokens.AlgES256)

	unknownClaims := assertionClaims("term_unknown")
	v, replay := newAssertionVerifier(t0)
	_, errUnknown := v.Verify(context.Background(), signAssertion(t, es, assertionHeader(es), unknownClaims), reg.keyFor)
	_, errBadSig := v.Verify(context.Background(), signAssertion(t, other, assertionHeader(other), assertionClaims(testTerminal)), reg.keyFor)
	edUnknown := generate(t, tokens.AlgEdDSA)
	got, errUnknownEd := v.Verify(context.Background(), signAssertion(t, edUnknown, assertionHeader(edUnknown), unknownClaims), reg.keyFor)

	for name, err := range map[string]error{"unknown": errUnknown, "unknown EdDSA": errUnknownEd, "bad signature": errBadSig} {
		if publicAnswer(err) != "401 invalid_client" {
			t.Errorf("%s: the client sees %q (%v)", name, publicAnswer(err), err)
		}
	}
	if got != "" {
		t.Errorf("Verify returned terminal %q for an unknown one", got)
	}
	// The server itself can still tell them apart, for its logs and metrics.
	if !errors.Is(errUnknown, tokens.ErrUnknownClient) || !errors.Is(errUnknownEd, tokens.ErrUnknownClient) || errors.Is(errBadSig, tokens.ErrUnknownClient) {
		t.Errorf("ErrUnknownClient: unknown %v, bad signature %v", errUnknown, errBadSig)
	}
	if replay.Calls() != 0 {
		t.Errorf("the jti cache was called %d times", replay.Calls())
	}
	if len(reg.lookups) != 3 || reg.lookups[0] != "term_unknown" {
		t.Errorf("lookups = %v", reg.lookups)
	}
}

// A captured assertion sent again (or a copy re-signed: ECDSA signatures are
// malleable and re-signing changes them) is refused, because the jti is
// single-use per terminal.
func TestClientAssertionReplay(t *testing.T) {
	es, ed, reg := terminalKeys(t)
	v, replay := newAssertionVerifier(t0)
	h, c := assertionHeader(es), assertionClaims(testTerminal)
	first := signAssertion(t, es, h, c)
	if _, err := v.Verify(context.Background(), first, reg.keyFor); err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]string{
		"same assertion":   first,
		"re-signed copy":   signAssertion(t, es, h, c),
		"aud as an array":  signAssertion(t, es, h, withClaim(c, "aud", []string{testTokenURL})),
		"exp one sec more": signAssertion(t, es, h, withClaim(c, "exp", t0.Add(61*time.Second).Unix())),
	} {
		got, err := v.Verify(context.Background(), a, reg.keyFor)
		if !errors.Is(err, tokens.ErrAssertionReplay) || !errors.Is(err, tokens.ErrInvalidAssertion) || got != "" {
			t.Errorf("%s: Verify = %q, %v; want ErrAssertionReplay", name, got, err)
		}
	}
	// The jti is scoped by the terminal: another terminal may use the same.
	ec := withClaim(withClaim(c, "iss", testTerminal+"-ed"), "sub", testTerminal+"-ed")
	if got, err := v.Verify(context.Background(), signAssertion(t, ed, assertionHeader(ed), ec), reg.keyFor); err != nil || got != testTerminal+"-ed" {
		t.Errorf("another terminal's jti: Verify = %q, %v", got, err)
	}
	if replay.Calls() != 6 {
		t.Errorf("cache calls = %d, want 6", replay.Calls())
	}
}

func withClaim(c map[string]any, name string, v any) map[string]any {
	out := maps.Clone(c)
	out[name] = v
	return out
}

// While Redis (the jti cache or the registry) is down nothing is accepted, and
// the error is not ErrInvalidAssertion, so the endpoint answers 503 and the
// terminal retries instead of believing its key was refused.
func TestClientAssertionStoreDown(t *testing.T) {
	es, _, reg := terminalKeys(t)
	a := signAssertion(t, es, assertionHeader(es), assertionClaims(testTerminal))
	down := errors.New("redis: connection refused")

	v, replay := newAssertionVerifier(t0)
	replay.err = down
	got, err := v.Verify(context.Background(), a, reg.keyFor)
	if got != "" || !errors.Is(err, down) || errors.Is(err, tokens.ErrInvalidAssertion) || publicAnswer(err) != "503" {
		t.Errorf("jti cache down: Verify = %q, %v", got, err)
	}

	v, _ = newAssertionVerifier(t0)
	reg.err = down
	got, err = v.Verify(context.Background(), a, reg.keyFor)
	if got != "" || !errors.Is(err, down) || errors.Is(err, tokens.ErrInvalidAssertion) {
		t.Errorf("registry down: Verify = %q, %v", got, err)
	}

	// A registry that hands back a key of a kind we never register is a
	// server fault, not the client's.
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	bad := newRegistry(map[string]crypto.PublicKey{testTerminal: &rsaKey.PublicKey})
	if got, err := v.Verify(context.Background(), a, bad.keyFor); got != "" || err == nil || errors.Is(err, tokens.ErrInvalidAssertion) {
		t.Errorf("RSA key in the registry: Verify = %q, %v", got, err)
	}
}

func TestClientAssertionVerifierMisconfigured(t *testing.T) {
	es, _, reg := terminalKeys(t)
	a := signAssertion(t, es, assertionHeader(es), assertionClaims(testTerminal))
	for name, v := range map[string]*tokens.ClientAssertionVerifier{
		"no audience":          {Replay: newMemReplay(), Now: clock(t0)},
		"no replay cache":      {Audience: testTokenURL, Now: clock(t0)},
		"leeway over a minute": {Audience: testTokenURL, Replay: newMemReplay(), Now: clock(t0), Leeway: time.Minute + 1},
		"negative leeway":      {Audience: testTokenURL, Replay: newMemReplay(), Now: clock(t0), Leeway: -1},
		"negative lifetime":    {Audience: testTokenURL, Replay: newMemReplay(), Now: clock(t0), MaxLifetime: -1},
	} {
		if got, err := v.Verify(context.Background(), a, reg.keyFor); got != "" || err == nil || errors.Is(err, tokens.ErrInvalidAssertion) {
			t.Errorf("%s: Verify = %q, %v; want a configuration error", name, got, err)
		}
	}
	v, _ := newAssertionVerifier(t0)
	if _, err := v.Verify(context.Background(), a, nil); err == nil || errors.Is(err, tokens.ErrInvalidAssertion) {
		t.Errorf("nil keyFor: %v", err)
	}
}

func TestClientAssertionCustomLimits(t *testing.T) {
	es, _, reg := terminalKeys(t)
	v, _ := newAssertionVerifier(t0)
	v.MaxLifetime, v.Leeway = 30*time.Second, time.Minute
	if _, err := v.Verify(context.Background(), signAssertion(t, es, assertionHeader(es), assertionClaims(testTerminal)), reg.keyFor); !errors.Is(err, tokens.ErrInvalidAssertion) {
		t.Errorf("exp 60 s ahead with MaxLifetime 30 s: %v", err)
	}
	c := withClaim(assertionClaims(testTerminal), "exp", t0.Add(-50*time.Second).Unix())
	if got, err := v.Verify(context.Background(), signAssertion(t, es, assertionHeader(es), c), reg.keyFor); err != nil || got != testTerminal {
		t.Errorf("expired 50 s ago with a minute of leeway: %q, %v", got, err)
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	es, ed, _ := terminalKeys(t)
	for _, k := range []tokens.SigningKey{es, ed} {
		p, err := tokens.MarshalPublicKeyPEM(k.Private.Public())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(p), "-----BEGIN PUBLIC KEY-----\n") {
			t.Errorf("%s: PEM = %s", k.Alg, p)
		}
		got, err := tokens.ParsePublicKeyPEM(append([]byte("\n"), append(p, "\n\n"...)...))
		if err != nil {
			t.Fatalf("%s: %v", k.Alg, err)
		}
		if !got.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Private.Public()) {
			t.Errorf("%s: parsed another key", k.Alg)
		}
	}

	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	pkix := func(pub any) []byte {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf("PUBLIC KEY", der)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	esPEM := pkix(es.Private.Public())
	privPEM, _ := tokens.MarshalPrivateKeyPEM(es)
	refused := map[string][]byte{
		"empty":           nil,
		"not PEM":         []byte("hello"),
		"P-384":           pkix(&p384.PublicKey),
		"RSA":             pkix(&rsaKey.PublicKey),
		"private key":     privPEM,
		"certificate":     pemOf("CERTIFICATE", []byte{0x30, 0}),
		"two keys":        append(slices.Clone(esPEM), pkix(ed.Private.Public())...),
		"trailing text":   append(slices.Clone(esPEM), "junk"...),
		"garbage DER":     pemOf("PUBLIC KEY", []byte{0x30, 0x03, 1, 2, 3}),
		"PEM headers":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}),
		"RSA public type": pemOf("RSA PUBLIC KEY", []byte{0x30, 0}),
	}
	// Keys of small order: anyone can make signatures that verify under them.
	for name, enc := range ed25519SmallOrder(t) {
		refused["Ed25519 "+name] = pkix(ed25519.PublicKey(enc))
	}
	for name, in := range refused {
		if k, err := tokens.ParsePublicKeyPEM(in); err == nil || k != nil {
			t.Errorf("%s: ParsePublicKeyPEM = %v, %v; want an error", name, k, err)
		}
	}
	if _, err := tokens.ParsePublicKeyPEM(privPEM); err == nil || !strings.Contains(err.Error(), "private key") {
		t.Errorf("a private key: %v; want an error that says so", err)
	}
	if _, err := tokens.MarshalPublicKeyPEM(&rsaKey.PublicKey); err == nil {
		t.Error("MarshalPublicKeyPEM accepted an RSA key")
	}
}

func FuzzVerifyClientAssertion(f *testing.F) {
	es, ed, reg := terminalKeys(f)
	for _, tc := range []struct {
		k  tokens.SigningKey
		id string
	}{{es, testTerminal}, {ed, testTerminal + "-ed"}} {
		a, err := tokens.NewClientAssertion(tc.k, tc.id, testTokenURL, t0, 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(a)
		f.Add(signAssertion(f, tc.k, assertionHeader(tc.k), withClaim(assertionClaims(tc.id), "aud", []string{testTokenURL})))
		f.Add(signAssertion(f, tc.k, map[string]any{"alg": "none"}, assertionClaims(tc.id)))
		f.Add(signAssertion(f, tc.k, assertionHeader(tc.k), withClaim(assertionClaims(tc.id), "sub", "x")))
	}
	f.Add("")
	f.Add("..")
	f.Add("e30.e30.")
	f.Fuzz(func(t *testing.T, assertion string) {
		v, _ := newAssertionVerifier(t0)
		got, err := v.Verify(context.Background(), assertion, reg.keyFor)
		if err != nil {
			if got != "" {
				t.Fatalf("Verify returned terminal %q with error %v", got, err)
			}
			if !errors.Is(err, tokens.ErrInvalidAssertion) {
				t.Fatalf("Verify error %v is not ErrInvalidAssertion", err)
			}
			return
		}
		if _, ok := reg.keys[got]; !ok {
			t.Fatalf("Verify accepted terminal %q, which is not registered", got)
		}
	})
}
