package device_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/paycode/paycode/device"
	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store"
)

// Attack: a stale request taking over after the account's device changed
// (approved against the old device, or begun before the switch). Once
// another enrollment made a new device the account's device, every other
// enrollment that replaces the old one is cancelled by the system at its
// next step and can never complete.
func TestSupersededEnrollmentIsCancelled(t *testing.T) {
	h := newHarness(t)
	o := h.account("supersede@example.com")
	first, firstJKT := h.byLogin(o)
	second, secondJKT := h.byLogin(o)
	third, _ := h.byLogin(o)
	for _, id := range []string{first, second} {
		if _, err := h.svc.ApproveByOperator(h.ctx, h.req, id, o.acct.ID, "alice", "identity checked"); err != nil {
			t.Fatalf("ApproveByOperator %s: %v", id, err)
		}
	}
	var ran bool
	act, err := h.svc.Finish(h.ctx, h.req, first, firstJKT, registered(&ran))
	if err != nil || !ran {
		t.Fatalf("Finish the first: %v (register ran: %v)", err, ran)
	}
	if act.Account.DeviceID != act.DeviceID || act.Account.DeviceJKT != firstJKT {
		t.Fatalf("the account's device is not the new one: %+v", act.Account)
	}

	// The second was approved against the old device: it may not finish.
	_, _, err = h.svc.FinishStart(h.ctx, h.req, second, secondJKT)
	if !errors.Is(err, device.ErrSuperseded) {
		t.Fatalf("FinishStart of a superseded enrollment: error = %v; want ErrSuperseded", err)
	}
	e, _ := h.st.Enrollment(h.ctx, second)
	if device.StateOf(e, h.now) != device.Cancelled || device.Actor(e.CancelledBy) != device.Superseded {
		t.Errorf("superseded enrollment: state %q, cancelled by %q", device.StateOf(e, h.now), e.CancelledBy)
	}
	_, err = h.svc.Finish(h.ctx, h.req, second, secondJKT, registered(new(bool)))
	wantState(t, err, device.Cancelled)

	// The third is shown to the new device, which may not approve a
	// request to replace another device.
	newSess := &store.Session{ID: o.sess.ID, AccountID: o.acct.ID, DeviceID: act.DeviceID, JKT: firstJKT, AuthTime: h.now}
	_, err = h.svc.ApproveStart(h.ctx, h.req, newSess, third)
	if !errors.Is(err, device.ErrSuperseded) {
		t.Fatalf("ApproveStart of an enrollment of the old device: error = %v; want ErrSuperseded", err)
	}
	if st := h.state(third); st != device.Cancelled {
		t.Errorf("state = %q; want cancelled", st)
	}
	if acct := h.reload(o.acct.ID); acct.DeviceID != act.DeviceID {
		t.Errorf("the device changed again: %+v", acct)
	}
}

// Attack: approval without a fresh user-verified assertion. The check the
// handler passes runs after the enrollment is read and before anything
// changes; when it fails, its error comes back unchanged and the
// enrollment still waits. It never runs for another account's enrollment.
func TestApprovalChecksTheAssertionBeforeCommit(t *testing.T) {
	h := newHarness(t)
	o := h.account("approve@example.com")
	other := h.account("other@example.com")
	id, jkt := h.byLogin(o)

	refused := errors.New("assertion refused")
	var ran bool
	_, err := h.svc.Approve(h.ctx, h.req, other.sess, id, verified(&ran))
	if !errors.Is(err, device.ErrNotFound) || ran {
		t.Fatalf("approval from another account: error = %v, check ran %v; want ErrNotFound without the check", err, ran)
	}
	_, err = h.svc.Approve(h.ctx, h.req, o.sess, id, func(_ context.Context, e *store.Enrollment) error {
		if e.ID != id {
			t.Errorf("the check got enrollment %s; want %s", e.ID, id)
		}
		return refused
	})
	if err != refused {
		t.Fatalf("approval with a refused assertion: error = %v; want the check's error unchanged", err)
	}
	if st := h.state(id); st != device.PendingApproval {
		t.Fatalf("state = %q; want pending_approval", st)
	}
	if _, _, err := h.svc.FinishStart(h.ctx, h.req, id, jkt); err == nil {
		t.Fatal("the new device may finish without an approval")
	}

	e, err := h.svc.Approve(h.ctx, h.req, o.sess, id, verified(&ran))
	if err != nil || !ran {
		t.Fatalf("Approve: %v (check ran: %v)", err, ran)
	}
	view := device.View(e, h.now)
	if view["state"] != string(device.Approved) || view["approved_by"] != "device" {
		t.Errorf("view = %v", view)
	}
	if ev, ok := h.audited("enrollment.approved", o.acct.ID); !ok || ev.Fields["method"] != "passkey" || ev.DeviceID != o.sess.DeviceID {
		t.Errorf("approval audit = %+v, %v", ev, ok)
	}
	if _, _, err := h.svc.FinishStart(h.ctx, h.req, id, jkt); err != nil {
		t.Errorf("FinishStart after the approval: %v", err)
	}
}

// Attack: an insider approving silently, or for an account other than the
// one whose owner stood in the store. The operator must name the
// enrollment's account; the approval is audited with the operator's name
// and reason; the contact is told; clients see "operator", not the name.
func TestOperatorApprovalIsAudited(t *testing.T) {
	h := newHarness(t)
	o := h.account("operator@example.com")
	other := h.account("bystander@example.com")
	id, _ := h.byContact(o) // even unverified: the identity check replaces the OTP

	if _, err := h.svc.ApproveByOperator(h.ctx, h.req, id, other.acct.ID, "mallory", "wrong account"); !errors.Is(err, device.ErrNotFound) {
		t.Fatalf("approval naming another account: error = %v; want ErrNotFound", err)
	}
	if st := h.state(id); st != device.Unverified {
		t.Fatalf("state = %q; want unverified", st)
	}
	before := len(h.note.to(o.acct.Contact))
	e, err := h.svc.ApproveByOperator(h.ctx, h.req, id, o.acct.ID, "alice", "passport checked at store 0042")
	if err != nil {
		t.Fatalf("ApproveByOperator: %v", err)
	}
	if device.StateOf(e, h.now) != device.Approved || device.Actor(e.ApprovedBy) != device.OperatorActor("alice") {
		t.Errorf("enrollment = %+v", e)
	}
	if view := device.View(e, h.now); view["approved_by"] != "operator" {
		t.Errorf("clients see approved_by %v; want operator", view["approved_by"])
	}
	ev, ok := h.audited("enrollment.approved", o.acct.ID)
	if !ok || ev.Actor != "operator:alice" || ev.Fields["reason"] != "passport checked at store 0042" ||
		ev.Fields["method"] != "operator" || ev.RequestID != h.req.RequestID {
		t.Errorf("audit = %+v, %v", ev, ok)
	}
	msgs := h.note.to(o.acct.Contact)
	if len(msgs) != before+1 || msgs[len(msgs)-1].Type != notify.TypeSecurity || !strings.Contains(msgs[len(msgs)-1].Text, "staff approved") {
		t.Errorf("the contact was not told: %+v", msgs)
	}
	if _, err := h.svc.ApproveByOperator(h.ctx, h.req, id, o.acct.ID, "alice", "again"); err == nil {
		t.Error("approving an approved enrollment again succeeded")
	}
}

// Attack: someone who learnt an enrollment id drives its steps with
// another key. Every step answers exactly like an unknown id, changes
// nothing (the OTP keeps its tries), and the attempt is audited.
func TestAnotherKeyIsAnUnknownEnrollment(t *testing.T) {
	h := newHarness(t)
	o := h.account("otherkey@example.com")
	id, jkt := h.byContact(o)
	otp := h.otp(o.acct.Contact)
	thief := newJKT(t)

	steps := map[string]func() error{
		"status":  func() error { _, err := h.svc.Status(h.ctx, h.req, id, thief); return err },
		"otp":     func() error { _, err := h.svc.SendOTP(h.ctx, h.req, id, thief); return err },
		"recover": func() error { _, err := h.svc.Recover(h.ctx, h.req, id, thief, otp, secret(o.codes[0])); return err },
		"finish/start": func() error {
			_, _, err := h.svc.FinishStart(h.ctx, h.req, id, thief)
			return err
		},
		"finish": func() error { _, err := h.svc.Finish(h.ctx, h.req, id, thief, registered(new(bool))); return err },
		"verify": func() error { _, err := h.svc.Verify(h.ctx, h.req, id, thief, otp); return err },
	}
	for range 6 { // more than the OTP's tries
		for name, step := range steps {
			if err := step(); !errors.Is(err, device.ErrNotFound) {
				t.Fatalf("%s with another key: error = %v; want ErrNotFound", name, err)
			}
		}
	}
	if _, ok := h.audited("enrollment.wrong_key", o.acct.ID); !ok {
		t.Error("the wrong key is not audited")
	}
	if _, err := h.svc.Verify(h.ctx, h.req, id, jkt, otp); err != nil {
		t.Errorf("the genuine device's OTP: %v", err)
	}
}

// Attack: the 7pay reset, and finding out who has an account. A contact
// without an account gets a decoy that answers like a real enrollment; no
// message goes anywhere, and no step ever succeeds on it.
func TestDecoyGetsNothing(t *testing.T) {
	h := newHarness(t)
	h.account("victim@example.com")
	before := h.note.count()
	jkt := newJKT(t)
	e, err := h.svc.Create(h.ctx, h.req, "nobody@example.com", "phone", jkt)
	if err != nil {
		t.Fatalf("Create for an unknown contact: %v", err)
	}
	if e.AccountID != "" || device.StateOf(e, h.now) != device.Unverified || !strings.HasPrefix(e.ID, "enr_") {
		t.Errorf("decoy = %+v", e)
	}
	if h.note.count() != before {
		t.Error("a message went out for a contact without an account")
	}
	for _, guess := range []string{"000000", "123456"} {
		if _, err := h.svc.Verify(h.ctx, h.req, e.ID, jkt, secret(guess)); !errors.Is(err, device.ErrOTPWrong) {
			t.Errorf("Verify on a decoy: %v; want ErrOTPWrong", err)
		}
		if _, err := h.svc.Recover(h.ctx, h.req, e.ID, jkt, secret(guess), secret("aaaaa-bbbbb")); !errors.Is(err, device.ErrFactorsWrong) {
			t.Errorf("Recover on a decoy: %v; want ErrFactorsWrong", err)
		}
	}
	if _, err := h.svc.SendOTP(h.ctx, h.req, e.ID, jkt); err != nil {
		t.Errorf("SendOTP on a decoy answers %v; want it to look like success", err)
	}
	if h.note.count() != before {
		t.Error("a message went out for a decoy")
	}
	// Both calls cost what a real message costs: a decoy each, through
	// the same notifier (the outbox), so their timing matches.
	if n := h.note.decoyCount(); n != 2 {
		t.Errorf("%d decoys enqueued for Create and SendOTP of an unknown contact; want 2", n)
	}
	_, _, err = h.svc.FinishStart(h.ctx, h.req, e.ID, jkt)
	wantState(t, err, device.Unverified)
	var ran bool
	_, err = h.svc.Finish(h.ctx, h.req, e.ID, jkt, registered(&ran))
	wantState(t, err, device.Unverified)
	if ran {
		t.Error("a decoy ran the passkey registration")
	}
}

// Attack (issue 13 item 6): a passkey thief logs in from new keys to put
// prompts of their own wording on the owner's phone until the account's
// visible enrollments are full, which blocked the owner's own new device.
// Login prompts are capped below the visible cap, so the owner's
// enrollment by contact still goes through.
func TestLoginPromptsLeaveRoomForOwner(t *testing.T) {
	h := newHarness(t)
	o := h.account("prompts@example.com")
	made := 0
	for range 5 {
		_, err := h.svc.FromLogin(h.ctx, h.req, h.reload(o.acct.ID), newJKT(t), "Tap approve to keep your account safe")
		if errors.Is(err, device.ErrTooManyEnrollments) {
			continue
		}
		if err != nil {
			t.Fatalf("FromLogin: %v", err)
		}
		made++
	}
	if made != device.MaxLoginPrompts {
		t.Errorf("a passkey holder put %d prompts on the bound device; want at most %d", made, device.MaxLoginPrompts)
	}
	id, jkt := h.byContact(o)
	if _, err := h.svc.Verify(h.ctx, h.req, id, jkt, h.otp(o.acct.Contact)); err != nil {
		t.Fatalf("the owner's own enrollment by contact after a thief's prompts: %v", err)
	}
}
