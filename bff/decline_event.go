package bff

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/pay"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/tokens"
)

// A decline at the register is told to the phone that showed the code, as
// the event code.declined: {code_id, reason, kind, amount, currency,
// store, store_name}. The shopper then reads why ("your balance is too
// low") instead of only the cashier.
//
// The money script tells every decline it decides itself, in the same
// atomic step as the stored outcome (store/wallet.go, payScript: so a
// replay is never told again, and the event costs no round trip of its
// own). Never code_unknown (a guess or a misread names no account;
// telling anyone would turn the register into an oracle for codes), never
// device_revoked (the account's current phone never showed that code).
//
// tellDecline covers the one decline decided before the store is asked: a
// currency other than the configured one (pay.Outcome.Local). It reads
// the code's record to find the account; a failure to read or publish is
// logged, and the terminal's answer stands.
func (s *Server) tellDecline(c *fiber.Ctx, req pay.CodeRequest, out *pay.Outcome, err error) {
	if err != nil || out == nil || out.Approved || !out.Local || out.Decline == store.DeclineCodeUnknown {
		return
	}
	code, perr := tokens.ParseCode(req.Code, s.cfg.CodePrefix)
	if perr != nil {
		return
	}
	ctx := c.UserContext()
	name := code.KeyedName(s.cfg.Secret)
	rec, rerr := s.store.Code(ctx, store.Bucket(code.Bucket()), name)
	if rerr != nil {
		if !errors.Is(rerr, store.ErrNotFound) {
			s.log.Error("declined code not read", "request_id", requestID(c), "error", rerr.Error())
		}
		return
	}
	s.publish(c, rec.AccountID, "code.declined", map[string]any{
		"code_id": store.CodeID(name), "reason": string(out.Decline), "kind": string(out.Kind),
		"amount": out.Amount, "currency": out.Currency, "store": req.Terminal.StoreID,
	})
}
