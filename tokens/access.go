package tokens

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is wrapped by every access token verification failure.
// Configuration errors of AccessTokens itself do not wrap it.
var ErrInvalidToken = errors.New("invalid access token")

// Defaults and bounds of AccessTokens.
const (
	DefaultAccessTTL  = 5 * time.Minute
	DefaultAccessType = "at+jwt" // RFC 9068 2.1
	MaxLeeway         = time.Minute
	maxTokenBytes     = 8 << 10
)

// AccessClaims are the claims of a DPoP-bound access token.
type AccessClaims struct {
	Subject   string    // sub: account id
	SessionID string    // sid
	DeviceID  string    // did
	JKT       string    // cnf.jkt: thumbprint of the device key the token is bound to
	AuthTime  time.Time // auth_time: last user-verified passkey assertion; zero if absent
	ACR       string    // acr
	AMR       []string  // amr, e.g. ["hwk","user"]

	// Set by Issue (ignored on input) and filled by Verify.
	Issuer, Audience string
	IssuedAt, Expiry time.Time
	JTI              string
}

// AccessTokens issues and verifies the server's access tokens: JWTs signed by
// the active key of Keys and bound to a device key by cnf.jkt. Whoever
// accepts one must also verify a DPoP proof by that key (DPoPVerifier) and
// compare its thumbprint with JKT.
type AccessTokens struct {
	Keys     *KeySet
	Issuer   string        // iss: the public URL; required
	Audience string        // aud; required
	TTL      time.Duration // lifetime; 0 = DefaultAccessTTL
	Now      func() time.Time
	Leeway   time.Duration // clock skew allowed on exp, nbf and iat; at most MaxLeeway; 0 = none
	Type     string        // JWT header typ; "" = DefaultAccessType. Give each kind of token its own.
}

type accessJWT struct {
	jwt.RegisteredClaims
	SessionID string           `json:"sid,omitempty"`
	DeviceID  string           `json:"did,omitempty"`
	Cnf       *confirmation    `json:"cnf,omitempty"`
	AuthTime  *jwt.NumericDate `json:"auth_time,omitempty"`
	ACR       string           `json:"acr,omitempty"`
	AMR       []string         `json:"amr,omitempty"`
}

type confirmation struct {
	JKT string `json:"jkt"`
}

func (a *AccessTokens) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *AccessTokens) typ() string {
	if a.Type != "" {
		return a.Type
	}
	return DefaultAccessType
}

func (a *AccessTokens) ttl() time.Duration {
	if a.TTL != 0 {
		return a.TTL
	}
	return DefaultAccessTTL
}

// check refuses a configuration that would make verification weaker.
func (a *AccessTokens) check() error {
	return checkIssuer(a.Keys, a.Issuer, a.Audience, a.TTL, a.Leeway)
}

// Issue signs an access token with the active key. Header: typ, alg, kid.
// Claims: iss, aud, sub, sid, did, cnf {jkt}, auth_time, acr, amr, iat, exp
// and a 128-bit random jti; the Issuer, Audience, IssuedAt, Expiry and JTI
// fields of c are ignored. Subject, SessionID and JKT are required. It
// returns the token and its expiry (whole seconds, as in the token).
func (a *AccessTokens) Issue(c AccessClaims) (string, time.Time, error) {
	if err := a.check(); err != nil {
		return "", time.Time{}, fmt.Errorf("issuing access token: %w", err)
	}
	if c.Subject == "" || c.SessionID == "" || c.JKT == "" {
		return "", time.Time{}, errors.New("issuing access token: subject, session id and jkt are required")
	}
	reg, exp, err := registeredClaims(a.Issuer, c.Subject, a.Audience, a.now(), a.ttl())
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing access token: %w", err)
	}
	claims := accessJWT{
		RegisteredClaims: reg,
		SessionID:        c.SessionID,
		DeviceID:         c.DeviceID,
		Cnf:              &confirmation{JKT: c.JKT},
		ACR:              c.ACR,
		AMR:              c.AMR,
	}
	if !c.AuthTime.IsZero() {
		claims.AuthTime = jwt.NewNumericDate(c.AuthTime)
	}
	tok, err := signToken(a.Keys, a.typ(), claims)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issuing access token: %w", err)
	}
	return tok, exp, nil
}

// Verify checks an access token and returns its claims. It requires: a
// header typ equal to the configured Type, no "crit" header, a kid that the
// key set has, an alg equal to that key's alg (ES256 or EdDSA only: "none",
// HMAC and RSA are refused before any key is used), a valid signature, exp
// (and nbf if present) within Leeway of now, iat not after now + Leeway, iss
// equal to Issuer, aud containing Audience, and non-empty sub, sid, cnf.jkt
// and jti. Every failure wraps ErrInvalidToken; a configuration error of a
// does not.
func (a *AccessTokens) Verify(token string) (*AccessClaims, error) {
	if err := a.check(); err != nil {
		return nil, fmt.Errorf("verifying access token: %w", err)
	}
	var claims accessJWT
	if err := parseToken(token, &claims, tokenCheck{keys: a.Keys, typ: a.typ(), issuer: a.Issuer,
		audience: a.Audience, leeway: a.Leeway, now: a.now}); err != nil {
		return nil, err
	}
	switch {
	case claims.IssuedAt == nil:
		return nil, fmt.Errorf("%w: no iat", ErrInvalidToken)
	case claims.Subject == "":
		return nil, fmt.Errorf("%w: no sub", ErrInvalidToken)
	case claims.SessionID == "":
		return nil, fmt.Errorf("%w: no sid", ErrInvalidToken)
	case claims.Cnf == nil || claims.Cnf.JKT == "":
		return nil, fmt.Errorf("%w: no cnf.jkt", ErrInvalidToken)
	case claims.ID == "":
		return nil, fmt.Errorf("%w: no jti", ErrInvalidToken)
	}
	out := &AccessClaims{
		Subject:   claims.Subject,
		SessionID: claims.SessionID,
		DeviceID:  claims.DeviceID,
		JKT:       claims.Cnf.JKT,
		ACR:       claims.ACR,
		AMR:       claims.AMR,
		Issuer:    claims.Issuer,
		Audience:  a.Audience,
		IssuedAt:  claims.IssuedAt.Time,
		Expiry:    claims.ExpiresAt.Time,
		JTI:       claims.ID,
	}
	if claims.AuthTime != nil {
		out.AuthTime = claims.AuthTime.Time
	}
	return out, nil
}
