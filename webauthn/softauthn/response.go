package softauthn

// The JSON forms a browser returns from PublicKeyCredential.toJSON() (WebAuthn Level 3 §5.1). Binary members
// are base64url strings without padding.

type collectedClientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
	TopOrigin   string `json:"topOrigin,omitempty"`
}

// registrationResponse is RegistrationResponseJSON.
type registrationResponse struct {
	ID                      string                 `json:"id"`
	RawID                   string                 `json:"rawId"`
	Type                    string                 `json:"type"`
	AuthenticatorAttachment string                 `json:"authenticatorAttachment"`
	Response                attestationResponse    `json:"response"`
	ClientExtensionResults  clientExtensionResults `json:"clientExtensionResults"`
}

// attestationResponse is AuthenticatorAttestationResponseJSON.
type attestationResponse struct {
	ClientDataJSON     string   `json:"clientDataJSON"`
	AttestationObject  string   `json:"attestationObject"`
	Transports         []string `json:"transports"`
	AuthenticatorData  string   `json:"authenticatorData"`
	PublicKey          string   `json:"publicKey"`
	PublicKeyAlgorithm int      `json:"publicKeyAlgorithm"`
}

// authenticationResponse is AuthenticationResponseJSON.
type authenticationResponse struct {
	ID                      string                 `json:"id"`
	RawID                   string                 `json:"rawId"`
	Type                    string                 `json:"type"`
	AuthenticatorAttachment string                 `json:"authenticatorAttachment"`
	Response                assertionResponse      `json:"response"`
	ClientExtensionResults  clientExtensionResults `json:"clientExtensionResults"`
}

// assertionResponse is AuthenticatorAssertionResponseJSON.
type assertionResponse struct {
	ClientDataJSON    string `json:"clientDataJSON"`
	AuthenticatorData string `json:"authenticatorData"`
	Signature         string `json:"signature"`
	UserHandle        string `json:"userHandle"`
}

// clientExtensionResults is AuthenticationExtensionsClientOutputsJSON; empty, it encodes as {}.
type clientExtensionResults struct {
	CredProps *credPropsOutput `json:"credProps,omitempty"`
}

type credPropsOutput struct {
	RK *bool `json:"rk,omitempty"`
}
