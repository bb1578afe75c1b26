// Package webauthn runs paycode's passkey ceremonies on go-webauthn
// (imported as gowebauthn) and holds the device-binding policy.
//
// Invariants:
//
//   - Every ceremony requires user verification (UV) and, at registration,
//     a resident (discoverable) key. The UV flag of the ceremony's own
//     authenticator data is checked again here, not only by go-webauthn.
//   - Challenges live only in the ChallengeStore (Redis), never in memory or
//     in a client cookie. Each is bound to a purpose, to the DPoP key
//     thumbprint of the request that began the ceremony and, where there is
//     one, to an account and a session. It expires after ChallengeTTL
//     (5 minutes), checked against the injectable clock, and is consumed
//     (taken atomically) before the response is parsed or validated: a
//     challenge is good for exactly one attempt, whatever its outcome.
//   - Every failure is returned as ErrRejected (wrapping the cause, for the
//     log): clients get one uniform message, and go-webauthn's
//     protocol.Error, whose JSON carries debug details, never reaches them.
//   - The whole credential record is kept (id, public key, sign count,
//     flags, AAGUID, transports, attestation). After each assertion the
//     caller writes back the new counter and flags through the store, which
//     compares the counter atomically; a regression on a device-bound (BE=0)
//     credential locks the device. Synced passkeys (BE=1) usually report 0
//     and are bound to the device by the DPoP key instead, so a regression
//     there is audited but does not lock.
//   - Policy: RequireDeviceBound refuses backup-eligible credentials (BE=1)
//     at registration; AllowedAAGUIDs asks for direct attestation and
//     refuses credentials whose AAGUID is not listed or whose attestation is
//     "none" or self attestation. Without an MDS configured the attestation
//     chain is not checked against vendor roots, so the AAGUID list is a
//     policy filter, not a proof of the authenticator model.
//
// The package imports neither Fiber nor go-redis and does not log.
package webauthn
