// Package tokens holds paycode's token cryptography: the device-key JWKs and
// their thumbprints, DPoP proofs (RFC 9449), the server's signing keys and
// JWKS, JWT access tokens bound to a device key, the Secret type for values
// that must never be logged, and payment codes with their Code 128 and QR
// images.
//
// It is a domain package: it imports neither Fiber nor go-redis, never logs,
// and returns wrapped errors that callers compare with errors.Is. State it
// needs (DPoP jti values) is behind the ReplayCache interface, which the
// Redis layer implements.
//
// # Invariants
//
// Algorithms are pinned. Only ES256 (P-256, raw r||s signatures) and EdDSA
// (Ed25519) are ever signed or verified. "none", HMAC and RSA are refused
// before any key is consulted, so no key can be confused for an HMAC secret,
// and a JWT's alg must also fit the key it is verified with (for DPoP, the
// jwk in the header; for access tokens, the key its kid names).
//
// A device key is a public key. ParsePublicJWK accepts only public P-256 and
// Ed25519 JWKs: private members, other curves, off-curve points, short or
// padded coordinates, non-canonical and small-order Ed25519 points and
// duplicate members are errors. A device is identified by the RFC 7638
// thumbprint of its key (jkt), never by the JWK text.
//
// A DPoP proof is accepted once. DPoPVerifier.Verify checks typ, alg, jwk,
// signature, htm, htu (normalised per RFC 3986 on both sides), iat within
// [now-MaxAge, now+MaxSkew], ath and nonce, and only then claims the proof's
// (jkt, jti) in the ReplayCache for MaxAge+MaxSkew, the whole time the proof
// could pass the iat check. The cache is keyed by jti, not by a hash of the
// proof, so a re-encoded proof or one whose ECDSA signature was changed from
// s to n-s (still a valid signature) is still a replay. Invalid proofs never
// reach the cache, so garbage cannot use up a client's jti. The TTL covers
// that window exactly when replicas' clocks agree; a clock difference d
// between two replicas leaves a replay window of d at the very end of a
// proof's life, so replicas must be NTP-synchronised. Every proof failure
// wraps ErrInvalidDPoP; a cache failure does not, so the caller answers 503
// rather than 401 and nothing is accepted while Redis is down.
//
// An access token is worth nothing without its device key. AccessTokens.Issue
// refuses to sign without sub, sid and cnf.jkt; Verify requires typ (at+jwt
// unless configured), a known kid, exp, iat, iss, aud, sub, sid, cnf.jkt and
// jti, with at most a minute of leeway and an injectable clock. The caller
// must still verify a DPoP proof and compare its JKT with the token's.
// Tokens are signed with KeySet.Active; every key of the set verifies, which
// is how keys rotate (see NewKeySet).
//
// A secret is not data. Secret values cannot be compared with == (Equal is
// constant-time), are printed by fmt and slog only as a keyed fingerprint,
// and refuse JSON and text marshalling. They are stored and named in Redis
// by KeyedHash, an HMAC under a server key with a purpose label.
//
// # Payment codes
//
// A payment code is 24 ASCII digits: a 2-digit issuer prefix, the account's
// 4-digit routing bucket (the Redis hash tag every key of the account
// carries, so a redemption touches one slot), 17 digits drawn uniformly from
// crypto/rand (rand.Int: rejection, no modulo bias; about 56.5 bits) and a
// Luhn check digit over the first 23, which catches every single-digit error
// and every adjacent transposition but 09 <-> 90. NewCode makes one;
// ParseCode checks, in this order, length, ASCII digits only, prefix and
// check digit, all locally and before anything touches Redis, and every
// failure wraps ErrInvalidCode and returns the zero Code. A parsed code says
// nothing about being issued, live or unused: that is the redeem script's
// job, which finds the code by KeyedName (KeyedHash with purpose "code"),
// never by its digits.
//
// A Code is a secret like Secret: incomparable, Equal in constant time,
// printed by fmt and slog only as "PP-BBBB-…-C" (prefix, bucket, check
// digit), refusing JSON and text marshalling. Digits reveals it for the two
// places it must leave the process: the response to the device that asked
// for it, and its barcode images.
//
// Code128PNG and QRPNG render the digits as 1-bit paletted PNGs, a module
// being scale pixels, scale 1 to 16 (else ErrBarcodeScale), so that a client
// cannot ask for a giant image. Code 128 is code set C from end to end
// (Start C, 12 digit pairs, check, stop: 167 modules), verified on every
// render rather than trusted to boombuler's set selection, with 10-module
// quiet zones and a height of max(50 px, 15% of the width). QR is level M,
// numeric mode, version 1 (21x21), with a 4-module quiet zone. Both decode
// back to the digits with zbar (tested) from scale 2 up; at scale 1 a
// decoder needs the image scaled up with nearest-neighbour filtering.
//
// # Store terminals
//
// A terminal (scanner) authenticates with its own key, never a shared
// secret: the operator registers its public key (ParsePublicKeyPEM: P-256 or
// Ed25519 PKIX PEM only), and the terminal signs an RFC 7523 client
// assertion (NewClientAssertion) for each token request.
// ClientAssertionVerifier.Verify pins the algorithm to the registered key's
// type (never to the header), requires iss == sub == the terminal id, aud ==
// the token endpoint's URL, an exp at most MaxLifetime (5 min) ahead, and a
// jti that it claims in the AssertionReplayCache, scoped by the terminal,
// until exp + leeway, only after everything else holds. An unknown or
// suspended terminal (ErrUnknownClient from the key lookup) fails like a bad
// signature, after the same signature work against a dummy key. Every
// assertion failure wraps ErrInvalidAssertion (answer 401 invalid_client);
// a registry or cache failure does not (answer 503).
//
// The token the terminal gets (TerminalTokens) is a short-lived bearer JWT
// naming the terminal (sub) and its store (store_id), signed by the same
// KeySet as customer access tokens but kept apart from them by its typ
// ("terminal+jwt", where customer tokens are "at+jwt"), its audience and
// its claims, any one of which is enough for each verifier to refuse the
// other kind.
//
// All time comes from an injectable clock (the Now fields), so tests never
// sleep.
package tokens
