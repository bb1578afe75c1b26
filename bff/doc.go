// Package bff is paycode's HTTP layer: two Fiber apps (the public API with
// the PWA, and the admin API on its own listener), their middleware, and
// handlers that decode, authenticate, call a domain package and render.
// The flows whose safety is an order of steps do not live here: a new
// device, recovery and contact change are methods of package device,
// redemption, refunds and top-ups of package pay; both take the narrow part
// of the store they use. bff holds no request state in memory; every
// replica is interchangeable (the one exception, a switch cache of at most
// a second, is documented in switches.go).
//
// # A request
//
//	observe           request id (X-Request-Id kept only if plain), W3C trace context and a span
//	                  (trace.go), one access-log line with the request's ids (logids.go), metrics;
//	                  route labels are patterns: a PWA file is "static", a call a middleware
//	                  refused counts under the route it asked for (route.go)
//	securityHeaders   CSP, nosniff, frame deny, COOP, HSTS on https
//	recover           a panic becomes a 500 problem, logged with its stack
//	/v1 group         noStore (Cache-Control: no-store on every API answer), countryGate
//	route middleware  requireSession (DPoP proof + access token + live session on the bound device),
//	                  requireTerminal (terminal bearer token + active terminal), requireAdmin (admin listener)
//	handler           decode → validate → call device/pay/store → render JSON
//	handleError       the one place an error becomes an answer
//
// # Handler conventions
//
//   - A handler is a method on *Server with its dependencies as fields. It
//     returns errors; it never writes an error response itself. handleError
//     (Fiber's ErrorHandler) turns every error into an RFC 9457
//     application/problem+json document with a stable code and the request
//     id: a *Problem as it is, Fiber's own errors by status, a wrapped
//     store.ErrUnavailable as 503 with Retry-After, anything else as a
//     generic 500 whose cause is logged and never sent.
//   - What a person reads comes from package text: problemText(status,
//     code, text.M(id, args...)) renders the detail in the client's
//     language (Accept-Language; English by default, Content-Language says
//     which); a problem built with newProblem has an English detail and,
//     for other languages, the generic text of its code. Clients branch on
//     the code, never on the detail. 4xx are logged at info with their
//     code, 5xx at error with their cause; neither ever carries a secret.
//   - Bodies are decoded with decodeJSON (an empty body is {}; 415 for
//     another content type; 400 that never echoes the input) or
//     decodeExactJSON where an unknown member could be mistaken for having
//     had an effect (every enrollment and contact call).
//   - The apps are Immutable: every string read from the request is a copy,
//     so nothing a handler keeps (a metric label, an SSE stream's
//     Last-Event-ID) can change when Fiber reuses its buffers.
//   - Every state change that a person or an operator may ask about later
//     is audited (audit/auditAs) after it happened, and the account's
//     clients hear of it through publish (SSE). Both are after the fact: a
//     failure to record is logged at error, not answered as a failure of
//     the change that already happened.
//   - Rate limits are counted in Redis (limit), so they hold across
//     replicas; a refused call is 429 with Retry-After.
//   - Tokens leave only in no-store answers: the PWA's refresh token only
//     in a __Host- HttpOnly cookie, a native app's in the body.
//
// # Terminal pairing and sales lists (issue 14, and issue 15's support calls)
//
// The scanner page (web/) and the backend meet on issue 14's contract,
// implemented with its shape and these refinements (api/openapi.yaml has
// them all):
//
//   - POST /v1/terminal-pairings (admin) answers {pairing_code
//     "XXXX-XXXX-XXXX", expires_at, store_id, label}; POST
//     /v1/terminal/pairings (public, no auth) takes exactly
//     {pairing_code, public_key_pem} and answers 201 {terminal_id,
//     store_id, label, store_name, store_names}. pairing.go says how a code
//     is made, kept (only as a keyed hash), spent (once, atomically with
//     the registration) and limited.
//   - store_name is the store's display name in the request's language
//     (Accept-Language, en or ja), or the store id when the operator named
//     it not; store_names is {en, ja} or null. The terminal token's answer
//     carries them too, with terminal_id, store_id and label, so a page
//     that reloads shows "Paired with <store>" without another call.
//   - GET /v1/terminal/payments answers {payments: [{id, kind (payment or
//     topup), amount, refunded_amount, currency, order_ref, status
//     (approved, partially_refunded, refunded), created_at}], next_cursor
//     (null on the last page)}, newest first, today in PAYCODE_TIMEZONE.
//   - Both lists (and the operator's GET /v1/stores/{store_id}/payments)
//     read the store's sales log (store/sales.go), which has every
//     movement answered 201.
//   - An operator's refund (POST /v1/payments/{id}/refunds, admin) is the
//     terminals' refund at the payment's store, under the terminal id
//     "operator" (its Idempotency-Key scope and the refund's "terminal"),
//     audited as payment.refunded_by_operator with the operator and the
//     reason; a replay is not audited again.
package bff
