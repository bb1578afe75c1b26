package softauthn

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
)

// savedCredential is a credential as Save writes it: the private key as
// PKCS#8 DER (base64 in JSON).
type savedCredential struct {
	ID         []byte `json:"id"`
	RPID       string `json:"rp_id"`
	UserHandle []byte `json:"user_handle"`
	Alg        int    `json:"alg"`
	PKCS8      []byte `json:"pkcs8"`
	Counter    uint32 `json:"counter"`
	Seq        uint64 `json:"seq"`
}

type saved struct {
	Origin      string            `json:"origin"`
	Seq         uint64            `json:"seq"`
	Credentials []savedCredential `json:"credentials"`
}

// Save returns the authenticator's origin and credentials, private keys
// included, as JSON, for a tool that plays one phone across several
// processes (cmd/paycode-phone). Whoever holds the bytes holds the
// passkeys: keep them as a private key file (mode 0600). The knobs are not
// saved; Load sets New's.
func (a *Authenticator) Save() ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := saved{Origin: a.Origin, Seq: a.seq, Credentials: make([]savedCredential, 0, len(a.creds))}
	for _, c := range a.creds {
		der, err := x509.MarshalPKCS8PrivateKey(c.key)
		if err != nil {
			return nil, fmt.Errorf("softauthn: saving a credential key: %w", err)
		}
		s.Credentials = append(s.Credentials, savedCredential{ID: c.id, RPID: c.rpID, UserHandle: c.userHandle, Alg: c.alg,
			PKCS8: der, Counter: c.counter, Seq: c.seq})
	}
	return json.Marshal(s)
}

// Load returns an authenticator as New does, holding the credentials Save
// wrote (same keys, same counters).
func Load(data []byte) (*Authenticator, error) {
	var s saved
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("softauthn: loading: %w", err)
	}
	if s.Origin == "" {
		return nil, errors.New("softauthn: loading: no origin")
	}
	a := New(s.Origin)
	a.seq = s.Seq
	for _, sc := range s.Credentials {
		k, err := x509.ParsePKCS8PrivateKey(sc.PKCS8)
		if err != nil {
			return nil, fmt.Errorf("softauthn: loading a credential key: %w", err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok || sc.Alg != AlgES256 && sc.Alg != AlgEdDSA || len(sc.ID) == 0 || sc.RPID == "" {
			return nil, errors.New("softauthn: loading: a malformed credential")
		}
		a.creds = append(a.creds, &credential{id: sc.ID, rpID: sc.RPID, userHandle: sc.UserHandle, alg: sc.Alg,
			key: signer, counter: sc.Counter, seq: sc.Seq})
	}
	return a, nil
}
