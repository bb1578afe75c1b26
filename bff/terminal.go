package bff

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

// The terminal API: store scanners authenticate with an RFC 7523 client
// assertion signed by their registered key, get a short-lived bearer token
// scoped to the terminal, and move money with Idempotency-Key. Customer
// tokens (typ at+jwt, DPoP) are refused here and terminal tokens
// (typ terminal+jwt) on customer calls: the types differ and each verifier
// pins its own. The money calls themselves are in terminal_money.go.

const (
	localTerminal = "paycode.terminal"

	codeInvalidClient       = "invalid_client"
	codeUnsupportedGrant    = "unsupported_grant_type"
	codeIdempotencyRequired = "idempotency_key_required"
	codeIdempotencyMismatch = "idempotency_mismatch"
	codeInvalidAmount       = "invalid_amount"
	codeInvalidCodeFormat   = "invalid_code_format"
	codeTerminalSuspended   = "terminal_suspended"
)

func (s *Server) terminalRoutes(v1 fiber.Router) {
	v1.Post("/terminal/token", s.terminalToken)
	v1.Post("/terminal/pairings", s.terminalPairing)
	t := s.requireTerminal
	v1.Get("/terminal/payments", t, s.terminalPayments)
	v1.Post("/terminal/payments", t, s.terminalPay)
	v1.Get("/terminal/payments/:id", t, s.terminalGetPayment)
	v1.Post("/terminal/payments/:id/refunds", t, s.terminalRefund)
	v1.Post("/terminal/topups", t, s.terminalTopup)
}

func invalidClient(id text.ID, cause error) *Problem {
	p := problemText(fiber.StatusUnauthorized, codeInvalidClient, text.M(id))
	p.Headers = map[string]string{fiber.HeaderWWWAuthenticate: `Bearer realm="paycode-terminal", error="invalid_client"`}
	p.Err = cause
	return p
}

// terminalToken exchanges a client assertion for a terminal access token.
func (s *Server) terminalToken(c *fiber.Ctx) error {
	if !strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEApplicationForm) {
		return problemText(fiber.StatusUnsupportedMediaType, codeUnsupportedType, text.M(text.TerminalTokenForm))
	}
	if c.FormValue("grant_type") != "client_credentials" ||
		c.FormValue("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return problemText(fiber.StatusBadRequest, codeUnsupportedGrant, text.M(text.UnsupportedGrantType))
	}
	assertion := c.FormValue("client_assertion")
	if assertion == "" {
		return missing("client_assertion")
	}
	if err := s.limit(c, "terminal-token-ip", s.clientIP(c), limitTerminalTokenPerIP); err != nil {
		return err
	}
	var term *store.Terminal
	id, err := s.assertions.Verify(c.UserContext(), assertion, func(ctx context.Context, terminalID string) (crypto.PublicKey, error) {
		t, err := s.store.Terminal(ctx, terminalID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, tokens.ErrUnknownClient
		} else if err != nil {
			return nil, err
		}
		if t.Status != store.TerminalActive {
			return nil, fmt.Errorf("%w: suspended", tokens.ErrUnknownClient)
		}
		term = t
		return tokens.ParsePublicKeyPEM([]byte(t.PublicKeyPEM))
	})
	if err != nil {
		if errors.Is(err, tokens.ErrInvalidAssertion) {
			return invalidClient(text.ClientAssertionInvalid, err)
		}
		return err
	}
	tok, exp, err := s.terminals.Issue(tokens.TerminalClaims{TerminalID: id, StoreID: term.StoreID})
	if err != nil {
		return err
	}
	body := fiber.Map{"access_token": tok, "token_type": "Bearer", "expires_in": int64(exp.Sub(s.now()).Seconds()),
		"terminal_id": id, "store_id": term.StoreID, "label": term.Label}
	if err := s.addStoreName(c, body, term.StoreID); err != nil {
		return err
	}
	return c.JSON(body)
}

// requireTerminal authenticates a terminal call: a terminal bearer token
// (verified once, then remembered until it expires), and the terminal
// still registered and active: a suspension takes effect on this
// replica's next call and on every replica within terminalCacheTTL, not
// when the token expires (terminal_cache.go).
func (s *Server) requireTerminal(c *fiber.Ctx) error {
	scheme, token, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return invalidClient(text.TerminalBearerRequired, nil)
	}
	claims, err := s.termTokens.verify(token, s.terminals.Verify)
	if err != nil {
		p := problemText(fiber.StatusUnauthorized, codeInvalidToken, text.M(text.TerminalTokenInvalid))
		p.Headers = map[string]string{fiber.HeaderWWWAuthenticate: `Bearer realm="paycode-terminal", error="invalid_token"`}
		p.Err = err
		return p
	}
	t, err := s.terms.get(c.UserContext(), claims.TerminalID)
	if errors.Is(err, store.ErrNotFound) {
		return invalidClient(text.TerminalNotRegistered, err)
	} else if err != nil {
		return err
	}
	if t.Status != store.TerminalActive {
		return problemText(fiber.StatusForbidden, codeTerminalSuspended, text.M(text.TerminalSuspended))
	}
	c.Locals(localTerminal, t)
	setLogID(c, logTerminal, t.ID)
	setLogID(c, logStore, t.StoreID)
	return c.Next()
}

func terminalOf(c *fiber.Ctx) *store.Terminal {
	t, _ := c.Locals(localTerminal).(*store.Terminal)
	return t
}
