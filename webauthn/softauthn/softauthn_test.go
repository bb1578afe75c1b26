package softauthn_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/paycode/paycode/webauthn/softauthn"
)

const (
	testRPID   = "localhost"
	testOrigin = "http://localhost:8080"
)

type testUser struct {
	id    []byte
	creds []gowebauthn.Credential
}

func (u *testUser) WebAuthnID() []byte                           { return u.id }
func (u *testUser) WebAuthnName() string                         { return "alice" }
func (u *testUser) WebAuthnDisplayName() string                  { return "Alice" }
func (u *testUser) WebAuthnCredentials() []gowebauthn.Credential { return u.creds }

// fixture is a relying party with one user and the authenticator of that user.
type fixture struct {
	rp   *gowebauthn.WebAuthn
	user *testUser
	auth *softauthn.Authenticator
}

func newFixture(t *testing.T) *fixture {
	t.Helper()

	return newFixtureWith(t, nil)
}

// newFixtureWith is newFixture with an authenticator filtering policy.
func newFixtureWith(t *testing.T, filtering *gowebauthn.FilteringConfig) *fixture {
	t.Helper()

	rp, err := gowebauthn.New(&gowebauthn.Config{
		RPID:          testRPID,
		RPDisplayName: "t",
		RPOrigins:     []string{testOrigin},
		Filtering:     filtering,
	})
	if err != nil {
		t.Fatalf("webauthn.New: %v", err)
	}

	id := make([]byte, 32)
	if _, err = rand.Read(id); err != nil {
		t.Fatal(err)
	}

	return &fixture{rp: rp, user: &testUser{id: id}, auth: softauthn.New(testOrigin)}
}

// passkeyRegistration is what the server asks for: a discoverable credential with user verification.
var passkeyRegistration = gowebauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
	ResidentKey:        protocol.ResidentKeyRequirementRequired,
	RequireResidentKey: protocol.ResidentKeyRequired(),
	UserVerification:   protocol.VerificationRequired,
})

// register runs a whole registration ceremony with a and returns the verified credential, which is stored on the
// user. bare sends the options without the {"publicKey":...} wrapper.
func (f *fixture) register(t *testing.T, a *softauthn.Authenticator, bare bool, opts ...gowebauthn.RegistrationOption) (*gowebauthn.Credential, error) {
	t.Helper()

	creation, session, err := f.rp.BeginRegistration(f.user, append([]gowebauthn.RegistrationOption{passkeyRegistration}, opts...)...)
	if err != nil {
		t.Fatalf("BeginRegistration: %v", err)
	}

	var options []byte
	if bare {
		options, err = json.Marshal(creation.Response)
	} else {
		options, err = json.Marshal(creation)
	}

	if err != nil {
		t.Fatal(err)
	}

	response, err := a.Register(options)
	if err != nil {
		return nil, err
	}

	return f.finishRegistration(t, *session, response)
}

func (f *fixture) finishRegistration(t *testing.T, session gowebauthn.SessionData, response []byte) (*gowebauthn.Credential, error) {
	t.Helper()

	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}

	cred, err := f.rp.CreateCredential(f.user, session, parsed)
	if err != nil {
		return nil, err
	}

	f.user.creds = append(f.user.creds, *cred)

	return cred, nil
}

func (f *fixture) mustRegister(t *testing.T, a *softauthn.Authenticator) *gowebauthn.Credential {
	t.Helper()

	cred, err := f.register(t, a, false)
	if err != nil {
		t.Fatalf("registration rejected: %v", describe(err))
	}

	return cred
}

// beginLogin starts a discoverable (usernameless) login requiring user verification and returns the options JSON.
func (f *fixture) beginLogin(t *testing.T) ([]byte, gowebauthn.SessionData) {
	t.Helper()

	assertion, session, err := f.rp.BeginDiscoverableLogin(gowebauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		t.Fatalf("BeginDiscoverableLogin: %v", err)
	}

	options, err := json.Marshal(assertion)
	if err != nil {
		t.Fatal(err)
	}

	return options, *session
}

func (f *fixture) handler(_, userHandle []byte) (gowebauthn.User, error) {
	if !bytes.Equal(userHandle, f.user.id) {
		return nil, errors.New("unknown user handle")
	}

	return f.user, nil
}

// finishLogin validates an AuthenticationResponseJSON with ValidatePasskeyLogin. On success it writes the updated
// credential back onto the user, as the server must.
func (f *fixture) finishLogin(t *testing.T, session gowebauthn.SessionData, response []byte) (*gowebauthn.Credential, error) {
	t.Helper()

	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}

	user, cred, err := f.rp.ValidatePasskeyLogin(f.handler, session, parsed)
	if err != nil {
		return nil, err
	}

	if user != f.user {
		t.Fatalf("ValidatePasskeyLogin returned user %v, want the registered user", user)
	}

	for i := range f.user.creds {
		if bytes.Equal(f.user.creds[i].ID, cred.ID) {
			f.user.creds[i] = *cred
		}
	}

	return cred, nil
}

// login runs a whole discoverable login with a.
func (f *fixture) login(t *testing.T, a *softauthn.Authenticator) (*gowebauthn.Credential, error) {
	t.Helper()

	options, session := f.beginLogin(t)

	response, err := a.Assert(options)
	if err != nil {
		return nil, err
	}

	return f.finishLogin(t, session, response)
}

// describe renders a go-webauthn error with its debug information.
func describe(err error) string {
	var perr *protocol.Error
	if errors.As(err, &perr) {
		return fmt.Sprintf("%s (%s)", perr.Details, perr.DevInfo)
	}

	return fmt.Sprint(err)
}

// wantRejected fails unless err is a verification failure mentioning reason.
func wantRejected(t *testing.T, err error, reason string) {
	t.Helper()

	if err == nil {
		t.Fatalf("accepted, want rejection (%s)", reason)
	}

	if got := describe(err); !strings.Contains(got, reason) {
		t.Fatalf("rejected with %q, want a rejection mentioning %q", got, reason)
	}
}

func TestRegistrationAccepted(t *testing.T) {
	tests := []struct {
		name        string
		attestation string
		alg         int
		be, bs      bool
		bare        bool
		zeroAAGUID  bool
		wantType    metadata.AuthenticatorAttestationType
	}{
		{name: "none ES256", attestation: "", alg: 0, wantType: metadata.None},
		{name: "none EdDSA", attestation: softauthn.AttestationNone, alg: softauthn.AlgEdDSA, wantType: metadata.None},
		{name: "packed ES256", attestation: softauthn.AttestationPacked, alg: softauthn.AlgES256, wantType: metadata.BasicSurrogate},
		{name: "packed EdDSA", attestation: softauthn.AttestationPacked, alg: softauthn.AlgEdDSA, wantType: metadata.BasicSurrogate},
		{name: "synced passkey BE BS", alg: softauthn.AlgES256, be: true, bs: true, wantType: metadata.None},
		{name: "backup eligible not backed up", attestation: softauthn.AttestationPacked, be: true, wantType: metadata.BasicSurrogate},
		{name: "bare options object", bare: true, wantType: metadata.None},
		{name: "zero AAGUID", zeroAAGUID: true, wantType: metadata.None},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.auth.Attestation, f.auth.Alg, f.auth.BE, f.auth.BS = tt.attestation, tt.alg, tt.be, tt.bs

			wantAAGUID := softauthn.TestAAGUID
			if tt.zeroAAGUID {
				f.auth.AAGUID, wantAAGUID = [16]byte{}, [16]byte{}
			}

			cred, err := f.register(t, f.auth, tt.bare)
			if err != nil {
				t.Fatalf("registration rejected: %s", describe(err))
			}

			wantFormat := tt.attestation
			if wantFormat == "" {
				wantFormat = softauthn.AttestationNone
			}

			wantAlg := int64(tt.alg)
			if wantAlg == 0 {
				wantAlg = softauthn.AlgES256
			}

			if ids := f.auth.CredentialIDs(); len(ids) != 1 || !bytes.Equal(ids[0], cred.ID) {
				t.Errorf("CredentialIDs() = %x, want [%x]", ids, cred.ID)
			}

			flags := cred.Flags
			if !flags.UserPresent || !flags.UserVerified || flags.BackupEligible != tt.be || flags.BackupState != tt.bs {
				t.Errorf("flags = %+v, want UP UV and BE=%v BS=%v", flags, tt.be, tt.bs)
			}

			if cred.AttestationFormat != wantFormat || cred.AttestationType != string(tt.wantType) {
				t.Errorf("attestation = %s/%s, want %s/%s", cred.AttestationFormat, cred.AttestationType, wantFormat, tt.wantType)
			}

			if !bytes.Equal(cred.Authenticator.AAGUID, wantAAGUID[:]) {
				t.Errorf("AAGUID = %x, want %x", cred.Authenticator.AAGUID, wantAAGUID)
			}

			if cred.Authenticator.SignCount != 0 || cred.Authenticator.Attachment != protocol.Platform {
				t.Errorf("authenticator = %+v, want sign count 0, platform", cred.Authenticator)
			}

			if !slices.Equal(cred.Transport, []protocol.AuthenticatorTransport{protocol.Internal, protocol.Hybrid}) {
				t.Errorf("transports = %v, want [internal hybrid]", cred.Transport)
			}

			if cred.Attestation.PublicKeyAlgorithm != wantAlg {
				t.Errorf("publicKeyAlgorithm = %d, want %d", cred.Attestation.PublicKeyAlgorithm, wantAlg)
			}

			key, err := webauthncose.ParsePublicKey(cred.PublicKey)
			if err != nil {
				t.Fatalf("stored public key: %v", err)
			}

			switch k := key.(type) {
			case webauthncose.EC2PublicKeyData:
				if k.Algorithm != wantAlg {
					t.Errorf("EC2 key alg %d, want %d", k.Algorithm, wantAlg)
				}
			case webauthncose.OKPPublicKeyData:
				if k.Algorithm != wantAlg {
					t.Errorf("OKP key alg %d, want %d", k.Algorithm, wantAlg)
				}
			default:
				t.Errorf("stored public key is %T", key)
			}
		})
	}
}

func TestRegistrationOptions(t *testing.T) {
	es256 := protocol.CredentialParameter{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256}
	eddsa := protocol.CredentialParameter{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgEdDSA}
	rs256 := protocol.CredentialParameter{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256}

	tests := []struct {
		name    string
		alg     int
		params  []protocol.CredentialParameter
		wantAlg int64
		wantErr error
	}{
		{name: "Alg offered", alg: softauthn.AlgEdDSA, params: []protocol.CredentialParameter{es256, eddsa}, wantAlg: softauthn.AlgEdDSA},
		{name: "default not offered falls back to EdDSA", params: []protocol.CredentialParameter{rs256, eddsa}, wantAlg: softauthn.AlgEdDSA},
		{name: "EdDSA not offered falls back to ES256", alg: softauthn.AlgEdDSA, params: []protocol.CredentialParameter{rs256, es256}, wantAlg: softauthn.AlgES256},
		{name: "nothing supported", params: []protocol.CredentialParameter{rs256}, wantErr: softauthn.ErrNotSupported},
		{name: "unsupported Alg knob", alg: -257, params: []protocol.CredentialParameter{es256}, wantErr: softauthn.ErrNotSupported},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.auth.Alg = tt.alg

			cred, err := f.register(t, f.auth, false, gowebauthn.WithCredentialParameters(tt.params))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}

				if ids := f.auth.CredentialIDs(); len(ids) != 0 {
					t.Fatalf("a failed registration left %d credentials", len(ids))
				}

				return
			}

			if err != nil {
				t.Fatalf("registration rejected: %s", describe(err))
			}

			if cred.Attestation.PublicKeyAlgorithm != tt.wantAlg {
				t.Fatalf("alg = %d, want %d", cred.Attestation.PublicKeyAlgorithm, tt.wantAlg)
			}
		})
	}

	t.Run("credProps reports a resident key", func(t *testing.T) {
		f := newFixture(t)

		cred, err := f.register(t, f.auth, false, gowebauthn.WithExtensions(gowebauthn.WithExtensionCredProps()))
		if err != nil {
			t.Fatalf("registration rejected: %s", describe(err))
		}

		if cred.Extensions.RK == nil || !*cred.Extensions.RK {
			t.Fatalf("Extensions.RK = %v, want true", cred.Extensions.RK)
		}
	})

	// A second registration of the same authenticator must be refused when the server lists the credential it
	// already holds, as a real authenticator refuses with InvalidStateError.
	t.Run("excludeCredentials", func(t *testing.T) {
		f := newFixture(t)
		cred := f.mustRegister(t, f.auth)

		_, err := f.register(t, f.auth, false, gowebauthn.WithExclusions(gowebauthn.Credentials(f.user.creds).CredentialDescriptors()))
		if !errors.Is(err, softauthn.ErrInvalidState) {
			t.Fatalf("err = %v, want ErrInvalidState", err)
		}

		// Another authenticator does not hold it and may register.
		if _, err = f.register(t, softauthn.New(testOrigin), false, gowebauthn.WithExclusions([]protocol.CredentialDescriptor{cred.Descriptor()})); err != nil {
			t.Fatalf("other authenticator: %s", describe(err))
		}
	})
}

func TestMalformedOptions(t *testing.T) {
	tests := []struct {
		name    string
		options string
	}{
		{name: "not JSON", options: `{"publicKey":`},
		{name: "null", options: `null`},
		{name: "array", options: `[]`},
		{name: "publicKey not an object", options: `{"publicKey":"x"}`},
		{name: "no challenge", options: `{"rp":{"id":"localhost"},"user":{"id":"AQID"}}`},
		{name: "empty challenge", options: `{"rp":{"id":"localhost"},"user":{"id":"AQID"},"challenge":""}`},
		{name: "challenge not base64url", options: `{"rp":{"id":"localhost"},"user":{"id":"AQID"},"challenge":"a+b/"}`},
		{name: "no user id", options: `{"publicKey":{"rp":{"id":"localhost"},"user":{"name":"a"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}}`},
		{name: "user id not base64url", options: `{"rp":{"id":"localhost"},"user":{"id":"alice@example.com"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`},
		{name: "user id too long", options: `{"rp":{"id":"localhost"},"user":{"id":"` + strings.Repeat("A", 88) + `"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`},
		{name: "bad excludeCredentials id", options: `{"rp":{"id":"localhost"},"user":{"id":"AQID"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA","excludeCredentials":[{"type":"public-key","id":"!"}]}`},
		{name: "wrong member type", options: `{"rp":"localhost","user":{"id":"AQID"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`},
	}

	for _, tt := range tests {
		t.Run("Register "+tt.name, func(t *testing.T) {
			out, err := softauthn.New(testOrigin).Register([]byte(tt.options))
			if !errors.Is(err, softauthn.ErrMalformedOptions) || out != nil {
				t.Fatalf("Register = %q, %v; want nil, ErrMalformedOptions", out, err)
			}
		})
	}

	f := newFixture(t)
	f.mustRegister(t, f.auth)

	for _, options := range []string{`{"publicKey":`, `{"rpId":"localhost"}`, `{"challenge":"#"}`, `{"challenge":"AAAA","allowCredentials":[{"id":"!"}]}`} {
		t.Run("Assert "+options, func(t *testing.T) {
			out, err := f.auth.Assert([]byte(options))
			if !errors.Is(err, softauthn.ErrMalformedOptions) || out != nil {
				t.Fatalf("Assert = %q, %v; want nil, ErrMalformedOptions", out, err)
			}
		})
	}
}

func TestDiscoverableLogin(t *testing.T) {
	for _, alg := range []int{softauthn.AlgES256, softauthn.AlgEdDSA} {
		t.Run(fmt.Sprint("alg ", alg), func(t *testing.T) {
			f := newFixture(t)
			f.auth.Alg = alg
			f.auth.BE, f.auth.BS = true, true
			reg := f.mustRegister(t, f.auth)

			for want := uint32(1); want <= 3; want++ {
				cred, err := f.login(t, f.auth)
				if err != nil {
					t.Fatalf("login %d rejected: %s", want, describe(err))
				}

				if !bytes.Equal(cred.ID, reg.ID) {
					t.Fatalf("login used credential %x, want %x", cred.ID, reg.ID)
				}

				if cred.Authenticator.SignCount != want || cred.Authenticator.CloneWarning {
					t.Fatalf("login %d: authenticator = %+v, want sign count %d and no clone warning", want, cred.Authenticator, want)
				}

				if got := f.auth.Counter(reg.ID); got != want {
					t.Fatalf("Counter() = %d, want %d", got, want)
				}

				if !cred.Flags.UserVerified || !cred.Flags.BackupEligible || !cred.Flags.BackupState {
					t.Fatalf("flags = %+v, want UV BE BS", cred.Flags)
				}
			}
		})
	}

	t.Run("ValidateDiscoverableLogin and bare options", func(t *testing.T) {
		f := newFixture(t)
		reg := f.mustRegister(t, f.auth)

		assertion, session, err := f.rp.BeginDiscoverableLogin(gowebauthn.WithUserVerification(protocol.VerificationRequired))
		if err != nil {
			t.Fatal(err)
		}

		options, err := json.Marshal(assertion.Response)
		if err != nil {
			t.Fatal(err)
		}

		response, err := f.auth.Assert(options)
		if err != nil {
			t.Fatal(err)
		}

		parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
		if err != nil {
			t.Fatal(err)
		}

		if !bytes.Equal(parsed.Response.UserHandle, f.user.id) {
			t.Fatalf("userHandle = %x, want %x", parsed.Response.UserHandle, f.user.id)
		}

		cred, err := f.rp.ValidateDiscoverableLogin(f.handler, *session, parsed)
		if err != nil {
			t.Fatalf("rejected: %s", describe(err))
		}

		if !bytes.Equal(cred.ID, reg.ID) || cred.Authenticator.SignCount != 1 {
			t.Fatalf("credential %x count %d, want %x count 1", cred.ID, cred.Authenticator.SignCount, reg.ID)
		}
	})

	t.Run("newest credential wins, allowCredentials selects", func(t *testing.T) {
		f := newFixture(t)
		first := f.mustRegister(t, f.auth)
		second := f.mustRegister(t, f.auth)

		cred, err := f.login(t, f.auth)
		if err != nil {
			t.Fatalf("rejected: %s", describe(err))
		}

		if !bytes.Equal(cred.ID, second.ID) {
			t.Fatalf("discoverable login used %x, want the newest %x", cred.ID, second.ID)
		}

		assertion, session, err := f.rp.BeginLogin(f.user, gowebauthn.WithUserVerification(protocol.VerificationRequired),
			gowebauthn.WithAllowedCredentials([]protocol.CredentialDescriptor{first.Descriptor()}))
		if err != nil {
			t.Fatal(err)
		}

		options, err := json.Marshal(assertion)
		if err != nil {
			t.Fatal(err)
		}

		response, err := f.auth.Assert(options)
		if err != nil {
			t.Fatal(err)
		}

		parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
		if err != nil {
			t.Fatal(err)
		}

		cred, err = f.rp.ValidateLogin(f.user, *session, parsed)
		if err != nil {
			t.Fatalf("rejected: %s", describe(err))
		}

		if !bytes.Equal(cred.ID, first.ID) {
			t.Fatalf("allowCredentials login used %x, want %x", cred.ID, first.ID)
		}
	})
}

func TestAssertNoCredential(t *testing.T) {
	f := newFixture(t)
	options, _ := f.beginLogin(t)

	if _, err := f.auth.Assert(options); !errors.Is(err, softauthn.ErrNotAllowed) {
		t.Fatalf("empty authenticator: err = %v, want ErrNotAllowed", err)
	}

	reg := f.mustRegister(t, f.auth)

	tests := []struct {
		name    string
		options string
		wantErr error
	}{
		{name: "other rpId", options: `{"publicKey":{"challenge":"AAAAAAAAAAAAAAAAAAAAAA","rpId":"example.com"}}`, wantErr: softauthn.ErrNotAllowed},
		{name: "rpId defaults to origin host", options: `{"challenge":"AAAAAAAAAAAAAAAAAAAAAA"}`},
		{name: "unknown allowed credential", options: `{"challenge":"AAAAAAAAAAAAAAAAAAAAAA","rpId":"localhost","allowCredentials":[{"type":"public-key","id":"AQID"}]}`, wantErr: softauthn.ErrNotAllowed},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.auth.Assert([]byte(tt.options))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}

			if err != nil {
				return
			}

			parsed, err := protocol.ParseCredentialRequestResponseBytes(out)
			if err != nil {
				t.Fatal(err)
			}

			if !bytes.Equal(parsed.RawID, reg.ID) {
				t.Fatalf("asserted with %x, want %x", parsed.RawID, reg.ID)
			}
		})
	}
}

// TestRejected drives each knob that simulates an attacker or a broken device through go-webauthn's verification
// and checks that it is rejected, and for the reason the knob is meant to provoke.
func TestRejected(t *testing.T) {
	otherRPHash := sha256.Sum256([]byte("evil.example"))

	tests := []struct {
		name string
		// atRegistration: the knob applies to the registration ceremony; otherwise registration is clean and the
		// knob applies to the login that follows.
		atRegistration bool
		knob           func(a *softauthn.Authenticator)
		reason         string
	}{
		{
			// A stolen or unattended phone without biometrics/PIN must not create a passkey.
			name: "UV missing at registration", atRegistration: true,
			knob: func(a *softauthn.Authenticator) { a.UV = false }, reason: "User verification required",
		},
		{
			name: "UV missing at login",
			knob: func(a *softauthn.Authenticator) { a.UV = false }, reason: "User verification required",
		},
		{
			name: "UP missing at login",
			knob: func(a *softauthn.Authenticator) { a.UP = false }, reason: "User presence required",
		},
		{
			// Phishing: a response collected on another origin.
			name: "wrong origin at registration", atRegistration: true,
			knob: func(a *softauthn.Authenticator) { a.Origin = "https://evil.example" }, reason: "Error validating origin",
		},
		{
			name: "wrong origin at login",
			knob: func(a *softauthn.Authenticator) { a.Origin = "http://localhost:8081" }, reason: "Error validating origin",
		},
		{
			name: "embedded cross-origin iframe",
			knob: func(a *softauthn.Authenticator) { a.TopOrigin = "https://evil.example" }, reason: "cross origin",
		},
		{
			// An assertion made for another relying party replayed here.
			name: "rpIdHash of another RP at registration", atRegistration: true,
			knob: func(a *softauthn.Authenticator) { a.RPIDHash = otherRPHash[:] }, reason: "RP Hash mismatch",
		},
		{
			name: "rpIdHash of another RP at login",
			knob: func(a *softauthn.Authenticator) { a.RPIDHash = otherRPHash[:] }, reason: "RP Hash mismatch",
		},
		{
			name: "BS without BE", atRegistration: true,
			knob: func(a *softauthn.Authenticator) { a.BS = true }, reason: "Backup State Flag is true but Backup Eligible flag is false",
		},
		{
			// A device-bound credential must not turn into a synced one.
			name: "BE changed after registration",
			knob: func(a *softauthn.Authenticator) { a.BE = true }, reason: "Backup Eligible flag inconsistency",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)

			if tt.atRegistration {
				tt.knob(f.auth)

				_, err := f.register(t, f.auth, false)
				wantRejected(t, err, tt.reason)

				return
			}

			f.mustRegister(t, f.auth)
			tt.knob(f.auth)

			_, err := f.login(t, f.auth)
			wantRejected(t, err, tt.reason)
		})
	}
}

// TestFiltering shows go-webauthn's registration policy (Config.Filtering) against the BE and AAGUID knobs, as a
// device-bound-only policy would use it.
func TestFiltering(t *testing.T) {
	testAAGUID := uuid.UUID(softauthn.TestAAGUID)
	otherAAGUID := [16]byte{0xee, 0xee}

	tests := []struct {
		name      string
		filtering gowebauthn.FilteringConfig
		knob      func(a *softauthn.Authenticator)
		reason    string // empty: accepted
	}{
		{
			// A synced passkey can appear on any phone of the platform account, so it cannot bind a device.
			name:      "synced passkey under a device-bound policy",
			filtering: gowebauthn.FilteringConfig{ProhibitBackupEligibility: true},
			knob:      func(a *softauthn.Authenticator) { a.BE = true },
			reason:    "Backup Eligible",
		},
		{
			name:      "device-bound passkey under a device-bound policy",
			filtering: gowebauthn.FilteringConfig{ProhibitBackupEligibility: true},
			knob:      func(*softauthn.Authenticator) {},
		},
		{
			name:      "AAGUID not on the allow list",
			filtering: gowebauthn.FilteringConfig{PermittedAAGUIDs: []uuid.UUID{testAAGUID}},
			knob:      func(a *softauthn.Authenticator) { a.AAGUID = otherAAGUID },
			reason:    "not permitted",
		},
		{
			name:      "AAGUID on the allow list",
			filtering: gowebauthn.FilteringConfig{PermittedAAGUIDs: []uuid.UUID{testAAGUID}},
			knob:      func(*softauthn.Authenticator) {},
		},
		{
			// Documented go-webauthn behaviour: an allow list never excludes the zero AAGUID. A server enforcing an
			// AAGUID list must reject the zero AAGUID itself (or prohibit it with ProhibitedAAGUIDs).
			name:      "zero AAGUID passes an allow list",
			filtering: gowebauthn.FilteringConfig{PermittedAAGUIDs: []uuid.UUID{testAAGUID}},
			knob:      func(a *softauthn.Authenticator) { a.AAGUID = [16]byte{} },
		},
		{
			name:      "zero AAGUID on the deny list",
			filtering: gowebauthn.FilteringConfig{ProhibitedAAGUIDs: []uuid.UUID{uuid.Nil}},
			knob:      func(a *softauthn.Authenticator) { a.AAGUID = [16]byte{} },
			reason:    "prohibited",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureWith(t, &tt.filtering)
			tt.knob(f.auth)

			_, err := f.register(t, f.auth, false)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("rejected: %s", describe(err))
				}

				return
			}

			wantRejected(t, err, tt.reason)
		})
	}
}

func TestTamperRejected(t *testing.T) {
	addSpace := func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"crossOrigin":false`), []byte(`"crossOrigin": false`), 1)
	}

	loginTests := []struct {
		name   string
		field  string
		mutate func([]byte) []byte
		reason string
	}{
		{name: "signature", field: "signature", mutate: softauthn.FlipLastByte, reason: "Error validating the assertion signature"},
		{name: "counter in authenticatorData", field: "authenticatorData", mutate: softauthn.FlipLastByte, reason: "Error validating the assertion signature"},
		{name: "clientDataJSON after signing", field: "clientDataJSON", mutate: addSpace, reason: "Error validating the assertion signature"},
		{name: "userHandle of another user", field: "userHandle", mutate: softauthn.FlipLastByte, reason: "Failed to lookup"},
	}

	for _, tt := range loginTests {
		t.Run("login "+tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.mustRegister(t, f.auth)
			options, session := f.beginLogin(t)

			response, err := f.auth.Assert(options)
			if err != nil {
				t.Fatal(err)
			}

			tampered, err := softauthn.Tamper(response, tt.field, tt.mutate)
			if err != nil {
				t.Fatal(err)
			}

			_, err = f.finishLogin(t, session, tampered)
			wantRejected(t, err, tt.reason)
		})
	}

	// A packed self-attestation signature covers clientDataJSON: changing it after signing breaks the attestation.
	t.Run("registration packed clientDataJSON after signing", func(t *testing.T) {
		f := newFixture(t)
		f.auth.Attestation = softauthn.AttestationPacked

		creation, session, err := f.rp.BeginRegistration(f.user, passkeyRegistration)
		if err != nil {
			t.Fatal(err)
		}

		options, err := json.Marshal(creation)
		if err != nil {
			t.Fatal(err)
		}

		response, err := f.auth.Register(options)
		if err != nil {
			t.Fatal(err)
		}

		tampered, err := softauthn.Tamper(response, "clientDataJSON", addSpace)
		if err != nil {
			t.Fatal(err)
		}

		_, err = f.finishRegistration(t, *session, tampered)
		wantRejected(t, err, "Unable to verify signature")

		// The untampered response is accepted, so the rejection is the tampering's doing.
		if _, err = f.finishRegistration(t, *session, response); err != nil {
			t.Fatalf("untampered response rejected: %s", describe(err))
		}
	})

	t.Run("unknown field", func(t *testing.T) {
		if _, err := softauthn.Tamper([]byte(`{"response":{"signature":"AA"}}`), "sig", softauthn.FlipLastByte); !errors.Is(err, softauthn.ErrNoSuchField) {
			t.Fatalf("err = %v, want ErrNoSuchField", err)
		}

		if _, err := softauthn.Tamper([]byte(`{}`), "signature", softauthn.FlipLastByte); err == nil {
			t.Fatal("no error for a response without a response object")
		}
	})
}

// TestClone shows a synced passkey: a clone on a second phone signs with the same credential and is accepted, and
// the counters the two copies report are what lets the server notice the copy.
func TestClone(t *testing.T) {
	f := newFixture(t)
	reg := f.mustRegister(t, f.auth)
	phone2 := f.auth.Clone()

	if ids := phone2.CredentialIDs(); len(ids) != 1 || !bytes.Equal(ids[0], reg.ID) {
		t.Fatalf("clone holds %x, want [%x]", ids, reg.ID)
	}

	if !phone2.UV || phone2.Origin != testOrigin {
		t.Fatal("clone did not copy the knobs")
	}

	cred, err := f.login(t, phone2)
	if err != nil {
		t.Fatalf("clone login rejected: %s", describe(err))
	}

	if !bytes.Equal(cred.ID, reg.ID) || cred.Authenticator.SignCount != 1 {
		t.Fatalf("clone login: credential %x count %d, want %x count 1", cred.ID, cred.Authenticator.SignCount, reg.ID)
	}

	if f.auth.Counter(reg.ID) != 0 || phone2.Counter(reg.ID) != 1 {
		t.Fatalf("counters original %d clone %d, want 0 and 1", f.auth.Counter(reg.ID), phone2.Counter(reg.ID))
	}

	// The original phone now reports 1 again: go-webauthn flags a possibly cloned authenticator.
	cred, err = f.login(t, f.auth)
	if err != nil {
		t.Fatalf("original login rejected: %s", describe(err))
	}

	if !cred.Authenticator.CloneWarning {
		t.Fatalf("authenticator = %+v, want a clone warning", cred.Authenticator)
	}
}

// TestCounter shows the counter knobs: a frozen or rewound counter is what a cloned device-bound credential looks
// like to the server.
func TestCounter(t *testing.T) {
	tests := []struct {
		name        string
		adjust      func(a *softauthn.Authenticator, id []byte)
		wantCount   uint32
		wantWarning bool
	}{
		{name: "advances", adjust: func(*softauthn.Authenticator, []byte) {}, wantCount: 2},
		{name: "frozen", adjust: func(a *softauthn.Authenticator, _ []byte) { a.FreezeCounter = true }, wantCount: 1, wantWarning: true},
		{name: "set forward", adjust: func(a *softauthn.Authenticator, id []byte) { a.SetCounter(id, 41) }, wantCount: 42},
		{name: "rewound", adjust: func(a *softauthn.Authenticator, id []byte) { a.SetCounter(id, 0) }, wantCount: 1, wantWarning: true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			reg := f.mustRegister(t, f.auth)

			if _, err := f.login(t, f.auth); err != nil {
				t.Fatalf("first login rejected: %s", describe(err))
			}

			tt.adjust(f.auth, reg.ID)

			cred, err := f.login(t, f.auth)
			if err != nil {
				t.Fatalf("second login rejected: %s", describe(err))
			}

			if cred.Authenticator.CloneWarning != tt.wantWarning {
				t.Fatalf("clone warning = %v, want %v", cred.Authenticator.CloneWarning, tt.wantWarning)
			}

			wantStored := tt.wantCount
			if tt.wantWarning {
				wantStored = 1 // go-webauthn keeps the stored counter when it warns
			}

			if cred.Authenticator.SignCount != wantStored {
				t.Fatalf("stored sign count = %d, want %d", cred.Authenticator.SignCount, wantStored)
			}

			if got := f.auth.Counter(reg.ID); got != tt.wantCount {
				t.Fatalf("Counter() = %d, want %d", got, tt.wantCount)
			}
		})
	}
}

func TestConcurrentCeremonies(t *testing.T) {
	f := newFixture(t)
	reg := f.mustRegister(t, f.auth)
	stored := *reg // the stored credential as registered; every login below is checked against it

	const n = 16

	type ceremony struct {
		options []byte
		session gowebauthn.SessionData
	}

	ceremonies := make([]ceremony, n)
	for i := range ceremonies {
		ceremonies[i].options, ceremonies[i].session = f.beginLogin(t)
	}

	counts := make([]uint32, n)
	errs := make([]error, n)

	var wg sync.WaitGroup

	for i := range ceremonies {
		wg.Go(func() {
			response, err := f.auth.Assert(ceremonies[i].options)
			if err != nil {
				errs[i] = err
				return
			}

			parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
			if err != nil {
				errs[i] = err
				return
			}

			user := &testUser{id: f.user.id, creds: []gowebauthn.Credential{stored}}

			cred, err := f.rp.ValidateDiscoverableLogin(func(_, _ []byte) (gowebauthn.User, error) { return user, nil }, ceremonies[i].session, parsed)
			if err != nil {
				errs[i] = err
				return
			}

			counts[i] = cred.Authenticator.SignCount
		})
	}

	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Fatalf("ceremony %d: %s", i, describe(err))
		}
	}

	slices.Sort(counts)

	for i, c := range counts {
		if c != uint32(i+1) {
			t.Fatalf("sign counts %v, want 1..%d each once", counts, n)
		}
	}
}

// FuzzRegister checks that any options either fail with nothing returned or produce a response go-webauthn parses.
func FuzzRegister(f *testing.F) {
	f.Add([]byte(`{"publicKey":{"rp":{"id":"localhost","name":"t"},"user":{"id":"AQID","name":"a","displayName":"A"},"challenge":"AAAAAAAAAAAAAAAAAAAAAA","pubKeyCredParams":[{"type":"public-key","alg":-8}],"extensions":{"credProps":true}}}`))
	f.Add([]byte(`{"rp":{},"user":{"id":"AQID"},"challenge":"AAAA","excludeCredentials":[{"type":"public-key","id":"AQID"}]}`))
	f.Add([]byte(`{"publicKey":null}`))

	f.Fuzz(func(t *testing.T, options []byte) {
		out, err := softauthn.New(testOrigin).Register(options)
		if err != nil {
			if out != nil {
				t.Fatalf("error %v with output %q", err, out)
			}

			return
		}

		if _, err = protocol.ParseCredentialCreationResponseBytes(out); err != nil {
			t.Fatalf("response does not parse: %v\n%s", describe(err), out)
		}
	})
}

// FuzzAssert is FuzzRegister for request options, against an authenticator holding one credential for localhost.
func FuzzAssert(f *testing.F) {
	a := softauthn.New(testOrigin)
	if _, err := a.Register([]byte(`{"rp":{"id":"localhost"},"user":{"id":"AQID"},"challenge":"AAAA"}`)); err != nil {
		f.Fatal(err)
	}

	f.Add([]byte(`{"publicKey":{"challenge":"AAAAAAAAAAAAAAAAAAAAAA","rpId":"localhost","userVerification":"required"}}`))
	f.Add([]byte(`{"challenge":"AAAA","allowCredentials":[{"type":"public-key","id":"AQID"}]}`))

	f.Fuzz(func(t *testing.T, options []byte) {
		out, err := a.Assert(options)
		if err != nil {
			if out != nil {
				t.Fatalf("error %v with output %q", err, out)
			}

			return
		}

		if _, err = protocol.ParseCredentialRequestResponseBytes(out); err != nil {
			t.Fatalf("response does not parse: %v\n%s", describe(err), out)
		}
	})
}

// A saved authenticator loads as the same phone: its passkey logs in, and
// its counter goes on from the saved one (a counter that went back would
// lock the device on a real server).
func TestSaveLoad(t *testing.T) {
	f := newFixture(t)
	reg := f.mustRegister(t, f.auth)
	if _, err := f.login(t, f.auth); err != nil {
		t.Fatalf("login before saving: %s", describe(err))
	}
	data, err := f.auth.Save()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := softauthn.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	if ids := loaded.CredentialIDs(); len(ids) != 1 || !bytes.Equal(ids[0], reg.ID) || loaded.Origin != testOrigin {
		t.Fatalf("loaded holds %x for %q", ids, loaded.Origin)
	}
	cred, err := f.login(t, loaded)
	if err != nil {
		t.Fatalf("login after loading: %s", describe(err))
	}
	if cred.Authenticator.SignCount != 2 {
		t.Errorf("sign count after loading = %d; want 2", cred.Authenticator.SignCount)
	}
	for _, bad := range []string{`{`, `{"origin":""}`, `{"origin":"https://x","credentials":[{"id":"AA==","rp_id":"x","alg":-7,"pkcs8":"AA=="}]}`} {
		if a, err := softauthn.Load([]byte(bad)); err == nil || a != nil {
			t.Errorf("Load(%s) = %v, %v; want an error", bad, a, err)
		}
	}
}
