package tokens

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The tokens this server issues (customer access tokens, terminal tokens)
// share one way of signing and one way of verifying; they differ only in
// their header typ, their audience and their own claims, and each verifier
// pins its typ so neither kind passes for the other.

// registeredClaims are the claims every issued token carries: iss, sub,
// aud, iat and exp (whole seconds) and a 128-bit random jti.
func registeredClaims(iss, sub, aud string, now time.Time, ttl time.Duration) (jwt.RegisteredClaims, time.Time, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return jwt.RegisteredClaims{}, time.Time{}, err
	}
	now = now.Truncate(time.Second)
	exp := now.Add(ttl)
	return jwt.RegisteredClaims{
		Issuer:    iss,
		Subject:   sub,
		Audience:  jwt.ClaimStrings{aud},
		ExpiresAt: jwt.NewNumericDate(exp),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        base64.RawURLEncoding.EncodeToString(id[:]),
	}, exp, nil
}

// signToken signs claims with the key set's active key; the header carries
// typ, alg and kid.
func signToken(keys *KeySet, typ string, claims jwt.Claims) (string, error) {
	key := keys.Active()
	method := jwt.GetSigningMethod(key.Alg)
	if method == nil {
		return "", fmt.Errorf("unsupported alg %q", key.Alg)
	}
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["typ"] = typ
	tok.Header["kid"] = key.KID
	signingInput, err := tok.SigningString()
	if err != nil {
		return "", err
	}
	sig, err := key.sign(signingInput)
	if err != nil {
		return "", err
	}
	return signingInput + "." + tok.EncodeSegment(sig), nil
}

// checkIssuer refuses an issuer configuration that would make
// verification weaker: the jwt library skips the iss and aud checks when
// they are empty.
func checkIssuer(keys *KeySet, issuer, audience string, ttl, leeway time.Duration) error {
	switch {
	case keys == nil:
		return errors.New("no key set")
	case issuer == "":
		return errors.New("no issuer")
	case audience == "":
		return errors.New("no audience")
	case ttl < 0:
		return errors.New("negative TTL")
	case leeway < 0 || leeway > MaxLeeway:
		return fmt.Errorf("leeway %v is outside 0 to %v", leeway, MaxLeeway)
	}
	return nil
}

// tokenCheck is what verifying one kind of token requires.
type tokenCheck struct {
	keys     *KeySet
	typ      string
	issuer   string
	audience string
	leeway   time.Duration
	now      func() time.Time
}

// parseToken verifies token into claims: size, header typ exactly
// tc.typ, no "crit", a kid the key set has, an alg equal to that key's
// (ES256 or EdDSA only: none, HMAC and RSA are refused before any key is
// used), the signature, exp required (and nbf if present) within the
// leeway, iat not in the future, iss and aud. Every failure wraps
// ErrInvalidToken.
func parseToken(token string, claims jwt.Claims, tc tokenCheck) error {
	if len(token) > maxTokenBytes {
		return fmt.Errorf("%w: larger than %d bytes", ErrInvalidToken, maxTokenBytes)
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{AlgES256, AlgEdDSA}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(tc.issuer),
		jwt.WithAudience(tc.audience),
		jwt.WithLeeway(tc.leeway),
		jwt.WithTimeFunc(tc.now),
		jwt.WithStrictDecoding(),
	)
	_, err := parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != tc.typ {
			return nil, fmt.Errorf("typ is not %q", tc.typ)
		}
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("crit header parameters are not understood")
		}
		kid, _ := t.Header["kid"].(string)
		key, ok := tc.keys.Lookup(kid)
		if !ok {
			return nil, errors.New("unknown kid")
		}
		if t.Method.Alg() != key.Alg {
			return nil, fmt.Errorf("alg %s does not match key %s", t.Method.Alg(), key.KID)
		}
		return key.Private.Public(), nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return nil
}
