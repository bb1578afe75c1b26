package bff

import (
	"strings"
	"testing"

	"github.com/go-redis/redis_rate/v10"

	newdevice "github.com/paycode/paycode/device"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

// A recovery code is accepted however the owner types it (case, dashes,
// spaces): the hash sign-up stored must be what recovery computes from
// what the owner typed.
func TestRecoveryCodeHashNormalises(t *testing.T) {
	e := newEnv(t, nil)
	stored := e.s.RecoveryCodeHash("abcde-fghjk")
	for _, typed := range []string{"abcde-fghjk", "ABCDE FGHJK", "abcdefghjk", " AbCdE-FgHjK "} {
		if got := e.s.devices.RecoveryCodeHash(tokens.NewSecret([]byte(typed))); got != stored {
			t.Errorf("recovery code typed as %q hashes to %s, sign-up stored %s", typed, got, stored)
		}
	}
	if e.s.devices.RecoveryCodeHash(tokens.NewSecret([]byte("abcde-fghjm"))) == stored {
		t.Error("another recovery code hashes alike")
	}
}

// The limits device shares with sign-up count in the same Redis buckets,
// so they must have the same numbers (one bucket, one rate).
func TestDeviceSharedLimitsMatchSignup(t *testing.T) {
	for _, tc := range []struct {
		device newdevice.Limit
		name   string
		bff    redis_rate.Limit
	}{
		{newdevice.LimitOTPPerIP, "otp-ip", limitOTPPerIP},
		{newdevice.LimitOTPPerContact, "otp-contact", limitOTPPerContact},
		{newdevice.LimitVerifyPerIP, "verify-ip", limitVerifyPerIP},
	} {
		if tc.device.Name != tc.name || tc.device.Rate != tc.bff.Rate || tc.bff.Burst != tc.bff.Rate || tc.device.Per != tc.bff.Period {
			t.Errorf("%s: device %+v, bff %+v", tc.name, tc.device, tc.bff)
		}
	}
	if newdevice.LimitEnrollPerContact.Rate != limitOTPPerContact.Rate || newdevice.LimitEnrollPerContact.Per != limitOTPPerContact.Period {
		t.Errorf("enroll-contact = %+v; want the OTP-per-contact numbers %+v", newdevice.LimitEnrollPerContact, limitOTPPerContact)
	}
}

// The English detail of each state's 409 is the one the handlers wrote
// before the state messages existed; each state has a Japanese one.
func TestEnrollmentStateDetailsUnchanged(t *testing.T) {
	for _, st := range []newdevice.State{newdevice.Unverified, newdevice.PendingApproval, newdevice.PendingRecovery,
		newdevice.Ready, newdevice.Approved, newdevice.Active, newdevice.Cancelled, newdevice.Expired, "some_new_state"} {
		want := "The enrollment is " + strings.ReplaceAll(string(st), "_", " ") + "; this step is not possible now."
		switch st {
		case newdevice.Cancelled:
			want = "The enrollment was cancelled; start again if this device should become the account's device."
		case newdevice.Expired:
			want = "The enrollment has expired; start again."
		case newdevice.Active:
			want = "The enrollment is complete; this device is the account's device."
		}
		p := enrollmentStateProblem(st)
		if p.Detail != want || p.Status != 409 || p.Code != codeEnrollmentState || p.Extra["state"] != st {
			t.Errorf("%s: %+v; want detail %q", st, p, want)
		}
		if ja := p.detailIn(text.Ja); ja == "" || ja == want {
			t.Errorf("%s: no Japanese detail", st)
		}
	}
}
