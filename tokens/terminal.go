package tokens

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Terminal token defaults.
const (
	DefaultTerminalTTL = 5 * time.Minute
	TerminalTokenType  = "terminal+jwt"
	TerminalScope      = "payments"
)

// TerminalClaims are the claims of a terminal access token.
type TerminalClaims struct {
	TerminalID string // sub
	StoreID    string // store_id

	// Set by Issue (ignored on input) and filled by Verify.
	Issuer, Audience string
	IssuedAt, Expiry time.Time
	JTI              string
}

// TerminalTokens issues and verifies the bearer tokens a store terminal gets
// at the terminal token endpoint after authenticating with a client
// assertion (ClientAssertionVerifier). They are JWTs signed by the active key
// of Keys, like customer access tokens, and kept apart from them three ways:
// their own header typ (TerminalTokenType, where customer tokens have
// at+jwt), their own audience, and claims the other kind lacks (store_id
// here; sid and cnf.jkt there). So a customer token is refused on terminal
// calls and a terminal token on customer calls even with one KeySet and one
// issuer; Audience must not be the customer tokens' audience.
//
// A terminal token is a bearer token (not sender-constrained): it lives
// TTL, which is short, and names one terminal and its store, which the
// server re-checks against the registry (status, store) on every call.
type TerminalTokens struct {
	Keys     *KeySet
	Issuer   string        // iss: the public URL; required
	Audience string        // aud, e.g. PublicURL + "/v1/terminal"; required
	TTL      time.Duration // lifetime; 0 = DefaultTerminalTTL
	Now      func() time.Time
	Leeway   time.Duration // clock skew allowed on exp, nbf and iat; at most MaxLeeway; 0 = none
}

type terminalJWT struct {
	jwt.RegisteredClaims
	StoreID string `json:"store_id,omitempty"`
	Scope   string `json:"scope,omitempty"`
}

func (t *TerminalTokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *TerminalTokens) ttl() time.Duration {
	if t.TTL != 0 {
		return t.TTL
	}
	return DefaultTerminalTTL
}

// check refuses a configuration that would make verification weaker: the
// jwt library skips the iss and aud checks when they are empty.
func (t *TerminalTokens) check() error {
	switch {
	case t.Keys == nil:
		return errors.New("no key set")
	case t.Issuer == "":
		return errors.New("no issuer")
	case t.Audience == "":
		return errors.New("no audience")
	case t.TTL < 0:
		return errors.New("negative TTL")
	case t.Leeway < 0 || t.Leeway > MaxLeeway:
		return fmt.Errorf("leeway %v is outside 0 to %v", t.Leeway, MaxLeeway)
	}
	return nil
}

// Issue signs a terminal token with the active key. Header: typ
// "terminal+jwt", alg, kid. Claims: iss, aud, sub (the terminal id),
// store_id, scope "payments", iat, exp and a 128-bit random jti; the Issuer,
// Audience, IssuedAt, Expiry and JTI fields of c are ignored. TerminalID and
// StoreID are required. It returns the token and its expiry (whole seconds,
// as in the token).
func (t *TerminalTokens) Issue(c TerminalClaims) (string, time.Time, error) {
	if err := t.check(); err != nil {
		return "", time.Time{}, fmt.Errorf("issuing terminal token: %w", err)
	}
	if c.TerminalID == "" || c.StoreID == "" {
		return "", time.Time{}, errors.New("issuing terminal token: terminal id and store id are required")
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("issuing terminal token: %w", err)
	}
	now := t.now().Truncate(time.Second)
	exp := now.Add(t.ttl())
	claims := terminalJWT{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.Issuer,
			Subject:   c.TerminalID,
			Audience:  jwt.ClaimStrings{t.Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        base64.RawURLEncoding.EncodeToString(id[:]),
		},
		StoreID: c.StoreID,
		Scope:   TerminalScope,
	}
	key := t.Keys.Active()
	method := jwt.GetSigningMethod(key.Alg)
	if method == nil {
		return "", time.Time{}, fmt.Errorf("issuing terminal token: unsupported alg %q", key.Alg)
	}
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["typ"] = TerminalTokenType
	tok.Header["kid"] = key.KID
	signingInput, err := tok.SigningString()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing terminal token: %w", err)
	}
	sig, err := key.sign(signingInput)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing terminal token: %w", err)
	}
	return signingInput + "." + tok.EncodeSegment(sig), exp, nil
}

// Verify checks a terminal token and returns its claims. It requires: header
// typ exactly "terminal+jwt", no "crit" header, a kid that the key set has,
// an alg equal to that key's alg (ES256 or EdDSA only: "none", HMAC and RSA
// are refused before any key is used), a valid signature, exp (and nbf if
// present) within Leeway of now, iat not after now + Leeway, iss equal to
// Issuer, aud containing Audience, scope containing "payments", and
// non-empty sub, store_id, iat and jti. Every failure wraps ErrInvalidToken;
// a configuration error of t does not.
func (t *TerminalTokens) Verify(token string) (*TerminalClaims, error) {
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("verifying terminal token: %w", err)
	}
	if len(token) > maxTokenBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidToken, maxTokenBytes)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{AlgES256, AlgEdDSA}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(t.Issuer),
		jwt.WithAudience(t.Audience),
		jwt.WithLeeway(t.Leeway),
		jwt.WithTimeFunc(t.now),
		jwt.WithStrictDecoding(),
	)
	var claims terminalJWT
	_, err := parser.ParseWithClaims(token, &claims, func(tok *jwt.Token) (any, error) {
		if typ, _ := tok.Header["typ"].(string); typ != TerminalTokenType {
			return nil, fmt.Errorf("typ is not %q", TerminalTokenType)
		}
		if _, ok := tok.Header["crit"]; ok {
			return nil, errors.New("crit header parameters are not understood")
		}
		kid, _ := tok.Header["kid"].(string)
		key, ok := t.Keys.Lookup(kid)
		if !ok {
			return nil, errors.New("unknown kid")
		}
		if tok.Method.Alg() != key.Alg {
			return nil, fmt.Errorf("alg %s does not match key %s", tok.Method.Alg(), key.KID)
		}
		return key.Private.Public(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	switch {
	case claims.IssuedAt == nil:
		return nil, fmt.Errorf("%w: no iat", ErrInvalidToken)
	case claims.Subject == "":
		return nil, fmt.Errorf("%w: no sub", ErrInvalidToken)
	case claims.StoreID == "":
		return nil, fmt.Errorf("%w: no store_id", ErrInvalidToken)
	case !slices.Contains(strings.Fields(claims.Scope), TerminalScope):
		return nil, fmt.Errorf("%w: scope lacks %q", ErrInvalidToken, TerminalScope)
	case claims.ID == "":
		return nil, fmt.Errorf("%w: no jti", ErrInvalidToken)
	}
	return &TerminalClaims{
		TerminalID: claims.Subject,
		StoreID:    claims.StoreID,
		Issuer:     claims.Issuer,
		Audience:   t.Audience,
		IssuedAt:   claims.IssuedAt.Time,
		Expiry:     claims.ExpiresAt.Time,
		JTI:        claims.ID,
	}, nil
}
