// Package softauthn is a software WebAuthn authenticator and client for tests. It answers the option JSON a
// Relying Party sends (what go-webauthn's Begin* functions return) with the response JSON a browser sends back
// (what PublicKeyCredential.toJSON() produces), built from real keys and real signatures, so that go-webauthn's
// own verification accepts it; or rejects it, when a test turns one of the knobs that simulates an attacker or a
// misbehaving device.
//
// It is for tests only. The server never imports it: it holds private keys in memory, does none of the checks a
// browser makes before it talks to an authenticator, and signs whatever a test asks it to sign.
//
// # Ceremonies
//
// [Authenticator.Register] takes PublicKeyCredentialCreationOptionsJSON, either wrapped as go-webauthn's
// protocol.CredentialCreation ({"publicKey":{...}}) or bare ({...}), and returns a RegistrationResponseJSON:
//
//	{"id","rawId","type":"public-key","authenticatorAttachment":"platform",
//	 "response":{"clientDataJSON","attestationObject","transports":["internal","hybrid"],
//	             "authenticatorData","publicKey","publicKeyAlgorithm"},
//	 "clientExtensionResults":{}}
//
// [Authenticator.Assert] takes PublicKeyCredentialRequestOptionsJSON, wrapped as protocol.CredentialAssertion or
// bare, and returns an AuthenticationResponseJSON:
//
//	{"id","rawId","type":"public-key","authenticatorAttachment":"platform",
//	 "response":{"clientDataJSON","authenticatorData","signature","userHandle"},
//	 "clientExtensionResults":{}}
//
// Binary members are base64url without padding; "publicKey" is the DER SubjectPublicKeyInfo of the credential key.
// Both forms parse with protocol.ParseCredentialCreationResponseBytes and protocol.ParseCredentialRequestResponseBytes.
//
// Every credential is a discoverable (resident) credential bound to the options' rp.id and holding user.id as its
// user handle, so usernameless logins work. A credential ID is 32 random bytes. Each credential has its own signature
// counter: registration reports 0, and each assertion adds 1 before signing.
//
// Assert picks, among the credentials bound to the request's rpId, the most recently registered one listed in
// allowCredentials, or the most recently registered one when the list is empty. When none fits it returns
// [ErrNotAllowed], as a browser would report NotAllowedError. Register returns [ErrInvalidState] when
// excludeCredentials lists a credential it holds for that rp.id, [ErrNotSupported] when pubKeyCredParams offers no
// algorithm it can make, and [ErrMalformedOptions] for options a browser would refuse to parse. A missing rp.id or
// rpId defaults to the host of [Authenticator.Origin], as a browser defaults it to the origin's effective domain.
//
// Unlike a platform authenticator, registering again for the same rp.id and user handle adds a credential rather
// than replacing the existing one, so a test can hold several.
//
// # Knobs
//
// The exported fields of [Authenticator] shape the next ceremonies. [New] sets AAGUID, UP, UV and Origin;
// everything else starts at its zero value, which means the default below.
//
//   - UP, UV, BE, BS: the user present (0x01), user verified (0x04), backup eligible (0x08) and backup state (0x10)
//     flags of the authenticator data. They are copied as they are, whatever the options ask for: UV=false answers a
//     ceremony that requires user verification (the server must reject it), BE=true makes a synced passkey (what a
//     device-bound-only policy must reject), BE=false with BS=true is the invalid combination the server must reject.
//   - Origin, TopOrigin: the origin in clientDataJSON. No check ties it to the rp.id, so a phishing origin can be
//     simulated. A non-empty TopOrigin adds "topOrigin" and sets "crossOrigin" to true (an embedded iframe).
//   - RPIDHash: when non-nil it replaces SHA-256(rpId) in the authenticator data (a response made for another RP).
//   - Attestation: "none" (the default, an empty statement) or "packed" (self attestation: alg is the credential's
//     algorithm, sig is a real signature by the credential key over authenticatorData || SHA-256(clientDataJSON)).
//   - AAGUID: the AAGUID in the attested credential data, sent as it is with either attestation format. New sets
//     [TestAAGUID]; zero is what a platform that hides its model sends, a known AAGUID tests an allow list.
//   - Alg: the COSE algorithm of new credentials, -7 (ES256, the default) or -8 (EdDSA). When the options do not
//     offer it, the first of -7 and -8 they offer is used. An empty pubKeyCredParams means ES256 and RS256, as in
//     the specification.
//   - FreezeCounter: assertions stop incrementing the counter, so the server sees a counter that does not advance.
//     [Authenticator.SetCounter] sets a credential's counter directly (0 for a synced passkey that keeps no counter,
//     a lower value for a counter that goes backwards).
//
// When the options request the credProps extension the response reports {"credProps":{"rk":true}}; other
// extension inputs are ignored and clientExtensionResults is {}.
//
// [Authenticator.Clone] copies the credentials (the same private keys, with their counters) and the knobs into a
// new authenticator, like a synced passkey appearing on a second phone of the same platform account. From then on
// the two counters advance independently, which is how a test produces a cloned-authenticator warning.
//
// [Tamper] rewrites one binary member of a response (clientDataJSON, authenticatorData, signature,
// attestationObject, userHandle, ...) after it was signed, for attack tests.
//
// # Concurrency
//
// An Authenticator is safe for concurrent ceremonies. The knobs are plain fields: set them before starting
// ceremonies, not while another goroutine runs one.
package softauthn
