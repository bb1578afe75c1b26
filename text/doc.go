// Package text holds every sentence paycode says to a person: problem
// details, notification texts (OTPs, security notices) and, through the
// same ids, the PWA's translations. It is data, not code: one catalogue of
// messages, each with a stable ID, an English and a Japanese template and a
// note for translators.
//
// # Invariants
//
//   - Every problem code the API can answer is a message ID (the problem's
//     generic text); more precise occurrences use their own IDs. Clients
//     branch on the problem code and may translate by it; the server's
//     detail is a fallback for them, never a contract.
//   - A problem code's generic text has no placeholders: clients show it as
//     it is (bff's text_test.go checks every code the API answers).
//   - Every message has both languages and the same placeholders in each
//     (text_test.go checks it). A template names its arguments as
//     {name}; {name!q} inserts the value Go-quoted (the English texts quote
//     what a client chose, such as a device label, so it cannot pass for our
//     own words).
//   - No secret is ever an argument of a problem's message. Notification
//     messages carry OTPs and cancel codes by design: they go to the
//     account's verified address only, never into a log.
//   - English is the default: a request without Accept-Language, or with
//     only languages we do not have, is answered in English.
//
// # Names
//
// A problem code ("otp_invalid") names the code's generic text. A more
// precise occurrence of one code is "<code>.<what>"
// ("otp_invalid.signup_expired", "malformed_request.member_required"); a
// text that several codes share, or that is no problem at all (a
// notification), is "<area>.<what>" ("session.reauth_forced",
// "signup.otp_message"). Each ID that Go code says has a Go constant in the
// file of its area; the PWA's own texts ("pwa.<screen>.<what>",
// message_pwa.go) are said only by web/static, whose test checks them.
//
// Messages are registered by the message_*.go files, one per area, each in
// an init function; a duplicate ID panics at start-up (and in every test).
package text
