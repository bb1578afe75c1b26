// Package dpoptest is a DPoP client for tests: it holds a device key and
// makes RFC 9449 proofs with it, valid ones and, through ProofWith and Sign,
// deliberately broken ones.
//
// Its methods report failures with t.Fatalf, so call them from the test's
// own goroutine.
//
// It is written independently of package tokens (its own JWK, thumbprint
// and ath code), so that tests that use it check the server against a
// second implementation rather than against itself.
package dpoptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"testing"
	"time"
)

// Key is a client's device key.
type Key struct {
	t    testing.TB
	alg  string
	priv crypto.Signer
	jwk  map[string]any
	jkt  string
}

var b64 = base64.RawURLEncoding

// NewES256 makes a fresh P-256 device key.
func NewES256(t testing.TB) *Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("dpoptest: generating a P-256 key: %v", err)
	}
	point, err := priv.PublicKey.Bytes()
	if err != nil {
		t.Fatalf("dpoptest: encoding a P-256 key: %v", err)
	}
	x, y := b64.EncodeToString(point[1:33]), b64.EncodeToString(point[33:65])
	return &Key{
		t:    t,
		alg:  "ES256",
		priv: priv,
		jwk:  map[string]any{"kty": "EC", "crv": "P-256", "x": x, "y": y},
		jkt:  thumbprint(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`),
	}
}

// NewEdDSA makes a fresh Ed25519 device key.
func NewEdDSA(t testing.TB) *Key {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("dpoptest: generating an Ed25519 key: %v", err)
	}
	x := b64.EncodeToString(pub)
	return &Key{
		t:    t,
		alg:  "EdDSA",
		priv: priv,
		jwk:  map[string]any{"kty": "OKP", "crv": "Ed25519", "x": x},
		jkt:  thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`),
	}
}

func thumbprint(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return b64.EncodeToString(sum[:])
}

// JKT is the RFC 7638 thumbprint of the key: the cnf.jkt the server binds to.
func (k *Key) JKT() string { return k.jkt }

// Alg is "ES256" or "EdDSA".
func (k *Key) Alg() string { return k.alg }

// Public is the public key (*ecdsa.PublicKey or ed25519.PublicKey).
func (k *Key) Public() crypto.PublicKey { return k.priv.Public() }

// PublicJWK returns a fresh copy of the public JWK, for putting it in
// another proof's header.
func (k *Key) PublicJWK() map[string]any { return maps.Clone(k.jwk) }

// Proof makes a proof for method and url at time now (zero: time.Now()),
// with ath when accessToken is not empty and nonce when nonce is not empty.
// Every call uses a fresh random jti.
func (k *Key) Proof(method, url, accessToken, nonce string, now time.Time) string {
	k.t.Helper()
	return k.ProofWith(func(_, claims map[string]any) {
		if nonce != "" {
			claims["nonce"] = nonce
		}
	}, method, url, accessToken, now)
}

// ProofWith makes a proof like Proof (without nonce) and lets mutate change
// the header and claims before signing, for attack tests. The signature is
// always made with this key by its own algorithm, whatever the header says.
func (k *Key) ProofWith(mutate func(header, claims map[string]any), method, url, accessToken string, now time.Time) string {
	k.t.Helper()
	if now.IsZero() {
		now = time.Now()
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		k.t.Fatalf("dpoptest: jti: %v", err)
	}
	header := map[string]any{"typ": "dpop+jwt", "alg": k.alg, "jwk": k.PublicJWK()}
	claims := map[string]any{
		"jti": b64.EncodeToString(jti[:]),
		"htm": method,
		"htu": url,
		"iat": now.Unix(),
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = b64.EncodeToString(sum[:])
	}
	if mutate != nil {
		mutate(header, claims)
	}
	return k.Sign(header, claims)
}

// Sign returns the compact JWS of header and claims (each marshalled to
// JSON) signed with this key: ES256 as raw r||s, EdDSA as Ed25519.
func (k *Key) Sign(header, claims any) string {
	k.t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		k.t.Fatalf("dpoptest: header: %v", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		k.t.Fatalf("dpoptest: claims: %v", err)
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	return input + "." + b64.EncodeToString(k.SignBytes([]byte(input)))
}

// SignBytes signs a JWS signing input with this key.
func (k *Key) SignBytes(input []byte) []byte {
	k.t.Helper()
	switch priv := k.priv.(type) {
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
		if err != nil {
			k.t.Fatalf("dpoptest: signing: %v", err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	case ed25519.PrivateKey:
		return ed25519.Sign(priv, input)
	default:
		k.t.Fatalf("dpoptest: unexpected key type %T", k.priv)
		return nil
	}
}
