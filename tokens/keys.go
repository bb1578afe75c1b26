package tokens

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// SigningKey is one of the server's token signing keys.
type SigningKey struct {
	// KID names the key in JWT headers and in the JWKS. GenerateSigningKey and
	// ParsePrivateKeyPEM set it to the RFC 7638 thumbprint of the public key.
	KID string
	// Alg is AlgES256 (Private's public key is a P-256 *ecdsa.PublicKey) or
	// AlgEdDSA (an ed25519.PublicKey).
	Alg string
	// Private signs. Any crypto.Signer will do (an HSM or KMS key as well as
	// *ecdsa.PrivateKey or ed25519.PrivateKey); only MarshalPrivateKeyPEM
	// needs the key material itself.
	Private crypto.Signer
}

// GenerateSigningKey makes a new key for alg (AlgES256 or AlgEdDSA) whose KID
// is the RFC 7638 thumbprint of its public key.
func GenerateSigningKey(alg string) (SigningKey, error) {
	var priv crypto.Signer
	switch alg {
	case AlgES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return SigningKey{}, fmt.Errorf("generating an ES256 key: %w", err)
		}
		priv = k
	case AlgEdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return SigningKey{}, fmt.Errorf("generating an EdDSA key: %w", err)
		}
		priv = k
	default:
		return SigningKey{}, fmt.Errorf("generating a signing key: unsupported alg %q (want %s or %s)", alg, AlgES256, AlgEdDSA)
	}
	return newSigningKey(alg, priv)
}

// ParsePrivateKeyPEM reads one PEM block: PKCS#8 "PRIVATE KEY" holding an EC
// P-256 or Ed25519 key, or SEC 1 "EC PRIVATE KEY" holding a P-256 key. The
// KID is the thumbprint of the public key. Encrypted PEM, other key types,
// other curves and more than one block are refused. Errors never contain key
// material.
func ParsePrivateKeyPEM(pemBytes []byte) (SigningKey, error) {
	block, rest := pem.Decode(pemBytes)
	if block == nil {
		return SigningKey{}, errors.New("parsing private key: no PEM block found")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return SigningKey{}, errors.New("parsing private key: data after the first PEM block; give exactly one key")
	}
	if len(block.Headers) != 0 {
		return SigningKey{}, errors.New("parsing private key: PEM headers (encrypted PEM?) are not supported")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return SigningKey{}, fmt.Errorf("parsing private key: PEM type %q is not PRIVATE KEY or EC PRIVATE KEY", block.Type)
	}
	if err != nil {
		// x509 errors describe the structure, not the key; still, keep them out.
		return SigningKey{}, fmt.Errorf("parsing private key: malformed %s", block.Type)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return SigningKey{}, fmt.Errorf("parsing private key: ECDSA curve %s is not supported, only P-256", k.Curve.Params().Name)
		}
		return newSigningKey(AlgES256, k)
	case ed25519.PrivateKey:
		return newSigningKey(AlgEdDSA, k)
	default:
		return SigningKey{}, fmt.Errorf("parsing private key: %T keys are not supported, only EC P-256 and Ed25519", key)
	}
}

// MarshalPrivateKeyPEM encodes the key as a PKCS#8 "PRIVATE KEY" PEM block.
// It fails for a signer whose key material is not in the process (HSM, KMS).
func MarshalPrivateKeyPEM(k SigningKey) ([]byte, error) {
	if err := k.check(); err != nil {
		return nil, fmt.Errorf("marshalling private key: %w", err)
	}
	switch k.Private.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey:
	default:
		return nil, fmt.Errorf("marshalling private key: %T does not expose its key material", k.Private)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("marshalling private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func newSigningKey(alg string, priv crypto.Signer) (SigningKey, error) {
	kid, err := Thumbprint(priv.Public())
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{KID: kid, Alg: alg, Private: priv}, nil
}

// check reports whether the key is usable: a KID of printable ASCII, and a
// signer whose public key is the kind Alg names.
func (k SigningKey) check() error {
	if k.KID == "" || len(k.KID) > 128 {
		return errors.New("a KID of 1 to 128 characters is required")
	}
	for i := 0; i < len(k.KID); i++ {
		if c := k.KID[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("KID %q is not printable ASCII", k.KID)
		}
	}
	if k.Private == nil {
		return fmt.Errorf("key %s has no signer", k.KID)
	}
	pub := k.Private.Public()
	switch k.Alg {
	case AlgES256:
		if p, ok := pub.(*ecdsa.PublicKey); !ok || p.Curve != elliptic.P256() {
			return fmt.Errorf("key %s: alg ES256 needs a P-256 ECDSA key, have %T", k.KID, pub)
		}
	case AlgEdDSA:
		if p, ok := pub.(ed25519.PublicKey); !ok || len(p) != ed25519.PublicKeySize {
			return fmt.Errorf("key %s: alg EdDSA needs an Ed25519 key, have %T", k.KID, pub)
		}
	default:
		return fmt.Errorf("key %s: unsupported alg %q", k.KID, k.Alg)
	}
	if _, err := publicParams(pub); err != nil {
		return fmt.Errorf("key %s: %w", k.KID, err)
	}
	return nil
}

// sign produces the JWS signature of signingInput: raw r||s (64 bytes) for
// ES256 as RFC 7518 3.4 requires, not the ASN.1 form crypto.Signer returns.
func (k SigningKey) sign(signingInput string) ([]byte, error) {
	switch k.Alg {
	case AlgES256:
		digest := sha256.Sum256([]byte(signingInput))
		der, err := k.Private.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("signing with %s: %w", k.KID, err)
		}
		var sig struct{ R, S *big.Int }
		rest, err := asn1.Unmarshal(der, &sig)
		if err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil ||
			sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 256 || sig.S.BitLen() > 256 {
			return nil, fmt.Errorf("signing with %s: the signer returned a malformed ECDSA signature", k.KID)
		}
		out := make([]byte, 64)
		sig.R.FillBytes(out[:32])
		sig.S.FillBytes(out[32:])
		return out, nil
	case AlgEdDSA:
		sig, err := k.Private.Sign(rand.Reader, []byte(signingInput), crypto.Hash(0))
		if err != nil {
			return nil, fmt.Errorf("signing with %s: %w", k.KID, err)
		}
		if len(sig) != ed25519.SignatureSize {
			return nil, fmt.Errorf("signing with %s: the signer returned a malformed Ed25519 signature", k.KID)
		}
		return sig, nil
	default:
		return nil, fmt.Errorf("signing with %s: unsupported alg %q", k.KID, k.Alg)
	}
}

// KeySet is the server's token signing keys: the first signs, all verify.
// It is immutable and safe for concurrent use.
type KeySet struct {
	keys  []SigningKey
	byKID map[string]SigningKey
	jwks  []byte
}

// NewKeySet makes a key set whose first key signs new tokens and whose keys
// all verify. To rotate, put the new key first and keep the old one after it
// for at least one token lifetime (plus leeway), then drop it. It needs at
// least one key and refuses unusable keys, duplicate KIDs and the same public
// key under two KIDs.
func NewKeySet(keys ...SigningKey) (*KeySet, error) {
	if len(keys) == 0 {
		return nil, errors.New("key set: at least one signing key is required")
	}
	ks := &KeySet{byKID: make(map[string]SigningKey, len(keys))}
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Y   string `json:"y,omitempty"`
		KID string `json:"kid"`
		Alg string `json:"alg"`
		Use string `json:"use"`
	}
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	seen := make(map[string]string) // thumbprint -> kid
	for _, k := range keys {
		if err := k.check(); err != nil {
			return nil, fmt.Errorf("key set: %w", err)
		}
		if _, dup := ks.byKID[k.KID]; dup {
			return nil, fmt.Errorf("key set: duplicate kid %q", k.KID)
		}
		p, err := publicParams(k.Private.Public())
		if err != nil {
			return nil, fmt.Errorf("key set: key %s: %w", k.KID, err)
		}
		jkt, err := Thumbprint(k.Private.Public())
		if err != nil {
			return nil, fmt.Errorf("key set: key %s: %w", k.KID, err)
		}
		if other, dup := seen[jkt]; dup {
			return nil, fmt.Errorf("key set: keys %q and %q are the same key", other, k.KID)
		}
		seen[jkt] = k.KID
		ks.keys = append(ks.keys, k)
		ks.byKID[k.KID] = k
		doc.Keys = append(doc.Keys, jwk{Kty: p.kty, Crv: p.crv, X: p.x, Y: p.y, KID: k.KID, Alg: k.Alg, Use: "sig"})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("key set: encoding the JWKS: %w", err)
	}
	ks.jwks = b
	return ks, nil
}

// Active returns the key that signs new tokens (the first one).
func (ks *KeySet) Active() SigningKey { return ks.keys[0] }

// Lookup returns the key with this kid, if the set has it.
func (ks *KeySet) Lookup(kid string) (SigningKey, bool) {
	k, ok := ks.byKID[kid]
	return k, ok
}

// JWKS returns the JSON document {"keys":[...]} of the public keys, each with
// kid, alg and "use":"sig", in signing order, for /.well-known/jwks.json. It
// never contains private members.
func (ks *KeySet) JWKS() ([]byte, error) {
	return bytes.Clone(ks.jwks), nil
}
