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
//	    -redis redis://... [-server-cpus 0] [-customers 20] [-concurrency 8] [-duration 5s] [-rounds 6]
//	    [-paths redemption,issuance,login] [-half-load=true] [-amount 1] [-topup 50000] [-spoof-ip] [-json]
//	paycode-load -serve-floors -redis redis://... [-floor-addr 127.0.0.1:9091]
//	paycode-load -seed N -redis redis://... [-seed-batch 500]
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
// # Floors
//
// Each path is measured next to its floor: what the path would cost if
// paycode did only the work it cannot avoid. The floors are served by a
// bare Fiber app (this program with -serve-floors) against the server's
// Redis (-redis) with the store package's client options; the tool starts
// it as a child process on -floor-addr, under `taskset -c LIST` with
// -server-cpus (give it the CPUs the server is pinned to), and stops it by
// its pid at the end; -floor-url uses one that runs already instead.
//
//   - redemption's floor: a request shaped like a payment (same headers and
//     body) to a handler doing one Redis GET;
//   - issuance's floor: a token and a freshly signed proof (as a phone
//     sends) to a handler doing two ES256 verifications and one SET;
//   - login's floor: start (one SET of a challenge) and finish (GETDEL and
//     one ES256 verification of a signature over it): one verification and
//     two round trips a login.
//
// # Measured phases
//
// For each path in -paths, -rounds A/B rounds: the path for -duration and
// its floor for -duration, with -concurrency workers (closed loop:
// saturation), the path first in odd rounds and the floor first in even
// ones. A round's ratio is the path's requests per second over its
// floor's; the report gives the median and range over the rounds and each
// path's target (redemption 0.5x, issuance 0.5x, login 0.4x).
//
//   - redemption: POST /v1/terminal/payments with a fresh Idempotency-Key,
//     in batches: one code per customer is issued (untimed, ?images=none),
//     then the batch is redeemed (timed); its throughput is redemptions per
//     second of redeeming. Use enough customers that a batch lasts well
//     over the ramp of its last requests (a few hundred).
//   - issuance: POST /v1/codes with the default images (SVG). Expired access
//     tokens are refreshed and an insufficient_user_authentication answer is
//     followed by a passkey step-up (/v1/session/reauth); those round trips
//     are not measured and the retried request is.
//   - login: POST /v1/login/start and /v1/login/finish with the customer's
//     passkey and device key (the two requests are timed, the
//     authenticator's signature between them is not). With -spoof-ip every
//     login comes from a fresh address.
//
// Then, unless -half-load=false, redemptions are sent open loop at half the
// median redemption throughput for -duration (codes issued in untimed
// batches while nothing is in flight), each timed from when it was due, and
// their p50/p90/p99 reported against the 5 ms target.
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
// # Pinning
//
// On a machine shared with other work, pin the server and the load to
// cores of their own, and give the floor server the server's:
//
//	taskset -c 0 paycode                                     # with the environment of the README
//	taskset -c 1 paycode-load -server-cpus 0 -redis redis://127.0.0.1:6379/0 -spoof-ip -customers 1000 -concurrency 16
//
// # Seeding
//
// -seed N creates N accounts directly in -redis, pipelined, with the store
// package's own scripts (store.Seeder), so their records cannot drift from
// what sign-up, issuance and payments write: see store.Seeder for what an
// account holds. It is for measuring redemption against a large keyspace
// (100k and 1M accounts); the seeded accounts cannot log in (no one holds
// their passkeys), the measured customers are signed up as usual.
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
// 0 success (targets missed are reported, not failed); 1 setup failed or a
// phase had more than 1% errors; 2 usage (bad flags, no PAYCODE_ADMIN_TOKEN,
// or a target without /dev/outbox).
package main
