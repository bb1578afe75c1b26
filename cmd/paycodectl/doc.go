// Command paycodectl is the operator CLI over the paycode admin API (the
// admin listener, PAYCODE_ADMIN_ADDR): it registers, inspects, suspends and
// reactivates store terminals, names stores (ja and en, as shoppers see
// them), freezes and unfreezes accounts, lists an
// account's device enrollments and approves one after an identity check in
// a store, reads and sets the kill switches, and reads the audit trail.
//
//	paycodectl status
//	paycodectl terminal register -store STORE -label LABEL -key public.pem
//	paycodectl terminal get ID
//	paycodectl terminal suspend ID | terminal activate ID
//	paycodectl store name STORE_ID -en NAME -ja NAME
//	paycodectl store get STORE_ID
//	paycodectl account freeze ID | account unfreeze ID
//	paycodectl enrollment list ACCOUNT_ID
//	paycodectl enrollment approve ENROLLMENT_ID -account ACCOUNT_ID
//	paycodectl switch list
//	paycodectl switch set NAME VALUE
//	paycodectl audit [-account ID] [-limit N]
//
// Global flags may come before or after the command: -admin-url (default
// $PAYCODE_ADMIN_URL, else http://127.0.0.1:9090), -operator (default
// $PAYCODE_OPERATOR), -reason, -token-file (default
// $PAYCODE_ADMIN_TOKEN_FILE), -json and -timeout.
//
// # Invariants
//
//   - The admin token comes from $PAYCODE_ADMIN_TOKEN or the file named by
//     -token-file, never from the command line (where ps and the shell
//     history would keep it): -token is refused without echoing its value.
//     The token is sent only as "Authorization: Bearer" to -admin-url, is
//     never printed (it shows as a SHA-256 fingerprint when it has to be
//     named), and redirects are not followed, so it cannot be sent
//     elsewhere. Plain http to a host other than this machine draws a
//     warning on stderr.
//   - Every state change (terminal register, suspend and activate, store name, account
//     freeze and unfreeze, enrollment approve, switch set) sends the
//     operator's name and a reason, which the server writes to the audit
//     trail as actor "operator:<name>". Without both, or with a malformed
//     argument, nothing is sent and the exit status is 2. The operator name
//     is 1 to 64 printable characters without spaces or colons; the reason
//     1 to 500 printable characters.
//   - terminal register sends only a PEM PUBLIC KEY (EC P-256 or Ed25519),
//     checked before sending; a private key file is refused.
//   - Human output quotes every value that carries a control, format or
//     other non-printable character, so a label or reason chosen by an
//     attacker cannot inject terminal escape sequences or forge lines.
//
// # Output and exit status
//
// By default a command prints a short summary: "key: value" lines or a
// table, and for audit one line per event (time, type, actor, account,
// then the fields as key=value). -json prints the server's JSON instead;
// on a refusal it prints the problem document on stdout. Messages go to
// stderr.
//
//	0  success
//	1  refused: the server answered 4xx (other than 429) or redirected; the
//	   problem's code and detail are printed; or the answer was not the
//	   JSON expected
//	2  usage: unknown command, bad or missing flags or arguments, no
//	   operator or reason for a change, no admin token, an unreadable or
//	   invalid -key or -token-file; nothing was sent
//	4  unavailable: no answer (connection refused, timeout), 5xx or 429;
//	   the change may or may not have been made: check with a get, list or
//	   audit before retrying
package main
