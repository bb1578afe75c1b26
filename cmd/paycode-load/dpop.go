package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/paycode/paycode/tokens"
)

// deviceKey is a customer's P-256 device key, which signs a DPoP proof
// (RFC 9449) for every call.
type deviceKey struct {
	priv   *ecdsa.PrivateKey
	header []byte // base64url of the proof header, the same for every proof
}

func newDeviceKey() (*deviceKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating a device key: %w", err)
	}
	jwk, err := tokens.PublicJWK(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	h, err := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": tokens.AlgES256, "jwk": jwk})
	if err != nil {
		return nil, err
	}
	return &deviceKey{priv: priv, header: []byte(base64.RawURLEncoding.EncodeToString(h))}, nil
}

// proof signs a DPoP proof for method and url, with ath when accessToken is
// set and nonce when the server asked for one.
func (k *deviceKey) proof(method, url, accessToken, nonce string) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	claims := map[string]any{
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
		"htm": method,
		"htu": url,
		"iat": time.Now().Unix(),
	}
	if accessToken != "" {
		claims["ath"] = tokens.ATH(accessToken)
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := string(k.header) + "." + base64.RawURLEncoding.EncodeToString(c)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	if err != nil {
		return "", fmt.Errorf("signing a DPoP proof: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
