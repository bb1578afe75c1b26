package softauthn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// COSE algorithm identifiers this authenticator can make credentials for.
const (
	AlgES256 = -7
	AlgEdDSA = -8
)

// COSE key parameters (RFC 9052, RFC 9053).
const (
	coseKty    = 1
	coseAlg    = 3
	coseCrv    = -1
	coseX      = -2
	coseY      = -3
	ktyOKP     = 1
	ktyEC2     = 2
	crvP256    = 1
	crvEd25519 = 6
)

// credential is one discoverable credential source: the private key and what it is bound to.
type credential struct {
	id         []byte
	rpID       string
	userHandle []byte
	alg        int
	key        crypto.Signer // *ecdsa.PrivateKey or ed25519.PrivateKey; never mutated, so copies may share it
	counter    uint32
	seq        uint64 // registration order; the newest credential wins a discoverable assertion
}

func newCredential(rpID string, userHandle []byte, alg int, seq uint64) (*credential, error) {
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("generating credential id: %w", err)
	}

	var (
		key crypto.Signer
		err error
	)

	switch alg {
	case AlgES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgEdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("%w: COSE algorithm %d", ErrNotSupported, alg)
	}

	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}

	return &credential{
		id:         id,
		rpID:       rpID,
		userHandle: append([]byte(nil), userHandle...),
		alg:        alg,
		key:        key,
		seq:        seq,
	}, nil
}

func (c *credential) clone() *credential {
	cp := *c
	cp.id = append([]byte(nil), c.id...)
	cp.userHandle = append([]byte(nil), c.userHandle...)

	return &cp
}

// coseKey returns the credential public key as a CTAP2-canonical COSE_Key.
func (c *credential) coseKey() ([]byte, error) {
	var key map[int]any

	switch k := c.key.(type) {
	case *ecdsa.PrivateKey:
		point, err := k.PublicKey.Bytes() // 0x04 || X || Y, each 32 bytes
		if err != nil {
			return nil, fmt.Errorf("encoding EC public key: %w", err)
		}

		key = map[int]any{
			coseKty: ktyEC2,
			coseAlg: AlgES256,
			coseCrv: crvP256,
			coseX:   point[1:33],
			coseY:   point[33:65],
		}
	case ed25519.PrivateKey:
		key = map[int]any{
			coseKty: ktyOKP,
			coseAlg: AlgEdDSA,
			coseCrv: crvEd25519,
			coseX:   []byte(k.Public().(ed25519.PublicKey)),
		}
	default:
		return nil, fmt.Errorf("%w: key type %T", ErrNotSupported, c.key)
	}

	out, err := webauthncbor.Marshal(key)
	if err != nil {
		return nil, fmt.Errorf("encoding COSE key: %w", err)
	}

	return out, nil
}

// spki returns the DER SubjectPublicKeyInfo of the credential public key, the "publicKey" member of a
// RegistrationResponseJSON.
func (c *credential) spki() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(c.key.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}

	return der, nil
}

// sign signs authData || clientDataHash the way WebAuthn does: an ASN.1 DER ECDSA signature over its SHA-256
// digest for ES256, a plain Ed25519 signature over the message for EdDSA.
func (c *credential) sign(authData, clientDataHash []byte) ([]byte, error) {
	msg := make([]byte, 0, len(authData)+len(clientDataHash))
	msg = append(msg, authData...)
	msg = append(msg, clientDataHash...)

	switch k := c.key.(type) {
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256(msg)

		sig, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
		if err != nil {
			return nil, fmt.Errorf("signing: %w", err)
		}

		return sig, nil
	case ed25519.PrivateKey:
		return ed25519.Sign(k, msg), nil
	default:
		return nil, fmt.Errorf("%w: key type %T", ErrNotSupported, c.key)
	}
}
