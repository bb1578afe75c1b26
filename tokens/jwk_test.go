package tokens_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"math/big"
	"strings"
	"testing"

	"github.com/paycode/paycode/tokens"
)

// The EC P-256 key of RFC 7515 appendix A.3.
const (
	rfc7515X = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
	rfc7515Y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
	rfc7515D = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
)

// The Ed25519 key of RFC 8037 appendix A.1/A.2.
const (
	rfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	rfc8037D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
)

func ecJWK(x, y string) map[string]any {
	return map[string]any{"kty": "EC", "crv": "P-256", "x": x, "y": y}
}

func okpJWK(x string) map[string]any {
	return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": x}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestThumbprint(t *testing.T) {
	// The RFC 7638 3.1 example is an RSA key, which is not supported. The
	// vectors here are: the thumbprint RFC 9449 6.1 gives for its example
	// key; one computed in this test from a canonical JSON string written by
	// hand (RFC 7638 3.2), for a P-256 key derived from its private scalar so
	// that the coordinates are checked too; and RFC 8037 A.3.
	rfc7515Priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), mustB64(t, rfc7515D))
	if err != nil {
		t.Fatal(err)
	}
	canonical := `{"crv":"P-256","kty":"EC","x":"` + rfc7515X + `","y":"` + rfc7515Y + `"}`
	sum := sha256.Sum256([]byte(canonical))
	rfc7515Want := b64.EncodeToString(sum[:])
	rfc8037Pub := ed25519.NewKeyFromSeed(mustB64(t, rfc8037D)).Public()

	cases := []struct {
		name string
		jwk  map[string]any
		pub  crypto.PublicKey // when set, must equal the parsed JWK
		want string
	}{
		{
			name: "RFC 9449 example P-256",
			jwk:  ecJWK("l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs", "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"),
			want: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		},
		{
			name: "RFC 7515 A.3 P-256, hashed by hand",
			jwk:  ecJWK(rfc7515X, rfc7515Y),
			pub:  rfc7515Priv.Public(),
			want: rfc7515Want,
		},
		{
			name: "RFC 8037 A.3 Ed25519",
			jwk:  okpJWK(rfc8037X),
			pub:  rfc8037Pub,
			want: "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Members in a non-canonical order, with extras, must not matter.
			j := maps.Clone(c.jwk)
			j["kid"], j["use"] = "some-kid", "sig"
			pub, err := tokens.ParsePublicJWK(mustJSON(t, j))
			if err != nil {
				t.Fatalf("ParsePublicJWK: %v", err)
			}
			if c.pub != nil && !c.pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Fatalf("parsed key differs from the key derived from the private key")
			}
			got, err := tokens.Thumbprint(pub)
			if err != nil || got != c.want {
				t.Fatalf("Thumbprint = %q, %v; want %q", got, err, c.want)
			}
			if c.pub != nil {
				if got, _ := tokens.Thumbprint(c.pub); got != c.want {
					t.Fatalf("Thumbprint(derived key) = %q; want %q", got, c.want)
				}
			}
		})
	}

	t.Run("unsupported keys", func(t *testing.T) {
		p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
		for name, pub := range map[string]crypto.PublicKey{
			"P-384":           &p384.PublicKey,
			"RSA":             &rsaKey.PublicKey,
			"nil ECDSA":       (*ecdsa.PublicKey)(nil),
			"short Ed25519":   ed25519.PublicKey(make([]byte, 31)),
			"ECDSA by value":  p384.PublicKey,
			"private Ed25519": ed25519.NewKeyFromSeed(make([]byte, 32)),
			"nil":             nil,
		} {
			if got, err := tokens.Thumbprint(pub); err == nil {
				t.Errorf("%s: Thumbprint = %q, want an error", name, got)
			}
			if got, err := tokens.PublicJWK(pub); err == nil {
				t.Errorf("%s: PublicJWK = %v, want an error", name, got)
			}
		}
	})
}

func TestPublicJWKRoundTrip(t *testing.T) {
	es, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for name, pub := range map[string]crypto.PublicKey{"P-256": &es.PublicKey, "Ed25519": edPub} {
		t.Run(name, func(t *testing.T) {
			m, err := tokens.PublicJWK(pub)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := m["d"]; ok {
				t.Fatal("PublicJWK has a private member")
			}
			back, err := tokens.ParsePublicJWK(mustJSON(t, m))
			if err != nil {
				t.Fatalf("ParsePublicJWK(PublicJWK) = %v", err)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(back) {
				t.Fatal("round trip changed the key")
			}
		})
	}
}

// ed25519SmallOrder derives the encodings of the eight points of order
// dividing 8 from the curve equation, independently of the package: the
// identity (0,1), (0,-1) of order 2, (±sqrt(-1),0) of order 4, and the
// four points of order 8, whose doubles have y = 0, so x^2 = -y^2 and
// d y^4 + 2 y^2 - 1 = 0, y^2 = (-1 ± sqrt(1+d)) / d.
func ed25519SmallOrder(t *testing.T) map[string][]byte {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	d := new(big.Int).Mul(big.NewInt(-121665), new(big.Int).ModInverse(big.NewInt(121666), p))
	d.Mod(d, p)
	enc := func(y *big.Int, sign uint) []byte {
		b := make([]byte, 32)
		y.FillBytes(b)
		for i, j := 0, 31; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		b[31] |= byte(sign << 7)
		return b
	}
	out := map[string][]byte{
		"identity":        enc(big.NewInt(1), 0),
		"order 2":         enc(new(big.Int).Sub(p, big.NewInt(1)), 0),
		"order 4, x even": enc(big.NewInt(0), 0),
		"order 4, x odd":  enc(big.NewInt(0), 1),
	}
	s := new(big.Int).ModSqrt(new(big.Int).Add(d, big.NewInt(1)), p)
	if s == nil {
		t.Fatal("1+d is not a square")
	}
	dInv := new(big.Int).ModInverse(d, p)
	n := 0
	for _, root := range []*big.Int{s, new(big.Int).Neg(s)} {
		y2 := new(big.Int).Sub(root, big.NewInt(1))
		y2.Mul(y2, dInv).Mod(y2, p)
		y := new(big.Int).ModSqrt(y2, p)
		if y == nil {
			continue
		}
		for _, yy := range []*big.Int{y, new(big.Int).Sub(p, y)} {
			for sign := range uint(2) {
				n++
				out["order 8 #"+string(rune('0'+n))] = enc(yy, sign)
			}
		}
	}
	if n != 4 {
		t.Fatalf("found %d points of order 8, want 4", n)
	}
	// Cross-check with libsodium's blocklist (crypto_core_ed25519_has_small_order).
	for _, h := range []string{
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	} {
		found := false
		for _, e := range out {
			found = found || hex.EncodeToString(e) == h
		}
		if !found {
			t.Fatalf("derived order-8 points miss libsodium's %s", h)
		}
	}
	return out
}

// Attack: a small-order Ed25519 "device key". crypto/ed25519 verifies a
// forged signature under it for any message, so anyone could make proofs for
// a device bound to it. This shows the forgery works with the standard
// library, and that ParsePublicJWK refuses such keys.
func TestParsePublicJWKRefusesSmallOrderEd25519(t *testing.T) {
	identity := ed25519SmallOrder(t)["identity"]
	forged := append(append([]byte(nil), identity...), make([]byte, 32)...) // R = identity, S = 0
	if !ed25519.Verify(identity, []byte("any message at all"), forged) {
		t.Log("crypto/ed25519 no longer accepts the identity-key forgery; the check stays as defence in depth")
	}
	for name, enc := range ed25519SmallOrder(t) {
		t.Run(name, func(t *testing.T) {
			_, err := tokens.ParsePublicJWK(mustJSON(t, okpJWK(b64.EncodeToString(enc))))
			if !errors.Is(err, tokens.ErrInvalidJWK) || !strings.Contains(err.Error(), "small order") {
				t.Fatalf("ParsePublicJWK = %v, want a small-order error", err)
			}
		})
	}
}

func TestParsePublicJWK(t *testing.T) {
	valid := func() map[string]any { return ecJWK(rfc7515X, rfc7515Y) }
	with := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }
	without := func(m map[string]any, k string) map[string]any { delete(m, k); return m }

	// A y with no x on the curve, found with the Jacobi symbol (not the
	// package's square root): x^2 = (y^2-1)/(d y^2+1) must be a non-residue.
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	d := new(big.Int).Mul(big.NewInt(-121665), new(big.Int).ModInverse(big.NewInt(121666), p))
	d.Mod(d, p)
	var offCurve []byte
	for y := int64(2); offCurve == nil; y++ {
		yy := big.NewInt(y * y)
		num := new(big.Int).Sub(yy, big.NewInt(1))
		den := new(big.Int).Mul(d, yy)
		den.Add(den, big.NewInt(1)).Mod(den, p)
		x2 := num.Mul(num, new(big.Int).ModInverse(den, p))
		x2.Mod(x2, p)
		if big.Jacobi(x2, p) == -1 {
			offCurve = make([]byte, 32)
			offCurve[0] = byte(y)
		}
	}
	pBytes := make([]byte, 32) // p itself, little-endian: y = p is y = 0, non-canonical
	for i, b := range p.Bytes() {
		pBytes[31-i] = b
	}
	minusZero := make([]byte, 32) // y = 1 with the sign bit: x = 0 cannot be negative
	minusZero[0], minusZero[31] = 1, 0x80
	offCurveP256 := []byte(rfc7515Y)
	offCurveP256[len(offCurveP256)-1] = 'b' // was '0': changes the low bits of y

	ok := []struct {
		name string
		jwk  any
	}{
		{"EC", valid()},
		{"OKP", okpJWK(rfc8037X)},
		{"EC with kid, alg, use, key_ops", with(with(with(with(valid(), "kid", "k1"), "alg", "ES256"), "use", "sig"), "key_ops", []string{"verify"})},
		{"OKP with alg", with(okpJWK(rfc8037X), "alg", "EdDSA")},
		{"unknown members ignored", with(valid(), "x5c", []string{"MIIB"})},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			if _, err := tokens.ParsePublicJWK(mustJSON(t, c.jwk)); err != nil {
				t.Fatalf("ParsePublicJWK: %v", err)
			}
		})
	}
	for i := range 50 {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		if _, err := tokens.ParsePublicJWK(mustJSON(t, okpJWK(b64.EncodeToString(pub)))); err != nil {
			t.Fatalf("random Ed25519 key %d refused: %v", i, err)
		}
	}

	bad := []struct {
		name string
		raw  []byte
	}{
		// Private key material, in every member name JWA defines.
		{"EC with d", mustJSON(t, with(valid(), "d", rfc7515D))},
		{"OKP with d", mustJSON(t, with(okpJWK(rfc8037X), "d", rfc8037D))},
		{"with p", mustJSON(t, with(valid(), "p", "AQAB"))},
		{"with q", mustJSON(t, with(valid(), "q", "AQAB"))},
		{"with dp", mustJSON(t, with(valid(), "dp", "AQAB"))},
		{"with dq", mustJSON(t, with(valid(), "dq", "AQAB"))},
		{"with qi", mustJSON(t, with(valid(), "qi", "AQAB"))},
		{"with oth", mustJSON(t, with(valid(), "oth", []any{}))},
		{"with k", mustJSON(t, with(valid(), "k", "c2VjcmV0"))},
		{"d as a JSON escape", []byte(`{"kty":"EC","crv":"P-256","x":"` + rfc7515X + `","y":"` + rfc7515Y + `","\u0064":"` + rfc7515D + `"}`)},
		{"d null", mustJSON(t, with(valid(), "d", nil))},
		{"symmetric", mustJSON(t, map[string]any{"kty": "oct", "k": "c2VjcmV0"})},

		// Other key types and curves.
		{"RSA", mustJSON(t, map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"})},
		{"kty lower case", mustJSON(t, with(valid(), "kty", "ec"))},
		{"P-384", mustJSON(t, with(valid(), "crv", "P-384"))},
		{"secp256k1", mustJSON(t, with(valid(), "crv", "secp256k1"))},
		{"Ed448", mustJSON(t, with(okpJWK(rfc8037X), "crv", "Ed448"))},
		{"X25519 (an ECDH key)", mustJSON(t, with(okpJWK(rfc8037X), "crv", "X25519"))},
		{"OKP with y", mustJSON(t, with(okpJWK(rfc8037X), "y", rfc7515Y))},
		{"EC curve under OKP", mustJSON(t, with(valid(), "kty", "OKP"))},
		{"kty missing", mustJSON(t, without(valid(), "kty"))},
		{"crv missing", mustJSON(t, without(valid(), "crv"))},
		{"kty not a string", mustJSON(t, with(valid(), "kty", 1))},
		{"kty null", mustJSON(t, with(valid(), "kty", nil))},

		// Coordinates.
		{"x missing", mustJSON(t, without(valid(), "x"))},
		{"y missing", mustJSON(t, without(valid(), "y"))},
		{"member names in another case", []byte(`{"kty":"EC","crv":"P-256","X":"` + rfc7515X + `","Y":"` + rfc7515Y + `"}`)},
		{"x 31 bytes", mustJSON(t, with(valid(), "x", b64.EncodeToString(make([]byte, 31))))},
		{"x 33 bytes", mustJSON(t, with(valid(), "x", b64.EncodeToString(append([]byte{0}, mustB64(t, rfc7515X)...))))},
		{"x padded", mustJSON(t, with(valid(), "x", rfc7515X+"="))},
		{"y standard base64", mustJSON(t, with(valid(), "y", strings.NewReplacer("-", "+", "_", "/").Replace(rfc7515Y)))},
		{"x non-canonical base64 (trailing bits)", mustJSON(t, with(valid(), "x", rfc7515X[:len(rfc7515X)-1]+"V"))},
		{"x a number", mustJSON(t, with(valid(), "x", 12))},
		{"P-256 point not on the curve", mustJSON(t, with(valid(), "y", string(offCurveP256)))},
		{"P-256 zero point", mustJSON(t, ecJWK(b64.EncodeToString(make([]byte, 32)), b64.EncodeToString(make([]byte, 32))))},
		{"P-256 x not reduced", mustJSON(t, with(valid(), "x", b64.EncodeToString(bytesOf(0xff, 32))))},
		{"Ed25519 x 31 bytes", mustJSON(t, okpJWK(b64.EncodeToString(make([]byte, 31))))},
		{"Ed25519 not on the curve", mustJSON(t, okpJWK(b64.EncodeToString(offCurve)))},
		{"Ed25519 y = p (non-canonical 0)", mustJSON(t, okpJWK(b64.EncodeToString(pBytes)))},
		{"Ed25519 -0", mustJSON(t, okpJWK(b64.EncodeToString(minusZero)))},

		// Use restrictions.
		{"alg of the other key type", mustJSON(t, with(valid(), "alg", "EdDSA"))},
		{"alg ES384", mustJSON(t, with(valid(), "alg", "ES384"))},
		{"OKP alg ES256", mustJSON(t, with(okpJWK(rfc8037X), "alg", "ES256"))},
		{"use enc", mustJSON(t, with(valid(), "use", "enc"))},
		{"key_ops without verify", mustJSON(t, with(valid(), "key_ops", []string{"encrypt"}))},
		{"key_ops not an array", mustJSON(t, with(valid(), "key_ops", "verify"))},

		// Structure.
		{"duplicate x", []byte(`{"kty":"EC","crv":"P-256","x":"` + rfc7515X + `","y":"` + rfc7515Y + `","x":"` + rfc7515Y + `"}`)},
		{"trailing data", append(mustJSON(t, valid()), []byte(`{}`)...)},
		{"array", mustJSON(t, []any{valid()})},
		{"null", []byte("null")},
		{"empty", nil},
		{"not JSON", []byte("{kty:EC}")},
		{"truncated", mustJSON(t, valid())[:20]},
		{"larger than 4 KiB", mustJSON(t, with(valid(), "kid", strings.Repeat("k", 4096)))},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			pub, err := tokens.ParsePublicJWK(c.raw)
			if !errors.Is(err, tokens.ErrInvalidJWK) || pub != nil {
				t.Fatalf("ParsePublicJWK = %v, %v; want nil, ErrInvalidJWK", pub, err)
			}
		})
	}
}

func bytesOf(b byte, n int) []byte {
	s := make([]byte, n)
	for i := range s {
		s[i] = b
	}
	return s
}

// FuzzParsePublicJWK: no panic; a failure returns no key and wraps
// ErrInvalidJWK; a success is a supported public key that survives a round
// trip through PublicJWK and has a thumbprint.
func FuzzParsePublicJWK(f *testing.F) {
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"` + rfc7515X + `","y":"` + rfc7515Y + `"}`))
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `"}`))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"` + rfc7515X + `","y":"` + rfc7515Y + `","d":"` + rfc7515D + `"}`))
	f.Add([]byte(`{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"` + rfc7515X + `","y":"` + rfc7515Y + `","alg":"ES256","use":"sig","key_ops":["verify"]}`))
	f.Add([]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		pub, err := tokens.ParsePublicJWK(raw)
		if err != nil {
			if pub != nil {
				t.Fatalf("ParsePublicJWK returned a key with error %v", err)
			}
			if !errors.Is(err, tokens.ErrInvalidJWK) {
				t.Fatalf("error %v does not wrap ErrInvalidJWK", err)
			}
			return
		}
		switch k := pub.(type) {
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P256() {
				t.Fatalf("curve %v", k.Curve.Params().Name)
			}
		case ed25519.PublicKey:
			if len(k) != ed25519.PublicKeySize {
				t.Fatalf("Ed25519 key of %d bytes", len(k))
			}
		default:
			t.Fatalf("unexpected key type %T", pub)
		}
		m, err := tokens.PublicJWK(pub)
		if err != nil {
			t.Fatalf("PublicJWK: %v", err)
		}
		back, err := tokens.ParsePublicJWK(mustJSON(t, m))
		if err != nil || !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(back) {
			t.Fatalf("round trip: %v", err)
		}
		if _, err := tokens.Thumbprint(pub); err != nil {
			t.Fatalf("Thumbprint: %v", err)
		}
	})
}
