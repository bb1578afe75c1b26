// Command paycode-terminal is a store terminal (scanner) client for testing a
// store's integration against a paycode server: it makes a terminal key,
// authenticates with it as a POS would, and redeems, refunds and tops up.
//
//	paycode-terminal keygen  -out terminal.pem [-alg ES256|EdDSA] [-force]   (also writes terminal.pub.pem)
//	paycode-terminal token   -url URL -id TERMINAL_ID -key terminal.pem
//	paycode-terminal pay     -url URL -id ID -key KEY -amount 500 [-currency JPY] [-order REF] [-idempotency-key K] (-code DIGITS | -image barcode.png)
//	paycode-terminal refund  -url URL -id ID -key KEY -payment PAYMENT_ID -amount 100 [-idempotency-key K]
//	paycode-terminal topup   -url URL -id ID -key KEY -amount 1000 [-currency JPY] [-idempotency-key K] (-code DIGITS | -image barcode.png)
//	paycode-terminal get     -url URL -id ID -key KEY -payment PAYMENT_ID
//
// -url, -id and -key default to $PAYCODE_TERMINAL_URL, $PAYCODE_TERMINAL_ID
// and $PAYCODE_TERMINAL_KEY.
//
// # Setting up a terminal
//
// keygen writes a new private key (PKCS#8 PEM, mode 0600) and its public
// key next to it (-out lane1.pem writes lane1.pub.pem, mode 0644), and
// prints the public key; it never overwrites either file unless -force.
// Give the public key file to the operator, who registers it with a store
// (paycodectl terminal register -key lane1.pub.pem) and gets a terminal id
// back. The private key stays on the terminal.
//
// # What it sends
//
// Every command but keygen first gets a terminal access token: it signs an
// RFC 7523 client assertion (iss = sub = the terminal id, aud = URL +
// "/v1/terminal/token" or -aud, a 60 s lifetime and a random jti) and POSTs
// grant_type=client_credentials, client_assertion_type and client_assertion
// to /v1/terminal/token. token prints the answer; the others send the token as
// "Authorization: Bearer" to
//
//	pay     POST /v1/terminal/payments              {code, amount, currency, order_ref}
//	refund  POST /v1/terminal/payments/{id}/refunds {amount}
//	topup   POST /v1/terminal/topups                {code, amount, currency}
//	get     GET  /v1/terminal/payments/{id}
//
// pay, refund and topup send an Idempotency-Key: -idempotency-key, or a
// random one that is printed on stderr. To retry a request whose outcome is
// unknown (timeout, exit status 4), run it again with the same key: the
// server answers a repeated key and body with the first result, and never
// moves money twice.
//
// -code takes the 24 digits (spaces and hyphens are ignored) and checks the
// check digit before anything is sent; -image reads them from a Code 128 or
// QR image with zbarimg (package zbar-tools), which must be installed. The
// code is never printed.
//
// # Output and exit status
//
// The server's JSON answer, success or RFC 9457 problem, goes to stdout;
// messages (the idempotency key, a summary of a failure) go to stderr.
//
//	0  success
//	1  refused: a 4xx other than 402 (bad request, bad credentials, unknown
//	   payment, idempotency key reused with another body ...) or a local
//	   error (key file, zbarimg); retrying the same thing will not help
//	2  usage: bad or missing flags
//	3  declined: 402, the reason is the problem's code (code_used,
//	   insufficient_funds, limit_exceeded ...)
//	4  unavailable: network error, timeout, 5xx (503 unavailable: nothing
//	   changed; 503 unconfirmed: it may have happened), 429 or 409; retry
//	   with the same idempotency key
package main
