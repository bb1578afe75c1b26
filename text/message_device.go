package text

// The new device (enrollments), recovery and the contact change: the
// problem details of their calls and the notifications they send.
//
// Notifications go only to an account's verified contact (or, for
// NoticeContactOTP, to the address being verified), and some carry a
// one-time code or a cancel code by design: they are never logged.
const (
	// Problem codes of enrollments (their generic texts).
	EnrollmentState ID = "enrollment_state"
	RecoveryInvalid ID = "recovery_invalid"
	// Problem codes of a passkey login on a device that is not (or no
	// longer may be) the account's device.
	NewDevice    ID = "new_device"
	DeviceLocked ID = "device_locked"

	// Problem details.
	RequestUnknownMember          ID = "request.unknown_member"
	EnrollmentNotFound            ID = "enrollment.not_found"
	EnrollmentStateIs             ID = "enrollment.state"
	EnrollmentStateUnverified     ID = "enrollment.state.unverified"
	EnrollmentStatePendingApprove ID = "enrollment.state.pending_approval"
	EnrollmentStatePendingRecover ID = "enrollment.state.pending_recovery"
	EnrollmentStateReady          ID = "enrollment.state.ready"
	EnrollmentStateApproved       ID = "enrollment.state.approved"
	EnrollmentStateActive         ID = "enrollment.state.active"
	EnrollmentStateCancelled      ID = "enrollment.state.cancelled"
	EnrollmentStateExpired        ID = "enrollment.state.expired"
	EnrollmentSuperseded          ID = "enrollment.superseded"
	EnrollmentNotApprover         ID = "enrollment.not_approver"
	EnrollmentAccountFrozen       ID = "enrollment.account_frozen"
	EnrollmentTooMany             ID = "enrollment.too_many"
	EnrollmentRecoveryCodeLong    ID = "enrollment.recovery_code_too_long"
	EnrollmentCancelInvalid       ID = "enrollment.cancel_invalid"
	EnrollmentNoticeFailed        ID = "enrollment.notice_failed"
	EnrollmentOperatorName        ID = "enrollment.operator_name"
	EnrollmentOperatorReason      ID = "enrollment.operator_reason"
	NewDeviceElsewhere            ID = "new_device.bound_elsewhere"
	EnrollmentUnconfirmed         ID = "unconfirmed.enrollment"
	ContactChangeSame             ID = "contact_change.same"
	ContactChangeChanged          ID = "contact_change.changed"

	// Notifications.
	NoticeEnrollmentOTP    ID = "notice.enrollment_otp"
	NoticeRecoveryOTP      ID = "notice.recovery_otp"
	NoticeRecoveryStarted  ID = "notice.recovery_started"
	NoticeOperatorApproved ID = "notice.operator_approved"
	NoticeDeviceReplaced   ID = "notice.device_replaced"
	NoticeContactOTP       ID = "notice.contact_otp"
	NoticeContactChanging  ID = "notice.contact_changing"
)

func init() {
	register(
		Entry{ID: EnrollmentState, Context: "problem code: the new-device request is not in a state that allows the step (409)",
			En: "The enrollment is not in a state that allows this step.",
			Ja: "登録申請の現在の状態では、この操作はできません。"},
		Entry{ID: RecoveryInvalid, Context: "problem: recovery without the old device failed; deliberately does not say which of the two codes was wrong",
			En: "The code or the recovery code is wrong, or the code has expired.",
			Ja: "確認コードまたはリカバリーコードが正しくないか、確認コードの有効期限が切れています。"},

		Entry{ID: RequestUnknownMember, Context: "problem: the JSON body has a member the call does not define (so that nobody believes it had an effect)",
			En: "The body has a member this call does not define; nothing was done.",
			Ja: "このリクエストでは使えない項目が含まれています。処理は行われていません。"},
		Entry{ID: EnrollmentNotFound, Context: "problem: no new-device request with this id, or the call was signed by another device key",
			En: "No such enrollment for this device.",
			Ja: "この端末の登録申請が見つかりません。"},
		Entry{ID: EnrollmentStateIs, Context: "problem: fallback for a state without its own message; {state} is the state in English words",
			En: "The enrollment is {state}; this step is not possible now.",
			Ja: "登録申請の状態（{state}）では、この操作は現在できません。"},
		Entry{ID: EnrollmentStateUnverified, Context: "problem: the step needs a request whose contact code was checked; it was not yet",
			En: "The enrollment is unverified; this step is not possible now.",
			Ja: "登録申請はまだ確認されていないため、この操作は現在できません。"},
		Entry{ID: EnrollmentStatePendingApprove, Context: "problem: the request waits for approval by the current device",
			En: "The enrollment is pending approval; this step is not possible now.",
			Ja: "登録申請は現在の端末での承認待ちのため、この操作は現在できません。"},
		Entry{ID: EnrollmentStatePendingRecover, Context: "problem: the recovery's waiting period (cool-down) is still running",
			En: "The enrollment is pending recovery; this step is not possible now.",
			Ja: "登録申請は復旧の待機期間中のため、この操作は現在できません。"},
		Entry{ID: EnrollmentStateReady, Context: "problem: the recovery's waiting period is over and the new device may finish; this other step is not possible",
			En: "The enrollment is ready; this step is not possible now.",
			Ja: "登録申請はすでに完了手続きができる状態のため、この操作はできません。"},
		Entry{ID: EnrollmentStateApproved, Context: "problem: the request is already approved",
			En: "The enrollment is approved; this step is not possible now.",
			Ja: "登録申請はすでに承認済みのため、この操作はできません。"},
		Entry{ID: EnrollmentStateActive, Context: "problem: the new device already became the account's device",
			En: "The enrollment is complete; this device is the account's device.",
			Ja: "登録は完了しています。この端末がアカウントの端末です。"},
		Entry{ID: EnrollmentStateCancelled, Context: "problem: the request was cancelled (by the current device, the contact, or because the device changed)",
			En: "The enrollment was cancelled; start again if this device should become the account's device.",
			Ja: "登録申請は取り消されました。この端末をアカウントの端末にする場合は、最初からやり直してください。"},
		Entry{ID: EnrollmentStateExpired, Context: "problem: the request's time ran out",
			En: "The enrollment has expired; start again.",
			Ja: "登録申請の有効期限が切れました。最初からやり直してください。"},
		Entry{ID: EnrollmentSuperseded, Context: "problem: the account's device changed after the request began, so the request was cancelled",
			En: "The account's device changed since this enrollment began, so it was cancelled; start again.",
			Ja: "この登録申請の開始後にアカウントの端末が変更されたため、申請は取り消されました。最初からやり直してください。"},
		Entry{ID: EnrollmentNotApprover, Context: "problem: an approval by a device that is not the account's active device",
			En: "Only the account's active device can approve.",
			Ja: "承認できるのは、アカウントで現在有効な端末だけです。"},
		Entry{ID: EnrollmentAccountFrozen, Context: "problem: the account is frozen by support; no device change",
			En: "This account is frozen; devices cannot change until support unfreezes it.",
			Ja: "このアカウントは凍結されています。サポートが凍結を解除するまで端末は変更できません。"},
		Entry{ID: EnrollmentTooMany, Context: "problem: the account has too many new-device requests waiting (429)",
			En: "Too many devices are waiting for approval on this account; approve or cancel them first.",
			Ja: "このアカウントで承認待ちの端末が多すぎます。先に承認または取り消しを行ってください。"},
		Entry{ID: EnrollmentRecoveryCodeLong, Context: "problem: the member recovery_code is longer than any recovery code; recovery_code is the JSON member name, keep it",
			En: "The member \"recovery_code\" is too long.",
			Ja: "「recovery_code」が長すぎます。"},
		Entry{ID: EnrollmentCancelInvalid, Context: "problem: cancelling a recovery with the cancel code from the warning failed (one answer for every cause)",
			En: "No such enrollment, or the cancel code is not valid.",
			Ja: "登録申請が見つからないか、取り消しコードが無効です。"},
		Entry{ID: EnrollmentNoticeFailed, Context: "problem: a code or a warning that must go out before a change could not be sent; nothing changed (503)",
			En: "The message could not be sent; nothing was changed. Retry shortly.",
			Ja: "メッセージを送信できなかったため、変更は行われていません。しばらくしてからもう一度お試しください。"},
		Entry{ID: EnrollmentOperatorName, Context: "problem (operator API): the member operator is not a valid operator name; operator is the JSON member name, keep it",
			En: "The member \"operator\" must be the operator's name: 1 to 64 printable characters, no spaces or colons.",
			Ja: "「operator」には担当者名を、空白とコロンを含まない1〜64文字で指定してください。"},
		Entry{ID: EnrollmentOperatorReason, Context: "problem (operator API): the member reason is empty or too long; reason is the JSON member name, keep it",
			En: "The member \"reason\" must be 1 to 500 printable characters.",
			Ja: "「reason」は1〜500文字の表示可能な文字で指定してください。"},
		Entry{ID: NewDevice, Context: "problem code (403): the passkey is valid but this device is not the account's device; it must be approved or recover",
			En: "This device is not your account's device. Approve it from your current device, or recover the account.",
			Ja: "この端末はアカウントに登録された端末ではありません。現在の端末から承認するか、アカウントを復旧してください。"},
		Entry{ID: DeviceLocked, Context: "problem code (403): the device was locked because its passkey's sign counter went backwards (a cloned authenticator)",
			En: "This device is locked for your protection. Recover your account or contact support.",
			Ja: "安全のため、この端末はロックされています。アカウントを復旧するか、サポートにお問い合わせください。"},
		Entry{ID: EnrollmentUnconfirmed, Context: "problem (503 unconfirmed): a step of the new-device request was done but could not be read back; the app reads the request's state again",
			En: "This step was done, but its result could not be confirmed. Check the request's state again shortly.",
			Ja: "この操作は完了しましたが、結果を確認できませんでした。しばらくしてから申請の状態をもう一度確認してください。"},
		Entry{ID: NewDeviceElsewhere, Context: "problem (403 new_device): a valid passkey on a device that is not the account's; the answer carries the new request's id",
			En: "This passkey belongs to an account bound to another device. Approve this device from your current one, or recover the account.",
			Ja: "このパスキーのアカウントは別の端末に紐づいています。現在の端末からこの端末を承認するか、アカウントを復旧してください。"},
		Entry{ID: ContactChangeSame, Context: "problem: the new contact is the account's contact already",
			En: "This is already the account's contact.",
			Ja: "これはすでにアカウントの連絡先です。"},
		Entry{ID: ContactChangeChanged, Context: "problem: the account's contact changed while this change was in progress",
			En: "The account's contact changed meanwhile; start again.",
			Ja: "手続き中にアカウントの連絡先が変更されました。最初からやり直してください。"},

		Entry{ID: NoticeEnrollmentOTP, Context: "notification to the account's contact: someone asked, by this contact, to move the account to a new device; {code} is the 6-digit code, {label} the new device's name",
			En: "Your paycode code is {code}. Someone asked to move your paycode account to a new device ({label!q}). " +
				"Enter this code only on that device. If it was not you, ignore this message: nothing changes without this code " +
				"and either your current device or one of your recovery codes. paycode staff will never ask for it.",
			Ja: "paycodeの確認コードは {code} です。あなたのpaycodeアカウントを新しい端末（{label!q}）に移す申請がありました。" +
				"このコードはその端末でのみ入力してください。お心当たりがない場合は、このメッセージを無視してください。" +
				"このコードに加えて、現在の端末かリカバリーコードのどちらかがなければ、何も変更されません。" +
				"paycodeのスタッフがこのコードをお尋ねすることはありません。"},
		Entry{ID: NoticeRecoveryOTP, Context: "notification to the account's contact: a code for recovering the account on a new device; {code} is the 6-digit code, {label} the new device's name",
			En: "Your paycode code is {code}. It lets the new device {label!q} recover your account together with a recovery code. " +
				"If it was not you, ignore this message and cancel the request on your current device. paycode staff will never ask for it.",
			Ja: "paycodeの確認コードは {code} です。リカバリーコードと組み合わせることで、新しい端末 {label!q} でアカウントを復旧できます。" +
				"お心当たりがない場合は、このメッセージを無視し、現在の端末で申請を取り消してください。" +
				"paycodeのスタッフがこのコードをお尋ねすることはありません。"},
		Entry{ID: NoticeRecoveryStarted, Context: "security warning to the account's contact, sent before a recovery starts; {label} new device's name, {network} its coarse network, {after} when the new device may take over (UTC), {cancel_code} the one-time code that cancels it",
			En: "Someone is recovering your paycode account onto a new device ({label!q}, network {network}) with this address and a recovery code, " +
				"without your current device. The new device can take over after {after}; your current device will then be signed out. " +
				"If this was not you, cancel it now in paycode on your current device, or with this cancel code: {cancel_code}",
			Ja: "このアドレスとリカバリーコードを使って、現在の端末を使わずにpaycodeアカウントを新しい端末（{label!q}、ネットワーク {network}）へ復旧する手続きが行われています。" +
				"新しい端末は {after} 以降に引き継ぐことができ、その時点で現在の端末はサインアウトされます。" +
				"お心当たりがない場合は、今すぐ現在の端末のpaycodeで取り消すか、次の取り消しコードで取り消してください: {cancel_code}"},
		Entry{ID: NoticeOperatorApproved, Context: "security notice to the account's contact: staff approved a new device after an identity check in a store; {label} the new device's name",
			En: "paycode staff approved a new device ({label!q}) for your account after checking your identity in a store. " +
				"If this was not you, contact paycode support at once.",
			Ja: "paycodeのスタッフが店舗で本人確認を行い、あなたのアカウントの新しい端末（{label!q}）を承認しました。" +
				"お心当たりがない場合は、すぐにpaycodeサポートへご連絡ください。"},
		Entry{ID: NoticeDeviceReplaced, Context: "security notice to the account's contact: the new device replaced the old one; {label} the new device's name, {until} the end of the probation window (UTC)",
			En: "A new device ({label!q}) is now the only device of your paycode account; the previous device was signed out. " +
				"Payments are limited and top-ups are off until {until}. If this was not you, contact paycode support at once.",
			Ja: "新しい端末（{label!q}）があなたのpaycodeアカウントの唯一の端末になり、以前の端末はサインアウトされました。" +
				"{until} まではお支払いに上限があり、チャージはご利用いただけません。お心当たりがない場合は、すぐにpaycodeサポートへご連絡ください。"},
		Entry{ID: NoticeContactOTP, Context: "notification to a new contact address being verified; {code} is the 6-digit code",
			En: "Your paycode code is {code}. Enter it in paycode to make this address your account's contact. " +
				"If you did not ask for this, ignore this message. paycode staff will never ask for it.",
			Ja: "paycodeの確認コードは {code} です。このアドレスをアカウントの連絡先にするには、paycodeでこのコードを入力してください。" +
				"お心当たりがない場合は、このメッセージを無視してください。paycodeのスタッフがこのコードをお尋ねすることはありません。"},
		Entry{ID: NoticeContactChanging, Context: "security warning to the old contact, sent before a contact change's cool-down starts; {new_contact} is the new address, partly masked; {after} when it takes effect (UTC); {cancel_code} the one-time code that cancels it",
			En: "Someone asked to change the contact of your paycode account from this address to {new_contact}. " +
				"It takes effect after {after}; until then codes and notices still come here. " +
				"If this was not you, cancel it with this cancel code: {cancel_code}",
			Ja: "paycodeアカウントの連絡先を、このアドレスから {new_contact} に変更する申請がありました。" +
				"変更は {after} 以降に有効になり、それまでは確認コードやお知らせはこのアドレスに届きます。" +
				"お心当たりがない場合は、次の取り消しコードで取り消してください: {cancel_code}"},
	)
}
