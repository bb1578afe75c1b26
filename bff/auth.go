package bff

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

const (
	localProof   = "paycode.dpop"
	localClaims  = "paycode.claims"
	localSession = "paycode.session"
)

// dpopAlgs is what WWW-Authenticate advertises.
const dpopAlgs = `algs="ES256 EdDSA"`

// Problem codes of authentication.
const (
	codeInvalidDPoP  = "invalid_dpop_proof"
	codeUseNonce     = "use_dpop_nonce"
	codeInvalidToken = "invalid_token"
)

func dpopChallenge(errCode, description string) map[string]string {
	return map[string]string{fiber.HeaderWWWAuthenticate: `DPoP error="` + errCode + `", error_description="` + description + `", ` + dpopAlgs}
}

// authProblem is a 401 with the DPoP challenge; the challenge's
// error_description is the English detail.
func authProblem(code, detail string, cause error) *Problem {
	p := newProblem(fiber.StatusUnauthorized, code, detail)
	p.Headers = dpopChallenge(code, detail)
	p.Err = cause
	return p
}

// authProblemText is authProblem with the detail as a catalogue message
// (the header stays English: it is for programs, and ASCII).
func authProblemText(code string, m text.Message, cause error) *Problem {
	p := problemText(fiber.StatusUnauthorized, code, m)
	p.Headers = dpopChallenge(code, p.Detail)
	p.Err = cause
	return p
}

// requestURL is the URL the client addressed, built from the configured
// public URL (not from Host or X-Forwarded-* headers, which a client or a
// proxy could set): DPoP proofs are checked against it.
func (s *Server) requestURL(c *fiber.Ctx) string {
	return s.cfg.PublicURL.Scheme + "://" + s.cfg.PublicURL.Host + c.Path()
}

// proveDPoP verifies the request's DPoP proof (bound to accessToken when
// one is presented) and returns it. Exactly one DPoP header is allowed.
func (s *Server) proveDPoP(c *fiber.Ctx, accessToken string) (*tokens.DPoPProof, error) {
	return s.proveDPoPWith(c, accessToken, nil)
}

// deferredClaim is a DPoP replay cache that claims nothing: it keeps the
// jti and its TTL for the caller to claim in a step of its own
// (TouchSessionJTI), and says fresh. Only for a verifier whose caller
// claims the jti before it acts on the proof.
type deferredClaim struct {
	jti string
	ttl time.Duration
}

func (d *deferredClaim) ClaimJTI(_ context.Context, _, jti string, ttl time.Duration) (bool, error) {
	d.jti, d.ttl = jti, ttl
	return true, nil
}

// proveDPoPWith is proveDPoP with the jti claimed through replay instead
// of the store when replay is set.
func (s *Server) proveDPoPWith(c *fiber.Ctx, accessToken string, replay *deferredClaim) (*tokens.DPoPProof, error) {
	if v, ok := c.Locals(localProof).(*tokens.DPoPProof); ok {
		return v, nil
	}
	verifier := s.dpop
	if replay != nil {
		v := *s.dpop
		v.Replay = replay
		verifier = &v
	}
	headers := c.Request().Header.PeekAll("DPoP")
	if len(headers) != 1 || len(headers[0]) == 0 {
		return nil, authProblemText(codeInvalidDPoP, text.M(text.DPoPMissing), nil)
	}
	proof, err := verifier.Verify(c.UserContext(), string(headers[0]), tokens.DPoPRequest{
		Method:      c.Method(),
		URL:         s.requestURL(c),
		AccessToken: accessToken,
	})
	switch {
	case err == nil:
	case errors.Is(err, tokens.ErrUseDPoPNonce):
		return nil, authProblemText(codeUseNonce, text.M(text.UseDPoPNonce), err)
	case errors.Is(err, tokens.ErrDPoPReplay):
		return nil, authProblemText(codeInvalidDPoP, text.M(text.DPoPReplayed), err)
	case errors.Is(err, tokens.ErrInvalidDPoP):
		return nil, authProblemText(codeInvalidDPoP, text.M(text.InvalidDPoP), err)
	default:
		return nil, err // the replay cache failed: 503
	}
	c.Locals(localProof, proof)
	return proof, nil
}

// requireSession authenticates a customer call: a DPoP-bound access token
// in "Authorization: DPoP", a proof by the same key carrying the token's
// hash, and a live session whose device is still the account's active
// device (so a revoked device's unexpired token stops working at once),
// last authenticated with a passkey after the operator's reauth_after.
func (s *Server) requireSession(c *fiber.Ctx) error {
	authz := c.Get(fiber.HeaderAuthorization)
	scheme, token, _ := strings.Cut(authz, " ")
	switch {
	case authz == "":
		p := problemText(fiber.StatusUnauthorized, codeUnauthorized, text.M(text.DPoPRequired))
		p.Headers = map[string]string{fiber.HeaderWWWAuthenticate: "DPoP " + dpopAlgs}
		return p
	case strings.EqualFold(scheme, "Bearer"):
		// A DPoP-bound token presented as a bearer token: whoever holds it
		// without the key must not be able to downgrade.
		return authProblemText(codeInvalidToken, text.M(text.TokenAsBearer), nil)
	case !strings.EqualFold(scheme, "DPoP") || token == "":
		return authProblemText(codeInvalidToken, text.M(text.TokenScheme), nil)
	}
	claims, err := s.accessTokens.verify(token, s.access.Verify)
	if err != nil {
		return authProblemText(codeInvalidToken, text.M(text.InvalidToken), err)
	}
	// The proof's jti is claimed in the session's own step (one round trip,
	// in the account's slot: the proof is bound to this token and so to its
	// account), not by the verifier.
	var claim deferredClaim
	proof, err := s.proveDPoPWith(c, token, &claim)
	if err != nil {
		return err
	}
	if proof.JKT != claims.JKT {
		return authProblemText(codeInvalidToken, text.M(text.TokenWrongKey), nil)
	}
	var sess *store.Session
	if claim.jti == "" { // the request's proof was verified (and claimed) before
		sess, err = s.store.TouchSession(c.UserContext(), claims.SessionID, claims.Subject, proof.JKT, s.cfg.SessionIdle, s.now())
	} else {
		sess, err = s.store.TouchSessionJTI(c.UserContext(), claims.SessionID, claims.Subject, proof.JKT, claim.jti, claim.ttl,
			s.cfg.SessionIdle, s.now())
	}
	switch {
	case err == nil:
	case errors.Is(err, store.ErrReplay):
		return authProblemText(codeInvalidDPoP, text.M(text.DPoPReplayed), tokens.ErrDPoPReplay)
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrWrongKey):
		return authProblemText(codeInvalidToken, text.M(text.SessionEnded), err)
	default:
		return err
	}
	if cut, err := s.sessionCutOff(c, sess); err != nil {
		return err
	} else if cut {
		return authProblemText(codeInvalidToken, text.M(text.ReauthForced), nil)
	}
	c.Locals(localClaims, claims)
	c.Locals(localSession, sess)
	setLogID(c, logAccount, sess.AccountID)
	return c.Next()
}

func sessionOf(c *fiber.Ctx) (*store.Session, *tokens.AccessClaims) {
	sess, _ := c.Locals(localSession).(*store.Session)
	claims, _ := c.Locals(localClaims).(*tokens.AccessClaims)
	return sess, claims
}
