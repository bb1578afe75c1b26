package text

// Payment codes and the event stream.
const (
	InvalidScale  ID = "invalid_scale"
	ScaleRange    ID = "invalid_scale.range"
	FrozenNoCodes ID = "account_frozen.no_codes"
	LastEventID   ID = "malformed_request.last_event_id"
	// TooManyStreams is the code of a refused event stream (429).
	TooManyStreams        ID = "too_many_streams"
	TooManyStreamsAccount ID = "too_many_streams.account"
	ImagesFormat          ID = "malformed_request.images"
)

func init() {
	register(
		Entry{ID: InvalidScale, Context: "problem (400): the barcode scale asked for is out of range (generic)",
			En: "The barcode scale is out of range.", Ja: "バーコードの倍率が範囲外です。"},
		Entry{ID: ScaleRange, Context: "problem (400, invalid_scale): {min} and {max} are the allowed pixels per barcode module",
			En: "The member \"scale\" must be between {min} and {max}.", Ja: "項目 \"scale\" は{min}から{max}の間で指定してください。"},
		Entry{ID: FrozenNoCodes, Context: "problem (403, account_frozen): the app asked for a payment code of a frozen account",
			En: "This account is frozen; no payment codes are issued.", Ja: "このアカウントは凍結されているため、支払いコードは発行されません。"},
		Entry{ID: LastEventID, Context: "problem (400): the event stream was resumed with an id the server never sent",
			En: "Last-Event-ID is not an id this server sent.", Ja: "Last-Event-ID が、このサーバーが送信したIDではありません。"},
		Entry{ID: TooManyStreams, Context: "problem (429): this server holds as many event streams as it serves; Retry-After says when to reconnect",
			En: "Too many event streams are open; reconnect later.", Ja: "開いているイベントストリームが多すぎます。しばらくしてから再接続してください。"},
		Entry{ID: TooManyStreamsAccount, Context: "problem (429, too_many_streams): the account already has {max} event streams open on this server; close one (another tab or device) first",
			En: "This account already has {max} event streams open; close one first.", Ja: "このアカウントではすでに{max}件のイベントストリームが開いています。先にどれかを閉じてください。"},
		Entry{ID: ImagesFormat, Context: "problem (400): the app asked for barcode images in a format other than svg, png or none",
			En: "The parameter \"images\" must be svg, png or none.", Ja: "パラメーター \"images\" には svg、png、none のいずれかを指定してください。"},
	)
}
