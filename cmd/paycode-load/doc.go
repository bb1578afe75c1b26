// Command paycode-load is a load generator and benchmark for a running
// paycode server. It talks to the server over real HTTP from its own
// process, exactly as phones and store terminals do: WebAuthn ceremonies
// with a software authenticator, a DPoP proof (RFC 9449) signed with a P-256
// device key on every customer call, and RFC 7523 client assertions for the
// terminal.
//
// Usage:
//
//	PAYCODE_ADMIN_TOKEN=... paycode-load [-url http://localhost:8080] [-admin-url http://127.0.0.1:9090]
//	    [-customers 20] [-concurrency 8] [-duration 20s] [-amount 1] [-topup 50000] [-spoof-ip] [-json]
//
// # Setup (not measured)
//
// It signs up -customers new accounts (contact load-<random>@example.com),
// each with its own software passkey and DPoP key. The one-time codes are
// read from the dev outbox (GET /dev/outbox), so the target must run in dev
// mode (PAYCODE_ENV=dev, the default); against a server without the outbox
// the tool says so and exits 2. It registers one terminal with a fresh
// ES256 key through the admin API (POST /v1/terminals with
// PAYCODE_ADMIN_TOKEN), gets its token with a client assertion, and tops
// every customer up through the terminal (-topup, one cash top-up each).
//
// # Measured phases
//
// Three phases of -duration each, with -concurrency workers, one after the
// other:
//
//  1. floor: GET {admin-url}/readyz, which does one Redis write/read/delete
//     round trip on the server: the floor of "a handler doing Redis round
//     trips" over the same network path, measured in the same run.
//  2. issuance: POST /v1/codes for the customers. Expired access tokens are
//     refreshed and an insufficient_user_authentication answer is followed by
//     a passkey step-up (/v1/session/reauth); those round trips are not
//     measured and the retried request is.
//  3. redemption: a worker issues a code for a customer (not measured) and
//     redeems it with POST /v1/terminal/payments and a fresh Idempotency-Key
//     (measured).
//
// A worker holds a customer exclusively while it uses it (customers rotate
// through a shared queue, in random order), so refresh-token rotation and
// the one-live-code-per-device rule never race. With fewer customers than
// workers the effective concurrency is the number of customers.
//
// Each phase reports requests, errors by HTTP status and problem code,
// throughput and the latency percentiles p50/p90/p99/max of its successful
// requests (every duration is kept in memory and sorted at the end), as a
// table or, with -json, as one JSON document.
//
// # Server-side limits
//
// The server's rate limits are meant for people, not for a benchmark:
//
//   - OTP sends are limited to 10 per client IP per hour (and passkey
//     ceremonies to 30 per IP per minute). For more than a handful of
//     customers, run the target with PAYCODE_TRUSTED_PROXIES=127.0.0.1 (the
//     address the tool connects from) and pass -spoof-ip: every customer
//     then sends X-Forwarded-For with its own fake address from
//     198.18.0.0/15 (RFC 2544 benchmarking range). Never configure a
//     production server to trust a load generator.
//   - Codes are limited per account (PAYCODE_CODES_PER_MINUTE, default 20).
//     Issuance and redemption hit that limit within seconds; run the target
//     with, say, PAYCODE_CODES_PER_MINUTE=1000000, else the phases report
//     429 rate_limited errors.
//   - Payments are limited per account and day (PAYCODE_LIMIT_DAY, default
//     100000 minor units) and by the balance (-topup, at most
//     PAYCODE_LIMIT_TOPUP); keep -amount small.
//
// # Exit status
//
// 0 success; 1 setup failed or a phase had more than 1% errors; 2 usage
// (bad flags, no PAYCODE_ADMIN_TOKEN, or a target without /dev/outbox).
package main
