package text

// The account's language, stores' display names, the shopper's history, and
// the recovery warning with its cancel link.
const (
	LangUnknown               ID = "malformed_request.lang"
	StoreNameInvalid          ID = "malformed_request.store_name"
	NoSuchStore               ID = "not_found.store"
	HistoryCursor             ID = "malformed_request.history_cursor"
	HistoryLimit              ID = "malformed_request.history_limit"
	NoticeRecoveryStartedLink ID = "notice.recovery_started_link"
)

func init() {
	register(
		Entry{ID: LangUnknown, Context: "problem (400): the member lang names a language the app does not have; {langs} lists those it has (\"en, ja\")",
			En: "The member \"lang\" must be one of {langs}.", Ja: "項目 \"lang\" には {langs} のいずれかを指定してください。"},
		Entry{ID: StoreNameInvalid, Context: "problem (400, admin): a store's display names are missing, too long or have spaces at either end; keep the member names",
			En: "The members \"name_en\" and \"name_ja\" must each be 1 to 64 printable characters, without spaces at either end.",
			Ja: "項目 \"name_en\" と \"name_ja\" は、それぞれ前後に空白のない1〜64文字の表示できる文字で指定してください。"},
		Entry{ID: NoSuchStore, Context: "problem (404, admin, not_found): no display name was set for this store id",
			En: "This store has no display name.", Ja: "この店舗には表示名が設定されていません。"},
		Entry{ID: HistoryCursor, Context: "problem (400): the history's page cursor (before) is not an entry id the server sent",
			En: "The parameter \"before\" is not a history entry id.", Ja: "パラメーター \"before\" が履歴のIDではありません。"},
		Entry{ID: HistoryLimit, Context: "problem (400): the history's page size is out of range",
			En: "The parameter \"limit\" must be between 1 and 100.", Ja: "パラメーター \"limit\" は1から100の間で指定してください。"},
		Entry{ID: NoticeRecoveryStartedLink, Context: "security warning to the account's contact, sent before a recovery starts, when the server knows its public address; as notice.recovery_started, plus {cancel_link}: the app's page that cancels with one tap",
			En: "Someone is recovering your paycode account onto a new device ({label!q}, network {network}) with this address and a recovery code, " +
				"without your current device. The new device can take over after {after}; your current device will then be signed out. " +
				"If this was not you, cancel it now in paycode on your current device, or open this link: {cancel_link} (or enter this cancel code: {cancel_code})",
			Ja: "このアドレスとリカバリーコードを使って、現在の端末を使わずにpaycodeアカウントを新しい端末（{label!q}、ネットワーク {network}）へ復旧する手続きが行われています。" +
				"新しい端末は {after} 以降に引き継ぐことができ、その時点で現在の端末はサインアウトされます。" +
				"お心当たりがない場合は、今すぐ現在の端末のpaycodeで取り消すか、次のリンクを開いて取り消してください: {cancel_link} （取り消しコード: {cancel_code}）"},
	)
}
