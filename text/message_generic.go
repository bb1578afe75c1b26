package text

// Generic problems: the codes every call can answer.
const (
	Malformed        ID = "malformed_request"
	Unauthorized     ID = "unauthorized"
	Forbidden        ID = "forbidden"
	NotFound         ID = "not_found"
	MethodNotAllowed ID = "method_not_allowed"
	BodyTooLarge     ID = "body_too_large"
	UnsupportedType  ID = "unsupported_media_type"
	RateLimited      ID = "rate_limited"
	Internal         ID = "internal"
	Unavailable      ID = "unavailable"
	Unconfirmed      ID = "unconfirmed"
	Timeout          ID = "request_timeout"
)

func init() {
	register(
		Entry{ID: Malformed, Context: "problem: the request is malformed (generic)",
			En: "The request is malformed.", Ja: "リクエストの形式が正しくありません。"},
		Entry{ID: Unauthorized, Context: "problem: authentication is required (generic)",
			En: "Authentication is required.", Ja: "認証が必要です。"},
		Entry{ID: Forbidden, Context: "problem: the action is not allowed (generic)",
			En: "This action is not allowed.", Ja: "この操作は許可されていません。"},
		Entry{ID: NotFound, Context: "problem: no such resource (generic)",
			En: "No such resource.", Ja: "見つかりません。"},
		Entry{ID: MethodNotAllowed, Context: "problem: HTTP method not allowed",
			En: "Method not allowed on this resource.", Ja: "この操作はこのリソースでは使えません。"},
		Entry{ID: BodyTooLarge, Context: "problem: request body over the limit",
			En: "The request body is too large.", Ja: "リクエストが大きすぎます。"},
		Entry{ID: UnsupportedType, Context: "problem: wrong Content-Type",
			En: "Unsupported content type.", Ja: "対応していない形式です。"},
		Entry{ID: RateLimited, Context: "problem: a rate limit was reached; Retry-After says when to retry",
			En: "Too many attempts; wait before trying again.", Ja: "試行回数が多すぎます。しばらく待ってからもう一度お試しください。"},
		Entry{ID: Internal, Context: "problem: unexpected server error; the request id is in the document",
			En: "The request failed; nothing was changed. If it persists, quote the request id.",
			Ja: "処理に失敗しました。変更は行われていません。繰り返し発生する場合はリクエストIDをお知らせください。"},
		Entry{ID: Unavailable, Context: "problem: Redis or another dependency is down; retry after Retry-After",
			En: "A dependency is unavailable; nothing was changed. Retry shortly.",
			Ja: "一時的にご利用いただけません。変更は行われていません。しばらくしてからもう一度お試しください。"},
		Entry{ID: Unconfirmed, Context: "problem (503): a money movement was sent to Redis but is not confirmed (its reply was lost, or too few replicas hold it); the terminal must retry with the same Idempotency-Key",
			En: "The outcome is not confirmed: the payment may or may not have happened. Retry with the same Idempotency-Key and body; you get the original outcome, and the customer is charged at most once.",
			Ja: "結果を確認できませんでした。決済が行われたかどうかは不明です。同じ Idempotency-Key と内容で再送してください。元の結果が返され、お客様への請求は一度だけです。"},
		Entry{ID: Timeout, Context: "problem: the request took too long",
			En: "The request took too long.", Ja: "リクエストがタイムアウトしました。"},
	)
}
