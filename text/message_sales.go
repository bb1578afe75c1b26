package text

// Terminal pairing codes and stores' sales lists (issue 14, issue 15's
// support tools).
const (
	InvalidPairingCode ID = "invalid_pairing_code"
	SalesLimit         ID = "malformed_request.sales_limit"
	SalesCursor        ID = "malformed_request.sales_cursor"
	SalesTime          ID = "malformed_request.sales_time"
)

func init() {
	register(
		Entry{ID: InvalidPairingCode, Context: "problem (400): the scanner page's pairing code is unknown, already used or expired (one answer for all three); the clerk asks the operator for a new code",
			En: "This pairing code does not work: it is wrong, already used or expired. Ask your operator for a new code.",
			Ja: "このペアリングコードは使えません（誤り、使用済み、または期限切れです）。運営者に新しいコードを依頼してください。"},
		Entry{ID: SalesLimit, Context: "problem (400): a sales list's limit parameter is out of range; {max} is the largest page",
			En: "limit must be between 1 and {max}.", Ja: "limit は1から{max}の間で指定してください。"},
		Entry{ID: SalesCursor, Context: "problem (400): a sales list's cursor parameter was not given by the previous page",
			En: "cursor must be the next_cursor of the previous page.", Ja: "cursor には、前のページの next_cursor を指定してください。"},
		Entry{ID: SalesTime, Context: "problem (400): a sales list's from or to parameter is not an RFC 3339 time; {param} is its name",
			En: "{param} must be an RFC 3339 time, e.g. 2026-11-29T09:00:00+09:00.",
			Ja: "{param} は RFC 3339 形式の日時で指定してください（例: 2026-11-29T09:00:00+09:00）。"},
	)
}
