package text

// Operator calls on the admin listener: terminals, accounts, the audit
// trail and the admin token.
const (
	AdminDisabled    ID = "admin_disabled"
	AdminToken       ID = "unauthorized.admin_token"
	StoreCheckFailed ID = "unavailable.store_check"
	AuditLimit       ID = "malformed_request.audit_limit"
	OperatorRequired ID = "malformed_request.operator"
	ReasonRequired   ID = "malformed_request.reason"
	StoreIDRequired  ID = "malformed_request.store_id"
	TerminalLabel    ID = "invalid_device_label.terminal"
	InvalidPublicKey ID = "invalid_public_key"
	NoSuchTerminal   ID = "not_found.terminal"
	NoSuchAccount    ID = "not_found.account"
)

func init() {
	register(
		Entry{ID: AdminDisabled, Context: "problem (403, admin): the server was started without an admin token, so it refuses every operator call; the caller did nothing wrong, the server's operator must set the variable (keep its name) and restart",
			En: "Operator calls are turned off on this server: it was started without PAYCODE_ADMIN_TOKEN. This is the server's setting, not a fault of your request; whoever runs the server sets PAYCODE_ADMIN_TOKEN and restarts it.",
			Ja: "このサーバーでは運営者向けの操作が無効になっています。PAYCODE_ADMIN_TOKEN を設定せずに起動されたためです。これはサーバー側の設定によるもので、リクエストの誤りではありません。サーバーの運用者が PAYCODE_ADMIN_TOKEN を設定して再起動してください。"},
		Entry{ID: AdminToken, Context: "problem (401, admin, unauthorized): the admin bearer token is missing or wrong",
			En: "Admin calls need Authorization: Bearer with the admin token.", Ja: "管理操作には、管理トークンを指定した Authorization: Bearer が必要です。"},
		Entry{ID: StoreCheckFailed, Context: "problem (503, admin, unavailable): the readiness probe's Redis round trip failed",
			En: "The store failed its round trip.", Ja: "データストアの疎通確認に失敗しました。"},
		Entry{ID: AuditLimit, Context: "problem (400, admin): the audit query's limit parameter is out of range",
			En: "limit must be between 1 and 1000.", Ja: "limit は1から1000の間で指定してください。"},
		Entry{ID: OperatorRequired, Context: "problem (400, admin): an operator call lacks the name of who acts",
			En: "The member \"operator\" (who acts, 1-64 printable characters) is required.",
			Ja: "項目 \"operator\"（操作する人の名前、1〜64文字の表示できる文字）は必須です。"},
		Entry{ID: ReasonRequired, Context: "problem (400, admin): an operator call lacks its reason",
			En: "The member \"reason\" (up to 500 characters) is required.", Ja: "項目 \"reason\"（500文字以内）は必須です。"},
		Entry{ID: StoreIDRequired, Context: "problem (400, admin): a terminal registration lacks a valid store id",
			En: "The member \"store_id\" (1-64 printable characters, no spaces) is required.",
			Ja: "項目 \"store_id\"（空白を含まない、1〜64文字の表示できる文字）は必須です。"},
		Entry{ID: TerminalLabel, Context: "problem (400, admin, invalid_device_label): a terminal's label is empty, too long or not printable",
			En: "The member \"label\" must be 1 to 64 printable characters.", Ja: "項目 \"label\" は1〜64文字の表示できる文字で指定してください。"},
		Entry{ID: InvalidPublicKey, Context: "problem (400, admin): a terminal's public key is not a PEM key of a supported type",
			En: "The member \"public_key_pem\" must be a PEM PUBLIC KEY, EC P-256 (ES256) or Ed25519 (EdDSA).",
			Ja: "項目 \"public_key_pem\" には、PEM形式の PUBLIC KEY（EC P-256 (ES256) または Ed25519 (EdDSA)）を指定してください。"},
		Entry{ID: NoSuchTerminal, Context: "problem (404, admin, not_found): no terminal has this id",
			En: "No such terminal.", Ja: "該当する端末がありません。"},
		Entry{ID: NoSuchAccount, Context: "problem (404, not_found): no account has this id",
			En: "No such account.", Ja: "該当するアカウントがありません。"},
	)
}
