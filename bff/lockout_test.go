package bff

import (
	"fmt"
	"net/http"
	"testing"
)

// fromIP sends a DPoP-proven call without a session from the given client
// address (the test server trusts the in-memory peer as its proxy).
func fromIP(d *device, ip, method, path string, body any) response {
	return d.doWith(method, path, body, func(req *http.Request) {
		req.Header.Set("DPoP", d.key.Proof(method, d.e.s.requestURL0(path), "", "", d.e.clock.Now()))
		req.Header.Set("X-Forwarded-For", ip)
	})
}

// Attack (issue 13 item 4): someone who knows only the owner's e-mail
// address makes recovery attempts that fail, to spend the account's
// recovery budget; the owner's right OTP and recovery code then got 429
// for 24 hours, repeatable daily. Attempts now count per enrollment (only
// the enrollment's own key can spend its budget) and per source, so the
// owner, on their own enrollment with the OTP that reached their address,
// recovers.
func TestOwnerRecoversAfterStrangersFailures(t *testing.T) {
	e := newEnv(t, map[string]string{"PAYCODE_TRUSTED_PROXIES": "0.0.0.0"})
	const contact = "lockout@example.com"
	owner := e.newDevice()
	codes := enrCodes(owner.signup(contact))

	// The stranger: two enrollments by the address (from two addresses),
	// and wrong attempts until refused: at least the old per-account budget of 10.
	failures := 0
	for i, ip := range []string{"203.0.113.10", "203.0.113.11"} {
		stranger := e.newDevice()
		r := fromIP(stranger, ip, "POST", "/v1/enrollments", map[string]any{"contact": contact, "device_label": "stranger"})
		mustStatus(t, fmt.Sprintf("stranger's enrollment %d", i+1), r, 202)
		id := r.str("enrollment_id")
		for range 6 {
			r := fromIP(stranger, ip, "POST", "/v1/enrollments/"+id+"/recover", map[string]any{"otp": "000000", "recovery_code": "aaaaa-bbbbb"})
			if r.status == 429 {
				break
			}
			if r.status != 400 && r.status != 403 && r.status != 409 && r.status != 422 {
				t.Fatalf("stranger's attempt: %d %v", r.status, r.body)
			}
			failures++
		}
	}
	if failures < 10 {
		t.Fatalf("the stranger made %d failed attempts; the test needs 10 (the old per-account budget)", failures)
	}

	// The owner, from their own address, on their own enrollment.
	nu := e.newDevice()
	r := fromIP(nu, "198.51.100.20", "POST", "/v1/enrollments", map[string]any{"contact": contact, "device_label": "my new phone"})
	mustStatus(t, "owner's enrollment", r, 202)
	id := r.str("enrollment_id")
	otp := enrOTP(t, e, contact)
	r = fromIP(nu, "198.51.100.20", "POST", "/v1/enrollments/"+id+"/recover", map[string]any{"otp": otp, "recovery_code": codes[0]})
	mustStatus(t, "the owner's recovery after a stranger's failures", r, 202)
}
