package webauthn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
)

// Purpose says what a challenge may be used for.
type Purpose string

// The ceremonies paycode runs.
const (
	PurposeSignup  Purpose = "signup"  // first passkey of a new account
	PurposeLogin   Purpose = "login"   // usernameless login
	PurposeReauth  Purpose = "reauth"  // step-up on an existing session
	PurposeApprove Purpose = "approve" // approving a new device (enrollment)
	PurposeEnroll  Purpose = "enroll"  // new passkey of a new device
)

// Errors returned by the ceremonies.
var (
	// ErrRejected is every ceremony failure: unknown, expired or mismatched
	// challenge, malformed response, bad signature, missing UV, policy.
	ErrRejected = errors.New("passkey rejected")
	// ErrChallengeNotFound is what a ChallengeStore returns for a challenge
	// that does not exist, has expired or was already taken.
	ErrChallengeNotFound = errors.New("challenge not found")
)

// Challenge is a begun ceremony, stored until it is finished once.
type Challenge struct {
	Purpose Purpose `json:"purpose"`
	// JKT is the DPoP key thumbprint of the request that began the ceremony;
	// only a request proven with the same key may finish it.
	JKT string `json:"jkt"`
	// AccountID is the account the ceremony is for (empty for login).
	AccountID string `json:"account_id,omitempty"`
	// SessionID is the session a reauth belongs to.
	SessionID string `json:"session_id,omitempty"`
	// Subject is what else the ceremony is about (an enrollment id).
	Subject string                 `json:"subject,omitempty"`
	Expires time.Time              `json:"expires"`
	Session gowebauthn.SessionData `json:"session"`
}

// ChallengeStore keeps challenges; the Redis layer implements it.
type ChallengeStore interface {
	// PutChallenge stores c under id (which must be fresh) for ttl.
	PutChallenge(ctx context.Context, id string, c *Challenge, ttl time.Duration) error
	// TakeChallenge atomically reads and deletes the challenge. It returns
	// ErrChallengeNotFound when there is none; other errors mean the store
	// failed.
	TakeChallenge(ctx context.Context, id string) (*Challenge, error)
}

// Config is the relying party and its device-binding policy.
type Config struct {
	RPID    string   // PAYCODE_RP_ID: the domain passkeys are scoped to
	RPName  string   // PAYCODE_RP_NAME: shown by authenticators
	Origins []string // PAYCODE_RP_ORIGINS: web origins and android:apk-key-hash: origins
	// RequireDeviceBound refuses backup-eligible (synced, BE=1) credentials.
	RequireDeviceBound bool
	// AllowedAAGUIDs, when set, requires attestation from these models.
	AllowedAAGUIDs []uuid.UUID
	// ChallengeTTL is how long a begun ceremony may be finished (5 min).
	ChallengeTTL time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// RP runs ceremonies. It is safe for concurrent use and holds no state.
type RP struct {
	wa         *gowebauthn.WebAuthn
	cfg        Config
	challenges ChallengeStore
}

// New validates cfg and returns an RP storing challenges in cs.
func New(cfg Config, cs ChallengeStore) (*RP, error) {
	if cfg.ChallengeTTL <= 0 {
		cfg.ChallengeTTL = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	wcfg := &gowebauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.RPName,
		RPOrigins:     cfg.Origins,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			RequireResidentKey: protocol.ResidentKeyRequired(),
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		},
		AttestationPreference: protocol.PreferNoAttestation,
		Timeouts: gowebauthn.TimeoutsConfig{
			Login:        gowebauthn.TimeoutConfig{Enforce: true, Timeout: cfg.ChallengeTTL, TimeoutUVD: cfg.ChallengeTTL},
			Registration: gowebauthn.TimeoutConfig{Enforce: true, Timeout: cfg.ChallengeTTL, TimeoutUVD: cfg.ChallengeTTL},
		},
	}
	if cfg.RequireDeviceBound || len(cfg.AllowedAAGUIDs) > 0 {
		wcfg.Filtering = &gowebauthn.FilteringConfig{
			ProhibitBackupEligibility: cfg.RequireDeviceBound,
			PermittedAAGUIDs:          cfg.AllowedAAGUIDs,
		}
	}
	if len(cfg.AllowedAAGUIDs) > 0 {
		wcfg.AttestationPreference = protocol.PreferDirectAttestation
	}
	wa, err := gowebauthn.New(wcfg)
	if err != nil {
		return nil, fmt.Errorf("configuring the relying party: %w", err)
	}
	return &RP{wa: wa, cfg: cfg, challenges: cs}, nil
}

// User is an account as go-webauthn sees it. ID is the WebAuthn user
// handle: the account id's bytes, opaque and free of personal data.
type User struct {
	ID          []byte
	Name        string
	DisplayName string
	Credentials []gowebauthn.Credential
}

func (u *User) WebAuthnID() []byte                           { return u.ID }
func (u *User) WebAuthnName() string                         { return u.Name }
func (u *User) WebAuthnDisplayName() string                  { return u.DisplayName }
func (u *User) WebAuthnCredentials() []gowebauthn.Credential { return u.Credentials }

var credentialParams = []protocol.CredentialParameter{
	{Type: protocol.PublicKeyCredentialType, Algorithm: -7},   // ES256
	{Type: protocol.PublicKeyCredentialType, Algorithm: -8},   // EdDSA
	{Type: protocol.PublicKeyCredentialType, Algorithm: -257}, // RS256
}

// BeginRegistration starts a registration for user and stores the
// challenge under id with ch's binding. It returns the creation options
// (PublicKeyCredentialCreationOptionsJSON, wrapped as {"publicKey":...}).
func (rp *RP) BeginRegistration(ctx context.Context, id string, ch Challenge, user *User) (json.RawMessage, error) {
	exclusions := make([]protocol.CredentialDescriptor, 0, len(user.Credentials))
	for _, c := range user.Credentials {
		exclusions = append(exclusions, c.Descriptor())
	}
	opts, session, err := rp.wa.BeginRegistration(user,
		gowebauthn.WithCredentialParameters(credentialParams),
		gowebauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		gowebauthn.WithExclusions(exclusions),
	)
	if err != nil {
		return nil, fmt.Errorf("beginning registration: %w", err)
	}
	return rp.store(ctx, id, ch, session, opts, rp.challenges.PutChallenge)
}

// BeginLogin starts an assertion and stores the challenge under id. With
// no credentials it is usernameless (discoverable); with credentials only
// those may answer (reauth, approval).
func (rp *RP) BeginLogin(ctx context.Context, id string, ch Challenge, allow []gowebauthn.Credential) (json.RawMessage, error) {
	return rp.BeginLoginWith(ctx, id, ch, allow, rp.challenges.PutChallenge)
}

// PutChallenge stores a begun ceremony's challenge; ChallengeStore's
// method is one.
type PutChallenge func(ctx context.Context, id string, c *Challenge, ttl time.Duration) error

// BeginLoginWith is BeginLogin with the challenge stored by put, so that
// the caller can store it in one step with something else (bff's login:
// with the address's limit and the proof's jti). put's error is returned
// wrapped.
func (rp *RP) BeginLoginWith(ctx context.Context, id string, ch Challenge, allow []gowebauthn.Credential, put PutChallenge) (json.RawMessage, error) {
	var (
		opts    *protocol.CredentialAssertion
		session *gowebauthn.SessionData
		err     error
	)
	uv := gowebauthn.WithUserVerification(protocol.VerificationRequired)
	if len(allow) == 0 {
		opts, session, err = rp.wa.BeginDiscoverableLogin(uv)
	} else {
		descs := make([]protocol.CredentialDescriptor, 0, len(allow))
		for _, c := range allow {
			descs = append(descs, c.Descriptor())
		}
		// Discoverable shape (no user id in the session) restricted to the
		// listed credentials, so FinishLogin has one path for both.
		opts, session, err = rp.wa.BeginDiscoverableLogin(uv, gowebauthn.WithAllowedCredentials(descs))
		if err == nil {
			for _, d := range descs {
				session.AllowedCredentialIDs = append(session.AllowedCredentialIDs, d.CredentialID)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("beginning login: %w", err)
	}
	return rp.store(ctx, id, ch, session, opts, put)
}

func (rp *RP) store(ctx context.Context, id string, ch Challenge, session *gowebauthn.SessionData, opts any, put PutChallenge) (json.RawMessage, error) {
	ch.Expires = rp.cfg.Now().Add(rp.cfg.ChallengeTTL)
	ch.Session = *session
	// Expiry is checked in take against the injectable clock; go-webauthn's
	// own check (against the wall clock) is switched off by a zero time.
	ch.Session.Expires = time.Time{}
	if err := put(ctx, id, &ch, rp.cfg.ChallengeTTL); err != nil {
		return nil, fmt.Errorf("storing the challenge: %w", err)
	}
	b, err := json.Marshal(opts)
	if err != nil {
		return nil, fmt.Errorf("encoding the options: %w", err)
	}
	return b, nil
}

// Expect is what the finishing request must match of the stored challenge.
type Expect struct {
	Purpose   Purpose
	JKT       string
	AccountID string // checked when non-empty
	SessionID string // checked when non-empty
	Subject   string // checked when non-empty
}

// take consumes the challenge and checks its binding. Store failures are
// returned as they are (the caller answers 503), everything else as
// ErrRejected.
func (rp *RP) take(ctx context.Context, id string, want Expect) (*Challenge, error) {
	ch, err := rp.challenges.TakeChallenge(ctx, id)
	return rp.check(ch, err, want)
}

// check checks a taken challenge (or the error of taking it) against want.
func (rp *RP) check(ch *Challenge, err error, want Expect) (*Challenge, error) {
	if errors.Is(err, ErrChallengeNotFound) {
		return nil, fmt.Errorf("%w: unknown, expired or used challenge", ErrRejected)
	}
	if err != nil {
		return nil, fmt.Errorf("taking the challenge: %w", err)
	}
	switch {
	case ch.Purpose != want.Purpose:
		return nil, fmt.Errorf("%w: challenge for %q used for %q", ErrRejected, ch.Purpose, want.Purpose)
	case ch.JKT == "" || ch.JKT != want.JKT:
		return nil, fmt.Errorf("%w: challenge began with another device key", ErrRejected)
	case want.AccountID != "" && ch.AccountID != want.AccountID:
		return nil, fmt.Errorf("%w: challenge for another account", ErrRejected)
	case want.SessionID != "" && ch.SessionID != want.SessionID:
		return nil, fmt.Errorf("%w: challenge for another session", ErrRejected)
	case want.Subject != "" && ch.Subject != want.Subject:
		return nil, fmt.Errorf("%w: challenge for another subject", ErrRejected)
	case !rp.cfg.Now().Before(ch.Expires):
		return nil, fmt.Errorf("%w: challenge expired", ErrRejected)
	}
	return ch, nil
}

// FinishRegistration consumes the challenge id, checks it against want, and
// validates the RegistrationResponseJSON in body for the user the
// ceremony began for. It returns the new credential and the challenge
// (whose AccountID names the account the credential is for).
func (rp *RP) FinishRegistration(ctx context.Context, id string, want Expect, body []byte) (*gowebauthn.Credential, *Challenge, error) {
	ch, err := rp.take(ctx, id, want)
	if err != nil {
		return nil, nil, err
	}
	if len(ch.Session.UserID) == 0 {
		return nil, nil, fmt.Errorf("%w: not a registration challenge", ErrRejected)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: parsing the registration response: %w", ErrRejected, err)
	}
	user := &User{ID: ch.Session.UserID}
	cred, err := rp.wa.CreateCredential(user, ch.Session, parsed)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: validating the registration: %w", ErrRejected, err)
	}
	if !parsed.Response.AttestationObject.AuthData.Flags.HasUserVerified() {
		return nil, nil, fmt.Errorf("%w: registration without user verification", ErrRejected)
	}
	if err := rp.checkPolicy(cred); err != nil {
		return nil, nil, err
	}
	return cred, ch, nil
}

func (rp *RP) checkPolicy(cred *gowebauthn.Credential) error {
	if rp.cfg.RequireDeviceBound && cred.Flags.BackupEligible {
		return fmt.Errorf("%w: policy requires a device-bound passkey (BE=0)", ErrRejected)
	}
	if len(rp.cfg.AllowedAAGUIDs) > 0 {
		// "basic_surrogate" is packed self attestation: the credential vouching
		// for itself says nothing about the model.
		switch cred.AttestationType {
		case "", "none", "self", "basic_surrogate":
			return fmt.Errorf("%w: policy requires attestation, got %q", ErrRejected, cred.AttestationType)
		}
		if cred.AttestationFormat == "none" || cred.AttestationFormat == "" {
			return fmt.Errorf("%w: policy requires attestation, got %q", ErrRejected, cred.AttestationType)
		}
		aaguid, err := uuid.FromBytes(cred.Authenticator.AAGUID)
		if err != nil {
			return fmt.Errorf("%w: malformed AAGUID", ErrRejected)
		}
		allowed := false
		for _, a := range rp.cfg.AllowedAAGUIDs {
			allowed = allowed || a == aaguid
		}
		if !allowed {
			return fmt.Errorf("%w: authenticator model %s not allowed", ErrRejected, aaguid)
		}
	}
	return nil
}

// LookupUser finds the account of a discoverable assertion from its user
// handle and credential id. It returns an error when there is none.
type LookupUser func(ctx context.Context, userHandle, credentialID []byte) (*User, error)

// Assertion is a validated login.
type Assertion struct {
	Challenge *Challenge
	User      *User
	// Credential is the credential record with the new sign count and flags
	// to write back. CloneWarning is set when the counter did not increase.
	Credential *gowebauthn.Credential
	// UserVerified is this ceremony's UV flag (always true on success).
	UserVerified bool
}

// FinishLogin consumes the challenge id, checks it against want, and
// validates the AuthenticationResponseJSON in body.
func (rp *RP) FinishLogin(ctx context.Context, id string, want Expect, body []byte, lookup LookupUser) (*Assertion, error) {
	ch, err := rp.take(ctx, id, want)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing the assertion: %w", ErrRejected, err)
	}
	return rp.validateLogin(ctx, ch, parsed, lookup)
}

// TakeAndLookup takes the challenge id (ErrChallengeNotFound when there is
// none) and, in the same round trip, reads what the lookup of the account
// the user handle names will need; it returns the challenge and that
// lookup. userHandle is nil when the response did not parse.
type TakeAndLookup func(ctx context.Context, id string, userHandle []byte) (*Challenge, LookupUser, error)

// FinishLoginTaking is FinishLogin for a store that takes the challenge
// and reads the account in one round trip: the response is parsed first
// (for its user handle), then take runs, then the challenge is checked
// against want and the assertion validated. A response that does not parse
// still consumes the challenge.
func (rp *RP) FinishLoginTaking(ctx context.Context, id string, want Expect, body []byte, take TakeAndLookup) (*Assertion, error) {
	parsed, perr := protocol.ParseCredentialRequestResponseBytes(body)
	var handle []byte
	if perr == nil {
		handle = parsed.Response.UserHandle
	}
	ch, lookup, err := take(ctx, id, handle)
	if ch, err = rp.check(ch, err, want); err != nil {
		return nil, err
	}
	if perr != nil {
		return nil, fmt.Errorf("%w: parsing the assertion: %w", ErrRejected, perr)
	}
	return rp.validateLogin(ctx, ch, parsed, lookup)
}

// validateLogin validates a parsed assertion against a checked challenge.
func (rp *RP) validateLogin(ctx context.Context, ch *Challenge, parsed *protocol.ParsedCredentialAssertionData, lookup LookupUser) (*Assertion, error) {
	var lookupErr error
	handler := func(rawID, userHandle []byte) (gowebauthn.User, error) {
		u, err := lookup(ctx, userHandle, rawID)
		if err != nil {
			lookupErr = err
			return nil, err
		}
		return u, nil
	}
	user, cred, err := rp.wa.ValidatePasskeyLogin(handler, ch.Session, parsed)
	if err != nil {
		if lookupErr != nil && !errors.Is(lookupErr, ErrRejected) {
			// The store failed: not the client's fault, answer 503.
			return nil, fmt.Errorf("looking up the credential: %w", lookupErr)
		}
		return nil, fmt.Errorf("%w: validating the assertion: %w", ErrRejected, err)
	}
	if !parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
		return nil, fmt.Errorf("%w: assertion without user verification", ErrRejected)
	}
	u, ok := user.(*User)
	if !ok {
		return nil, fmt.Errorf("%w: unexpected user type", ErrRejected)
	}
	return &Assertion{Challenge: ch, User: u, Credential: cred, UserVerified: true}, nil
}
