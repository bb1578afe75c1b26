package text

// A contact change's cool-down: the warning with its cancel link, and the
// answers of the cancel calls.
const (
	NoticeContactChangingLink ID = "notice.contact_changing_link"
	ContactCancelInvalid      ID = "contact_change.cancel_invalid"
	ContactChangeNone         ID = "contact_change.none"
)

func init() {
	register(
		Entry{ID: NoticeContactChangingLink, Context: "security warning to the old contact, sent before a contact change's cool-down starts, when the server knows its public address; as notice.contact_changing, plus {cancel_link}: the app's page that cancels with one tap",
			En: "Someone asked to change the contact of your paycode account from this address to {new_contact}. " +
				"It takes effect after {after}; until then codes and notices still come here. " +
				"If this was not you, open this link to cancel it: {cancel_link} (or enter this cancel code: {cancel_code})",
			Ja: "paycodeアカウントの連絡先を、このアドレスから {new_contact} に変更する申請がありました。" +
				"変更は {after} 以降に有効になり、それまでは確認コードやお知らせはこのアドレスに届きます。" +
				"お心当たりがない場合は、次のリンクを開いて取り消してください: {cancel_link} （取り消しコード: {cancel_code}）"},
		Entry{ID: ContactCancelInvalid, Context: "problem (404, not_found): cancelling a contact change with the cancel code from the warning failed (one answer for every cause: unknown, wrong, used, already applied)",
			En: "No contact change to cancel, or the cancel code is not valid.",
			Ja: "取り消せる連絡先の変更がないか、取り消しコードが無効です。"},
		Entry{ID: ContactChangeNone, Context: "problem (404, not_found): the account has no contact change waiting to take effect",
			En: "There is no contact change waiting to take effect.",
			Ja: "有効になるのを待っている連絡先の変更はありません。"},
	)
}
