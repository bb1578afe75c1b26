package tokens

import (
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

// check refuses a configuration that would make verification weaker.
func (t *TerminalTokens) check() error {
	return checkIssuer(t.Keys, t.Issuer, t.Audience, t.TTL, t.Leeway)
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
	reg, exp, err := registeredClaims(t.Issuer, c.TerminalID, t.Audience, t.now(), t.ttl())
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing terminal token: %w", err)
	}
	claims := terminalJWT{
		RegisteredClaims: reg,
		StoreID:          c.StoreID,
		Scope:            TerminalScope,
	}
	tok, err := signToken(t.Keys, TerminalTokenType, claims)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing terminal token: %w", err)
	}
	return tok, exp, nil
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
	var claims terminalJWT
	if err := parseToken(token, &claims, tokenCheck{keys: t.Keys, typ: TerminalTokenType, issuer: t.Issuer,
		audience: t.Audience, leeway: t.Leeway, now: t.now}); err != nil {
		return nil, err
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
