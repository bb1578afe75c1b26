package bff

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store"
)

// enrOutbox returns the dev outbox, newest first.
func enrOutbox(t *testing.T, e *env) []notify.Message {
	t.Helper()
	msgs, err := e.st.Outbox(t.Context(), 500)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

var enrOTPText = regexp.MustCompile(`code is ([0-9]{6})`)

// enrOTP is the newest OTP sent to contact ("" when none).
func enrOTP(t *testing.T, e *env, contact string) string {
	t.Helper()
	for _, m := range enrOutbox(t, e) {
		if m.To == contact {
			if g := enrOTPText.FindStringSubmatch(m.Text); g != nil {
				return g[1]
			}
		}
	}
	return ""
}

// enrCancelToken is the cancel token of the newest recovery warning sent
// to contact.
func enrCancelToken(t *testing.T, e *env, contact string) string {
	t.Helper()
	for _, m := range enrOutbox(t, e) {
		if m.To == contact && m.Data["cancel_token"] != "" {
			return m.Data["cancel_token"]
		}
	}
	t.Fatalf("no recovery warning with a cancel token went to %s", contact)
	return ""
}

func enrCodes(r response) []string {
	var out []string
	for _, c := range r.body["recovery_codes"].([]any) {
		out = append(out, c.(string))
	}
	return out
}

// enrState reads the stored enrollment's state as the API shows it.
func enrState(t *testing.T, e *env, id string) string {
	t.Helper()
	en, err := e.st.Enrollment(t.Context(), id)
	if err != nil {
		t.Fatalf("reading enrollment %s: %v", id, err)
	}
	return en.StateAt(e.clock.Now())
}

// enrLoginNewDevice logs in with a passkey the account already has but a
// new device key, and returns the enrollment id of the 403 new_device.
func enrLoginNewDevice(t *testing.T, d *device) string {
	t.Helper()
	id, opts := d.loginStart()
	cred, err := d.auth.Assert(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := d.doToken("POST", "/v1/login/finish", map[string]any{"login_id": id, "credential": json.RawMessage(cred), "device_label": "new phone"}, "", true)
	mustStatus(t, "login from a new device", r, 403)
	if r.str("code") != codeNewDevice || r.str("access_token") != "" || r.str("enrollment_id") == "" {
		t.Fatalf("new_device answer = %s", r.raw)
	}
	return r.str("enrollment_id")
}

// enrApproveStart begins an approval on the bound device d.
func enrApproveStart(t *testing.T, d *device, enrollmentID string) (string, []byte) {
	t.Helper()
	r := d.do("POST", "/v1/enrollments/"+enrollmentID+"/approve/start", map[string]any{}, true)
	mustStatus(t, "approve/start", r, 200)
	opts, _ := json.Marshal(r.body["options"])
	return r.str("approval_id"), opts
}

// enrApprove approves on the bound device d with a fresh assertion.
func enrApprove(t *testing.T, d *device, enrollmentID string) response {
	t.Helper()
	id, opts := enrApproveStart(t, d, enrollmentID)
	cred, err := d.auth.Assert(opts)
	if err != nil {
		t.Fatal(err)
	}
	return d.do("POST", "/v1/enrollments/"+enrollmentID+"/approve", map[string]any{"approval_id": id, "credential": json.RawMessage(cred)}, true)
}

// enrFinish registers the new device's passkey and keeps its tokens.
func enrFinish(t *testing.T, d *device, enrollmentID string) response {
	t.Helper()
	r := d.doToken("POST", "/v1/enrollments/"+enrollmentID+"/finish/start", map[string]any{}, "", true)
	if r.status != 200 {
		return r
	}
	opts, _ := json.Marshal(r.body["options"])
	cred, err := d.auth.Register(opts)
	if err != nil {
		t.Fatal(err)
	}
	r = d.doToken("POST", "/v1/enrollments/"+enrollmentID+"/finish", map[string]any{"finish_id": r.str("finish_id"), "credential": json.RawMessage(cred)}, "", true)
	if r.status == 201 {
		d.take(r)
	}
	return r
}

// enrAdmin sends an operator call to the admin listener.
func enrAdmin(t *testing.T, e *env, method, path string, body any) response {
	t.Helper()
	var rd *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := e.s.admin.Test(req, 30_000)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header}
	dec := json.NewDecoder(resp.Body)
	_ = dec.Decode(&r.body)
	raw, _ := json.Marshal(r.body)
	r.raw = raw
	return r
}

// enrPending returns the pending enrollments /v1/me shows to d.
func enrPending(t *testing.T, d *device) []map[string]any {
	t.Helper()
	r := d.do("GET", "/v1/me", nil, true)
	mustStatus(t, "me", r, 200)
	var out []map[string]any
	for _, x := range r.body["pending_enrollments"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

func enrHasEvent(t *testing.T, e *env, accountID, typ string) map[string]any {
	t.Helper()
	events, err := e.st.EventsSince(t.Context(), accountID, "0-0")
	if err != nil {
		t.Fatal(err)
	}
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Type == typ {
			return events[i].Data
		}
	}
	t.Fatalf("no %s event for %s", typ, accountID)
	return nil
}

func enrAudited(t *testing.T, e *env, typ, accountID string) store.AuditEvent {
	t.Helper()
	events, err := e.st.AuditEvents(t.Context(), 500)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Type == typ && events[i].AccountID == accountID {
			return events[i]
		}
	}
	t.Fatalf("no %s audit event for %s", typ, accountID)
	return store.AuditEvent{}
}

// enrSyncedOwner signs up an owner whose passkey is synced (BE=1), and a
// second phone that holds the same passkey but its own device key.
func enrSyncedOwner(t *testing.T, e *env, contact string) (owner, phone *device) {
	t.Helper()
	owner = e.newDevice()
	owner.auth.BE, owner.auth.BS = true, true
	owner.signup(contact)
	phone = e.newDevice()
	phone.auth = owner.auth.Clone()
	return owner, phone
}

// Attack: "last login wins". A second phone with the account's (synced)
// passkey gets 403 new_device, an enrollment waiting for approval, and
// nothing else: no session, no token, no code, and no way to finish.
func TestEnrollNewDeviceWithoutApprovalGetsNothing(t *testing.T) {
	e := newEnv(t, nil)
	owner, phone := enrSyncedOwner(t, e, "nosession@example.com")
	before := e.sessions(owner.account)

	id := enrLoginNewDevice(t, phone)
	if n := e.sessions(owner.account); n != before {
		t.Fatalf("sessions = %d; want %d (none for the new device)", n, before)
	}
	if got := enrLoginNewDevice(t, phone); got != id {
		t.Errorf("logging in again made a second enrollment %s (first %s)", got, id)
	}
	// The new device holds no token, so every session call is refused.
	mustStatus(t, "me", phone.do("GET", "/v1/me", nil, true), 401)
	mustStatus(t, "code", phone.do("POST", "/v1/codes", map[string]any{}, true), 401)
	// It cannot approve itself: approval needs the bound device's session.
	mustStatus(t, "self approval", phone.do("POST", "/v1/enrollments/"+id+"/approve/start", map[string]any{}, true), 401)
	// Nor finish before approval.
	r := enrFinish(t, phone, id)
	mustStatus(t, "finish before approval", r, 409)
	if r.str("code") != codeEnrollmentState || r.str("state") != store.EnrollmentPendingApproval {
		t.Errorf("finish before approval = %s", r.raw)
	}
	// The status call shows where it stands.
	st := phone.do("GET", "/v1/enrollments/"+id, nil, true)
	mustStatus(t, "status", st, 200)
	if st.str("state") != store.EnrollmentPendingApproval || st.str("label") != "new phone" {
		t.Errorf("status = %s", st.raw)
	}
	// The owner sees it (label, coarse network, time) and got the event.
	pending := enrPending(t, owner)
	if len(pending) != 1 || pending[0]["id"] != id || pending[0]["label"] != "new phone" || pending[0]["ip"] == nil || pending[0]["created_at"] == nil {
		t.Fatalf("pending_enrollments = %v", pending)
	}
	if data := enrHasEvent(t, e, owner.account, "enrollment.pending"); data["id"] != id || data["label"] != "new phone" {
		t.Errorf("enrollment.pending data = %v", data)
	}
	list := owner.do("GET", "/v1/enrollments", nil, true)
	mustStatus(t, "list", list, 200)
	if items, _ := list.body["enrollments"].([]any); len(items) != 1 {
		t.Errorf("GET /v1/enrollments = %s", list.raw)
	}
	// The owner is not displaced.
	mustStatus(t, "owner", owner.do("GET", "/v1/me", nil, true), 200)
	mustStatus(t, "owner's code", owner.do("POST", "/v1/codes", map[string]any{}, true), 201)
}

// The whole approval path: the bound device approves with a fresh
// user-verified assertion, the new device registers its passkey and
// becomes the one device; the old device is revoked everywhere at once.
func TestEnrollApprovalReplacesDevice(t *testing.T) {
	e := newEnv(t, nil)
	owner, phone := enrSyncedOwner(t, e, "approve@example.com")
	mustStatus(t, "owner's code", owner.do("POST", "/v1/codes", map[string]any{}, true), 201)
	oldDevice := r0DeviceID(t, e, owner)
	id := enrLoginNewDevice(t, phone)

	r := enrApprove(t, owner, id)
	mustStatus(t, "approve", r, 200)
	if r.str("state") != store.EnrollmentApproved || r.str("approved_by") != "device" {
		t.Fatalf("approve = %s", r.raw)
	}
	enrAudited(t, e, "enrollment.approved", owner.account)

	r = enrFinish(t, phone, id)
	mustStatus(t, "finish", r, 201)
	if phone.access == "" || phone.refresh == "" || r.str("device_id") == oldDevice {
		t.Fatalf("finish tokens = %s", r.raw)
	}
	enrOldDeviceRevoked(t, e, owner, phone, oldDevice)
	if enrState(t, e, id) != store.EnrollmentActive {
		t.Errorf("state = %q; want active", enrState(t, e, id))
	}
	// The new device logs in with its new passkey; the old passkey (the
	// synced one the old phone still holds) is gone from the account.
	mustStatus(t, "new device login", phone.login(), 200)
	r = owner.login()
	mustStatus(t, "old device login", r, 401)
}

// enrOldDeviceRevoked checks what must hold right after a new device
// became active.
func enrOldDeviceRevoked(t *testing.T, e *env, old, nu *device, oldDevice string) {
	t.Helper()
	acct, err := e.st.Account(t.Context(), nu.account)
	if err != nil {
		t.Fatal(err)
	}
	if acct.DeviceID == oldDevice || acct.DeviceJKT != nu.key.JKT() {
		t.Fatalf("account device = %s %s; want the new device", acct.DeviceID, acct.DeviceJKT)
	}
	// The old device's access token, refresh token and code issuance fail
	// at once, though the token has not expired.
	mustStatus(t, "old access token", old.do("GET", "/v1/me", nil, true), 401)
	mustStatus(t, "old refresh token", old.do("POST", "/v1/session/refresh", map[string]string{"refresh_token": old.refresh}, true), 401)
	mustStatus(t, "old device's code", old.do("POST", "/v1/codes", map[string]any{}, true), 401)
	if n := e.sessions(nu.account); n != 1 {
		t.Errorf("sessions = %d; want 1 (the new device's)", n)
	}
	// The old session itself is deleted, not only unindexed.
	if _, sid, ok := parseRefresh(old.refresh); ok {
		b, _ := store.BucketOf(nu.account)
		if n, err := e.st.Client().Exists(t.Context(), e.st.Keys().Session(b, sid)).Result(); err != nil || n != 0 {
			t.Errorf("the old session %s still exists (%d, %v)", sid, n, err)
		}
	} else {
		t.Fatalf("the old device holds no refresh token")
	}
	// The old device's live code (if it drew one) names a device that is no
	// longer the account's: redemption compares the two and declines.
	if name, err := e.st.LiveCodeName(t.Context(), nu.account); err == nil {
		b, _ := store.BucketOf(nu.account)
		if rec, err := e.st.Code(t.Context(), b, name); err == nil && rec.DeviceID == acct.DeviceID {
			t.Errorf("the live code belongs to the new device already: %+v", rec)
		}
	}
	// The new device works, and the account is on probation.
	me := nu.do("GET", "/v1/me", nil, true)
	mustStatus(t, "new device me", me, 200)
	account, _ := me.body["account"].(map[string]any)
	until, err := time.Parse(time.RFC3339Nano, account["probation_until"].(string))
	if err != nil || !until.Equal(e.clock.Now().Add(e.s.cfg.Probation).UTC().Truncate(time.Millisecond)) {
		t.Errorf("probation_until = %v, %v; want now + %v", account["probation_until"], err, e.s.cfg.Probation)
	}
	if dev, _ := me.body["device"].(map[string]any); dev["label"] != "new phone" && dev["label"] != "recovered phone" {
		t.Errorf("device = %v", dev)
	}
	if data := enrHasEvent(t, e, nu.account, "device.revoked"); data["device_id"] != oldDevice {
		t.Errorf("device.revoked data = %v", data)
	}
	enrAudited(t, e, "device.revoked", nu.account)
	enrAudited(t, e, "enrollment.activated", nu.account)
}

// Attack: approval without a fresh user-verified assertion made for this
// approval. A session is not enough, no body member can pick a weaker
// method, and assertions made for something else do not count.
func TestEnrollApprovalNeedsFreshUV(t *testing.T) {
	e := newEnv(t, nil)
	owner, phone := enrSyncedOwner(t, e, "freshuv@example.com")
	id := enrLoginNewDevice(t, phone)
	approve := func(body any) response {
		return owner.do("POST", "/v1/enrollments/"+id+"/approve", body, true)
	}

	t.Run("uv=0", func(t *testing.T) {
		aid, opts := enrApproveStart(t, owner, id)
		auth := owner.auth.Clone()
		auth.UV = false // possession of an unlocked phone, no biometric/PIN
		cred, err := auth.Assert(opts)
		if err != nil {
			t.Fatal(err)
		}
		r := approve(map[string]any{"approval_id": aid, "credential": json.RawMessage(cred)})
		mustStatus(t, "uv=0", r, 401)
		if r.str("code") != codePasskey {
			t.Errorf("code = %q", r.str("code"))
		}
	})
	t.Run("body claims another method", func(t *testing.T) {
		mustStatus(t, "method only", approve(map[string]any{"method": "session"}), 400)
		aid, opts := enrApproveStart(t, owner, id)
		cred, err := owner.auth.Assert(opts)
		if err != nil {
			t.Fatal(err)
		}
		r := approve(map[string]any{"approval_id": aid, "credential": json.RawMessage(cred), "method": "session"})
		mustStatus(t, "method with an assertion", r, 400)
		r = approve(map[string]any{"approval_id": aid, "method": "session", "uv": true})
		mustStatus(t, "method without a credential", r, 400)
	})
	t.Run("a login assertion", func(t *testing.T) {
		lid, opts := owner.loginStart()
		cred, err := owner.auth.Assert(opts)
		if err != nil {
			t.Fatal(err)
		}
		mustStatus(t, "login challenge used to approve", approve(map[string]any{"approval_id": lid, "credential": json.RawMessage(cred)}), 401)
	})
	t.Run("a reauth assertion", func(t *testing.T) {
		r := owner.do("POST", "/v1/session/reauth/start", map[string]any{}, true)
		mustStatus(t, "reauth/start", r, 200)
		opts, _ := json.Marshal(r.body["options"])
		cred, err := owner.auth.Assert(opts)
		if err != nil {
			t.Fatal(err)
		}
		mustStatus(t, "reauth challenge used to approve", approve(map[string]any{"approval_id": r.str("reauth_id"), "credential": json.RawMessage(cred)}), 401)
	})
	t.Run("an approval of another enrollment", func(t *testing.T) {
		other := e.newDevice()
		other.auth = owner.auth.Clone()
		otherID := enrLoginNewDevice(t, other)
		aid, opts := enrApproveStart(t, owner, otherID)
		cred, err := owner.auth.Assert(opts)
		if err != nil {
			t.Fatal(err)
		}
		mustStatus(t, "approval made for another enrollment", approve(map[string]any{"approval_id": aid, "credential": json.RawMessage(cred)}), 401)
	})
	t.Run("a replayed approval", func(t *testing.T) {
		aid, opts := enrApproveStart(t, owner, id)
		auth := owner.auth.Clone()
		auth.UV = false
		cred, _ := auth.Assert(opts)
		mustStatus(t, "first (refused)", approve(map[string]any{"approval_id": aid, "credential": json.RawMessage(cred)}), 401)
		good, _ := owner.auth.Assert(opts) // a valid assertion for the spent challenge
		mustStatus(t, "replay of the spent challenge", approve(map[string]any{"approval_id": aid, "credential": json.RawMessage(good)}), 401)
	})
	t.Run("another key signs the approval", func(t *testing.T) {
		aid, opts := enrApproveStart(t, owner, id)
		cred, _ := owner.auth.Assert(opts)
		thief := e.newDevice()
		r := thief.doToken("POST", "/v1/enrollments/"+id+"/approve", map[string]any{"approval_id": aid, "credential": json.RawMessage(cred)}, owner.access, true)
		mustStatus(t, "owner's token with another key", r, 401)
	})

	if st := enrState(t, e, id); st != store.EnrollmentPendingApproval {
		t.Fatalf("state after the attempts = %q; want pending_approval", st)
	}
	mustStatus(t, "finish after the attempts", enrFinish(t, phone, id), 409)
	// And the genuine approval still works.
	mustStatus(t, "genuine approval", enrApprove(t, owner, id), 200)
}

// Attack: approval from a device that was revoked (replaced, or revoked by
// an operator). Its session and tokens are dead, even mid-ceremony.
func TestEnrollApprovalFromRevokedDevice(t *testing.T) {
	e := newEnv(t, nil)
	owner, phone := enrSyncedOwner(t, e, "revoked@example.com")
	id := enrLoginNewDevice(t, phone)
	mustStatus(t, "approve", enrApprove(t, owner, id), 200)
	mustStatus(t, "finish", enrFinish(t, phone, id), 201)

	// A third device with the new phone's passkey asks to take over; the
	// old, revoked device tries to approve it.
	third := e.newDevice()
	third.auth = phone.auth.Clone()
	id2 := enrLoginNewDevice(t, third)
	mustStatus(t, "approve/start from the revoked device", owner.do("POST", "/v1/enrollments/"+id2+"/approve/start", map[string]any{}, true), 401)
	mustStatus(t, "list from the revoked device", owner.do("GET", "/v1/enrollments", nil, true), 401)
	if st := enrState(t, e, id2); st != store.EnrollmentPendingApproval {
		t.Errorf("state = %q; want pending_approval", st)
	}

	// The bound device begins an approval, then is revoked (by an operator)
	// before it finishes: the finish is refused.
	aid, opts := enrApproveStart(t, phone, id2)
	cred, err := phone.auth.Assert(opts)
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := e.st.Account(t.Context(), phone.account)
	if _, err := e.st.SetDeviceStatus(t.Context(), phone.account, acct.DeviceID, store.DeviceRevoked); err != nil {
		t.Fatal(err)
	}
	r := phone.do("POST", "/v1/enrollments/"+id2+"/approve", map[string]any{"approval_id": aid, "credential": json.RawMessage(cred)}, true)
	mustStatus(t, "approval by a device revoked mid-ceremony", r, 401)
	if st := enrState(t, e, id2); st != store.EnrollmentPendingApproval {
		t.Errorf("state = %q; want pending_approval", st)
	}
}

// enrRecoveryStart signs up an owner and starts an enrollment by contact
// on a device without any passkey of the account.
func enrRecoveryStart(t *testing.T, e *env, contact string) (owner, nu *device, codes []string, id string) {
	t.Helper()
	owner = e.newDevice()
	codes = enrCodes(owner.signup(contact))
	nu = e.newDevice()
	r := nu.doToken("POST", "/v1/enrollments", map[string]any{"contact": contact, "device_label": "recovered phone"}, "", true)
	mustStatus(t, "enroll by contact", r, 202)
	return owner, nu, codes, r.str("enrollment_id")
}

func enrRecover(nu *device, id, otp, code string) response {
	return nu.doToken("POST", "/v1/enrollments/"+id+"/recover", map[string]any{"otp": otp, "recovery_code": code}, "", true)
}

// Attack: an enrollment step signed by a key other than the one fixed
// when the enrollment was made (someone who learnt the enrollment id).
// Every step answers like an unknown id and changes nothing.
func TestEnrollStepWithAnotherKey(t *testing.T) {
	e := newEnv(t, nil)
	owner, nu, codes, id := enrRecoveryStart(t, e, "otherkey@example.com")
	otp := enrOTP(t, e, "otherkey@example.com")
	thief := e.newDevice()
	for _, step := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/enrollments/" + id, nil},
		{"POST", "/v1/enrollments/" + id + "/otp", map[string]any{}},
		{"POST", "/v1/enrollments/" + id + "/verify", map[string]any{"otp": otp}},
		{"POST", "/v1/enrollments/" + id + "/recover", map[string]any{"otp": otp, "recovery_code": codes[0]}},
		{"POST", "/v1/enrollments/" + id + "/finish/start", map[string]any{}},
		{"POST", "/v1/enrollments/" + id + "/finish", map[string]any{"finish_id": "cer_0000aaaaaaaaaaaaaaaaaaaaaaaa", "credential": map[string]any{}}},
	} {
		r := thief.doToken(step.method, step.path, step.body, "", true)
		mustStatus(t, step.method+" "+step.path+" with another key", r, 404)
	}
	// Without any proof at all.
	mustStatus(t, "no proof", nu.doToken("POST", "/v1/enrollments/"+id+"/recover", map[string]any{"otp": otp, "recovery_code": codes[0]}, "", false), 401)
	if st := enrState(t, e, id); st != store.EnrollmentUnverified {
		t.Fatalf("state = %q; want unverified", st)
	}
	enrAudited(t, e, "enrollment.wrong_key", owner.account)
	// The OTP is untouched: the genuine device still recovers with it.
	mustStatus(t, "genuine recovery", enrRecover(nu, id, otp, codes[0]), 202)
}

// Attack: recovery with one factor. The OTP alone (a hijacked mailbox) or
// a recovery code alone (a found printout) gets nothing, spends no code,
// and the answers do not say which factor was wrong.
func TestEnrollRecoveryNeedsBothFactors(t *testing.T) {
	e := newEnv(t, nil)
	owner, nu, codes, id := enrRecoveryStart(t, e, "twofactor@example.com")
	otp := enrOTP(t, e, "twofactor@example.com")
	if otp == "" {
		t.Fatal("no OTP sent to the verified contact")
	}
	wrongOTP := "000000"
	if otp == wrongOTP {
		wrongOTP = "111111"
	}
	a := enrRecover(nu, id, otp, "aaaaa-aaaaa")
	b := enrRecover(nu, id, wrongOTP, codes[0])
	mustStatus(t, "OTP alone", a, 400)
	mustStatus(t, "recovery code alone", b, 400)
	if a.str("code") != codeRecoveryInvalid || a.str("code") != b.str("code") || a.str("detail") != b.str("detail") {
		t.Errorf("answers differ or are not uniform: %s / %s", a.raw, b.raw)
	}
	mustStatus(t, "OTP without a recovery code", nu.doToken("POST", "/v1/enrollments/"+id+"/recover", map[string]any{"otp": otp}, "", true), 400)
	if left, _ := e.st.RecoveryCodesLeft(t.Context(), owner.account); left != 10 {
		t.Errorf("recovery codes left = %d; want 10", left)
	}
	if st := enrState(t, e, id); st != store.EnrollmentUnverified {
		t.Fatalf("state = %q; want unverified", st)
	}
	if len(enrPending(t, owner)) != 0 {
		t.Error("the owner is shown an enrollment nobody proved the contact for")
	}
	enrAudited(t, e, "enrollment.recovery_failed", owner.account)
	r := enrRecover(nu, id, otp, strings.ToUpper(codes[1]))
	mustStatus(t, "both factors", r, 202)
	if r.str("state") != store.EnrollmentPendingRecovery || r.str("cooldown_until") == "" {
		t.Errorf("recover = %s", r.raw)
	}
	if left, _ := e.st.RecoveryCodesLeft(t.Context(), owner.account); left != 9 {
		t.Errorf("recovery codes left = %d; want 9", left)
	}
	// The spent code is spent.
	nu2 := e.newDevice()
	r = nu2.doToken("POST", "/v1/enrollments", map[string]any{"contact": "twofactor@example.com"}, "", true)
	mustStatus(t, "second enrollment", r, 202)
	mustStatus(t, "the spent code again", enrRecover(nu2, r.str("enrollment_id"), enrOTP(t, e, "twofactor@example.com"), codes[1]), 400)
}

// Attack: recovery cancelled by the old device. The owner sees the
// recovery in its cool-down, cancels it, and it never activates, not even
// after the cool-down.
func TestEnrollRecoveryCancelledByOldDevice(t *testing.T) {
	e := newEnv(t, nil)
	owner, nu, codes, id := enrRecoveryStart(t, e, "cancelold@example.com")
	mustStatus(t, "recover", enrRecover(nu, id, enrOTP(t, e, "cancelold@example.com"), codes[0]), 202)

	pending := enrPending(t, owner)
	if len(pending) != 1 || pending[0]["state"] != store.EnrollmentPendingRecovery || pending[0]["cooldown_until"] == nil {
		t.Fatalf("pending_enrollments = %v", pending)
	}
	if data := enrHasEvent(t, e, owner.account, "enrollment.pending"); data["state"] != store.EnrollmentPendingRecovery {
		t.Errorf("enrollment.pending = %v", data)
	}
	mustStatus(t, "finish during the cool-down", enrFinish(t, nu, id), 409)

	r := owner.do("POST", "/v1/enrollments/"+id+"/cancel", map[string]any{}, true)
	mustStatus(t, "cancel", r, 200)
	if r.str("state") != store.EnrollmentCancelled {
		t.Errorf("cancel = %s", r.raw)
	}
	mustStatus(t, "cancel again", owner.do("POST", "/v1/enrollments/"+id+"/cancel", map[string]any{}, true), 200)
	enrAudited(t, e, "enrollment.cancelled", owner.account)

	e.clock.Advance(e.s.cfg.RecoveryCooldown + time.Minute)
	r = enrFinish(t, nu, id)
	mustStatus(t, "finish after the cool-down", r, 409)
	if r.str("state") != store.EnrollmentCancelled {
		t.Errorf("finish = %s", r.raw)
	}
	acct, _ := e.st.Account(t.Context(), owner.account)
	if acct.DeviceJKT != owner.key.JKT() {
		t.Error("the cancelled recovery replaced the device")
	}
	// Approving it is refused too.
	owner.login()
	mustStatus(t, "approve a cancelled one", owner.do("POST", "/v1/enrollments/"+id+"/approve/start", map[string]any{}, true), 409)
}

// Attack: recovery while the old device is lost; the contact cancels it
// with the one-time token of the warning it was sent.
func TestEnrollRecoveryCancelledByContact(t *testing.T) {
	e := newEnv(t, nil)
	owner, nu, codes, id := enrRecoveryStart(t, e, "canceltoken@example.com")
	mustStatus(t, "recover", enrRecover(nu, id, enrOTP(t, e, "canceltoken@example.com"), codes[0]), 202)
	token := enrCancelToken(t, e, "canceltoken@example.com")

	anon := e.newDevice()
	forged := id + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	mustStatus(t, "forged token", anon.doToken("POST", "/v1/enrollments/cancel", map[string]any{"cancel_token": forged}, "", false), 404)
	mustStatus(t, "garbage token", anon.doToken("POST", "/v1/enrollments/cancel", map[string]any{"cancel_token": "nonsense"}, "", false), 404)
	r := anon.doToken("POST", "/v1/enrollments/cancel", map[string]any{"cancel_token": token}, "", false)
	mustStatus(t, "cancel with the token", r, 200)
	if r.str("state") != store.EnrollmentCancelled {
		t.Errorf("cancel = %s", r.raw)
	}
	if data := enrHasEvent(t, e, owner.account, "enrollment.cancelled"); data["cancelled_by"] != "contact" {
		t.Errorf("enrollment.cancelled = %v", data)
	}
	e.clock.Advance(e.s.cfg.RecoveryCooldown + time.Minute)
	mustStatus(t, "finish after the cool-down", enrFinish(t, nu, id), 409)
	if st := enrState(t, e, id); st != store.EnrollmentCancelled {
		t.Errorf("state = %q", st)
	}
}

// Recovery without the old device, to the end: after the cool-down
// (injected clock) the new device finishes, and at that moment the old
// device's access token, refresh token and live code stop working.
func TestEnrollRecoveryAfterCooldownActivates(t *testing.T) {
	e := newEnv(t, map[string]string{"PAYCODE_RECOVERY_COOLDOWN": "2h"})
	owner, nu, codes, id := enrRecoveryStart(t, e, "cooldown@example.com")
	oldDevice := r0DeviceID(t, e, owner)
	r := enrRecover(nu, id, enrOTP(t, e, "cooldown@example.com"), codes[3])
	mustStatus(t, "recover", r, 202)
	until, _ := time.Parse(time.RFC3339Nano, r.str("cooldown_until"))
	if !until.Equal(e.clock.Now().Add(2 * time.Hour)) {
		t.Errorf("cooldown_until = %v; want now + 2h", until)
	}
	mustStatus(t, "finish during the cool-down", enrFinish(t, nu, id), 409)

	e.clock.Advance(2*time.Hour - time.Second)
	mustStatus(t, "finish a second early", enrFinish(t, nu, id), 409)
	e.clock.Advance(time.Second)
	st := nu.doToken("GET", "/v1/enrollments/"+id, nil, "", true)
	if st.str("state") != store.EnrollmentReady {
		t.Fatalf("status after the cool-down = %s", st.raw)
	}
	// The old device is still in use right up to the switch.
	mustStatus(t, "old device login", owner.login(), 200)
	oldCode := owner.do("POST", "/v1/codes", map[string]any{}, true)
	mustStatus(t, "old device's code", oldCode, 201)
	mustStatus(t, "old device me", owner.do("GET", "/v1/me", nil, true), 200)

	r = enrFinish(t, nu, id)
	mustStatus(t, "finish after the cool-down", r, 201)
	enrOldDeviceRevoked(t, e, owner, nu, oldDevice)
	// The old device's still unexpired code is refused at the register.
	term := e.registerTerminal("store-1")
	r = term.pay(oldCode.str("code"), 1)
	if r.status != 402 || r.str("code") != store.DeclineDeviceRevoked {
		t.Errorf("old device's live code at the register = %d %q; want 402 device_revoked", r.status, r.str("code"))
	}
	// The contact heard at the start and at the end.
	var warned, told bool
	for _, m := range enrOutbox(t, e) {
		if m.To != "cooldown@example.com" || m.Type != notify.TypeSecurity {
			continue
		}
		warned = warned || strings.Contains(m.Text, "cancel")
		told = told || strings.Contains(m.Text, "is now the only device")
	}
	if !warned || !told {
		t.Errorf("contact warned %v, told %v; want both", warned, told)
	}
}

// Attack: the 7pay reset. The attacker knows the victim's contact and
// asks for a reset to an address of his own, in every way the body allows.
// He gets nothing; no message goes to any address but the verified one.
func TestEnroll7payResetToAnotherAddress(t *testing.T) {
	e := newEnv(t, nil)
	victim := e.newDevice()
	victim.signup("victim@example.com")
	attacker := e.newDevice()
	before := len(enrOutbox(t, e))

	for _, body := range []map[string]any{
		{"contact": "victim@example.com", "to": "attacker@evil.example"},
		{"contact": "victim@example.com", "new_contact": "attacker@evil.example"},
		{"contact": "victim@example.com", "email": "attacker@evil.example"},
		{"contact": []string{"victim@example.com", "attacker@evil.example"}},
		{"contact": "victim@example.com,attacker@evil.example"},
		{"contact": "victim@example.com\nbcc: attacker@evil.example"},
	} {
		r := attacker.doToken("POST", "/v1/enrollments", body, "", true)
		mustStatus(t, "reset with an extra address", r, 400)
		if r.str("enrollment_id") != "" {
			t.Errorf("got an enrollment: %s", r.raw)
		}
	}
	if n := len(enrOutbox(t, e)); n != before {
		t.Fatalf("%d messages were sent for refused requests", n-before)
	}

	// The plain request (also spelled differently) gets the same answer as
	// one for an address without an account; only the verified address
	// gets a code.
	known := attacker.doToken("POST", "/v1/enrollments", map[string]any{"contact": "Victim@Example.com"}, "", true)
	unknown := attacker.doToken("POST", "/v1/enrollments", map[string]any{"contact": "attacker@evil.example"}, "", true)
	mustStatus(t, "known", known, 202)
	mustStatus(t, "unknown", unknown, 202)
	if len(known.body) != len(unknown.body) || known.str("state") != unknown.str("state") || known.body["expires_in"] != unknown.body["expires_in"] {
		t.Errorf("answers differ: %s / %s", known.raw, unknown.raw)
	}
	for _, id := range []string{known.str("enrollment_id"), unknown.str("enrollment_id")} {
		st := attacker.doToken("GET", "/v1/enrollments/"+id, nil, "", true)
		mustStatus(t, "status", st, 200)
		if st.str("state") != store.EnrollmentUnverified {
			t.Errorf("status = %s", st.raw)
		}
		// Guesses and a resend get nothing either way.
		for _, guess := range []string{"000000", "123456"} {
			mustStatus(t, "guess", attacker.doToken("POST", "/v1/enrollments/"+id+"/verify", map[string]any{"otp": guess}, "", true), 400)
			mustStatus(t, "recover guess", enrRecover(attacker, id, guess, "aaaaa-bbbbb"), 400)
		}
		mustStatus(t, "resend", attacker.doToken("POST", "/v1/enrollments/"+id+"/otp", map[string]any{}, "", true), 202)
		mustStatus(t, "finish", enrFinish(t, attacker, id), 409)
	}
	// Without a session the contact cannot be changed at all.
	mustStatus(t, "contact change without a session", attacker.doToken("POST", "/v1/me/contact", map[string]any{"contact": "attacker@evil.example"}, "", true), 401)

	for _, m := range enrOutbox(t, e) {
		if m.To != "victim@example.com" {
			t.Errorf("a message went to %q: %s", m.To, m.Type)
		}
	}
	if enrOTP(t, e, "attacker@evil.example") != "" {
		t.Error("the attacker's address received a code")
	}
	// The victim's device is untouched and was not shown anything to approve.
	if len(enrPending(t, victim)) != 0 {
		t.Error("the victim's device shows an unverified request")
	}
	acct, _ := e.st.Account(t.Context(), victim.account)
	if acct.Contact != "victim@example.com" || acct.DeviceJKT != victim.key.JKT() {
		t.Errorf("victim account = %+v", acct)
	}
}

// An operator approves a new device after an identity check in a store:
// the account must match, the operator and the reason are audited, and the
// contact is told.
func TestEnrollOperatorApproval(t *testing.T) {
	e := newEnv(t, nil)
	owner, nu, _, id := enrRecoveryStart(t, e, "operator@example.com")
	oldDevice := r0DeviceID(t, e, owner)
	path := "/v1/enrollments/" + id + "/operator-approval"
	good := map[string]any{"account_id": owner.account, "operator": "alice", "reason": "passport checked at store 0042"}

	mustStatus(t, "public listener", nu.doToken("POST", path, good, "", true), 404)
	noToken := httptest.NewRequest("POST", path, strings.NewReader(`{}`))
	if resp, _ := e.s.admin.Test(noToken, 10_000); resp.StatusCode != 401 {
		t.Errorf("without the admin token = %d; want 401", resp.StatusCode)
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"no reason", map[string]any{"account_id": owner.account, "operator": "alice"}, 400},
		{"no operator", map[string]any{"account_id": owner.account, "reason": "x"}, 400},
		{"no account", map[string]any{"operator": "alice", "reason": "x"}, 400},
		{"extra member", map[string]any{"account_id": owner.account, "operator": "alice", "reason": "x", "skip_checks": true}, 400},
		{"another account", map[string]any{"account_id": "acct_0000aaaaaaaaaaaaaaaaaaaaaaaa", "operator": "alice", "reason": "x"}, 404},
	} {
		r := enrAdmin(t, e, "POST", path, tc.body)
		mustStatus(t, tc.name, r, tc.want)
	}
	if st := enrState(t, e, id); st != store.EnrollmentUnverified {
		t.Fatalf("state after refused calls = %q", st)
	}
	r := enrAdmin(t, e, "POST", path, good)
	mustStatus(t, "operator approval", r, 200)
	if r.str("state") != store.EnrollmentApproved || r.str("approved_by") != "operator" {
		t.Errorf("approval = %s", r.raw)
	}
	ev := enrAudited(t, e, "enrollment.approved", owner.account)
	if ev.Actor != "operator:alice" || ev.Fields["reason"] != "passport checked at store 0042" || ev.Fields["method"] != "operator" {
		t.Errorf("audit = %+v", ev)
	}
	list := enrAdmin(t, e, "GET", "/v1/accounts/"+owner.account+"/enrollments", nil)
	mustStatus(t, "operator list", list, 200)
	if items, _ := list.body["enrollments"].([]any); len(items) != 1 {
		t.Errorf("operator list = %s", list.raw)
	}
	r = enrFinish(t, nu, id)
	mustStatus(t, "finish", r, 201)
	enrOldDeviceRevoked(t, e, owner, nu, oldDevice)
	// Approving again is an illegal transition.
	mustStatus(t, "approve an active one", enrAdmin(t, e, "POST", path, good), 409)
}

// The state machine refuses illegal transitions: finishing before
// approval, approving a cancelled or an expired enrollment, verifying one
// that needs no verification, cancelling one that is complete.
func TestEnrollIllegalTransitions(t *testing.T) {
	e := newEnv(t, nil)
	owner, phone := enrSyncedOwner(t, e, "states@example.com")
	id := enrLoginNewDevice(t, phone)

	mustStatus(t, "finish before approval", enrFinish(t, phone, id), 409)
	mustStatus(t, "verify a passkey enrollment", phone.doToken("POST", "/v1/enrollments/"+id+"/verify", map[string]any{"otp": "123456"}, "", true), 409)
	mustStatus(t, "cancel", owner.do("POST", "/v1/enrollments/"+id+"/cancel", map[string]any{}, true), 200)
	r := owner.do("POST", "/v1/enrollments/"+id+"/approve/start", map[string]any{}, true)
	mustStatus(t, "approve a cancelled one", r, 409)
	if r.str("state") != store.EnrollmentCancelled {
		t.Errorf("state member = %q", r.str("state"))
	}
	mustStatus(t, "operator approval of a cancelled one", enrAdmin(t, e, "POST", "/v1/enrollments/"+id+"/operator-approval",
		map[string]any{"account_id": owner.account, "operator": "bob", "reason": "x"}), 409)

	// An enrollment whose time ran out.
	other := e.newDevice()
	other.auth = owner.auth.Clone()
	id2 := enrLoginNewDevice(t, other)
	aid, opts := enrApproveStart(t, owner, id2)
	cred, _ := owner.auth.Assert(opts)
	e.clock.Advance(e.s.cfg.EnrollmentTTL + time.Second)
	owner.refreshTokens(t)
	r = owner.do("POST", "/v1/enrollments/"+id2+"/approve", map[string]any{"approval_id": aid, "credential": json.RawMessage(cred)}, true)
	mustStatus(t, "approve an expired one (challenge also expired)", r, 401)
	r = owner.do("POST", "/v1/enrollments/"+id2+"/approve/start", map[string]any{}, true)
	mustStatus(t, "approve/start an expired one", r, 409)
	if r.str("state") != store.EnrollmentExpired {
		t.Errorf("state member = %q", r.str("state"))
	}
	mustStatus(t, "finish an expired one", enrFinish(t, other, id2), 409)
	if len(enrPending(t, owner)) != 0 {
		t.Error("an expired enrollment is still pending")
	}

	// Approved, then the approval window runs out before the new device
	// finishes.
	third := e.newDevice()
	third.auth = owner.auth.Clone()
	id3 := enrLoginNewDevice(t, third)
	mustStatus(t, "approve", enrApprove(t, owner, id3), 200)
	e.clock.Advance(e.s.cfg.EnrollmentTTL)
	mustStatus(t, "finish after the approval expired", enrFinish(t, third, id3), 409)

	// A complete enrollment cannot be cancelled.
	fourth := e.newDevice()
	fourth.auth = owner.auth.Clone()
	owner.refreshTokens(t)
	id4 := enrLoginNewDevice(t, fourth)
	mustStatus(t, "approve", enrApprove(t, owner, id4), 200)
	mustStatus(t, "finish", enrFinish(t, fourth, id4), 201)
	mustStatus(t, "cancel a complete one", fourth.do("POST", "/v1/enrollments/"+id4+"/cancel", map[string]any{}, true), 409)
}

// refreshTokens renews the device's access token (after the clock moved).
func (d *device) refreshTokens(t *testing.T) {
	t.Helper()
	r := d.do("POST", "/v1/session/refresh", map[string]string{"refresh_token": d.refresh}, true)
	mustStatus(t, "refresh", r, 200)
	d.take(r)
}

// Changing the contact is a step-up operation: it needs a recent passkey
// verification, proves the new address with an OTP, and warns the old
// address. A recovery by the old address then reaches nobody.
func TestEnrollContactChange(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("old@example.com")
	other := e.newDevice()
	other.signup("taken@example.com")

	e.clock.Advance(e.s.cfg.PaymentWindow + time.Second)
	d.refreshTokens(t)
	r := d.do("POST", "/v1/me/contact", map[string]any{"contact": "new@example.com"}, true)
	mustStatus(t, "without a recent step-up", r, 401)
	if www := r.header.Get("WWW-Authenticate"); !strings.Contains(www, `error="insufficient_user_authentication"`) || !strings.Contains(www, "max_age=300") {
		t.Errorf("WWW-Authenticate = %q", www)
	}
	if enrOTP(t, e, "new@example.com") != "" {
		t.Fatal("a code went out without a step-up")
	}
	enrReauth(t, d)

	mustStatus(t, "an extra member", d.do("POST", "/v1/me/contact", map[string]any{"contact": "new@example.com", "to": "x@evil.example"}, true), 400)
	r = d.do("POST", "/v1/me/contact", map[string]any{"contact": "new@example.com"}, true)
	mustStatus(t, "start", r, 202)
	change := r.str("contact_change_id")
	otp := enrOTP(t, e, "new@example.com")
	if otp == "" {
		t.Fatal("no OTP at the new address")
	}
	mustStatus(t, "wrong OTP", d.do("POST", "/v1/me/contact/verify", map[string]any{"contact_change_id": change, "otp": enrWrong(otp)}, true), 400)
	// Another session of the same account cannot finish it.
	d2 := e.newDevice()
	d2.key, d2.auth = d.key, d.auth
	mustStatus(t, "second session", d2.login(), 200)
	mustStatus(t, "other session", d2.do("POST", "/v1/me/contact/verify", map[string]any{"contact_change_id": change, "otp": otp}, true), 400)
	r = d.do("POST", "/v1/me/contact/verify", map[string]any{"contact_change_id": change, "otp": otp}, true)
	mustStatus(t, "verify", r, 202)
	appliesAt := e.clock.Now().Add(e.s.cfg.ContactCooldown).UTC().Format(time.RFC3339)
	if r.str("state") != "pending" || r.str("applies_at") != appliesAt || r.str("contact") != "n***@example.com" {
		t.Errorf("verify answered %s; want pending until %s", r.raw, appliesAt)
	}
	// The cool-down: the old address is still the contact, and the app
	// shows the change and when it applies.
	me := d.do("GET", "/v1/me", nil, true)
	if acct, _ := me.body["account"].(map[string]any); acct["contact"] != "old@example.com" {
		t.Errorf("during the cool-down me.account = %v", me.body["account"])
	}
	if cc, _ := me.body["contact_change"].(map[string]any); cc["applies_at"] != appliesAt || cc["state"] != "pending" {
		t.Errorf("during the cool-down me.contact_change = %v", me.body["contact_change"])
	}
	warned := false
	for _, m := range enrOutbox(t, e) {
		warned = warned || m.To == "old@example.com" && m.Type == notify.TypeSecurity && strings.Contains(m.Text, "n***@example.com") &&
			strings.Contains(m.Text, e.s.cfg.PublicURL.String()+"/#contact-cancel="+change+".")
	}
	if !warned {
		t.Error("the old address was not warned with a cancel link")
	}
	enrAudited(t, e, "contact.change_pending", d.account)
	e.clock.Advance(e.s.cfg.ContactCooldown)
	mustStatus(t, "login after the cool-down", d.login(), 200)
	me = d.do("GET", "/v1/me", nil, true)
	if acct, _ := me.body["account"].(map[string]any); acct["contact"] != "new@example.com" || me.body["contact_change"] != nil {
		t.Errorf("after the cool-down me = %s", me.raw)
	}
	enrAudited(t, e, "contact.changed", d.account)

	// The old address no longer leads to the account.
	thief := e.newDevice()
	before := len(enrOutbox(t, e))
	mustStatus(t, "recovery by the old address", thief.doToken("POST", "/v1/enrollments", map[string]any{"contact": "old@example.com"}, "", true), 202)
	if len(enrOutbox(t, e)) != before {
		t.Error("a recovery by the old address sent a message")
	}

	// Another account's address is refused, after the OTP proves the
	// requester holds it.
	enrReauth(t, d)
	r = d.do("POST", "/v1/me/contact", map[string]any{"contact": "taken@example.com"}, true)
	mustStatus(t, "start to a taken address", r, 202)
	r = d.do("POST", "/v1/me/contact/verify", map[string]any{"contact_change_id": r.str("contact_change_id"), "otp": enrOTP(t, e, "taken@example.com")}, true)
	mustStatus(t, "verify a taken address", r, 409)
	if r.str("code") != codeContactTaken {
		t.Errorf("code = %q", r.str("code"))
	}
}

func enrWrong(otp string) string {
	if otp == "000000" {
		return "111111"
	}
	return "000000"
}

func enrReauth(t *testing.T, d *device) {
	t.Helper()
	r := d.do("POST", "/v1/session/reauth/start", map[string]any{}, true)
	mustStatus(t, "reauth/start", r, 200)
	opts, _ := json.Marshal(r.body["options"])
	cred, err := d.auth.Assert(opts)
	if err != nil {
		t.Fatal(err)
	}
	r = d.do("POST", "/v1/session/reauth/finish", map[string]any{"reauth_id": r.str("reauth_id"), "credential": json.RawMessage(cred)}, true)
	mustStatus(t, "reauth/finish", r, 200)
	d.take(r)
}

// Recovery and OTP attempts are limited per account (and per IP); the
// limit holds even with the right factors.
func TestEnrollRecoveryAttemptsLimited(t *testing.T) {
	e := newEnv(t, nil)
	_, nu, codes, id := enrRecoveryStart(t, e, "limits@example.com")
	otp := enrOTP(t, e, "limits@example.com")
	var last response
	for range 10 {
		last = enrRecover(nu, id, otp, "zzzzz-zzzzz")
		mustStatus(t, "wrong code", last, 400)
	}
	last = enrRecover(nu, id, otp, codes[0])
	mustStatus(t, "eleventh attempt in a day", last, 429)
	if last.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Enrollment creation per contact.
	for range 2 {
		mustStatus(t, "create", nu.doToken("POST", "/v1/enrollments", map[string]any{"contact": "limits@example.com"}, "", true), 202)
	}
	mustStatus(t, "fourth request for one contact", nu.doToken("POST", "/v1/enrollments", map[string]any{"contact": "limits@example.com"}, "", true), 429)
}

// Bad input is a 400 (or 404 for an id that cannot exist), never a 500.
func TestEnrollBadInput(t *testing.T) {
	e := newEnv(t, nil)
	owner, nu, _, id := enrRecoveryStart(t, e, "badinput@example.com")
	send := func(d *device, token, method, path, body, ct string) response {
		return d.doWith(method, path, nil, func(req *http.Request) {
			*req = *httptestRequest(t, method, path, body, ct)
			req.Header.Set("DPoP", d.key.Proof(method, e.s.requestURL0(path), token, "", e.clock.Now()))
			if token != "" {
				req.Header.Set("Authorization", "DPoP "+token)
			}
		})
	}
	for _, tc := range []struct {
		name, path, body string
		session          bool
		want             int
	}{
		{"not json", "/v1/enrollments", "{", false, 400},
		{"wrong type", "/v1/enrollments", `{"contact": 5}`, false, 400},
		{"bad contact", "/v1/enrollments", `{"contact": "nobody"}`, false, 400},
		{"bad label", "/v1/enrollments", `{"contact": "a@example.com", "device_label": "` + strings.Repeat("x", 65) + `"}`, false, 400},
		{"two values", "/v1/enrollments", `{} {}`, false, 400},
		{"short otp", "/v1/enrollments/" + id + "/verify", `{"otp": "12"}`, false, 400},
		{"long recovery code", "/v1/enrollments/" + id + "/recover", `{"otp": "123456", "recovery_code": "` + strings.Repeat("a", 40) + `"}`, false, 400},
		{"bad id", "/v1/enrollments/nonsense/verify", `{"otp": "123456"}`, false, 404},
		{"unknown id", "/v1/enrollments/enr_0000aaaaaaaaaaaaaaaaaaaaaaaa/finish/start", `{}`, false, 404},
		{"finish without credential", "/v1/enrollments/" + id + "/finish", `{"finish_id": "x"}`, false, 400},
		{"cancel token wrong type", "/v1/enrollments/cancel", `{"cancel_token": 1}`, false, 400},
		{"approve without credential", "/v1/enrollments/" + id + "/approve", `{"approval_id": "x"}`, true, 400},
		{"approve bad id", "/v1/enrollments/enr_x/approve/start", `{}`, true, 404},
		{"contact change bad contact", "/v1/me/contact", `{"contact": ["a"]}`, true, 400},
		{"contact verify short otp", "/v1/me/contact/verify", `{"contact_change_id": "cch_x", "otp": "1"}`, true, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, token := nu, ""
			if tc.session {
				d, token = owner, owner.access
			}
			r := send(d, token, "POST", tc.path, tc.body, "application/json")
			if r.status != tc.want {
				t.Errorf("status %d; want %d: %s", r.status, tc.want, r.raw)
			}
		})
	}
	r := enrAdmin(t, e, "POST", "/v1/enrollments/"+id+"/operator-approval", []int{1})
	mustStatus(t, "operator body of the wrong type", r, 400)
	mustStatus(t, "operator list of a bad account", enrAdmin(t, e, "GET", "/v1/accounts/nobody/enrollments", nil), 404)
	// The id of a real enrollment, tampered with (same form, other bits).
	tampered := id[:len(id)-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(id, "a")]
	mustStatus(t, "tampered id", nu.doToken("GET", "/v1/enrollments/"+tampered, nil, "", true), 404)
}

// The new_device problem carries the enrollment id as a top-level
// extension member (RFC 9457), next to the standard members.
func TestEnrollNewDeviceProblemBody(t *testing.T) {
	e := newEnv(t, nil)
	_, phone := enrSyncedOwner(t, e, "problem@example.com")
	id, opts := phone.loginStart()
	cred, _ := phone.auth.Assert(opts)
	r := phone.loginFinish(id, cred)
	mustStatus(t, "login", r, 403)
	var body map[string]json.RawMessage
	if err := json.Unmarshal(r.raw, &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "title", "status", "detail", "code", "request_id", "enrollment_id"} {
		if _, ok := body[k]; !ok {
			t.Errorf("member %q missing: %s", k, r.raw)
		}
	}
	if !strings.HasPrefix(r.str("enrollment_id"), "enr_") || r.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("problem = %s (%s)", r.raw, r.header.Get("Content-Type"))
	}
	// An extension member never replaces a standard one.
	p := problemBody{Type: "t", Title: "x", Status: 403, Code: "c", Extra: map[string]any{"code": "evil", "z": 1}}
	raw, err := json.Marshal(p)
	if err != nil || string(raw) != `{"type":"t","title":"x","status":403,"code":"c","z":1}` {
		t.Errorf("marshal = %s, %v", raw, err)
	}
}

// Attack (issue 13): someone holding the unlocked phone moves the contact
// to their own address, so that the next recovery reaches them. The old
// address's warning links to the app's cancel page; the public call behind
// it cancels the change during the cool-down, once, without a session,
// and the contact never moves. A guessed or reused code is one 404.
func TestContactChangeCancelledByOldAddress(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("victim@example.com")
	enrReauth(t, d)
	r := d.do("POST", "/v1/me/contact", map[string]any{"contact": "thief@example.com"}, true)
	mustStatus(t, "start", r, 202)
	change := r.str("contact_change_id")
	mustStatus(t, "verify", d.do("POST", "/v1/me/contact/verify",
		map[string]any{"contact_change_id": change, "otp": enrOTP(t, e, "thief@example.com")}, true), 202)
	var token string
	for _, m := range enrOutbox(t, e) {
		if m.To == "victim@example.com" && m.Data["change"] == change {
			token = m.Data["cancel_token"]
		}
	}
	if token == "" {
		t.Fatal("the old address got no cancel code")
	}
	stranger := e.newDevice()
	cancel := func(tok string) response {
		return stranger.doToken("POST", "/v1/contact-changes/cancel", map[string]any{"cancel_token": tok}, "", false)
	}
	mustProblem(t, "a forged code", cancel(change+".forged"), 404, codeNotFound)
	mustProblem(t, "no code", cancel(""), 400, codeMalformed)
	e.clock.Advance(e.s.cfg.ContactCooldown - time.Minute)
	r = cancel(token)
	mustStatus(t, "the old address cancels", r, 200)
	if r.str("state") != "cancelled" {
		t.Errorf("cancel answered %s", r.raw)
	}
	mustProblem(t, "the code a second time", cancel(token), 404, codeNotFound)
	ev := enrAudited(t, e, "contact.change_cancelled", d.account)
	if ev.Fields["by"] != "contact" {
		t.Errorf("audit %+v; want by contact", ev)
	}
	e.clock.Advance(2 * time.Minute)
	mustStatus(t, "login", d.login(), 200)
	me := d.do("GET", "/v1/me", nil, true)
	if acct, _ := me.body["account"].(map[string]any); acct["contact"] != "victim@example.com" || me.body["contact_change"] != nil {
		t.Errorf("after the cool-down of a cancelled change me = %s", me.raw)
	}
	if n, err := e.s.devices.ApplyDueContactChanges(t.Context(), 100); err != nil || n != 0 {
		t.Errorf("the worker applied %d (%v); want none", n, err)
	}
	// The thief's address does not lead to the account: a recovery by it
	// sends nothing anywhere.
	before := len(enrOutbox(t, e))
	mustStatus(t, "recovery by the thief's address", e.newDevice().doToken("POST", "/v1/enrollments", map[string]any{"contact": "thief@example.com"}, "", true), 202)
	if len(enrOutbox(t, e)) != before {
		t.Error("a recovery by the thief's address sent a message")
	}
}
