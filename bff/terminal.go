package bff

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/tokens"
)

// The terminal API: store scanners authenticate with an RFC 7523 client
// assertion signed by their registered key, get a short-lived bearer token
// scoped to the terminal, and move money with Idempotency-Key. Customer
// tokens (typ at+jwt, DPoP) are refused here and terminal tokens
// (typ terminal+jwt) on customer calls: the types differ and each verifier
// pins its own.

const (
	localTerminal = "paycode.terminal"

	codeInvalidClient       = "invalid_client"
	codeIdempotencyRequired = "idempotency_key_required"
	codeIdempotencyMismatch = "idempotency_mismatch"
	codeIdempotencyInFlight = "idempotency_in_flight"
	codeInvalidAmount       = "invalid_amount"
	codeInvalidCodeFormat   = "invalid_code_format"
	codeTerminalSuspended   = "terminal_suspended"
)

func (s *Server) terminalRoutes(v1 fiber.Router) {
	v1.Post("/terminal/token", s.terminalToken)
	t := s.requireTerminal
	v1.Post("/terminal/payments", t, s.terminalPay)
	v1.Get("/terminal/payments/:id", t, s.terminalGetPayment)
	v1.Post("/terminal/payments/:id/refunds", t, s.terminalRefund)
	v1.Post("/terminal/topups", t, s.terminalTopup)
}

func invalidClient(detail string, cause error) *Problem {
	p := newProblem(fiber.StatusUnauthorized, codeInvalidClient, detail)
	p.Headers = map[string]string{fiber.HeaderWWWAuthenticate: `Bearer realm="paycode-terminal", error="invalid_client"`}
	p.Err = cause
	return p
}

// terminalToken exchanges a client assertion for a terminal access token.
func (s *Server) terminalToken(c *fiber.Ctx) error {
	if !strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEApplicationForm) {
		return newProblem(fiber.StatusUnsupportedMediaType, codeUnsupportedType, "Send the token request as application/x-www-form-urlencoded.")
	}
	if c.FormValue("grant_type") != "client_credentials" ||
		c.FormValue("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return newProblem(fiber.StatusBadRequest, "unsupported_grant_type",
			"Use grant_type=client_credentials with a jwt-bearer client_assertion (RFC 7523).")
	}
	assertion := c.FormValue("client_assertion")
	if assertion == "" {
		return missing("client_assertion")
	}
	if err := s.limit(c, "terminal-token-ip", c.IP(), limitCeremonyPerIP); err != nil {
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
			return invalidClient("The client assertion is not valid for a registered, active terminal.", err)
		}
		return err
	}
	tok, exp, err := s.terminals.Issue(tokens.TerminalClaims{TerminalID: id, StoreID: term.StoreID})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"access_token": tok, "token_type": "Bearer", "expires_in": int64(exp.Sub(s.now()).Seconds())})
}

// requireTerminal authenticates a terminal call: a terminal bearer token,
// and the terminal still registered and active (a suspension takes effect
// on the next call, not when the token expires).
func (s *Server) requireTerminal(c *fiber.Ctx) error {
	scheme, token, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return invalidClient("Terminal calls need Authorization: Bearer <terminal token>.", nil)
	}
	claims, err := s.terminals.Verify(token)
	if err != nil {
		p := newProblem(fiber.StatusUnauthorized, codeInvalidToken, "The terminal token is not valid.")
		p.Headers = map[string]string{fiber.HeaderWWWAuthenticate: `Bearer realm="paycode-terminal", error="invalid_token"`}
		p.Err = err
		return p
	}
	t, err := s.store.Terminal(c.UserContext(), claims.TerminalID)
	if errors.Is(err, store.ErrNotFound) {
		return invalidClient("The terminal is not registered.", err)
	} else if err != nil {
		return err
	}
	if t.Status != store.TerminalActive {
		return newProblem(fiber.StatusForbidden, codeTerminalSuspended, "This terminal is suspended; contact the operator.")
	}
	c.Locals(localTerminal, t)
	return c.Next()
}

func terminalOf(c *fiber.Ctx) *store.Terminal {
	t, _ := c.Locals(localTerminal).(*store.Terminal)
	return t
}

var idempotencyKey = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

// idemKey reads the required Idempotency-Key header.
func (s *Server) idemKey(c *fiber.Ctx) (string, error) {
	k := c.Get("Idempotency-Key")
	if !idempotencyKey.MatchString(k) {
		return "", newProblem(fiber.StatusBadRequest, codeIdempotencyRequired,
			"Money calls need an Idempotency-Key header (1-255 visible ASCII characters); retry with the same key.")
	}
	return tokens.KeyedHash(s.cfg.Secret, "idempotency-key", k), nil
}

// moneyRequest is the body of payments and top-ups.
type moneyRequest struct {
	Code     string `json:"code"`
	Amount   *int64 `json:"amount"`
	Currency string `json:"currency"`
	OrderRef string `json:"order_ref"`
}

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

const maxAmount = 1_000_000_000

func checkAmount(a *int64) error {
	if a == nil {
		return missing("amount")
	}
	if *a <= 0 || *a > maxAmount {
		return newProblem(fiber.StatusBadRequest, codeInvalidAmount, "The amount must be a positive whole number of minor units (yen).")
	}
	return nil
}

func (s *Server) terminalPay(c *fiber.Ctx) error   { return s.codeMovement(c, store.KindPayment) }
func (s *Server) terminalTopup(c *fiber.Ctx) error { return s.codeMovement(c, store.KindTopup) }

// codeMovement redeems a customer's code for a payment or a cash top-up.
func (s *Server) codeMovement(c *fiber.Ctx, kind string) error {
	term := terminalOf(c)
	idem, err := s.idemKey(c)
	if err != nil {
		return err
	}
	var req moneyRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := checkAmount(req.Amount); err != nil {
		return err
	}
	if req.Currency == "" {
		req.Currency = s.cfg.Currency
	}
	if !currencyCode.MatchString(req.Currency) {
		return newProblem(fiber.StatusBadRequest, codeMalformed, "The member \"currency\" must be an ISO 4217 code such as JPY.")
	}
	if len(req.OrderRef) > 64 || !validOrderRef(req.OrderRef) {
		return newProblem(fiber.StatusBadRequest, codeMalformed, "The member \"order_ref\" must be at most 64 printable ASCII characters.")
	}
	if len(req.Code) != tokens.CodeLength || !allASCIIDigits(req.Code) {
		return newProblem(fiber.StatusBadRequest, codeInvalidCodeFormat, "The code must be the 24 digits shown by the app.")
	}
	// Code guessing: a terminal past the threshold is throttled.
	guesses, err := s.store.Guesses(c.UserContext(), term.ID)
	if err != nil {
		return err
	}
	if guesses >= s.cfg.GuessThrottle {
		s.metrics.limited.WithLabelValues("code-guessing").Inc()
		p := newProblem(fiber.StatusTooManyRequests, codeRateLimited, "Too many unknown codes from this terminal; wait before scanning again.")
		p.Headers = map[string]string{fiber.HeaderRetryAfter: "600"}
		return p
	}
	if req.Currency != s.cfg.Currency {
		return s.decline(c, kind, store.DeclineCurrencyMismatch)
	}
	code, err := tokens.ParseCode(req.Code, s.cfg.CodePrefix)
	if err != nil {
		// A wrong prefix or check digit is a code that does not exist; it
		// counts towards the guessing threshold like any unknown code.
		return s.unknownCode(c, kind, term)
	}
	limits := s.limits()
	if kind == store.KindTopup {
		// The operator's switch; unreadable switches fail closed (503).
		w, err := s.switches(c)
		if err != nil {
			return err
		}
		limits.TopupsDisabled = !w.Topups
	}
	now := s.now()
	out, err := s.store.Move(c.UserContext(), store.Movement{
		Kind: kind, TerminalID: term.ID, StoreID: term.StoreID, Amount: *req.Amount, Currency: req.Currency,
		OrderRef: req.OrderRef, CodeBucket: store.Bucket(code.Bucket()), CodeName: code.KeyedName(s.cfg.Secret),
		IdemKey: idem, BodyHash: s.bodyHash(kind, code.Digits(), strconv.FormatInt(*req.Amount, 10), req.Currency, req.OrderRef),
		Now: now, Day: now.In(s.cfg.Location).Format("20060102"), Limits: limits,
	})
	if err != nil {
		return s.idemProblem(err)
	}
	if !out.Approved {
		if out.Decline == store.DeclineCodeUnknown && !out.Replayed {
			return s.unknownCode(c, kind, term)
		}
		return s.decline(c, kind, out.Decline)
	}
	s.metrics.money.WithLabelValues(kind, "approved").Inc()
	if out.Replayed {
		c.Set("Idempotent-Replayed", "true")
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{
		"payment_id": out.PaymentID, "status": "approved", "kind": kind, "amount": out.Amount, "currency": out.Currency,
	})
}

func validOrderRef(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func allASCIIDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (s *Server) limits() store.Limits {
	return store.Limits{PerPayment: s.cfg.LimitPayment, PerDay: s.cfg.LimitDay, PerTopup: s.cfg.LimitTopup,
		TopupsPerDay: s.cfg.LimitTopupsPerDay, ProbationPerDay: s.cfg.ProbationLimitDay}
}

// bodyHash binds an Idempotency-Key to the request it was first used with.
func (s *Server) bodyHash(parts ...string) string {
	return tokens.KeyedHash(s.cfg.Secret, "idempotency-body", strings.Join(parts, "\x1f"))
}

func (s *Server) idemProblem(err error) error {
	switch {
	case errors.Is(err, store.ErrIdempotencyMismatch):
		return newProblem(fiber.StatusUnprocessableEntity, codeIdempotencyMismatch,
			"This Idempotency-Key was used with a different request; use a new key for a new request.")
	case errors.Is(err, store.ErrInFlight):
		p := newProblem(fiber.StatusConflict, codeIdempotencyInFlight, "A request with this Idempotency-Key is being processed; retry shortly with the same key.")
		p.Headers = map[string]string{fiber.HeaderRetryAfter: "1"}
		return p
	}
	return err
}

var declineDetails = map[string]string{
	store.DeclineCodeUnknown:       "No such code. Ask the customer to show the code again.",
	store.DeclineCodeExpired:       "The code has expired. Ask the customer to show a fresh code.",
	store.DeclineCodeUsed:          "The code was already used.",
	store.DeclineInsufficientFunds: "The balance is too low for this amount.",
	store.DeclineLimitExceeded:     "The amount is over the wallet's limit.",
	store.DeclineAccountFrozen:     "The customer's account is frozen.",
	store.DeclineDeviceRevoked:     "The code belongs to a device that is no longer the account's device.",
	store.DeclineCurrencyMismatch:  "The wallet holds another currency.",
	store.DeclineTopupsDisabled:    "Top-ups are not available for this account right now.",
	store.DeclineRefundExceeds:     "The refund is more than what remains of the payment.",
}

// decline answers 402 with the reason as the problem code.
func (s *Server) decline(c *fiber.Ctx, kind, reason string) error {
	s.metrics.money.WithLabelValues(kind, reason).Inc()
	if reason == "not_found" {
		return newProblem(fiber.StatusNotFound, codeNotFound, "No such payment for this store.")
	}
	detail, ok := declineDetails[reason]
	if !ok {
		detail = "Declined."
	}
	p := newProblem(fiber.StatusPaymentRequired, reason, detail)
	p.Title = "Declined"
	return p
}

// unknownCode declines and counts a guess; past the suspension threshold
// the terminal is suspended (audited): a scanner trying codes is treated
// as compromised.
func (s *Server) unknownCode(c *fiber.Ctx, kind string, term *store.Terminal) error {
	n, err := s.store.CountGuess(c.UserContext(), term.ID, guessWindow)
	if err != nil {
		return err
	}
	if n >= s.cfg.GuessSuspend {
		if ok, err := s.store.SetTerminalStatus(c.UserContext(), term.ID, store.TerminalSuspended); err != nil {
			return err
		} else if ok {
			s.metrics.suspensions.Inc()
			s.auditAs(c, "system", "terminal.suspended", "", "", map[string]string{"terminal": term.ID, "store": term.StoreID,
				"reason": "code_guessing", "unknown_codes": strconv.FormatInt(n, 10)})
		}
	}
	return s.decline(c, kind, store.DeclineCodeUnknown)
}

// terminalRefund refunds (part of) a payment made at this terminal's store.
func (s *Server) terminalRefund(c *fiber.Ctx) error {
	term := terminalOf(c)
	idem, err := s.idemKey(c)
	if err != nil {
		return err
	}
	var req struct {
		Amount *int64 `json:"amount"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := checkAmount(req.Amount); err != nil {
		return err
	}
	id := c.Params("id")
	now := s.now()
	out, err := s.store.Move(c.UserContext(), store.Movement{
		Kind: store.KindRefund, TerminalID: term.ID, StoreID: term.StoreID, Amount: *req.Amount, PaymentID: id,
		IdemKey: idem, BodyHash: s.bodyHash(store.KindRefund, id, strconv.FormatInt(*req.Amount, 10)),
		Now: now, Day: now.In(s.cfg.Location).Format("20060102"),
	})
	if err != nil {
		return s.idemProblem(err)
	}
	if !out.Approved {
		return s.decline(c, store.KindRefund, out.Decline)
	}
	s.metrics.money.WithLabelValues(store.KindRefund, "approved").Inc()
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"refund_id": out.PaymentID, "payment_id": id, "status": "approved", "amount": out.Amount})
}

// terminalGetPayment shows a payment and its refunds to a terminal of the
// store where it was made, and to no one else.
func (s *Server) terminalGetPayment(c *fiber.Ctx) error {
	term := terminalOf(c)
	p, err := s.store.Payment(c.UserContext(), c.Params("id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && p.Store != term.StoreID) {
		return newProblem(fiber.StatusNotFound, codeNotFound, "No such payment for this store.")
	} else if err != nil {
		return err
	}
	refunds := make([]fiber.Map, 0, len(p.Refunds))
	for _, r := range p.Refunds {
		refunds = append(refunds, fiber.Map{"refund_id": r.ID, "amount": r.Amount, "created_at": r.CreatedAt})
	}
	return c.JSON(fiber.Map{"payment_id": p.ID, "kind": p.Kind, "status": "approved", "amount": p.Amount, "currency": p.Currency,
		"refunded": p.Refunded, "order_ref": p.OrderRef, "terminal_id": p.Terminal, "store_id": p.Store,
		"created_at": p.CreatedAt, "refunds": refunds})
}
