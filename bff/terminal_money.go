package bff

import (
	"errors"
	"regexp"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/pay"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

// The terminal's money calls: payments and top-ups by code, refunds. A
// handler checks the form of the request, calls package pay (which owns the
// order of the checks, the guessing policy and the limits: see pay/doc.go)
// and renders its answer; the metrics are counted here, from that answer.

// newPay builds the money service from the configuration.
func (s *Server) newPay() (*pay.Service, error) {
	c := s.cfg
	return pay.New(pay.Config{
		Currency: c.Currency, Location: c.Location, CodePrefix: c.CodePrefix, Secret: c.Secret,
		Limits: pay.Limits{PerPayment: c.LimitPayment, PerDay: c.LimitDay, PerTopup: c.LimitTopup,
			TopupsPerDay: c.LimitTopupsPerDay, ProbationPerDay: c.ProbationLimitDay},
		Guessing: pay.GuessPolicy{Throttle: c.GuessThrottle, Suspend: c.GuessSuspend},
		Now:      s.now, Merchant: s.outbox,
	}, payStore{Store: s.store, terms: s.terms}, pay.AuditorFunc(s.recordAudit))
}

// payTerminal is the terminal as package pay sees it: with whether its
// store has a merchant webhook endpoint (this replica's copy).
func (s *Server) payTerminal(t *store.Terminal) pay.Terminal {
	return pay.Terminal{ID: t.ID, StoreID: t.StoreID, Webhooks: s.merchantStores.has(t.StoreID)}
}

var idempotencyKey = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)

// idemKey reads the required Idempotency-Key header.
func idemKey(c *fiber.Ctx) (string, error) {
	k := c.Get("Idempotency-Key")
	if !idempotencyKey.MatchString(k) {
		return "", problemText(fiber.StatusBadRequest, codeIdempotencyRequired, text.M(text.IdempotencyKeyRequired)).about("Idempotency-Key")
	}
	return k, nil
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
		return problemText(fiber.StatusBadRequest, codeInvalidAmount, text.M(text.InvalidAmount)).about("amount")
	}
	return nil
}

// codeRequest reads and checks the form of a payment or a top-up: the
// Idempotency-Key, the amount, the currency (the wallet's when absent), the
// order reference and a code of 24 ASCII digits. A code of another shape is
// 400, not a guess: it is a misread barcode or a wrong field, never a code.
func (s *Server) codeRequest(c *fiber.Ctx) (pay.CodeRequest, error) {
	key, err := idemKey(c)
	if err != nil {
		return pay.CodeRequest{}, err
	}
	var req moneyRequest
	if err := decodeJSON(c, &req); err != nil {
		return pay.CodeRequest{}, err
	}
	if err := checkAmount(req.Amount); err != nil {
		return pay.CodeRequest{}, err
	}
	if req.Currency == "" {
		req.Currency = s.cfg.Currency
	}
	if !currencyCode.MatchString(req.Currency) {
		return pay.CodeRequest{}, problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.CurrencyFormat)).about("currency")
	}
	if len(req.OrderRef) > 64 || !validOrderRef(req.OrderRef) {
		return pay.CodeRequest{}, problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.OrderRefFormat)).about("order_ref")
	}
	if len(req.Code) != tokens.CodeLength || !allASCIIDigits(req.Code) {
		return pay.CodeRequest{}, problemText(fiber.StatusBadRequest, codeInvalidCodeFormat, text.M(text.InvalidCodeFormat)).about("code")
	}
	t := terminalOf(c)
	return pay.CodeRequest{
		Terminal: s.payTerminal(t), Caller: pay.Caller{IP: s.clientIP(c), RequestID: requestID(c)},
		IdempotencyKey: key, Code: req.Code, Amount: *req.Amount, Currency: req.Currency, OrderRef: req.OrderRef,
	}, nil
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

// terminalPay redeems a customer's code for a payment.
func (s *Server) terminalPay(c *fiber.Ctx) error {
	req, err := s.codeRequest(c)
	if err != nil {
		return err
	}
	// The operator's reauth_after voids codes issued before it; the
	// switches are this replica's cache (pushed by the hub), so this is
	// no extra round trip. Unreadable switches fail closed (503) before
	// the code is tried or counted.
	w, err := s.switches(c)
	if err != nil {
		return err
	}
	req.VoidBefore = w.ReauthAfter
	out, err := s.pay.Redeem(c.UserContext(), req)
	s.tellDecline(c, req, out, err) // the phone hears why (decline_event.go)
	return s.codeMoved(c, out, err)
}

// terminalTopup redeems a customer's code for a cash top-up.
func (s *Server) terminalTopup(c *fiber.Ctx) error {
	req, err := s.codeRequest(c)
	if err != nil {
		return err
	}
	// The operator's switch; unreadable switches fail closed (503) before
	// the code is tried or counted.
	w, err := s.switches(c)
	if err != nil {
		return err
	}
	req.VoidBefore = w.ReauthAfter
	out, err := s.pay.Topup(c.UserContext(), req, w.Topups)
	s.tellDecline(c, req, out, err)
	return s.codeMoved(c, out, err)
}

// codeMoved answers a payment or a top-up.
func (s *Server) codeMoved(c *fiber.Ctx, out *pay.Outcome, err error) error {
	if out != nil {
		setLogID(c, logPayment, out.PaymentID)
	}
	if err := s.refused(out, err); err != nil {
		return err
	}
	if out.Replayed {
		c.Set("Idempotent-Replayed", "true")
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{
		"payment_id": out.PaymentID, "status": "approved", "kind": out.Kind, "amount": out.Amount, "currency": out.Currency,
	})
}

// terminalRefund refunds (part of) a payment made at this terminal's store.
func (s *Server) terminalRefund(c *fiber.Ctx) error {
	key, err := idemKey(c)
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
	t := terminalOf(c)
	id := c.Params("id")
	out, err := s.pay.Refund(c.UserContext(), pay.RefundRequest{
		Terminal: s.payTerminal(t), IdempotencyKey: key, PaymentID: id, Amount: *req.Amount,
	})
	if err := s.refused(out, err); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"refund_id": out.PaymentID, "payment_id": id, "status": "approved", "amount": out.Amount})
}

// refused counts what the money service answered and turns everything but
// an approval into the problem the terminal sees: a decline is 402 with the
// reason as the code (404 for a refund of no such payment), the guessing
// throttle 429, a reused Idempotency-Key 422.
func (s *Server) refused(out *pay.Outcome, err error) error {
	if out != nil && out.Suspended {
		s.metrics.suspensions.Inc()
	}
	switch {
	case errors.Is(err, pay.ErrThrottled):
		s.metrics.limited.WithLabelValues("code-guessing").Inc()
		p := problemText(fiber.StatusTooManyRequests, codeRateLimited, text.M(text.CodeGuessing))
		p.Headers = map[string]string{fiber.HeaderRetryAfter: strconv.Itoa(int(pay.GuessWindow.Seconds()))}
		return p
	case errors.Is(err, pay.ErrIdempotencyMismatch):
		return problemText(fiber.StatusUnprocessableEntity, codeIdempotencyMismatch, text.M(text.IdempotencyMismatch))
	case err != nil:
		return err
	}
	if out.Approved {
		s.metrics.money.WithLabelValues(string(out.Kind), "approved").Inc()
		if out.MerchantErr != nil {
			s.metrics.merchantEnqueue.Inc()
			s.log.Error("merchant event not queued; the movement stands (replay sends it)", "payment", out.PaymentID,
				"kind", out.Kind, "error", out.MerchantErr.Error())
		}
		if !out.Replayed {
			cur := out.Currency
			if cur == "" {
				cur = s.cfg.Currency
			}
			s.metrics.amount.WithLabelValues(string(out.Kind), cur).Add(float64(out.Amount))
		}
		return nil
	}
	s.metrics.money.WithLabelValues(string(out.Kind), string(out.Decline)).Inc()
	if out.Decline == store.DeclineNotFound {
		return problemText(fiber.StatusNotFound, codeNotFound, text.M(text.PaymentNotFound))
	}
	p := problemText(fiber.StatusPaymentRequired, string(out.Decline), text.M(text.ID(out.Decline)))
	p.Title = "Declined"
	return p
}

// terminalGetPayment shows a payment and its refunds to a terminal of the
// store where it was made, and to no one else.
func (s *Server) terminalGetPayment(c *fiber.Ctx) error {
	term := terminalOf(c)
	p, err := s.store.Payment(c.UserContext(), c.Params("id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && p.Store != term.StoreID) {
		return problemText(fiber.StatusNotFound, codeNotFound, text.M(text.PaymentNotFound))
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
