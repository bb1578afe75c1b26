package text

// Declines: why a money movement was refused. Each ID is the decline reason
// itself (store.Decline, the 402 problem's code terminals branch on), so the
// problem's generic text is the decline's text. A cashier reads these at the
// register.
const (
	DeclineCodeUnknown       ID = "code_unknown"
	DeclineCodeExpired       ID = "code_expired"
	DeclineCodeUsed          ID = "code_used"
	DeclineInsufficientFunds ID = "insufficient_funds"
	DeclineLimitExceeded     ID = "limit_exceeded"
	DeclineAccountFrozen     ID = "account_frozen"
	DeclineDeviceRevoked     ID = "device_revoked"
	DeclineCurrencyMismatch  ID = "currency_mismatch"
	DeclineTopupsDisabled    ID = "topups_disabled"
	DeclineRefundExceeds     ID = "refund_exceeds_remaining"
)

// The terminal API's other problems: authentication of the scanner, the
// form of a money call, idempotency and code guessing.
const (
	InvalidClient          ID = "invalid_client"
	ClientAssertionInvalid ID = "invalid_client.assertion"
	TerminalBearerRequired ID = "invalid_client.bearer_required"
	TerminalNotRegistered  ID = "invalid_client.not_registered"
	TerminalTokenInvalid   ID = "invalid_token.terminal"
	TerminalSuspended      ID = "terminal_suspended"
	TerminalTokenForm      ID = "unsupported_media_type.terminal_token"
	UnsupportedGrantType   ID = "unsupported_grant_type"
	IdempotencyKeyRequired ID = "idempotency_key_required"
	IdempotencyMismatch    ID = "idempotency_mismatch"
	InvalidAmount          ID = "invalid_amount"
	CurrencyFormat         ID = "malformed_request.currency"
	OrderRefFormat         ID = "malformed_request.order_ref"
	InvalidCodeFormat      ID = "invalid_code_format"
	CodeGuessing           ID = "rate_limited.code_guessing"
	PaymentNotFound        ID = "not_found.payment"
)

func init() {
	register(
		Entry{ID: DeclineCodeUnknown, Context: "problem (402): the scanned payment code does not exist (also a misread code); the cashier asks for the code again",
			En: "No such code. Ask the customer to show the code again.",
			Ja: "このコードは見つかりません。お客様にもう一度コードを表示していただいてください。"},
		Entry{ID: DeclineCodeExpired, Context: "problem (402): the payment code's minute is over",
			En: "The code has expired. Ask the customer to show a fresh code.",
			Ja: "コードの有効期限が切れています。お客様に新しいコードを表示していただいてください。"},
		Entry{ID: DeclineCodeUsed, Context: "problem (402): the payment code was redeemed before",
			En: "The code was already used.", Ja: "このコードはすでに使用されています。"},
		Entry{ID: DeclineInsufficientFunds, Context: "problem (402): the wallet's balance is below the amount",
			En: "The balance is too low for this amount.", Ja: "残高が不足しているため、この金額はお支払いいただけません。"},
		Entry{ID: DeclineLimitExceeded, Context: "problem (402): the amount is over a per-payment, per-day or top-up limit (lower during probation)",
			En: "The amount is over the wallet's limit.", Ja: "金額がウォレットの利用上限を超えています。"},
		Entry{ID: DeclineAccountFrozen, Context: "problem (402): the customer's account is frozen by the operator",
			En: "The customer's account is frozen.", Ja: "お客様のアカウントは凍結されています。"},
		Entry{ID: DeclineDeviceRevoked, Context: "problem (402): the code was shown by a device that is no longer the account's device",
			En: "The code belongs to a device that is no longer the account's device.",
			Ja: "このコードは、現在このアカウントで利用されていない端末のものです。"},
		Entry{ID: DeclineCurrencyMismatch, Context: "problem (402): the request's currency is not the wallet's",
			En: "The wallet holds another currency.", Ja: "ウォレットの通貨が異なります。"},
		Entry{ID: DeclineTopupsDisabled, Context: "problem (402): top-ups are switched off by the operator, or the account is in probation after a device change",
			En: "Top-ups are not available for this account right now.", Ja: "このアカウントでは現在チャージをご利用いただけません。"},
		Entry{ID: DeclineRefundExceeds, Context: "problem (402): the refund is more than the payment's amount not yet refunded",
			En: "The refund is more than what remains of the payment.", Ja: "返金額が、お支払いの返金可能な残額を超えています。"},

		Entry{ID: InvalidClient, Context: "problem (401): a store terminal could not be authenticated (generic)",
			En: "The terminal could not be authenticated.", Ja: "端末を認証できませんでした。"},
		Entry{ID: ClientAssertionInvalid, Context: "problem (401, invalid_client): the terminal's RFC 7523 client assertion was refused",
			En: "The client assertion is not valid for a registered, active terminal.",
			Ja: "クライアントアサーションが、登録済みで有効な端末のものとして正しくありません。"},
		Entry{ID: TerminalBearerRequired, Context: "problem (401, invalid_client): a terminal call came without a bearer token; <terminal token> is literal",
			En: "Terminal calls need Authorization: Bearer <terminal token>.",
			Ja: "端末からの呼び出しには Authorization: Bearer <terminal token> が必要です。"},
		Entry{ID: TerminalNotRegistered, Context: "problem (401, invalid_client): the token names a terminal that is no longer registered",
			En: "The terminal is not registered.", Ja: "この端末は登録されていません。"},
		Entry{ID: TerminalTokenInvalid, Context: "problem (401, invalid_token): the terminal's bearer token is expired, forged or of another kind",
			En: "The terminal token is not valid.", Ja: "端末トークンが無効です。"},
		Entry{ID: TerminalSuspended, Context: "problem (403): the operator (or the code-guessing policy) suspended this terminal",
			En: "This terminal is suspended; contact the operator.", Ja: "この端末は利用停止中です。運営者にお問い合わせください。"},
		Entry{ID: TerminalTokenForm, Context: "problem (415, unsupported_media_type): the terminal token request was not a form",
			En: "Send the token request as application/x-www-form-urlencoded.",
			Ja: "トークンのリクエストは application/x-www-form-urlencoded で送信してください。"},
		Entry{ID: UnsupportedGrantType, Context: "problem (400): the terminal token request used another OAuth grant",
			En: "Use grant_type=client_credentials with a jwt-bearer client_assertion (RFC 7523).",
			Ja: "grant_type=client_credentials と jwt-bearer の client_assertion（RFC 7523）を使用してください。"},
		Entry{ID: IdempotencyKeyRequired, Context: "problem (400): a money call came without a usable Idempotency-Key header",
			En: "Money calls need an Idempotency-Key header (1-255 visible ASCII characters); retry with the same key.",
			Ja: "お金を動かす呼び出しには Idempotency-Key ヘッダー（表示可能なASCII文字で1〜255文字）が必要です。再試行するときは同じキーを使ってください。"},
		Entry{ID: IdempotencyMismatch, Context: "problem (422): an Idempotency-Key was reused for another request body",
			En: "This Idempotency-Key was used with a different request; use a new key for a new request.",
			Ja: "この Idempotency-Key は別のリクエストで使用されています。新しいリクエストには新しいキーを使ってください。"},
		Entry{ID: InvalidAmount, Context: "problem (400): the amount of a money call is zero, negative or too large",
			En: "The amount must be a positive whole number of minor units (yen).",
			Ja: "金額は最小通貨単位（円）の正の整数で指定してください。"},
		Entry{ID: CurrencyFormat, Context: "problem (400, malformed_request): the currency is not three capital letters",
			En: "The member \"currency\" must be an ISO 4217 code such as JPY.",
			Ja: "項目 \"currency\" には JPY などの ISO 4217 通貨コードを指定してください。"},
		Entry{ID: OrderRefFormat, Context: "problem (400, malformed_request): the store's order reference is too long or not printable ASCII",
			En: "The member \"order_ref\" must be at most 64 printable ASCII characters.",
			Ja: "項目 \"order_ref\" は表示可能なASCII文字で64文字以内にしてください。"},
		Entry{ID: InvalidCodeFormat, Context: "problem (400): the scanned code is not 24 ASCII digits (a misread barcode or a wrong field)",
			En: "The code must be the 24 digits shown by the app.", Ja: "コードはアプリに表示された24桁の数字を送信してください。"},
		Entry{ID: CodeGuessing, Context: "problem (429, rate_limited): the terminal sent too many unknown codes (code guessing); Retry-After says when to scan again",
			En: "Too many unknown codes from this terminal; wait before scanning again.",
			Ja: "この端末から存在しないコードが多数送信されました。しばらく待ってから読み取りをやり直してください。"},
		Entry{ID: PaymentNotFound, Context: "problem (404, not_found): no payment with this id was made at the terminal's store",
			En: "No such payment for this store.", Ja: "この店舗のお支払いは見つかりません。"},
	)
}
