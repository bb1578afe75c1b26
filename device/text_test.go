package device_test

import (
	"fmt"
	"testing"

	"github.com/paycode/paycode/text"
)

// The English notifications are byte-identical to the texts the handlers
// wrote inline before package device (customers' mail filters and the
// operator's templates may match on them); the formats below are those
// handlers' own.
func TestNotificationTextsUnchanged(t *testing.T) {
	label, network, when := `my "phone"`, "192.0.2.0/24", "2030-01-02 03:04 UTC"
	for _, tc := range []struct {
		msg  text.Message
		want string
	}{
		{text.M(text.NoticeEnrollmentOTP, "code", "123456", "label", label),
			fmt.Sprintf("Your paycode code is %s. Someone asked to move your paycode account to a new device (%q). "+
				"Enter this code only on that device. If it was not you, ignore this message: nothing changes without this code "+
				"and either your current device or one of your recovery codes. paycode staff will never ask for it.", "123456", label)},
		{text.M(text.NoticeRecoveryOTP, "code", "123456", "label", label),
			fmt.Sprintf("Your paycode code is %s. It lets the new device %q recover your account together with a recovery code. "+
				"If it was not you, ignore this message and cancel the request on your current device. paycode staff will never ask for it.",
				"123456", label)},
		{text.M(text.NoticeRecoveryStarted, "label", label, "network", network, "after", when, "cancel_code", "enr_x.y"),
			fmt.Sprintf("Someone is recovering your paycode account onto a new device (%q, network %s) with this address and a recovery code, "+
				"without your current device. The new device can take over after %s; your current device will then be signed out. "+
				"If this was not you, cancel it now in paycode on your current device, or with this cancel code: %s",
				label, network, when, "enr_x.y")},
		{text.M(text.NoticeOperatorApproved, "label", label),
			fmt.Sprintf("paycode staff approved a new device (%q) for your account after checking your identity in a store. "+
				"If this was not you, contact paycode support at once.", label)},
		{text.M(text.NoticeDeviceReplaced, "label", label, "until", when),
			fmt.Sprintf("A new device (%q) is now the only device of your paycode account; the previous device was signed out. "+
				"Payments are limited and top-ups are off until %s. If this was not you, contact paycode support at once.", label, when)},
		{text.M(text.NoticeContactOTP, "code", "123456"),
			fmt.Sprintf("Your paycode code is %s. Enter it in paycode to make this address your account's contact. "+
				"If you did not ask for this, ignore this message. paycode staff will never ask for it.", "123456")},
		// Changed on purpose (issue 13): the change now waits a cool-down
		// the old address can cancel, and the text says so.
		{text.M(text.NoticeContactChanging, "new_contact", "n***@example.com", "after", when, "cancel_code", "cch_x.y"),
			fmt.Sprintf("Someone asked to change the contact of your paycode account from this address to %s. "+
				"It takes effect after %s; until then codes and notices still come here. "+
				"If this was not you, cancel it with this cancel code: %s", "n***@example.com", when, "cch_x.y")},
	} {
		if got := tc.msg.Render(text.En); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.msg.ID, got, tc.want)
		}
		if ja := tc.msg.Render(text.Ja); ja == "" || ja == tc.want {
			t.Errorf("%s: no Japanese text", tc.msg.ID)
		}
	}
}
