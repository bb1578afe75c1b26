package tokens

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// The JWS algorithms this package signs and verifies. Nothing else is
// accepted anywhere: not "none", not HMAC, not RSA.
const (
	AlgES256 = "ES256" // ECDSA P-256 with SHA-256, signature as raw r||s (RFC 7518 3.4)
	AlgEdDSA = "EdDSA" // Ed25519 (RFC 8037)
)

// ErrInvalidJWK is wrapped by every error of ParsePublicJWK.
var ErrInvalidJWK = errors.New("invalid JWK")

// maxJWKBytes bounds the JSON of one JWK; a P-256 JWK is about 150 bytes.
const maxJWKBytes = 4096

// privateJWKMembers are the JWK members that carry private or symmetric key
// material (RFC 7518 6.2.2, 6.3.2, 6.4.1; RFC 8037 2). A client that sends
// one has leaked its key, or is probing for a parser that would use it.
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ParsePublicJWK parses a public JWK (a JSON object) for EC P-256
// ("kty":"EC","crv":"P-256") or OKP Ed25519 ("kty":"OKP","crv":"Ed25519") and
// returns an *ecdsa.PublicKey or an ed25519.PublicKey.
//
// It refuses, wrapping ErrInvalidJWK: anything but one JSON object,
// duplicate member names, any private member ("d", "p", "q", "dp", "dq",
// "qi", "oth", "k"), other kty or crv values, coordinates that are not
// unpadded base64url of exactly 32 bytes, P-256 points not on the curve,
// Ed25519 encodings that are non-canonical, not on the curve or of small
// order, an "alg" member other than the key's algorithm, a "use" other than
// "sig", and "key_ops" without "verify". Other members (kid, x5c, ...) are
// ignored, as RFC 7517 4 asks.
func ParsePublicJWK(raw []byte) (crypto.PublicKey, error) {
	pub, err := parsePublicJWK(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidJWK, err)
	}
	return pub, nil
}

func parsePublicJWK(raw []byte) (crypto.PublicKey, error) {
	if len(raw) > maxJWKBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxJWKBytes)
	}
	m, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	for _, name := range privateJWKMembers {
		if _, ok := m[name]; ok {
			return nil, fmt.Errorf("carries the private member %q", name)
		}
	}
	kty, err := stringMember(m, "kty")
	if err != nil {
		return nil, err
	}
	crv, err := stringMember(m, "crv")
	if err != nil {
		return nil, err
	}

	var (
		pub crypto.PublicKey
		alg string
	)
	switch {
	case kty == "EC" && crv == "P-256":
		x, err := coordinateMember(m, "x", 32)
		if err != nil {
			return nil, err
		}
		y, err := coordinateMember(m, "y", 32)
		if err != nil {
			return nil, err
		}
		point := make([]byte, 0, 65)
		point = append(point, 4)
		point = append(point, x...)
		point = append(point, y...)
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return nil, errors.New("the P-256 point is not on the curve")
		}
		pub, alg = k, AlgES256
	case kty == "OKP" && crv == "Ed25519":
		if _, ok := m["y"]; ok {
			return nil, errors.New(`an OKP key has no member "y"`)
		}
		x, err := coordinateMember(m, "x", ed25519.PublicKeySize)
		if err != nil {
			return nil, err
		}
		if err := checkEd25519Point(x); err != nil {
			return nil, err
		}
		pub, alg = ed25519.PublicKey(x), AlgEdDSA
	default:
		return nil, fmt.Errorf("unsupported key type %q/%q: only EC P-256 and OKP Ed25519", kty, crv)
	}

	if _, ok := m["alg"]; ok {
		a, err := stringMember(m, "alg")
		if err != nil {
			return nil, err
		}
		if a != alg {
			return nil, fmt.Errorf("alg %q does not fit a %s key", a, crv)
		}
	}
	if _, ok := m["use"]; ok {
		use, err := stringMember(m, "use")
		if err != nil {
			return nil, err
		}
		if use != "sig" {
			return nil, fmt.Errorf("use %q is not sig", use)
		}
	}
	if rawOps, ok := m["key_ops"]; ok {
		var ops []string
		if err := json.Unmarshal(rawOps, &ops); err != nil {
			return nil, errors.New("key_ops is not an array of strings")
		}
		verify := false
		for _, op := range ops {
			verify = verify || op == "verify"
		}
		if !verify {
			return nil, errors.New(`key_ops does not include "verify"`)
		}
	}
	return pub, nil
}

// Thumbprint is the RFC 7638 JWK SHA-256 thumbprint, base64url without
// padding, of an *ecdsa.PublicKey (P-256) or an ed25519.PublicKey. It is the
// "jkt" that binds sessions and access tokens to a device key.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	p, err := publicParams(pub)
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	// RFC 7638 3.2: the required members only, in lexicographic order, no
	// white space. Base64url values need no JSON escaping.
	var canonical string
	if p.kty == "EC" {
		canonical = `{"crv":"` + p.crv + `","kty":"EC","x":"` + p.x + `","y":"` + p.y + `"}`
	} else {
		canonical = `{"crv":"` + p.crv + `","kty":"OKP","x":"` + p.x + `"}`
	}
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// PublicJWK returns the public JWK members of a key (kty, crv, x and, for
// EC, y) as a map ready for json.Marshal: for the JWKS document and for
// test clients that put their key in a DPoP header.
func PublicJWK(pub crypto.PublicKey) (map[string]any, error) {
	p, err := publicParams(pub)
	if err != nil {
		return nil, fmt.Errorf("public JWK: %w", err)
	}
	m := map[string]any{"kty": p.kty, "crv": p.crv, "x": p.x}
	if p.kty == "EC" {
		m["y"] = p.y
	}
	return m, nil
}

// jwkParams are the required public members of a supported key.
type jwkParams struct{ kty, crv, x, y string }

func publicParams(pub crypto.PublicKey) (jwkParams, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k == nil || k.Curve != elliptic.P256() {
			return jwkParams{}, errors.New("only P-256 ECDSA keys are supported")
		}
		point, err := k.Bytes()
		if err != nil || len(point) != 65 || point[0] != 4 {
			return jwkParams{}, errors.New("invalid P-256 public key")
		}
		return jwkParams{kty: "EC", crv: "P-256", x: b64(point[1:33]), y: b64(point[33:])}, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return jwkParams{}, errors.New("invalid Ed25519 public key length")
		}
		return jwkParams{kty: "OKP", crv: "Ed25519", x: b64(k)}, nil
	default:
		return jwkParams{}, fmt.Errorf("unsupported key type %T", pub)
	}
}

// decodeObject decodes exactly one JSON object into its members, refusing
// duplicate member names (which different parsers resolve differently) and
// anything after the object. Member names are matched exactly, unlike
// encoding/json's case-insensitive struct fields.
func decodeObject(raw []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, errors.New("not JSON")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	m := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New("malformed JSON object")
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("malformed JSON object")
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("duplicate member %q", name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errors.New("malformed JSON object")
		}
		m[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, errors.New("malformed JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return m, nil
}

// stringMember returns a member that must be present and a JSON string.
func stringMember(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok {
		return "", fmt.Errorf("missing member %q", name)
	}
	// json.Unmarshal of null into a string succeeds and leaves it empty.
	var s string
	if raw = bytes.TrimSpace(raw); len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("member %q is not a string", name)
	}
	return s, nil
}

// coordinateMember returns a member that must be unpadded base64url
// (canonical, RFC 4648 3.5) of exactly size bytes (RFC 7518 6.2.1.2: the
// full coordinate length, leading zeros included).
func coordinateMember(m map[string]json.RawMessage, name string, size int) ([]byte, error) {
	s, err := stringMember(m, name)
	if err != nil {
		return nil, err
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("member %q is not unpadded base64url", name)
	}
	if len(b) != size {
		return nil, fmt.Errorf("member %q is %d bytes, want %d", name, len(b), size)
	}
	return b, nil
}

// Edwards25519 parameters (RFC 8032 5.1): p = 2^255 - 19, d = -121665/121666.
var (
	edP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	edD = func() *big.Int {
		d := new(big.Int).ModInverse(big.NewInt(121666), edP)
		d.Mul(d, big.NewInt(-121665))
		return d.Mod(d, edP)
	}()
)

// checkEd25519Point decodes an Ed25519 public key as RFC 8032 5.1.3 does,
// refusing a non-canonical y (y >= p), a y with no x on the curve and the
// invalid "-0" encoding, and then refuses points of small order ([8]A is the
// identity). crypto/ed25519 accepts all of these; a small-order key lets
// anyone forge signatures that verify under it, so a device "bound" to one
// would be bound to nothing. Public values only: no constant time needed.
func checkEd25519Point(enc []byte) error {
	le := bytes.Clone(enc)
	sign := le[31] >> 7
	le[31] &= 0x7f
	be := make([]byte, len(le))
	for i, b := range le {
		be[len(le)-1-i] = b
	}
	y := new(big.Int).SetBytes(be)
	if y.Cmp(edP) >= 0 {
		return errors.New("non-canonical Ed25519 point encoding")
	}
	// x^2 = (y^2 - 1) / (d y^2 + 1)
	y2 := new(big.Int).Mul(y, y)
	y2.Mod(y2, edP)
	u := new(big.Int).Sub(y2, big.NewInt(1))
	v := new(big.Int).Mul(edD, y2)
	v.Add(v, big.NewInt(1))
	v.Mod(v, edP)
	vInv := new(big.Int).ModInverse(v, edP)
	if vInv == nil {
		return errors.New("the Ed25519 point is not on the curve")
	}
	x2 := u.Mul(u, vInv)
	x2.Mod(x2, edP)
	x := new(big.Int).ModSqrt(x2, edP)
	if x == nil {
		return errors.New("the Ed25519 point is not on the curve")
	}
	if x.Sign() == 0 && sign == 1 {
		return errors.New("non-canonical Ed25519 point encoding")
	}
	if x.Bit(0) != uint(sign) {
		x.Sub(edP, x)
	}
	px, py := x, y
	for range 3 {
		var ok bool
		if px, py, ok = edAdd(px, py, px, py); !ok {
			return errors.New("the Ed25519 point is not on the curve")
		}
	}
	if px.Sign() == 0 && py.Cmp(big.NewInt(1)) == 0 {
		return errors.New("the Ed25519 point has small order")
	}
	return nil
}

// edAdd adds two affine points of the twisted Edwards curve -x^2 + y^2 = 1 +
// d x^2 y^2 with the complete addition law (the denominators never vanish
// because d is not a square mod p; ok is false only for inputs off the curve).
func edAdd(x1, y1, x2, y2 *big.Int) (x3, y3 *big.Int, ok bool) {
	mod := func(z *big.Int) *big.Int { return z.Mod(z, edP) }
	x1y2 := mod(new(big.Int).Mul(x1, y2))
	y1x2 := mod(new(big.Int).Mul(y1, x2))
	y1y2 := mod(new(big.Int).Mul(y1, y2))
	x1x2 := mod(new(big.Int).Mul(x1, x2))
	t := mod(new(big.Int).Mul(edD, mod(new(big.Int).Mul(x1x2, y1y2))))
	dx := new(big.Int).ModInverse(mod(new(big.Int).Add(big.NewInt(1), t)), edP)
	dy := new(big.Int).ModInverse(mod(new(big.Int).Sub(big.NewInt(1), t)), edP)
	if dx == nil || dy == nil {
		return nil, nil, false
	}
	x3 = mod(new(big.Int).Mul(mod(new(big.Int).Add(x1y2, y1x2)), dx))
	y3 = mod(new(big.Int).Mul(mod(new(big.Int).Add(y1y2, x1x2)), dy))
	return x3, y3, true
}
