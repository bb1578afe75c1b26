package bff

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

// decodeJSON reads a JSON object body into v. An empty body counts as {}.
// Errors are 400 malformed_request (or 415) and never echo the input.
func decodeJSON(c *fiber.Ctx, v any) error {
	body := bytes.TrimSpace(c.Body())
	if len(body) == 0 {
		body = []byte("{}")
	} else if ct := strings.ToLower(c.Get(fiber.HeaderContentType)); !strings.HasPrefix(ct, "application/json") {
		return problemText(fiber.StatusUnsupportedMediaType, codeUnsupportedType, text.M(text.UnsupportedJSON))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		m, param := text.M(text.NotJSON), ""
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			m, param = text.M(text.MemberType, "member", typeErr.Field), typeErr.Field
		}
		p := problemText(fiber.StatusBadRequest, codeMalformed, m).about(param)
		p.Err = err
		return p
	}
	if dec.More() {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.TrailingJSON))
	}
	return nil
}

// missing is the problem of a required member that is absent or empty.
func missing(member string) *Problem {
	return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.MemberRequired, "member", member)).about(member)
}

// refreshCookie is where the PWA keeps its refresh token: __Host- (Secure,
// Path=/, no Domain), HttpOnly and SameSite=Strict, so script cannot read
// it and other sites cannot send it.
const refreshCookie = "__Host-paycode_rt"

// tokenResponse is the body of every call that issues tokens.
type tokenResponse struct {
	AccountID     string   `json:"account_id"`
	DeviceID      string   `json:"device_id"`
	AccessToken   string   `json:"access_token"`
	TokenType     string   `json:"token_type"`
	ExpiresIn     int64    `json:"expires_in"`
	RefreshToken  string   `json:"refresh_token,omitempty"`
	RecoveryCodes []string `json:"recovery_codes,omitempty"`
	AuthTime      int64    `json:"auth_time"`
}

// browser reports whether the request comes from a browser (the PWA):
// browsers send Origin on every POST, native apps do not. Browsers get the
// refresh token in the cookie only, never in script-readable JSON.
func browser(c *fiber.Ctx) bool { return c.Get(fiber.HeaderOrigin) != "" }

// sendTokens writes the tokens: the refresh token in the body for native
// apps, in the cookie for the PWA.
func (s *Server) sendTokens(c *fiber.Ctx, status int, r tokenResponse, refresh tokens.Secret, refreshExpiry time.Time) error {
	if !refresh.IsZero() {
		if browser(c) {
			c.Cookie(&fiber.Cookie{
				Name: refreshCookie, Value: refresh.Reveal(), Path: "/", Secure: true, HTTPOnly: true,
				SameSite: fiber.CookieSameSiteStrictMode, Expires: refreshExpiry,
			})
		} else {
			r.RefreshToken = refresh.Reveal()
		}
	}
	r.TokenType = "DPoP"
	return c.Status(status).JSON(r)
}

// issuedSession is a new session and its first tokens.
type issuedSession struct {
	session *store.Session
	access  string
	expires time.Time
	refresh tokens.Secret
}

// refreshToken formats a refresh token: "<account>.<session>.<secret>".
// The ids say where the session lives; only the secret's keyed hash is
// stored.
func refreshToken(sess *store.Session) (tokens.Secret, error) {
	secret, err := tokens.RandomSecret(32)
	if err != nil {
		return tokens.Secret{}, err
	}
	return tokens.NewSecret([]byte(sess.AccountID + "." + sess.ID + "." + secret.Reveal())), nil
}

// refreshHash is the keyed hash under which a refresh token is stored.
func (s *Server) refreshHash(tok tokens.Secret) string {
	return tokens.KeyedHash(s.cfg.Secret, "refresh", tok.Reveal())
}

// parseRefresh splits a refresh token into its account and session ids.
func parseRefresh(tok string) (accountID, sessionID string, ok bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(tok) > 200 {
		return "", "", false
	}
	if _, err := store.BucketOf(parts[0]); err != nil {
		return "", "", false
	}
	if _, err := store.BucketOfKind("sess", parts[1]); err != nil {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// startSession creates a session for the account's bound device after a
// user-verified passkey assertion, and issues its first tokens.
func (s *Server) startSession(c *fiber.Ctx, acct *store.Account, jkt string) (*issuedSession, error) {
	now := s.now()
	sid, err := store.NewSessionID(acct.ID)
	if err != nil {
		return nil, err
	}
	sess := &store.Session{
		ID: sid, AccountID: acct.ID, DeviceID: acct.DeviceID, JKT: jkt,
		AuthTime: now, CreatedAt: now, AbsoluteExpiry: now.Add(s.cfg.SessionMax), AMR: passkeyAMR,
	}
	refresh, err := refreshToken(sess)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateSession(c.UserContext(), *sess, s.refreshHash(refresh), s.cfg.SessionIdle, now); err != nil {
		return nil, err
	}
	access, exp, err := s.issueAccess(sess)
	if err != nil {
		return nil, err
	}
	s.audit(c, "session.created", acct.ID, acct.DeviceID, map[string]string{"session": sid})
	return &issuedSession{session: sess, access: access, expires: exp, refresh: refresh}, nil
}

// passkeyAMR and passkeyACR describe a user-verified passkey assertion
// (RFC 8176: proof of possession of a hardware-bound key, user verified).
var passkeyAMR = []string{"hwk", "user"}

const passkeyACR = "urn:paycode:acr:passkey-uv"

func (s *Server) issueAccess(sess *store.Session) (string, time.Time, error) {
	return s.access.Issue(tokens.AccessClaims{
		Subject: sess.AccountID, SessionID: sess.ID, DeviceID: sess.DeviceID, JKT: sess.JKT,
		AuthTime: sess.AuthTime, ACR: passkeyACR, AMR: sess.AMR,
	})
}

func (s *Server) tokenBody(is *issuedSession) tokenResponse {
	return tokenResponse{
		AccountID: is.session.AccountID, DeviceID: is.session.DeviceID, AccessToken: is.access,
		ExpiresIn: int64(is.expires.Sub(s.now()).Seconds()), AuthTime: is.session.AuthTime.Unix(),
	}
}
