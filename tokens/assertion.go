package tokens

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Client assertion failures. Every failure of an assertion wraps
// ErrInvalidAssertion; ErrAssertionReplay wraps it too and says more.
var (
	ErrInvalidAssertion = errors.New("invalid client assertion")
	// ErrAssertionReplay: the assertion was valid but its jti was already
	// used by this terminal.
	ErrAssertionReplay error = &assertionError{"client assertion replayed"}
	// ErrUnknownClient is what a key lookup passed to
	// ClientAssertionVerifier.Verify returns (wrapped) for a terminal that is
	// not registered or is suspended. Verify returns it wrapped in
	// ErrInvalidAssertion, after a signature check against a dummy key, so
	// that neither the response nor its timing tells an unknown terminal from
	// a bad signature; errors.Is(err, ErrUnknownClient) still lets the server
	// log and count the difference.
	ErrUnknownClient = errors.New("unknown client")
)

// assertionError is an assertion failure that is also an ErrInvalidAssertion.
type assertionError struct{ msg string }

func (e *assertionError) Error() string { return e.msg }
func (e *assertionError) Unwrap() error { return ErrInvalidAssertion }

// Client assertion limits and defaults (RFC 7523, private_key_jwt).
const (
	// ClientAssertionType is the client_assertion_type form value that goes
	// with a JWT client assertion (RFC 7523 2.2).
	ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

	DefaultAssertionMaxLifetime = 5 * time.Minute
	DefaultAssertionLeeway      = 5 * time.Second
	DefaultAssertionLifetime    = 60 * time.Second // what NewClientAssertion signs when given 0
	MaxClientAssertionBytes     = 8 << 10
	MaxAssertionJTILength       = 256
	MaxTerminalIDLength         = 256
)

// AssertionReplayCache remembers client assertion jti values. It has the
// method set of ReplayCache, so the Redis layer's implementation serves both;
// here the scope is the terminal id, not a key thumbprint, and an
// implementation should keep the two in separate key spaces (a collision
// could only make a fresh jti look replayed, never the reverse). ClaimJTI
// records (terminalID, jti) for ttl and reports fresh == false if it was
// already recorded. An error means the cache could not answer; the caller
// fails closed (503).
type AssertionReplayCache interface {
	ClaimJTI(ctx context.Context, jkt, jti string, ttl time.Duration) (fresh bool, err error)
}

// ClientAssertionVerifier verifies RFC 7523 client assertions
// (private_key_jwt) of store terminals at the terminal token endpoint. Its
// fields are read-only after first use; it is safe for concurrent use if
// Replay is.
type ClientAssertionVerifier struct {
	// Audience is the token endpoint's URL (PAYCODE_PUBLIC_URL +
	// "/v1/terminal/token"); aud must equal it or be an array containing it.
	// Required.
	Audience string
	// Replay remembers used jti values. Required.
	Replay AssertionReplayCache
	// Now is the clock; nil = time.Now.
	Now func() time.Time
	// MaxLifetime bounds exp: at most this far ahead of now, with no leeway,
	// which also bounds how long a jti is remembered. 0 =
	// DefaultAssertionMaxLifetime.
	MaxLifetime time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat; 0 =
	// DefaultAssertionLeeway; at most MaxLeeway.
	Leeway time.Duration
}

func (v *ClientAssertionVerifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify checks a client assertion and returns the terminal id it
// authenticates. In this order:
//
//   - at most MaxClientAssertionBytes, three base64url segments, header and
//     claims each one JSON object without duplicate members;
//   - header alg ES256 or EdDSA only ("none", HS*, RS*, ES384 ... are refused
//     before any key is looked up), no "crit", typ absent, "JWT" or
//     "client-authentication+jwt" (so that another kind of token, such as an
//     access token or a DPoP proof, is never taken for an assertion);
//   - iss: a string of 1 to MaxTerminalIDLength printable ASCII characters,
//     which is passed to keyFor. keyFor returns the terminal's registered
//     public key (*ecdsa.PublicKey P-256 or ed25519.PublicKey, as
//     ParsePublicKeyPEM gives) or an error wrapping ErrUnknownClient for a
//     terminal that is unknown or suspended;
//   - alg must be the one algorithm of that key's type, and the signature
//     must verify with it;
//   - sub == iss, aud equal to Audience (or an array containing it), exp
//     present, not expired (Leeway) and at most MaxLifetime ahead of now,
//     nbf when present (Leeway), iat when present not after now + Leeway,
//     jti a string of 1 to MaxAssertionJTILength characters.
//
// Only then does it call Replay.ClaimJTI(terminalID, jti, ttl) with ttl
// running until exp + Leeway (the whole time the assertion could pass the exp
// check), so a forged assertion cannot use up a terminal's jti; a jti already
// claimed gives ErrAssertionReplay.
//
// Every assertion failure wraps ErrInvalidAssertion and returns "", the
// server answers all of them alike (401 invalid_client). Errors that are
// not the client's fault do NOT wrap it, so that the caller answers 503 or
// 500 and accepts nothing: a ReplayCache error, a keyFor error that does not
// wrap ErrUnknownClient (the registry is down), a key of an unsupported type
// from keyFor, and a misconfigured verifier.
func (v *ClientAssertionVerifier) Verify(ctx context.Context, assertion string, keyFor func(ctx context.Context, terminalID string) (crypto.PublicKey, error)) (terminalID string, err error) {
	maxLifetime, leeway := v.MaxLifetime, v.Leeway
	if maxLifetime == 0 {
		maxLifetime = DefaultAssertionMaxLifetime
	}
	if leeway == 0 {
		leeway = DefaultAssertionLeeway
	}
	switch {
	case v.Audience == "":
		return "", errors.New("verifying client assertion: verifier has no Audience")
	case v.Replay == nil:
		return "", errors.New("verifying client assertion: verifier has no ReplayCache")
	case keyFor == nil:
		return "", errors.New("verifying client assertion: no key lookup")
	case maxLifetime < 0:
		return "", errors.New("verifying client assertion: negative MaxLifetime")
	case leeway < 0 || leeway > MaxLeeway:
		return "", fmt.Errorf("verifying client assertion: leeway %v is outside 0 to %v", leeway, MaxLeeway)
	}

	if assertion == "" {
		return "", invalidAssertionf("empty")
	}
	if len(assertion) > MaxClientAssertionBytes {
		return "", invalidAssertionf("larger than %d bytes", MaxClientAssertionBytes)
	}
	segs := strings.Split(assertion, ".")
	if len(segs) != 3 {
		return "", invalidAssertionf("not a compact JWS")
	}
	header, err := decodeSegment(segs[0])
	if err != nil {
		return "", invalidAssertionf("header: %v", err)
	}
	claims, err := decodeSegment(segs[1])
	if err != nil {
		return "", invalidAssertionf("claims: %v", err)
	}

	// Header: alg first, so that nothing else of a "none" or HMAC token is
	// ever looked at.
	alg, err := stringMember(header, "alg")
	if err != nil || (alg != AlgES256 && alg != AlgEdDSA) {
		return "", invalidAssertionf("alg is not %s or %s", AlgES256, AlgEdDSA)
	}
	if _, ok := header["crit"]; ok {
		return "", invalidAssertionf("crit header parameters are not understood")
	}
	if _, ok := header["typ"]; ok {
		typ, err := stringMember(header, "typ")
		if err != nil || !(strings.EqualFold(typ, "JWT") || strings.EqualFold(typ, "client-authentication+jwt")) {
			return "", invalidAssertionf("typ is not JWT or client-authentication+jwt")
		}
	}

	// encoding/json, which the jwt library decodes the claims with, matches
	// member names case-insensitively: "ISS" or "Exp" would be read as iss or
	// exp where the checks here read only the exact names.
	for name := range claims {
		if lower := strings.ToLower(name); lower != name && registeredClaim[lower] {
			return "", invalidAssertionf("claim %q is a case variant of %q", name, lower)
		}
	}

	// iss names the terminal and the key; nothing in it is trusted until the
	// signature by that key verifies.
	iss, err := stringMember(claims, "iss")
	if err != nil || !validTerminalID(iss) {
		return "", invalidAssertionf("iss must be a string of 1 to %d printable ASCII characters", MaxTerminalIDLength)
	}
	key, err := keyFor(ctx, iss)
	unknown := false
	switch {
	case errors.Is(err, ErrUnknownClient):
		unknown = true
		key = dummyAssertionKey(alg)
	case err != nil:
		return "", fmt.Errorf("verifying client assertion: looking up the terminal's key: %w", err)
	}
	wantAlg, err := algForKey(key)
	if err != nil {
		return "", fmt.Errorf("verifying client assertion: the terminal's registered key: %w", err)
	}
	if alg != wantAlg && !unknown {
		return "", invalidAssertionf("alg %s does not fit the terminal's key", alg)
	}

	// Signature and the registered claims, by the jwt library, pinned to the
	// one algorithm of the registered key.
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{wantAlg}),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(v.now),
		jwt.WithLeeway(leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithAudience(v.Audience),
		jwt.WithIssuer(iss),
		jwt.WithSubject(iss),
	)
	var rc jwt.RegisteredClaims
	_, err = parser.ParseWithClaims(assertion, &rc, func(*jwt.Token) (any, error) { return key, nil })
	if unknown {
		// The same failure, after the same work, as a bad signature.
		return "", fmt.Errorf("%w: %w", ErrInvalidAssertion, ErrUnknownClient)
	}
	if err != nil {
		return "", invalidAssertionf("%w", err)
	}
	// The jwt library also reads a quoted number as a NumericDate.
	for _, name := range []string{"exp", "iat", "nbf"} {
		if _, ok := claims[name]; ok {
			if _, err := numericDateMember(claims, name); err != nil {
				return "", invalidAssertionf("%w", err)
			}
		}
	}
	now := v.now()
	exp := rc.ExpiresAt.Time
	if exp.After(now.Add(maxLifetime)) {
		return "", invalidAssertionf("exp is more than %v ahead", maxLifetime)
	}
	if rc.ID == "" || len(rc.ID) > MaxAssertionJTILength {
		return "", invalidAssertionf("jti must be a string of 1 to %d characters", MaxAssertionJTILength)
	}

	ttl := exp.Add(leeway).Sub(now)
	if ttl < time.Second {
		ttl = time.Second // a store with second resolution must not round it to 0
	}
	fresh, err := v.Replay.ClaimJTI(ctx, iss, rc.ID, ttl)
	if err != nil {
		return "", fmt.Errorf("verifying client assertion: claiming jti: %w", err)
	}
	if !fresh {
		return "", ErrAssertionReplay
	}
	return iss, nil
}

// registeredClaim are the claims Verify reads (RFC 7519 4.1).
var registeredClaim = map[string]bool{"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true}

// invalidAssertionf describes an assertion failure; the result wraps
// ErrInvalidAssertion and whatever args wrap with %w.
func invalidAssertionf(format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrInvalidAssertion, fmt.Errorf(format, args...))
}

// validTerminalID: 1 to MaxTerminalIDLength printable ASCII characters, no
// space, so that what reaches the registry lookup (and a Redis key name) is
// bounded and unremarkable.
func validTerminalID(id string) bool {
	if id == "" || len(id) > MaxTerminalIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// algForKey is the one JWS algorithm a supported public key verifies.
func algForKey(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k != nil && k.Curve == elliptic.P256() {
			return AlgES256, nil
		}
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return AlgEdDSA, nil
		}
	}
	return "", fmt.Errorf("unsupported key type %T: only EC P-256 and Ed25519", pub)
}

// dummyAssertionKeys are verified against when the terminal is unknown, so
// that an unknown terminal costs the same signature check as a known one.
var dummyAssertionKeys = sync.OnceValues(func() (*ecdsa.PublicKey, ed25519.PublicKey) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic("tokens: no randomness for a dummy key: " + err.Error())
	}
	ed := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	return &ec.PublicKey, ed
})

func dummyAssertionKey(alg string) crypto.PublicKey {
	ec, ed := dummyAssertionKeys()
	if alg == AlgEdDSA {
		return ed
	}
	return ec
}

// NewClientAssertion signs a client assertion for terminalID with the
// terminal's own key: header alg, typ "JWT" and kid (the key's thumbprint,
// which Verify ignores); claims iss = sub = terminalID, aud = audience (one
// string: the token endpoint's URL), iat = now, exp = now + lifetime (0 =
// DefaultAssertionLifetime) and a 128-bit random jti. It is what terminals
// (and cmd/paycode-terminal) send as client_assertion.
func NewClientAssertion(key SigningKey, terminalID, audience string, now time.Time, lifetime time.Duration) (string, error) {
	if err := key.check(); err != nil {
		return "", fmt.Errorf("signing client assertion: %w", err)
	}
	if !validTerminalID(terminalID) {
		return "", fmt.Errorf("signing client assertion: terminal id must be 1 to %d printable ASCII characters", MaxTerminalIDLength)
	}
	if audience == "" {
		return "", errors.New("signing client assertion: no audience")
	}
	if lifetime == 0 {
		lifetime = DefaultAssertionLifetime
	}
	if lifetime < 0 {
		return "", errors.New("signing client assertion: negative lifetime")
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("signing client assertion: %w", err)
	}
	now = now.Truncate(time.Second)
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		KID string `json:"kid"`
	}{key.Alg, "JWT", key.KID})
	if err != nil {
		return "", fmt.Errorf("signing client assertion: %w", err)
	}
	claims, err := json.Marshal(struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Aud string `json:"aud"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
		JTI string `json:"jti"`
	}{terminalID, terminalID, audience, now.Unix(), now.Add(lifetime).Unix(), base64.RawURLEncoding.EncodeToString(id[:])})
	if err != nil {
		return "", fmt.Errorf("signing client assertion: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	sig, err := key.sign(input)
	if err != nil {
		return "", fmt.Errorf("signing client assertion: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// ParsePublicKeyPEM reads one PEM "PUBLIC KEY" block (PKIX
// SubjectPublicKeyInfo) holding an EC P-256 key, returned as
// *ecdsa.PublicKey, or an Ed25519 key, returned as ed25519.PublicKey: how an
// operator registers a terminal's key. Other key types and curves, PEM
// headers, more than one block, a private key (with a message saying so)
// and Ed25519 keys of small order (under which anyone can forge signatures)
// are refused.
func ParsePublicKeyPEM(pemBytes []byte) (crypto.PublicKey, error) {
	block, rest := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("parsing public key: no PEM block found")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("parsing public key: data after the first PEM block; give exactly one key")
	}
	if len(block.Headers) != 0 {
		return nil, errors.New("parsing public key: PEM headers are not supported")
	}
	switch block.Type {
	case "PUBLIC KEY":
	case "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("parsing public key: this is a private key (%s); it must stay on the terminal: give its PUBLIC KEY", block.Type)
	default:
		return nil, fmt.Errorf("parsing public key: PEM type %q is not PUBLIC KEY", block.Type)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, errors.New("parsing public key: malformed PUBLIC KEY (want PKIX SubjectPublicKeyInfo of an EC P-256 or Ed25519 key)")
	}
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("parsing public key: ECDSA curve %s is not supported, only P-256", k.Curve.Params().Name)
		}
		return k, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return nil, errors.New("parsing public key: invalid Ed25519 key length")
		}
		if err := checkEd25519Point(k); err != nil {
			return nil, fmt.Errorf("parsing public key: %w", err)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("parsing public key: %T keys are not supported, only EC P-256 and Ed25519", key)
	}
}

// MarshalPublicKeyPEM encodes a P-256 or Ed25519 public key as a PEM "PUBLIC
// KEY" block (PKIX), the form ParsePublicKeyPEM reads.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	if _, err := algForKey(pub); err != nil {
		return nil, fmt.Errorf("marshalling public key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshalling public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
