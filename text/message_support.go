package text

// Merchant webhooks and support tools on the admin listener.
const (
	WebhookURLInvalid   ID = "malformed_request.webhook_url"
	WebhookHTTPS        ID = "malformed_request.webhook_https"
	NoWebhookEndpoint   ID = "not_found.webhook"
	ReplayRange         ID = "malformed_request.replay_range"
	SupportLookup       ID = "malformed_request.support_lookup"
	SupportContact      ID = "malformed_request.support_contact"
	NoSuchEnrollment    ID = "not_found.enrollment"
	LedgerCursor        ID = "malformed_request.ledger_cursor"
	LedgerLimit         ID = "malformed_request.ledger_limit"
	OperatorQuery       ID = "malformed_request.operator_query"
	NoAccountForContact ID = "not_found.contact"
)

func init() {
	register(
		Entry{ID: WebhookURLInvalid, Context: "problem (400, admin): a store's webhook URL is not an absolute http(s) URL, carries a user name or password or a fragment, or is longer than 2048 characters; keep the member name",
			En: "The member \"url\" must be an absolute https URL without user name, password or fragment, at most 2048 characters.",
			Ja: "項目 \"url\" には、ユーザー名・パスワード・フラグメントを含まない、2048文字以内の https の絶対URLを指定してください。"},
		Entry{ID: WebhookHTTPS, Context: "problem (400, admin): in production a store's webhook URL must use https",
			En: "In production a webhook URL must use https.", Ja: "本番環境では、Webhook の URL に https を使ってください。"},
		Entry{ID: NoWebhookEndpoint, Context: "problem (404, admin, not_found): the store has no webhook endpoint",
			En: "This store has no webhook endpoint.", Ja: "この店舗には Webhook の送信先が設定されていません。"},
		Entry{ID: ReplayRange, Context: "problem (400, admin): a webhook replay's from and to are not RFC 3339 times with from before to, at most 31 days apart; keep the member names",
			En: "The members \"from\" and \"to\" must be RFC 3339 times, \"from\" before \"to\", at most 31 days apart.",
			Ja: "項目 \"from\" と \"to\" には RFC 3339 形式の日時を、\"from\" を \"to\" より前に、31日以内の範囲で指定してください。"},
		Entry{ID: SupportLookup, Context: "problem (400, admin): an account lookup must name exactly one of contact or enrollment_id; keep the member names",
			En: "Give exactly one of \"contact\" or \"enrollment_id\".", Ja: "\"contact\" か \"enrollment_id\" のどちらか一方だけを指定してください。"},
		Entry{ID: SupportContact, Context: "problem (400, admin): the contact to look up is neither an e-mail address nor an E.164 phone number",
			En: "The contact must be an e-mail address or an E.164 phone number (+81...).",
			Ja: "連絡先には、メールアドレスか E.164 形式の電話番号（+81...）を指定してください。"},
		Entry{ID: NoSuchEnrollment, Context: "problem (404, admin, not_found): no enrollment (new-device request) has this id, or it has ended and expired",
			En: "No such enrollment.", Ja: "該当する端末追加の申請がありません。"},
		Entry{ID: LedgerCursor, Context: "problem (400, admin): the ledger page's cursor is not one this server wrote; keep the parameter name",
			En: "The parameter \"cursor\" must be the \"next\" of the previous page.",
			Ja: "パラメータ \"cursor\" には、前のページの \"next\" を指定してください。"},
		Entry{ID: LedgerLimit, Context: "problem (400, admin): the ledger page's limit is out of range",
			En: "limit must be between 1 and 200.", Ja: "limit は1から200の間で指定してください。"},
		Entry{ID: OperatorQuery, Context: "problem (400, admin): a support read lacks the operator and reason query parameters that go to the audit trail; keep the parameter names",
			En: "The query parameters \"operator\" (1-64 printable characters) and \"reason\" (up to 500 characters) are required.",
			Ja: "クエリパラメータ \"operator\"（1〜64文字の表示できる文字）と \"reason\"（500文字以内）は必須です。"},
		Entry{ID: NoAccountForContact, Context: "problem (404, admin, not_found): no account has this contact",
			En: "No account has this contact.", Ja: "この連絡先のアカウントはありません。"},
	)
}
