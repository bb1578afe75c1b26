package bff

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var b64 = base64.RawURLEncoding

// noneHeader rewrites a JWS header to alg "none".
func noneHeader(t *testing.T, encoded string) string {
	t.Helper()
	raw, err := b64.DecodeString(encoded)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	h["alg"] = "none"
	out, _ := json.Marshal(h)
	return b64.EncodeToString(out)
}

// hs256WithPublicKey forges a token with the claims of a real one, signed
// HS256 with the server's public key (DER) as the HMAC secret: the classic
// algorithm-confusion attack.
func hs256WithPublicKey(t *testing.T, s *Server, real string) string {
	t.Helper()
	parts := strings.Split(real, ".")
	raw, _ := b64.DecodeString(parts[0])
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	h["alg"] = "HS256"
	header, _ := json.Marshal(h)
	pub, err := x509.MarshalPKIXPublicKey(s.access.Keys.Active().Private.Public())
	if err != nil {
		t.Fatal(err)
	}
	signing := b64.EncodeToString(header) + "." + parts[1]
	mac := hmac.New(sha256.New, pub)
	mac.Write([]byte(signing))
	return signing + "." + b64.EncodeToString(mac.Sum(nil))
}

// malleate turns an ES256 JWS signature (r||s) into (r||n-s): another valid
// signature of the same message.
func malleate(t *testing.T, jws string) string {
	t.Helper()
	parts := strings.Split(jws, ".")
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("not an ES256 signature: %v", err)
	}
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(n, s)
	out := make([]byte, 64)
	copy(out, sig[:32])
	s.FillBytes(out[32:])
	return parts[0] + "." + parts[1] + "." + b64.EncodeToString(out)
}

var _ = ecdsa.Verify

func httptestRequest(t *testing.T, method, path, body, contentType string) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	return req
}
