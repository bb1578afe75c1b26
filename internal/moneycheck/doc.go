// Package moneycheck is a Jepsen-style workload and checker for paycode's
// money path, for fault tests. It drives a real paycode server (bff.New
// served on loopback listeners, [StartPaycode]) only through the terminal HTTP
// API, the way store terminals do, and afterwards compares what the
// terminals were told with what Redis holds.
//
// The workload ([Setup], [Workload.Start], [Workload.Stop]): a few
// customers, each with a large opening top-up and a stock of payment
// codes, and a few terminals that run payments, top-ups and refunds
// concurrently at a bounded rate. Every request is valid (codes are live
// and unused, balances and limits are ample, refunds are within what
// remains), so any decline is a wrong answer caused by a fault. Each
// request has its own Idempotency-Key and is retried with the same key and
// body after 503, 409, 429, other 5xx, timeouts and connection errors,
// until a definitive answer or its deadline. Every attempt is recorded:
// status, problem code, payment or refund id, Retry-After, duration.
// [Workload.Verify] then sends every acknowledged request once more: an
// idempotent replay must answer the same id.
//
// Customers, devices and codes are written with the store's public
// methods (a phone would get its codes from POST /v1/codes, but a code
// issued during a fault is not what is under test here, and codes issued
// before the faults can be checked to be on every replica); terminals are
// registered through the admin API. Nothing depends on how paycode moves
// money: the checker reads the durable keys the store documents (wallet,
// ledger list, settlement stream, payment, refund and code records)
// through [store.Keys].
//
// The checker ([Check]) reports, as a [Report] with a one-line
// [Report.Summary]:
//
//   - lost: a request answered 201 whose payment or refund id Redis does
//     not hold;
//   - doubled: a request whose money moved more than once;
//   - two_ids: a request (one Idempotency-Key) answered with two ids;
//   - unacked_applied: a request whose client was last told 503, timed out
//     or gave up, whose money moved (allowed: the client did not learn the
//     outcome, and a retry would have);
//   - wrong: a request told something false or unhelpful: a decline (every
//     request is valid), a decline although the money moved, a 409 more
//     than [StaleConflictAfter] after the last fault healed, a 5xx other
//     than 503, a 503 without Retry-After;
//
// and the invariants that must hold in every run: no code redeemed twice,
// each balance equal to the sum of its ledger (entry by entry), the ledger
// equal to the settlement stream, refunds within their payments, code
// records consistent with the movements, no movement no request explains.
package moneycheck
