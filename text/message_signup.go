package text

// Sign-up: the contact, its one-time code, the first passkey and device,
// and the messages sent to the contact.
const (
	InvalidContact     ID = "invalid_contact"
	OTPFormat          ID = "malformed_request.otp_format"
	OTPInvalid         ID = "otp_invalid"
	SignupExpired      ID = "otp_invalid.signup_expired"
	SignupInvalid      ID = "otp_invalid.signup_invalid"
	InvalidDeviceLabel ID = "invalid_device_label"
	ContactTaken       ID = "contact_taken"
	ContactTakenSignup ID = "contact_taken.signup_race"
	OTPNotSent         ID = "unavailable.otp_not_sent"

	// Notifications.
	SignupOTPMessage      ID = "signup.otp_message"
	SignupExistingMessage ID = "signup.existing_message"
)

func init() {
	register(
		Entry{ID: InvalidContact, Context: "problem (400): the contact is neither an e-mail address nor an E.164 phone number",
			En: "The contact must be an e-mail address or an E.164 phone number such as +819012345678.",
			Ja: "連絡先には、メールアドレスまたは +819012345678 のようなE.164形式の電話番号を入力してください。"},
		Entry{ID: OTPFormat, Context: "problem (400): the one-time code is not 6 digits",
			En: "The member \"otp\" must be 6 digits.", Ja: "項目 \"otp\" は6桁の数字で入力してください。"},
		Entry{ID: OTPInvalid, Context: "problem (400): the one-time code is wrong, used up or expired (one answer for all)",
			En: "The code is wrong or has expired.", Ja: "コードが間違っているか、有効期限が切れています。"},
		Entry{ID: SignupExpired, Context: "problem (400, otp_invalid): the sign-up expired before the passkey was registered",
			En: "The sign-up has expired; start again.", Ja: "登録の有効期限が切れました。最初からやり直してください。"},
		Entry{ID: SignupInvalid, Context: "problem (400, otp_invalid): the sign-up cannot finish any more (not verified, or already used)",
			En: "The sign-up is no longer valid; start again.", Ja: "この登録は無効になりました。最初からやり直してください。"},
		Entry{ID: InvalidDeviceLabel, Context: "problem (400): the name the customer gave the device is empty, too long or not printable",
			En: "The device label must be 1 to 64 printable characters.", Ja: "端末名は1〜64文字の表示できる文字で入力してください。"},
		Entry{ID: ContactTaken, Context: "problem (409): the e-mail address or phone number is another account's contact (generic)",
			En: "This address is another account's contact.", Ja: "この連絡先はすでに別のアカウントで使われています。"},
		Entry{ID: ContactTakenSignup, Context: "problem (409, contact_taken): another sign-up registered the same contact first",
			En: "This contact was registered by another sign-up meanwhile; sign in instead.",
			Ja: "この連絡先は、別の登録手続きで先に登録されました。ログインしてください。"},
		Entry{ID: OTPNotSent, Context: "problem (503, unavailable): the one-time code could not be delivered",
			En: "The code could not be sent; nothing was changed. Retry shortly.",
			Ja: "コードを送信できませんでした。変更は行われていません。しばらくしてからもう一度お試しください。"},
		Entry{ID: SignupOTPMessage, Context: "notification (e-mail or SMS): the sign-up one-time code; {code} is the 6 digits, {minutes} how long they are valid",
			En: "Your paycode sign-up code is {code}. It expires in {minutes} minutes. Never share it: paycode staff will never ask for it.",
			Ja: "paycodeの登録コードは {code} です。有効期限は{minutes}分です。このコードは誰にも教えないでください。paycodeのスタッフがコードをお尋ねすることはありません。"},
		Entry{ID: SignupExistingMessage, Context: "notification (e-mail or SMS): someone started a sign-up with a contact that already has an account",
			En: "Someone tried to create a paycode account with this address, which already has one. If it was you, sign in with your passkey instead; if not, no action is needed.",
			Ja: "このアドレスでpaycodeアカウントの作成が試みられましたが、このアドレスにはすでにアカウントがあります。お客様ご本人の場合は、パスキーでログインしてください。お心当たりがない場合は、何もする必要はありません。"},
	)
}
