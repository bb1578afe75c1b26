package softauthn

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// Errors a ceremony returns, named after the DOMException a browser would raise; compare with errors.Is.
var (
	// ErrMalformedOptions: the options are not valid JSON or lack a member a browser requires (TypeError).
	ErrMalformedOptions = errors.New("softauthn: malformed options")
	// ErrInvalidState: excludeCredentials lists a credential this authenticator holds (InvalidStateError).
	ErrInvalidState = errors.New("softauthn: an excluded credential is present on the authenticator")
	// ErrNotAllowed: no credential held for the rpId matches the request (NotAllowedError).
	ErrNotAllowed = errors.New("softauthn: no matching credential")
	// ErrNotSupported: no offered algorithm or attestation format can be made (NotSupportedError).
	ErrNotSupported = errors.New("softauthn: not supported")
)

// TestAAGUID is the AAGUID New gives an authenticator: 50f7a0c3-7e57-4a17-9e57-000000000001.
var TestAAGUID = [16]byte{0x50, 0xf7, 0xa0, 0xc3, 0x7e, 0x57, 0x4a, 0x17, 0x9e, 0x57, 0, 0, 0, 0, 0, 0x01}

// Authenticator flag bits (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

// Attestation statement formats the Attestation knob accepts.
const (
	AttestationNone   = "none"
	AttestationPacked = "packed"
)

// Authenticator is a software platform authenticator together with the client (browser) in front of it. The
// exported fields are knobs applied to the next ceremonies; see the package documentation.
type Authenticator struct {
	// AAGUID is reported in the attested credential data as it is. New sets TestAAGUID; set it to zero for a
	// platform that hides its model (as iCloud Keychain does), or to a known AAGUID to test an allow list.
	AAGUID [16]byte

	// UP, UV, BE and BS are copied into the authenticator data flags as they are. New sets UP and UV.
	UP, UV, BE, BS bool

	// Origin is the origin in clientDataJSON. New sets it.
	Origin string
	// TopOrigin, when set, is added to clientDataJSON and crossOrigin becomes true.
	TopOrigin string

	// RPIDHash, when non-nil, replaces SHA-256(rpId) in the authenticator data.
	RPIDHash []byte

	// Attestation is the attestation statement format: "none" (default, also for "") or "packed" (self attestation).
	Attestation string

	// Alg is the COSE algorithm of new credentials: -7 ES256 (default, also for 0) or -8 EdDSA.
	Alg int

	// FreezeCounter stops assertions from incrementing the credential's counter.
	FreezeCounter bool

	mu    sync.Mutex
	creds []*credential
	seq   uint64
}

// New returns an authenticator holding no credentials, whose ceremonies claim the given origin, with user presence
// and user verification set, the backup flags clear (a device-bound passkey) and TestAAGUID.
func New(origin string) *Authenticator {
	return &Authenticator{AAGUID: TestAAGUID, UP: true, UV: true, Origin: origin}
}

// Register answers PublicKeyCredentialCreationOptionsJSON (bare or wrapped in {"publicKey":...}) with a
// RegistrationResponseJSON for a new discoverable credential bound to rp.id and user.id. It returns
// ErrMalformedOptions, ErrInvalidState when excludeCredentials lists a credential it holds for rp.id, or
// ErrNotSupported when no offered algorithm can be made.
func (a *Authenticator) Register(creationOptionsJSON []byte) ([]byte, error) {
	o, err := parseCreationOptions(creationOptionsJSON)
	if err != nil {
		return nil, err
	}

	a.mu.Lock()
	defer a.mu.Unlock()

	rpID, err := rpIDOrDefault(o.RP.ID, a.Origin)
	if err != nil {
		return nil, err
	}

	for _, d := range o.ExcludeCredentials {
		id, _ := decodeB64URL(d.ID) // checked by parseCreationOptions
		if a.find(rpID, id) != nil {
			return nil, ErrInvalidState
		}
	}

	alg, err := pickAlg(o.PubKeyCredParams, a.Alg)
	if err != nil {
		return nil, err
	}

	userHandle, _ := decodeB64URL(*o.User.ID) // checked by parseCreationOptions

	cred, err := newCredential(rpID, userHandle, alg, a.seq+1)
	if err != nil {
		return nil, err
	}

	clientDataJSON, err := a.clientData("webauthn.create", *o.Challenge)
	if err != nil {
		return nil, err
	}

	coseKey, err := cred.coseKey()
	if err != nil {
		return nil, err
	}

	attested := make([]byte, 0, 16+2+len(cred.id)+len(coseKey))
	attested = append(attested, a.AAGUID[:]...)
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(cred.id)))
	attested = append(attested, cred.id...)
	attested = append(attested, coseKey...)

	authData := a.authData(rpID, flagAT, 0, attested)
	clientDataHash := sha256.Sum256(clientDataJSON)

	format, stmt, err := a.attestationStatement(cred, authData, clientDataHash[:])
	if err != nil {
		return nil, err
	}

	attestationObject, err := webauthncbor.Marshal(map[string]any{
		"fmt":      format,
		"attStmt":  stmt,
		"authData": authData,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding attestation object: %w", err)
	}

	spki, err := cred.spki()
	if err != nil {
		return nil, err
	}

	resp := registrationResponse{
		ID:                      encodeB64URL(cred.id),
		RawID:                   encodeB64URL(cred.id),
		Type:                    "public-key",
		AuthenticatorAttachment: "platform",
		Response: attestationResponse{
			ClientDataJSON:     encodeB64URL(clientDataJSON),
			AttestationObject:  encodeB64URL(attestationObject),
			Transports:         []string{"internal", "hybrid"},
			AuthenticatorData:  encodeB64URL(authData),
			PublicKey:          encodeB64URL(spki),
			PublicKeyAlgorithm: alg,
		},
	}

	if o.wantsCredProps() {
		rk := true
		resp.ClientExtensionResults.CredProps = &credPropsOutput{RK: &rk}
	}

	out, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("encoding registration response: %w", err)
	}

	a.seq++
	a.creds = append(a.creds, cred)

	return out, nil
}

// Assert answers PublicKeyCredentialRequestOptionsJSON (bare or wrapped in {"publicKey":...}) with an
// AuthenticationResponseJSON signed by a credential bound to rpId: the most recently registered one listed in
// allowCredentials, or the most recently registered one when the list is empty. Unless FreezeCounter is set, the
// credential's counter is incremented before signing. It returns ErrMalformedOptions, or ErrNotAllowed when no
// credential fits.
func (a *Authenticator) Assert(requestOptionsJSON []byte) ([]byte, error) {
	o, err := parseRequestOptions(requestOptionsJSON)
	if err != nil {
		return nil, err
	}

	a.mu.Lock()
	defer a.mu.Unlock()

	rpID, err := rpIDOrDefault(o.RPID, a.Origin)
	if err != nil {
		return nil, err
	}

	cred := a.pick(rpID, o.AllowCredentials)
	if cred == nil {
		return nil, ErrNotAllowed
	}

	clientDataJSON, err := a.clientData("webauthn.get", *o.Challenge)
	if err != nil {
		return nil, err
	}

	counter := cred.counter
	if !a.FreezeCounter {
		counter++
	}

	authData := a.authData(rpID, 0, counter, nil)
	clientDataHash := sha256.Sum256(clientDataJSON)

	sig, err := cred.sign(authData, clientDataHash[:])
	if err != nil {
		return nil, err
	}

	out, err := json.Marshal(authenticationResponse{
		ID:                      encodeB64URL(cred.id),
		RawID:                   encodeB64URL(cred.id),
		Type:                    "public-key",
		AuthenticatorAttachment: "platform",
		Response: assertionResponse{
			ClientDataJSON:    encodeB64URL(clientDataJSON),
			AuthenticatorData: encodeB64URL(authData),
			Signature:         encodeB64URL(sig),
			UserHandle:        encodeB64URL(cred.userHandle),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding authentication response: %w", err)
	}

	cred.counter = counter

	return out, nil
}

// CredentialIDs returns the IDs of the credentials held, oldest first.
func (a *Authenticator) CredentialIDs() [][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()

	ids := make([][]byte, len(a.creds))
	for i, c := range a.creds {
		ids[i] = slices.Clone(c.id)
	}

	return ids
}

// SetCounter sets the signature counter of the credential with the given ID; the next assertion reports n+1 (or n
// with FreezeCounter). It does nothing when no such credential is held.
func (a *Authenticator) SetCounter(credID []byte, n uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()

	for _, c := range a.creds {
		if bytes.Equal(c.id, credID) {
			c.counter = n
		}
	}
}

// Counter returns the signature counter of the credential with the given ID as last reported (0 after
// registration), or 0 when no such credential is held.
func (a *Authenticator) Counter(credID []byte) uint32 {
	a.mu.Lock()
	defer a.mu.Unlock()

	for _, c := range a.creds {
		if bytes.Equal(c.id, credID) {
			return c.counter
		}
	}

	return 0
}

// Clone returns a new authenticator holding copies of the same credentials (same private keys, same counters) and
// the same knobs, like a synced passkey appearing on another phone of the same platform account. The two evolve
// independently afterwards.
func (a *Authenticator) Clone() *Authenticator {
	a.mu.Lock()
	defer a.mu.Unlock()

	c := &Authenticator{
		AAGUID:        a.AAGUID,
		UP:            a.UP,
		UV:            a.UV,
		BE:            a.BE,
		BS:            a.BS,
		Origin:        a.Origin,
		TopOrigin:     a.TopOrigin,
		RPIDHash:      slices.Clone(a.RPIDHash),
		Attestation:   a.Attestation,
		Alg:           a.Alg,
		FreezeCounter: a.FreezeCounter,
		seq:           a.seq,
		creds:         make([]*credential, len(a.creds)),
	}

	for i, cred := range a.creds {
		c.creds[i] = cred.clone()
	}

	return c
}

// find returns the credential with the given ID bound to rpID, or nil. The caller holds a.mu.
func (a *Authenticator) find(rpID string, id []byte) *credential {
	for _, c := range a.creds {
		if c.rpID == rpID && bytes.Equal(c.id, id) {
			return c
		}
	}

	return nil
}

// pick returns the newest credential bound to rpID that allow lists, or the newest bound to rpID when allow is
// empty, or nil. The caller holds a.mu.
func (a *Authenticator) pick(rpID string, allow []credentialDescriptor) *credential {
	for i := len(a.creds) - 1; i >= 0; i-- {
		c := a.creds[i]
		if c.rpID != rpID {
			continue
		}

		if len(allow) == 0 {
			return c
		}

		for _, d := range allow {
			if id, _ := decodeB64URL(d.ID); bytes.Equal(id, c.id) {
				return c
			}
		}
	}

	return nil
}

// pickAlg returns want (default ES256) when params offers it, else the first offered algorithm this authenticator
// supports. An empty params means ES256 and RS256, as in WebAuthn §5.1.3.
func pickAlg(params []credentialParameter, want int) (int, error) {
	if want == 0 {
		want = AlgES256
	}

	if want != AlgES256 && want != AlgEdDSA {
		return 0, fmt.Errorf("%w: Alg knob %d (only -7 and -8)", ErrNotSupported, want)
	}

	offered := []int{AlgES256, -257}

	if len(params) != 0 {
		offered = offered[:0]

		for _, p := range params {
			if p.Type == "public-key" {
				offered = append(offered, p.Alg)
			}
		}
	}

	if slices.Contains(offered, want) {
		return want, nil
	}

	for _, alg := range offered {
		if alg == AlgES256 || alg == AlgEdDSA {
			return alg, nil
		}
	}

	return 0, fmt.Errorf("%w: none of the offered algorithms %v", ErrNotSupported, offered)
}

// authData builds authenticator data: rpIdHash | flags | signCount | attestedCredentialData. The caller holds a.mu.
func (a *Authenticator) authData(rpID string, extraFlags byte, counter uint32, attested []byte) []byte {
	rpIDHash := a.RPIDHash
	if rpIDHash == nil {
		sum := sha256.Sum256([]byte(rpID))
		rpIDHash = sum[:]
	}

	flags := extraFlags

	for _, f := range []struct {
		on  bool
		bit byte
	}{{a.UP, flagUP}, {a.UV, flagUV}, {a.BE, flagBE}, {a.BS, flagBS}} {
		if f.on {
			flags |= f.bit
		}
	}

	out := make([]byte, 0, len(rpIDHash)+1+4+len(attested))
	out = append(out, rpIDHash...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, counter)

	return append(out, attested...)
}

// attestationStatement returns the format and statement the Attestation knob asks for. The caller holds a.mu.
func (a *Authenticator) attestationStatement(cred *credential, authData, clientDataHash []byte) (string, map[string]any, error) {
	switch a.Attestation {
	case "", AttestationNone:
		return AttestationNone, map[string]any{}, nil
	case AttestationPacked:
		sig, err := cred.sign(authData, clientDataHash)
		if err != nil {
			return "", nil, err
		}

		return AttestationPacked, map[string]any{"alg": int64(cred.alg), "sig": sig}, nil
	default:
		return "", nil, fmt.Errorf("%w: attestation format %q", ErrNotSupported, a.Attestation)
	}
}

// clientData returns clientDataJSON with members in the order browsers emit them. The caller holds a.mu.
func (a *Authenticator) clientData(ceremony, challenge string) ([]byte, error) {
	cd := collectedClientData{
		Type:        ceremony,
		Challenge:   challenge,
		Origin:      a.Origin,
		CrossOrigin: a.TopOrigin != "",
		TopOrigin:   a.TopOrigin,
	}

	var buf bytes.Buffer

	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)

	if err := enc.Encode(cd); err != nil {
		return nil, fmt.Errorf("encoding client data: %w", err)
	}

	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
