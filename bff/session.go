package bff

import (
	"encoding/json"
	"errors"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
	"github.com/paycode/paycode/webauthn"
)

const codeRefreshInvalid = "invalid_grant"

// sessionRefresh spends the refresh token (body or PWA cookie) and issues
// new tokens. The request must be proven with the session's device key. A
// token spent before revokes the whole session (someone has a copy).
func (s *Server) sessionRefresh(c *fiber.Ctx) error {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	raw := req.RefreshToken
	if raw == "" {
		raw = c.Cookies(refreshCookie)
	}
	if raw == "" {
		return missing("refresh_token")
	}
	proof, err := s.proveDPoP(c, "")
	if err != nil {
		return err
	}
	if err := s.limit(c, "refresh-key", proof.JKT, limitRefreshPerKey); err != nil {
		return err
	}
	if err := s.limit(c, "refresh-ip", s.clientIP(c), limitRefreshPerIP); err != nil {
		return err
	}
	invalid := authProblemText(codeRefreshInvalid, text.M(text.InvalidGrant), nil)
	accountID, sid, ok := parseRefresh(raw)
	if !ok {
		return invalid
	}
	presented := tokens.NewSecret([]byte(raw))
	sess := &store.Session{ID: sid, AccountID: accountID}
	next, err := refreshToken(sess)
	if err != nil {
		return err
	}
	now := s.now()
	got, err := s.store.RotateRefresh(c.UserContext(), sid, accountID, proof.JKT, s.refreshHash(presented), s.refreshHash(next), s.cfg.SessionIdle, now)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrRefreshReuse):
		s.audit(c, "session.refresh_reuse", accountID, "", map[string]string{"session": sid})
		invalid.Err = err
		return invalid
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrWrongKey):
		invalid.Err = err
		return invalid
	default:
		return err
	}
	if cut, err := s.sessionCutOff(c, got); err != nil {
		return err
	} else if cut {
		// The operator forced everyone to re-authenticate: this session
		// ends; only a fresh passkey login makes a new one.
		if err := s.store.DeleteSession(c.UserContext(), sid, accountID); err != nil {
			return err
		}
		return authProblemText(codeRefreshInvalid, text.M(text.ReauthForced), nil)
	}
	access, exp, err := s.issueAccess(got)
	if err != nil {
		return err
	}
	is := &issuedSession{session: got, access: access, expires: exp, refresh: next}
	return s.sendTokens(c, fiber.StatusOK, s.tokenBody(is), next, got.AbsoluteExpiry)
}

// reauthStart begins a step-up assertion on the current session, limited
// to the credential of the session's device.
func (s *Server) reauthStart(c *fiber.Ctx) error {
	if err := decodeJSON(c, &struct{}{}); err != nil {
		return err
	}
	sess, _ := sessionOf(c)
	if err := s.ceremonyLimit(c, "ceremony-account", sess.AccountID); err != nil {
		return err
	}
	recs, err := s.store.Credentials(c.UserContext(), sess.AccountID)
	if err != nil {
		return err
	}
	allow := deviceCredentials(recs, sess.DeviceID)
	if len(allow) == 0 {
		return authProblemText(codeInvalidToken, text.M(text.SessionNoPasskey), nil)
	}
	id, err := store.NewCeremonyID(sess.AccountID)
	if err != nil {
		return err
	}
	opts, err := s.rp.BeginLogin(c.UserContext(), id, webauthn.Challenge{
		Purpose: webauthn.PurposeReauth, JKT: sess.JKT, AccountID: sess.AccountID, SessionID: sess.ID}, allow)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"reauth_id": id, "options": opts})
}

func deviceCredentials(recs []store.CredentialRecord, deviceID string) []gowebauthn.Credential {
	var out []gowebauthn.Credential
	for _, r := range recs {
		if r.DeviceID == deviceID {
			out = append(out, r.Credential)
		}
	}
	return out
}

// reauthFinish validates the step-up assertion and gives the session a
// fresh auth_time, returning a new access token that carries it.
func (s *Server) reauthFinish(c *fiber.Ctx) error {
	var req struct {
		ReauthID   string          `json:"reauth_id"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	switch {
	case req.ReauthID == "":
		return missing("reauth_id")
	case len(req.Credential) == 0:
		return missing("credential")
	}
	sess, _ := sessionOf(c)
	ctx := c.UserContext()
	var o owner
	// Every failed re-authentication is audited (a session thief trying
	// to step up leaves a trace); the entry names the problem code only.
	failed := func(err error) error {
		p := toProblem(err)
		if p != nil && p.Status < 500 {
			s.audit(c, "session.reauth_failed", sess.AccountID, sess.DeviceID, map[string]string{"session": sess.ID, "reason": p.Code})
		}
		return err
	}
	a, err := s.rp.FinishLogin(ctx, req.ReauthID, webauthn.Expect{
		Purpose: webauthn.PurposeReauth, JKT: sess.JKT, AccountID: sess.AccountID, SessionID: sess.ID}, req.Credential, s.lookup(&o))
	if err != nil {
		return failed(passkeyProblem(err))
	}
	if string(a.User.ID) != sess.AccountID {
		return failed(passkeyProblem(webauthn.ErrRejected))
	}
	if err := s.checkAssertion(c, a, &o); err != nil {
		return failed(err)
	}
	now := s.now()
	got, err := s.store.SetAuthTime(ctx, sess.ID, sess.AccountID, sess.JKT, now, passkeyAMR, s.cfg.SessionIdle, now)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrWrongKey) {
		return authProblemText(codeInvalidToken, text.M(text.SessionEnded), err)
	} else if err != nil {
		return err
	}
	access, exp, err := s.issueAccess(got)
	if err != nil {
		return err
	}
	s.audit(c, "session.reauthenticated", sess.AccountID, sess.DeviceID, map[string]string{"session": sess.ID})
	return s.sendTokens(c, fiber.StatusOK, s.tokenBody(&issuedSession{session: got, access: access, expires: exp}), tokens.Secret{}, got.AbsoluteExpiry)
}

// sessionLogout ends the session; its refresh token and access tokens stop
// working at once.
func (s *Server) sessionLogout(c *fiber.Ctx) error {
	sess, _ := sessionOf(c)
	if err := s.store.DeleteSession(c.UserContext(), sess.ID, sess.AccountID); err != nil {
		return err
	}
	c.Cookie(&fiber.Cookie{Name: refreshCookie, Value: "", Path: "/", Secure: true, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, MaxAge: -1})
	s.audit(c, "session.logout", sess.AccountID, sess.DeviceID, map[string]string{"session": sess.ID})
	return c.SendStatus(fiber.StatusNoContent)
}

// me describes the account, its device and session.
func (s *Server) me(c *fiber.Ctx) error {
	sess, _ := sessionOf(c)
	ctx := c.UserContext()
	acct, err := s.store.Account(ctx, sess.AccountID)
	if err != nil {
		return err
	}
	// A contact change whose cool-down is over is applied here if no
	// worker did yet, so the answer never shows it as still waiting.
	if acct, err = s.devices.SettleContactChange(ctx, s.deviceRequest(c), acct); err != nil {
		return err
	}
	change, err := s.devices.PendingContactChange(ctx, acct)
	if err != nil {
		return err
	}
	dev, err := s.store.Device(ctx, acct.ID, acct.DeviceID)
	if err != nil {
		return err
	}
	left, err := s.store.RecoveryCodesLeft(ctx, acct.ID)
	if err != nil {
		return err
	}
	pending, probation, err := s.enrollmentSummary(ctx, acct.ID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{
		"account": fiber.Map{"id": acct.ID, "contact": acct.Contact, "contact_kind": acct.ContactKind,
			"status": acct.Status, "created_at": acct.CreatedAt, "recovery_codes_left": left, "probation_until": probation,
			"lang": langOf(acct)},
		"device":              fiber.Map{"id": dev.ID, "label": dev.Label, "status": acct.DeviceStatus, "created_at": dev.CreatedAt},
		"session":             fiber.Map{"id": sess.ID, "auth_time": sess.AuthTime.Unix(), "expires_at": sess.AbsoluteExpiry},
		"pending_enrollments": pending,
		"contact_change":      contactChangeView(change),
	})
}
