package text

// Requests: how a body or a member is wrong, whatever the call.
const (
	UnsupportedJSON ID = "unsupported_media_type.json"
	NotJSON         ID = "malformed_request.not_json"
	MemberType      ID = "malformed_request.member_type"
	TrailingJSON    ID = "malformed_request.trailing_json"
	MemberRequired  ID = "malformed_request.member_required"
	UnknownLanguage ID = "not_found.language"
)

func init() {
	register(
		Entry{ID: UnsupportedJSON, Context: "problem: a body was sent with another Content-Type than JSON",
			En: "Send the body as application/json.", Ja: "本文は application/json 形式で送信してください。"},
		Entry{ID: NotJSON, Context: "problem: the body does not parse as a JSON object",
			En: "The body is not a valid JSON object.", Ja: "本文が正しいJSONオブジェクトではありません。"},
		Entry{ID: MemberType, Context: "problem: a JSON member has the wrong type; {member} is its name as the API spells it",
			En: "The member {member!q} has the wrong type.", Ja: "項目 {member!q} の型が正しくありません。"},
		Entry{ID: TrailingJSON, Context: "problem: something follows the JSON object in the body",
			En: "The body holds more than one JSON value.", Ja: "本文に複数のJSON値が含まれています。"},
		Entry{ID: MemberRequired, Context: "problem: a required JSON member is missing or empty; {member} is its name as the API spells it",
			En: "The member {member!q} is required.", Ja: "項目 {member!q} は必須です。"},
		Entry{ID: UnknownLanguage, Context: "problem: GET /v1/text/{lang} for a language the catalogue lacks; {langs} lists those it has (\"en, ja\")",
			En: "There is no text in this language; the languages are {langs}.", Ja: "この言語のテキストはありません。対応している言語は {langs} です。"},
	)
}
