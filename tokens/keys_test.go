package tokens_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"strings"
	"testing"

	"github.com/paycode/paycode/tokens"
)

func generate(t testing.TB, alg string) tokens.SigningKey {
	t.Helper()
	k, err := tokens.GenerateSigningKey(alg)
	if err != nil {
		t.Fatalf("GenerateSigningKey(%s): %v", alg, err)
	}
	return k
}

// opaqueSigner hides the key type, as an HSM or KMS signer does.
type opaqueSigner struct{ s crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.s.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, d, opts)
}

func TestGenerateSigningKey(t *testing.T) {
	for _, alg := range []string{tokens.AlgES256, tokens.AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			k := generate(t, alg)
			jkt, err := tokens.Thumbprint(k.Private.Public())
			if err != nil || k.KID != jkt || k.Alg != alg {
				t.Fatalf("key = {%s %s}, want kid %s (thumbprint), alg %s", k.KID, k.Alg, jkt, alg)
			}
			if other := generate(t, alg); other.KID == k.KID {
				t.Fatal("two generated keys are the same")
			}
		})
	}
	for _, alg := range []string{"", "RS256", "ES384", "HS256", "none", "es256"} {
		if _, err := tokens.GenerateSigningKey(alg); err == nil {
			t.Errorf("GenerateSigningKey(%q) succeeded", alg)
		}
	}
}

func TestPrivateKeyPEM(t *testing.T) {
	for _, alg := range []string{tokens.AlgES256, tokens.AlgEdDSA} {
		t.Run("round trip "+alg, func(t *testing.T) {
			k := generate(t, alg)
			b, err := tokens.MarshalPrivateKeyPEM(k)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), "-----BEGIN PRIVATE KEY-----\n") {
				t.Fatalf("not a PKCS#8 PEM:\n%s", b)
			}
			back, err := tokens.ParsePrivateKeyPEM(b)
			if err != nil {
				t.Fatalf("ParsePrivateKeyPEM: %v", err)
			}
			if back.KID != k.KID || back.Alg != k.Alg || !back.Private.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Private.Public()) {
				t.Fatalf("round trip changed the key: %s/%s -> %s/%s", k.KID, k.Alg, back.KID, back.Alg)
			}
		})
	}

	t.Run("SEC 1 EC PRIVATE KEY", func(t *testing.T) {
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := x509.MarshalECPrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		k, err := tokens.ParsePrivateKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
		if err != nil || k.Alg != tokens.AlgES256 {
			t.Fatalf("ParsePrivateKeyPEM = %+v, %v", k, err)
		}
	})

	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	block := func(typ string, der []byte, headers map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der, Headers: headers})
	}
	p384SEC1, _ := x509.MarshalECPrivateKey(p384)
	pubDER, _ := x509.MarshalPKIXPublicKey(edPriv.Public())
	edDER := pkcs8(edPriv)
	corrupt := append([]byte(nil), edDER...)
	corrupt[len(corrupt)-40] ^= 0xff
	corrupt = corrupt[:len(corrupt)-3]

	bad := []struct {
		name string
		pem  []byte
	}{
		{"empty", nil},
		{"not PEM", []byte("hello")},
		{"P-384 PKCS#8", block("PRIVATE KEY", pkcs8(p384), nil)},
		{"P-384 SEC 1", block("EC PRIVATE KEY", p384SEC1, nil)},
		{"RSA PKCS#8", block("PRIVATE KEY", pkcs8(rsaKey), nil)},
		{"RSA PKCS#1", block("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey), nil)},
		{"public key", block("PUBLIC KEY", pubDER, nil)},
		{"PKCS#8 under the SEC 1 label", block("EC PRIVATE KEY", edDER, nil)},
		{"corrupt DER", block("PRIVATE KEY", corrupt, nil)},
		{"encrypted PEM headers", block("PRIVATE KEY", edDER, map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00"})},
		{"two keys", append(block("PRIVATE KEY", edDER, nil), block("PRIVATE KEY", pkcs8(generate(t, tokens.AlgEdDSA).Private), nil)...)},
		{"trailing garbage", append(block("PRIVATE KEY", edDER, nil), "junk"...)},
	}
	secretText := base64.StdEncoding.EncodeToString(edDER)
	for _, c := range bad {
		t.Run("refuses "+c.name, func(t *testing.T) {
			k, err := tokens.ParsePrivateKeyPEM(c.pem)
			if err == nil {
				t.Fatalf("ParsePrivateKeyPEM = %s, want an error", k.KID)
			}
			// Key material must not leak into logs through the error.
			for i := 0; i+16 <= len(secretText); i += 8 {
				if strings.Contains(err.Error(), secretText[i:i+16]) {
					t.Fatalf("error contains key material: %v", err)
				}
			}
		})
	}

	t.Run("opaque signer cannot be marshalled", func(t *testing.T) {
		k := generate(t, tokens.AlgES256)
		k.Private = opaqueSigner{k.Private}
		if _, err := tokens.MarshalPrivateKeyPEM(k); err == nil {
			t.Fatal("MarshalPrivateKeyPEM of an opaque signer succeeded")
		}
	})
}

func TestNewKeySet(t *testing.T) {
	a, b := generate(t, tokens.AlgES256), generate(t, tokens.AlgEdDSA)
	ks, err := tokens.NewKeySet(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if ks.Active().KID != a.KID {
		t.Errorf("Active = %s, want the first key %s", ks.Active().KID, a.KID)
	}
	for _, k := range []tokens.SigningKey{a, b} {
		if got, ok := ks.Lookup(k.KID); !ok || got.KID != k.KID {
			t.Errorf("Lookup(%s) = %v, %v", k.KID, got.KID, ok)
		}
	}
	if _, ok := ks.Lookup("nope"); ok {
		t.Error("Lookup of an unknown kid succeeded")
	}
	if _, ok := ks.Lookup(""); ok {
		t.Error("Lookup of the empty kid succeeded")
	}

	sameKeyOtherKID := a
	sameKeyOtherKID.KID = "renamed"
	wrongAlg := b
	wrongAlg.Alg = tokens.AlgES256
	noSigner := a
	noSigner.Private = nil
	noKID := a
	noKID.KID = ""
	spaceKID := a
	spaceKID.KID = "a b"
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	bad := []struct {
		name string
		keys []tokens.SigningKey
	}{
		{"no keys", nil},
		{"duplicate kid", []tokens.SigningKey{a, a}},
		{"same key under two kids", []tokens.SigningKey{a, sameKeyOtherKID}},
		{"alg does not fit the key", []tokens.SigningKey{wrongAlg}},
		{"alg none", []tokens.SigningKey{{KID: "x", Alg: "none", Private: a.Private}}},
		{"alg HS256", []tokens.SigningKey{{KID: "x", Alg: "HS256", Private: a.Private}}},
		{"P-384 key", []tokens.SigningKey{{KID: "x", Alg: tokens.AlgES256, Private: p384}}},
		{"no signer", []tokens.SigningKey{noSigner}},
		{"no kid", []tokens.SigningKey{noKID}},
		{"kid with a space", []tokens.SigningKey{spaceKID}},
	}
	for _, c := range bad {
		t.Run("refuses "+c.name, func(t *testing.T) {
			if _, err := tokens.NewKeySet(c.keys...); err == nil {
				t.Fatal("NewKeySet succeeded")
			}
		})
	}
}

func TestKeySetJWKS(t *testing.T) {
	a, b := generate(t, tokens.AlgEdDSA), generate(t, tokens.AlgES256)
	ks, err := tokens.NewKeySet(a, b)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ks.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	if len(doc.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2", len(doc.Keys))
	}
	for i, want := range []tokens.SigningKey{a, b} {
		jwk := doc.Keys[i]
		if jwk["kid"] != want.KID || jwk["alg"] != want.Alg || jwk["use"] != "sig" {
			t.Errorf("key %d = %v, want kid %s alg %s use sig", i, jwk, want.KID, want.Alg)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := jwk[private]; ok {
				t.Fatalf("JWKS key %d has private member %q", i, private)
			}
		}
		pub, err := tokens.ParsePublicJWK(mustJSON(t, jwk))
		if err != nil {
			t.Fatalf("JWKS key %d does not parse: %v", i, err)
		}
		if jkt, _ := tokens.Thumbprint(pub); jkt != want.KID {
			t.Errorf("JWKS key %d has thumbprint %s, want %s", i, jkt, want.KID)
		}
	}
	// The returned bytes are a copy.
	raw[0] = 'X'
	if again, _ := ks.JWKS(); again[0] != '{' {
		t.Error("JWKS returned the key set's own buffer")
	}
}
