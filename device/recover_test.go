package device_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/device"
	"github.com/paycode/paycode/notify"
)

// Attack: recovery with one factor. A hijacked mailbox (the OTP alone) or
// a found printout (a recovery code alone) gets nothing: the same error
// for either, no code spent, no warning, the enrollment still unverified;
// and a recovery code spent once never works again.
func TestRecoveryNeedsBothFactors(t *testing.T) {
	h := newHarness(t)
	o := h.account("twofactor@example.com")
	id, jkt := h.byContact(o)
	otp := h.otp(o.acct.Contact)

	_, errOTPOnly := h.svc.Recover(h.ctx, h.req, id, jkt, otp, secret("zzzzz-zzzzz"))
	_, errCodeOnly := h.svc.Recover(h.ctx, h.req, id, jkt, wrongOTP(otp), secret(o.codes[0]))
	for name, err := range map[string]error{"OTP alone": errOTPOnly, "recovery code alone": errCodeOnly} {
		if !errors.Is(err, device.ErrFactorsWrong) {
			t.Errorf("%s: error = %v; want ErrFactorsWrong", name, err)
		}
	}
	if left := h.codesLeft(o.acct.ID); left != 3 {
		t.Errorf("recovery codes left = %d; want 3 (none spent)", left)
	}
	if st := h.state(id); st != device.Unverified {
		t.Errorf("state = %q; want unverified", st)
	}
	for _, m := range h.note.to(o.acct.Contact) {
		if m.Type == notify.TypeSecurity {
			t.Errorf("a warning went out for a failed recovery: %s", m.Text)
		}
	}
	if _, ok := h.audited("enrollment.recovery_failed", o.acct.ID); !ok {
		t.Error("the failed recovery is not audited")
	}

	// Both factors: the code is spent, the cool-down starts. (Case and
	// dashes of a recovery code do not matter.)
	e, err := h.svc.Recover(h.ctx, h.req, id, jkt, otp, secret(strings.ToUpper(o.codes[1])))
	if err != nil {
		t.Fatalf("Recover with both factors: %v", err)
	}
	if device.StateOf(e, h.now) != device.PendingRecovery || !e.CooldownUntil.Equal(h.now.Add(24*time.Hour)) {
		t.Errorf("after recovery: state %q, cool-down until %v", device.StateOf(e, h.now), e.CooldownUntil)
	}
	if left := h.codesLeft(o.acct.ID); left != 2 {
		t.Errorf("recovery codes left = %d; want 2", left)
	}

	// The spent code again, on a fresh enrollment with a fresh OTP.
	id2, jkt2 := h.byContact(o)
	_, err = h.svc.Recover(h.ctx, h.req, id2, jkt2, h.otp(o.acct.Contact), secret(o.codes[1]))
	if !errors.Is(err, device.ErrFactorsWrong) {
		t.Errorf("the spent code again: error = %v; want ErrFactorsWrong", err)
	}
}

// Attack: a silent takeover. The owner must hear of a recovery before it
// starts: when the warning cannot be handed to the notifier, nothing
// changes (no code spent, no cool-down), and the same factors work once it
// can be sent.
func TestRecoveryWarnsBeforeCommit(t *testing.T) {
	h := newHarness(t)
	o := h.account("warnfirst@example.com")
	id, jkt := h.byContact(o)
	otp := h.otp(o.acct.Contact)

	h.note.setFailing(true)
	_, err := h.svc.Recover(h.ctx, h.req, id, jkt, otp, secret(o.codes[0]))
	if !errors.Is(err, device.ErrNoticeFailed) || !errors.Is(err, errNotifierDown) {
		t.Fatalf("Recover with the notifier down: error = %v; want ErrNoticeFailed (caused by the notifier)", err)
	}
	if st := h.state(id); st != device.Unverified {
		t.Errorf("state = %q; want unverified (nothing changed)", st)
	}
	if left := h.codesLeft(o.acct.ID); left != 3 {
		t.Errorf("recovery codes left = %d; want 3 (the code is not spent)", left)
	}
	if _, ok := h.audited("enrollment.recovery_started", o.acct.ID); ok {
		t.Error("a recovery that never started is audited as started")
	}

	h.note.setFailing(false)
	e, err := h.svc.Recover(h.ctx, h.req, id, jkt, otp, secret(o.codes[0]))
	if err != nil {
		t.Fatalf("Recover once the warning can go out: %v", err)
	}
	if device.StateOf(e, h.now) != device.PendingRecovery {
		t.Errorf("state = %q; want pending_recovery", device.StateOf(e, h.now))
	}
	warnings := 0
	for _, m := range h.note.to(o.acct.Contact) {
		if m.Type == notify.TypeSecurity && m.Data["cancel_token"] != "" && m.Data["enrollment_id"] == id {
			warnings++
		}
	}
	if warnings != 1 {
		t.Errorf("%d warnings with a cancel code went to the contact; want 1", warnings)
	}
	if ev, ok := h.audited("enrollment.recovery_started", o.acct.ID); !ok || ev.Fields["cooldown_until"] == "" || ev.IP != h.req.IP {
		t.Errorf("recovery_started audit = %+v, %v", ev, ok)
	}
}

// Attack: a recovery by a thief while the owner still has the phone (or
// the mailbox). The bound device or the contact cancels it in the
// cool-down, and it never activates, not even after the cool-down.
func TestCancelDuringCooldownNeverActivates(t *testing.T) {
	for _, by := range []string{"bound device", "contact's cancel code"} {
		t.Run(by, func(t *testing.T) {
			h := newHarness(t)
			o := h.account("cancel@example.com")
			id, jkt := h.byContact(o)
			if _, err := h.svc.Recover(h.ctx, h.req, id, jkt, h.otp(o.acct.Contact), secret(o.codes[0])); err != nil {
				t.Fatal(err)
			}
			var err error
			switch by {
			case "bound device":
				_, err = h.svc.Cancel(h.ctx, h.req, o.sess, id)
			default:
				msgs := h.note.to(o.acct.Contact)
				code := msgs[len(msgs)-1].Data["cancel_token"]
				_, forged := h.svc.CancelWithToken(h.ctx, h.req, secret(id+".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
				if !errors.Is(forged, device.ErrCancelInvalid) {
					t.Errorf("a forged cancel code: error = %v; want ErrCancelInvalid", forged)
				}
				if st := h.state(id); st != device.PendingRecovery {
					t.Fatalf("state after a forged code = %q", st)
				}
				_, err = h.svc.CancelWithToken(h.ctx, h.req, secret(code))
			}
			if err != nil {
				t.Fatalf("cancel: %v", err)
			}
			if _, ok := h.audited("enrollment.cancelled", o.acct.ID); !ok {
				t.Error("the cancellation is not audited")
			}

			h.advance(24*time.Hour + time.Minute)
			_, _, err = h.svc.FinishStart(h.ctx, h.req, id, jkt)
			wantState(t, err, device.Cancelled)
			var ran bool
			_, err = h.svc.Finish(h.ctx, h.req, id, jkt, registered(&ran))
			wantState(t, err, device.Cancelled)
			_, err = h.svc.ApproveStart(h.ctx, h.req, o.sess, id)
			wantState(t, err, device.Cancelled)
			if acct := h.reload(o.acct.ID); acct.DeviceID != o.acct.DeviceID || acct.DeviceJKT != o.acct.DeviceJKT {
				t.Errorf("the cancelled recovery replaced the device: %+v", acct)
			}
		})
	}
}

// Attack: recovery attempts without end (guessing recovery codes). The
// per-IP and per-account limits are spent before any factor is checked,
// and once reached nothing is checked at all: not even an OTP try goes.
func TestRecoveryLimitedBeforeFactorsChecked(t *testing.T) {
	h := newHarness(t)
	o := h.account("limits@example.com")
	id, jkt := h.byContact(o)
	otp := h.otp(o.acct.Contact)

	lim := &limiter{deny: device.LimitRecoverPerEnrollment.Name}
	h.svc.Limiter = lim
	for range 6 { // more than the OTP's 5 tries
		_, err := h.svc.Recover(h.ctx, h.req, id, jkt, otp, secret(o.codes[0]))
		var re *device.RateLimitError
		if !errors.As(err, &re) || !errors.Is(err, device.ErrRateLimited) || re.RetryAfter <= 0 {
			t.Fatalf("Recover over the limit: error = %v; want a *RateLimitError", err)
		}
	}
	e, _ := h.st.Enrollment(h.ctx, id)
	want := []string{"enroll-recover-ip " + h.req.IP, "enroll-recover-enrollment " + e.ID}
	if got := lim.spent[:2]; got[0] != want[0] || got[1] != want[1] {
		t.Errorf("limits spent = %v; want %v first", lim.spent, want)
	}

	h.svc.Limiter = &limiter{}
	if _, err := h.svc.Recover(h.ctx, h.req, id, jkt, otp, secret(o.codes[0])); err != nil {
		t.Errorf("Recover within the limit: %v (the refused attempts must not have spent OTP tries)", err)
	}
}
