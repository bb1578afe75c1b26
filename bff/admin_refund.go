package bff

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/pay"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// operatorTerminal is the terminal id an operator's refund is made under:
// its Idempotency-Key scope, and the "terminal" of its refund record,
// ledger and settlement entries. The operator's name and reason are in the
// audit event.
const operatorTerminal = "operator"

// adminRefund refunds (part of) a payment as an operator (support): the
// same refund script as a terminal's, at the payment's store, exactly once
// per Idempotency-Key, audited with the operator and the reason.
func (s *Server) adminRefund(c *fiber.Ctx) error {
	key, err := idemKey(c)
	if err != nil {
		return err
	}
	var req struct {
		operatorReason
		Amount *int64 `json:"amount"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	if err := checkAmount(req.Amount); err != nil {
		return err
	}
	id := c.Params("id")
	p, err := s.store.Payment(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		return problemText(fiber.StatusNotFound, codeNotFound, text.M(text.PaymentNotFound))
	} else if err != nil {
		return err
	}
	out, err := s.pay.Refund(c.UserContext(), pay.RefundRequest{
		Terminal: pay.Terminal{ID: operatorTerminal, StoreID: p.Store}, IdempotencyKey: key, PaymentID: id, Amount: *req.Amount,
	})
	if err := s.refused(out, err); err != nil {
		return err
	}
	if out.Replayed {
		c.Set("Idempotent-Replayed", "true")
	} else {
		s.auditAs(c, "operator:"+req.Operator, "payment.refunded_by_operator", p.AccountID, "", map[string]string{
			"payment": id, "refund": out.PaymentID, "amount": strconv.FormatInt(out.Amount, 10), "store": p.Store, "reason": req.Reason})
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"refund_id": out.PaymentID, "payment_id": id, "status": "approved",
		"amount": out.Amount, "store_id": p.Store})
}
