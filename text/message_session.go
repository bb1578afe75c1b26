package text

// Sessions: DPoP proofs, access and refresh tokens, passkey ceremonies and
// the step-up (RFC 9470) challenge.
const (
	InvalidDPoP      ID = "invalid_dpop_proof"
	DPoPMissing      ID = "invalid_dpop_proof.missing"
	DPoPReplayed     ID = "invalid_dpop_proof.replayed"
	UseDPoPNonce     ID = "use_dpop_nonce"
	DPoPRequired     ID = "unauthorized.dpop_required"
	InvalidToken     ID = "invalid_token"
	TokenAsBearer    ID = "invalid_token.bearer"
	TokenScheme      ID = "invalid_token.scheme"
	TokenWrongKey    ID = "invalid_token.wrong_key"
	SessionEnded     ID = "invalid_token.session_ended"
	SessionNoPasskey ID = "invalid_token.no_passkey"
	DeviceReplaced   ID = "invalid_token.device_replaced"
	InvalidGrant     ID = "invalid_grant"
	ReauthForced     ID = "session.reauth_forced"
	PasskeyRejected  ID = "passkey_rejected"
	InsufficientAuth ID = "insufficient_user_authentication"
)

func init() {
	register(
		Entry{ID: InvalidDPoP, Context: "problem (401): the DPoP proof (RFC 9449) does not match this request or is malformed",
			En: "The DPoP proof is not valid for this request.", Ja: "このリクエストのDPoP証明が正しくありません。"},
		Entry{ID: DPoPMissing, Context: "problem (401): no DPoP proof header, or several",
			En: "This call needs exactly one DPoP proof header signed by the device key.",
			Ja: "この操作には、端末の鍵で署名されたDPoP証明ヘッダーがちょうど1つ必要です。"},
		Entry{ID: DPoPReplayed, Context: "problem (401): a DPoP proof was presented a second time",
			En: "This DPoP proof was already used.", Ja: "このDPoP証明はすでに使用されています。"},
		Entry{ID: UseDPoPNonce, Context: "problem (401): the client must retry with the server's DPoP nonce",
			En: "Retry with the DPoP-Nonce the server sent.", Ja: "サーバーが送信したDPoP-Nonceを使って再試行してください。"},
		Entry{ID: DPoPRequired, Context: "problem (401): an authenticated call came without Authorization; keep the header syntax as it is",
			En: "This call needs Authorization: DPoP <access token> and a DPoP proof.",
			Ja: "この操作には Authorization: DPoP <アクセストークン> とDPoP証明が必要です。"},
		Entry{ID: InvalidToken, Context: "problem (401): the access token is not valid (generic)",
			En: "The access token is not valid.", Ja: "アクセストークンが無効です。"},
		Entry{ID: TokenAsBearer, Context: "problem (401): a DPoP-bound access token was sent as a Bearer token",
			En: "Access tokens are DPoP-bound; send them as Authorization: DPoP.",
			Ja: "アクセストークンはDPoPに紐付いています。Authorization: DPoP として送信してください。"},
		Entry{ID: TokenScheme, Context: "problem (401): the Authorization header has another scheme or no token",
			En: "Authorization must be DPoP <access token>.", Ja: "Authorization は DPoP <アクセストークン> の形式で指定してください。"},
		Entry{ID: TokenWrongKey, Context: "problem (401): the DPoP proof is signed by another key than the token's",
			En: "The access token is bound to another key.", Ja: "このアクセストークンは別の鍵に紐付いています。"},
		Entry{ID: SessionEnded, Context: "problem (401): the session was logged out, revoked or expired",
			En: "The session has ended; log in again.", Ja: "セッションが終了しました。もう一度ログインしてください。"},
		Entry{ID: SessionNoPasskey, Context: "problem (401): a step-up was asked but the session's device has no passkey left",
			En: "The session's device has no passkey any more.", Ja: "このセッションの端末にはパスキーが登録されていません。"},
		Entry{ID: DeviceReplaced, Context: "problem (401): a payment code was asked by a device the account no longer uses",
			En: "This device is no longer the account's device.", Ja: "この端末は、このアカウントの端末ではなくなりました。"},
		Entry{ID: InvalidGrant, Context: "problem (401): the refresh token is not valid (generic)",
			En: "The refresh token is not valid; log in again.", Ja: "リフレッシュトークンが無効です。もう一度ログインしてください。"},
		Entry{ID: ReauthForced, Context: "problem (401, invalid_token or invalid_grant): the operator forced every session to re-authenticate",
			En: "The operator asked everyone to sign in again; log in again with your passkey.",
			Ja: "運営者がすべての利用者に再ログインを求めています。パスキーでもう一度ログインしてください。"},
		Entry{ID: PasskeyRejected, Context: "problem (401): a passkey ceremony failed; one uniform answer whatever the reason",
			En: "The passkey could not be verified. Start again.", Ja: "パスキーを確認できませんでした。最初からやり直してください。"},
		Entry{ID: InsufficientAuth, Context: "problem (401): the last passkey verification is too old for this action; keep the path as it is",
			En: "Verify with your passkey again (POST /v1/session/reauth/start), then retry.",
			Ja: "パスキーでもう一度本人確認（POST /v1/session/reauth/start）を行ってから、再試行してください。"},
	)
}
