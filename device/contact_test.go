package device_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/device"
	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store"
)

// Attack: moving the contact quietly (a stolen unlocked phone), so that
// every later code and warning goes to the thief. The change needs a
// recent passkey verification, the new address must prove itself, and
// the old address is warned before the switch: if the warning cannot be
// sent, the contact does not move.
func TestContactChangeWarnsBeforeCommit(t *testing.T) {
	h := newHarness(t)
	o := h.account("old@example.com")

	stale := *o.sess
	stale.AuthTime = h.now.Add(-6 * time.Minute)
	if _, err := h.svc.ChangeContactStart(h.ctx, h.req, &stale, "new@example.com", "email"); !errors.Is(err, device.ErrStepUpRequired) {
		t.Fatalf("without a recent passkey verification: error = %v; want ErrStepUpRequired", err)
	}
	if len(h.note.to("new@example.com")) != 0 {
		t.Fatal("a code went out without a step-up")
	}
	if _, err := h.svc.ChangeContactStart(h.ctx, h.req, o.sess, o.acct.Contact, "email"); !errors.Is(err, device.ErrSameContact) {
		t.Errorf("the same contact: error = %v; want ErrSameContact", err)
	}

	cc, err := h.svc.ChangeContactStart(h.ctx, h.req, o.sess, "new@example.com", "email")
	if err != nil {
		t.Fatalf("ChangeContactStart: %v", err)
	}
	otp := h.otp("new@example.com")
	if _, err := h.svc.ChangeContactVerify(h.ctx, h.req, o.sess, cc.ID, wrongOTP(otp)); !errors.Is(err, device.ErrOTPWrong) {
		t.Errorf("a wrong OTP: error = %v; want ErrOTPWrong", err)
	}
	otherSess := *o.sess
	otherSess.ID = o.sess.ID + "x"
	if _, err := h.svc.ChangeContactVerify(h.ctx, h.req, &otherSess, cc.ID, otp); !errors.Is(err, device.ErrOTPWrong) {
		t.Errorf("another session: error = %v; want ErrOTPWrong", err)
	}

	h.note.setFailing(true)
	_, err = h.svc.ChangeContactVerify(h.ctx, h.req, o.sess, cc.ID, otp)
	if !errors.Is(err, device.ErrNoticeFailed) {
		t.Fatalf("with the notifier down: error = %v; want ErrNoticeFailed", err)
	}
	if acct := h.reload(o.acct.ID); acct.Contact != "old@example.com" {
		t.Errorf("the contact moved without the warning: %q", acct.Contact)
	}
	if _, err := h.st.AccountByContact(h.ctx, h.svc.ContactHash("new@example.com")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the new address was claimed without the warning: %v", err)
	}
	if _, ok := h.audited("contact.changed", o.acct.ID); ok {
		t.Error("a change that did not happen is audited")
	}

	// Once the warning goes out, a new change goes through.
	h.note.setFailing(false)
	cc, err = h.svc.ChangeContactStart(h.ctx, h.req, o.sess, "new@example.com", "email")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.ChangeContactVerify(h.ctx, h.req, o.sess, cc.ID, h.otp("new@example.com")); err != nil {
		t.Fatalf("ChangeContactVerify: %v", err)
	}
	if acct := h.reload(o.acct.ID); acct.Contact != "new@example.com" {
		t.Errorf("contact = %q; want the new one", acct.Contact)
	}
	old := h.note.to("old@example.com")
	if len(old) == 0 || old[len(old)-1].Type != notify.TypeSecurity || !strings.Contains(old[len(old)-1].Text, "n***@example.com") {
		t.Errorf("the old address was not warned: %+v", old)
	}
	if _, ok := h.audited("contact.changed", o.acct.ID); !ok {
		t.Error("the change is not audited")
	}
	// Attack (issue 13 item 5): someone holding the unlocked phone moves
	// the contact to their own address. Probation follows, as after a new
	// device: lower limits and no top-ups until it ends.
	if until := h.reload(o.acct.ID).ProbationUntil; !until.After(h.now) {
		t.Errorf("probation after a contact change ends %v; want after %v", until, h.now)
	}
}

// Attack: taking another account's address. The new address proves
// itself first (so nothing is revealed before), then the switch refuses.
func TestContactChangeToTakenAddress(t *testing.T) {
	h := newHarness(t)
	o := h.account("mine@example.com")
	h.account("taken@example.com")
	cc, err := h.svc.ChangeContactStart(h.ctx, h.req, o.sess, "taken@example.com", "email")
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.ChangeContactVerify(h.ctx, h.req, o.sess, cc.ID, h.otp("taken@example.com"))
	if !errors.Is(err, device.ErrContactTaken) {
		t.Fatalf("error = %v; want ErrContactTaken", err)
	}
	if acct := h.reload(o.acct.ID); acct.Contact != "mine@example.com" {
		t.Errorf("contact = %q", acct.Contact)
	}
}
