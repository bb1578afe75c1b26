package text

// The operator's kill switches: what customers are told while one is off,
// and what the operator is told about a value.
const (
	SignupsDisabled       ID = "signups_disabled"
	NewDevicesDisabled    ID = "new_devices_disabled"
	CountryBlocked        ID = "country_blocked"
	SwitchesUnknown       ID = "unavailable.switches"
	UnknownSwitch         ID = "unknown_switch"
	UnknownSwitchList     ID = "unknown_switch.list"
	InvalidSwitchValue    ID = "invalid_switch_value"
	SwitchToggleValue     ID = "invalid_switch_value.toggle"
	ReauthAfterValue      ID = "invalid_switch_value.reauth_after"
	BlockedCountriesValue ID = "invalid_switch_value.blocked_countries"
)

func init() {
	register(
		Entry{ID: SignupsDisabled, Context: "problem (503): the operator paused sign-ups",
			En: "Sign-ups are paused by the operator. Try again later.",
			Ja: "運営者により新規登録が一時停止されています。しばらくしてからもう一度お試しください。"},
		Entry{ID: NewDevicesDisabled, Context: "problem (403): the operator paused adding devices (enrollments, new-device logins)",
			En: "Adding a new device is paused by the operator. Keep using your current device, or try again later.",
			Ja: "運営者により新しい端末の追加が一時停止されています。現在の端末を引き続きご利用いただくか、しばらくしてからもう一度お試しください。"},
		Entry{ID: CountryBlocked, Context: "problem (403): the operator closed the service to the client's country",
			En: "This service is not available from your country.", Ja: "このサービスは、お客様の国・地域からはご利用いただけません。"},
		Entry{ID: SwitchesUnknown, Context: "problem (503, unavailable): the switches could not be read, so a risky call fails closed",
			En: "The service cannot confirm this channel is open; nothing was changed. Retry shortly.",
			Ja: "この機能が現在ご利用いただけるか確認できません。変更は行われていません。しばらくしてからもう一度お試しください。"},
		Entry{ID: UnknownSwitch, Context: "problem (400, admin): no switch has this name (generic)",
			En: "Unknown switch.", Ja: "不明なスイッチです。"},
		Entry{ID: UnknownSwitchList, Context: "problem (400, admin, unknown_switch): {switches} lists the switch names, comma-separated",
			En: "Unknown switch; the switches are {switches}.", Ja: "不明なスイッチです。スイッチは {switches} です。"},
		Entry{ID: InvalidSwitchValue, Context: "problem (400, admin): the value does not suit the switch (generic)",
			En: "The value is not valid for this switch.", Ja: "このスイッチには指定できない値です。"},
		Entry{ID: SwitchToggleValue, Context: "problem (400, admin, invalid_switch_value): {switch} is the name of an on/off switch; keep \"on\" and \"off\" as they are",
			En: "The value of {switch} is \"on\" or \"off\".", Ja: "{switch} の値は \"on\" または \"off\" です。"},
		Entry{ID: ReauthAfterValue, Context: "problem (400, admin, invalid_switch_value): the forced re-authentication's cut-off; keep \"now\" as it is",
			En: "The value of reauth_after is \"now\" or an RFC 3339 time, not in the future and not before the current cut-off.",
			Ja: "reauth_after の値は \"now\" またはRFC 3339形式の時刻です。未来の時刻や、現在の基準時刻より前の時刻は指定できません。"},
		Entry{ID: BlockedCountriesValue, Context: "problem (400, admin, invalid_switch_value): the list of blocked countries; keep the examples as they are",
			En: "The value of blocked_countries is a comma-separated list of ISO 3166-1 alpha-2 codes such as \"KP,RU\", or \"\" for none.",
			Ja: "blocked_countries の値は、\"KP,RU\" のようなISO 3166-1 alpha-2コードのカンマ区切りのリストです。指定しない場合は \"\" です。"},
	)
}
