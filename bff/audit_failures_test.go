package bff

import (
	"encoding/json"
	"testing"
)

// A failed approval and a failed re-authentication left no audit entry
// (issue 13 item 6): someone holding an unlocked session could try to let
// a device in, or step up, without a trace. Both are audited now, with the
// problem code as the reason.
func TestFailedApprovalAndReauthAudited(t *testing.T) {
	e := newEnv(t, nil)
	owner := e.newDevice()
	owner.signup("audit-fail@example.com")
	other := e.newDevice()
	other.auth = owner.auth.Clone()
	id := enrLoginNewDevice(t, other)

	aid, opts := enrApproveStart(t, owner, id)
	noUV := owner.auth.Clone()
	noUV.UV = false
	cred, _ := noUV.Assert(opts)
	r := owner.do("POST", "/v1/enrollments/"+id+"/approve", map[string]any{"approval_id": aid, "credential": json.RawMessage(cred)}, true)
	mustStatus(t, "approval without user verification", r, 401)
	ev := enrAudited(t, e, "enrollment.approval_failed", owner.account)
	if ev.Fields["enrollment"] != id || ev.Fields["reason"] == "" {
		t.Errorf("approval_failed entry = %+v; want the enrollment and a reason", ev)
	}

	r = owner.do("POST", "/v1/session/reauth/start", map[string]any{}, true)
	mustStatus(t, "reauth/start", r, 200)
	ropts, _ := json.Marshal(r.body["options"])
	cred, _ = noUV.Assert(ropts)
	r = owner.do("POST", "/v1/session/reauth/finish", map[string]any{"reauth_id": r.str("reauth_id"), "credential": json.RawMessage(cred)}, true)
	if r.status < 400 || r.status >= 500 {
		t.Fatalf("reauth without user verification: %d", r.status)
	}
	ev = enrAudited(t, e, "session.reauth_failed", owner.account)
	if ev.Fields["reason"] == "" || ev.Fields["session"] == "" {
		t.Errorf("reauth_failed entry = %+v; want the session and a reason", ev)
	}
}
