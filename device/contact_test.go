package device_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/device"
	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/tokens"
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
	old := h.note.to("old@example.com")
	if len(old) == 0 || old[len(old)-1].Type != notify.TypeSecurity || !strings.Contains(old[len(old)-1].Text, "n***@example.com") {
		t.Errorf("the old address was not warned: %+v", old)
	}
	// The cool-down: the old address stays the contact until it is over.
	if acct := h.reload(o.acct.ID); acct.Contact != "old@example.com" || acct.ContactChangeID != cc.ID {
		t.Errorf("during the cool-down: contact %q, pending %q; want the old contact and the change pending", acct.Contact, acct.ContactChangeID)
	}
	if _, ok := h.audited("contact.change_pending", o.acct.ID); !ok {
		t.Error("the pending change is not audited")
	}
	h.now = h.now.Add(24*time.Hour - time.Second)
	if n, err := h.svc.ApplyDueContactChanges(h.ctx, 100); err != nil || n != 0 {
		t.Fatalf("a second before the cool-down ends: applied %d, %v; want none", n, err)
	}
	h.now = h.now.Add(time.Second)
	if n, err := h.svc.ApplyDueContactChanges(h.ctx, 100); err != nil || n != 1 {
		t.Fatalf("when the cool-down ends: applied %d, %v; want 1", n, err)
	}
	if acct := h.reload(o.acct.ID); acct.Contact != "new@example.com" || acct.ContactChangeID != "" {
		t.Errorf("contact = %q (pending %q); want the new one", acct.Contact, acct.ContactChangeID)
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

// Attack (issue 13): someone holding the unlocked phone moves the contact
// to their own address, to receive the next recovery. The old address's
// warning carries a one-time cancel code; with it the owner cancels during
// the cool-down, once, and the contact never moves. A forged or reused
// code cancels nothing, with one answer.
func TestContactChangeCancelledFromOldAddress(t *testing.T) {
	h := newHarness(t)
	o := h.account("owner@example.com")
	cc, err := h.svc.ChangeContactStart(h.ctx, h.req, o.sess, "thief@example.com", "email")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.ChangeContactVerify(h.ctx, h.req, o.sess, cc.ID, h.otp("thief@example.com")); err != nil {
		t.Fatal(err)
	}
	warnings := h.note.to("owner@example.com")
	token := warnings[len(warnings)-1].Data["cancel_token"]
	if !strings.HasPrefix(token, cc.ID+".") || !strings.Contains(warnings[len(warnings)-1].Text, token) {
		t.Fatalf("the warning carries no cancel code: %+v", warnings[len(warnings)-1])
	}
	for _, bad := range []string{"", "nonsense", cc.ID + ".forged", cc.ID, "cch_0000aaaaaaaaaaaaaaaaaaaaaaaa.x"} {
		if _, err := h.svc.CancelContactChange(h.ctx, h.req, tokens.NewSecret([]byte(bad))); !errors.Is(err, device.ErrContactCancelInvalid) {
			t.Errorf("cancel code %q: error = %v; want ErrContactCancelInvalid", bad, err)
		}
	}
	h.now = h.now.Add(23 * time.Hour)
	if _, err := h.svc.CancelContactChange(h.ctx, h.req, tokens.NewSecret([]byte(token))); err != nil {
		t.Fatalf("the old address's cancel: %v", err)
	}
	if _, err := h.svc.CancelContactChange(h.ctx, h.req, tokens.NewSecret([]byte(token))); !errors.Is(err, device.ErrContactCancelInvalid) {
		t.Errorf("the cancel code a second time: error = %v; want ErrContactCancelInvalid", err)
	}
	if ev, ok := h.audited("contact.change_cancelled", o.acct.ID); !ok || ev.Fields["by"] != "contact" {
		t.Errorf("the cancel is not audited as the contact's: %+v", ev)
	}
	h.now = h.now.Add(2 * time.Hour)
	if n, err := h.svc.ApplyDueContactChanges(h.ctx, 100); err != nil || n != 0 {
		t.Fatalf("after the cool-down of a cancelled change: applied %d, %v; want none", n, err)
	}
	if acct := h.reload(o.acct.ID); acct.Contact != "owner@example.com" || acct.ContactChangeID != "" {
		t.Errorf("contact = %q (pending %q); want the owner's, nothing pending", acct.Contact, acct.ContactChangeID)
	}
	if _, err := h.st.AccountByContact(h.ctx, h.svc.ContactHash("thief@example.com")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the thief's address leads to the account: %v", err)
	}
}
