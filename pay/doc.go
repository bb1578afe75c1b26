// Package pay moves money for store terminals: Redeem (a payment by the
// customer's code), Topup (cash paid at the register, credited by code) and
// Refund (part or all of a payment). It owns the order of the checks, the
// code-guessing policy, the limits, the Idempotency-Key hashing and the
// typed store.Movement each call becomes; the money itself moves only
// inside the store's scripts (store/wallet.go). Package bff decodes the
// request, authenticates the terminal, checks the request's form, calls
// pay and renders the Outcome; it counts the metrics from that Outcome.
//
// # Invariants
//
//   - Money moves only inside one atomic Lua script on the account's hash
//     slot (the code and the payment id carry the routing bucket). Every
//     check comes before the first write; the balance, the day counters, the
//     ledger and settlement entries, the payment or refund record, the spent
//     code, the idempotent outcome and the code.redeemed event are written
//     together or not at all. On any error nothing moved.
//   - Exactly once per Idempotency-Key. The key is stored only as a keyed
//     hash, per terminal, in the slot of the money it moved, for 24 hours.
//     The same key with the same body (kind, code, amount, currency and
//     order reference; for a refund the payment id and amount) gets the
//     same Outcome again, declines included, with Replayed set; the same key
//     with another body is ErrIdempotencyMismatch (422). The check and the
//     movement are one script, so there is no lock to outlive a crash, and
//     concurrent requests with one key get one movement and one answer.
//     An outcome not confirmed (reply lost, or short of the replicas
//     PAYCODE_REDIS_WAIT_REPLICAS asks for) is store.ErrUnconfirmed: the
//     terminal retries with the same key and gets the stored outcome if it
//     survived, or the money moves once if it did not. Because the
//     record lives in the money's slot, a key reused for a code of another
//     routing bucket is not recognised as a reuse: it is another movement.
//   - Declines are answers, not errors: Outcome.Decline is a
//     machine-readable store.Decline, the problem code terminals branch on.
//     A refund of no such payment (none, a top-up, or another store's) is
//     store.DeclineNotFound, all alike, so a terminal learns nothing about
//     other stores' payments.
//   - A code is spent once, only within its minute (plus the previous
//     code's grace), and only while the device that drew it is the
//     account's active device: a code of a replaced or revoked device is
//     declined device_revoked, a frozen account's account_frozen. A code
//     issued before the operator's reauth_after (CodeRequest.VoidBefore,
//     from the caller's cached switches, checked in the same script) is
//     declined code_expired.
//   - Codes and Idempotency-Keys never leave pay as they were sent: the
//     store sees keyed hashes, events a short prefix of the code's hash.
//
// # The order of a code movement
//
// Redeem and Topup take these steps, in this order, and stop at the first
// answer:
//
//  0. bff: the terminal's token (verified once, then remembered by its
//     hash until it expires) and status (the terminal record, cached per
//     replica for at most a second and dropped at once on this replica when
//     it suspends or reactivates the terminal), the request's form (400s:
//     Idempotency-Key, amount, currency letters, order reference, a code of
//     24 ASCII digits: a code of another shape is a misread barcode or a
//     wrong field, answered invalid_code_format and not counted). For a
//     top-up bff then reads the operator's switch (cached for a second); an
//     unreadable switch is 503 before anything is counted, and the value is
//     passed to Topup.
//  1. The code is parsed in memory: issuer prefix and Luhn check digit. No
//     Redis is touched for it, and a code that fails never reaches the
//     money path (no script). Its failure is acted on at step 4.
//  2. The throttle: the terminal's guess count (Store.Guesses; bff answers
//     it from the cached terminal record, so it costs no round trip). At
//     Throttle or more the call is ErrThrottled (429), the code is not
//     tried, and the call is counted as a guess. It comes before every
//     answer that depends on the code, so that a throttled terminal learns
//     nothing about any code (all it gets is 429), and before the failed
//     parse is acted on, so that its answer is uniform.
//  3. The currency: a movement in another currency than the wallet
//     currency is declined currency_mismatch before the code is looked at.
//     It is not a guess: no code was tried, and the decline says nothing
//     about the code.
//  4. A code that did not parse (another issuer's prefix, a wrong check
//     digit) is a guess: counted, declined code_unknown, exactly like a code
//     that does not exist, so a guesser cannot tell the two apart. A
//     mistyped code therefore costs the guess round trip, never the money
//     path; cmd/paycode-terminal checks the digit before sending so that a
//     cashier's typo is not counted.
//  5. The movement: one script on the code's slot, which reads the code's
//     account itself and checks in this order: the idempotency record
//     (replay or mismatch), the code (unknown, used, expired), the account
//     (frozen), the device (not the active device: device_revoked), the
//     wallet's currency, then for a payment the limits and the balance, for
//     a top-up the switch and probation (topups_disabled) and the top-up
//     limits; then it writes.
//  6. A code_unknown from the script is a guess (step 4), unless it was a
//     replay: a replayed decline was counted when it was first answered.
//
// A valid code thus costs one round trip once the terminal's record is
// cached (the script; with PAYCODE_REDIS_WAIT_REPLICAS its WAIT rides in
// the same pipeline), and an unknown code one more (the guess).
//
// # Code guessing
//
// A guess is a code_unknown answer to a code movement (a code that does
// not parse, step 4, or names no code of its bucket, step 6) or a code
// movement refused by the throttle. Guesses are counted per terminal, in
// the terminal's own record (store.CountGuess), in a window of GuessWindow
// (10 minutes) that starts with the first guess. The count and the answer
// are one atomic step: the guess that brings the count past
// GuessPolicy.Throttle is answered ErrThrottled rather than code_unknown,
// however many replicas and requests race, and from then on the
// terminal's code movements are ErrThrottled until the window ends. The
// guess that brings the count to GuessPolicy.Suspend suspends the
// terminal in the same step (its token stops working within a second on
// every replica, at once on this one) and is audited once, as
// terminal.suspended (actor system, reason code_guessing, the count): of
// requests racing past the threshold only the one whose step changed the
// terminal's status audits it. Since throttled calls count, a scanner
// that keeps trying one code at a time after the 429 is suspended after
// Suspend calls in the window, as is one firing in parallel; an honest
// scanner that waits out Retry-After is not. At most Throttle codes are
// tried per window, plus what another replica's copy of the record, at
// most a second old, lets through in that second (each of them counted).
// Refunds are not guesses (a payment id has 120 random bits).
//
// # Limits and probation
//
// The limits (Limits, from configuration) are enforced by the script, in
// the same atomic step as the debit: a payment must be within PerPayment
// and, with the day's earlier payments, within PerDay; a top-up within
// PerTopup and TopupsPerDay top-ups. A day is the business day in the
// configured time zone; the day counters restart with it. After a device
// change the account is in probation (its probation_until, read by the
// script from the account): each payment and the day's payments are capped
// by ProbationPerDay and top-ups are declined topups_disabled, as they are
// while the operator's switch is off. Refunds credit the wallet and are
// held to no limit but the payment's unrefunded amount. Allowance shows the
// same limits to the customer's app.
package pay
