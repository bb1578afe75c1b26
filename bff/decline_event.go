package bff

import (
	"context"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/pay"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/tokens"
)

// A decline at the register is told to the phone that showed the code, as
// the event code.declined: {code_id, reason, kind, amount, currency,
// store, store_name}. The shopper then reads why ("your balance is too
// low") instead of only the cashier. It is published here, after package
// pay answered, not from the money script: a decline changes no money, and
// the event is a notice about an answer already given.
//
// Only declines of a code that exists are told, to its account:
//
//   - never code_unknown (a guess or a misread names no account; telling
//     anyone would turn the register into an oracle for codes);
//   - never device_revoked: the code's device is no longer the account's,
//     and the account's current phone never showed that code;
//   - never a replayed answer (the retry of a request already told).
//
// A failure to read the code or to publish is logged; the terminal's
// answer stands.
func (s *Server) tellDecline(c *fiber.Ctx, req pay.CodeRequest, out *pay.Outcome, err error) {
	if err != nil || out == nil || out.Approved || out.Replayed {
		return
	}
	switch out.Decline {
	case store.DeclineCodeUnknown, store.DeclineDeviceRevoked:
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
	s.publishDecline(ctx, c, rec.AccountID, map[string]any{
		"code_id": codeID(name), "reason": string(out.Decline), "kind": string(out.Kind),
		"amount": out.Amount, "currency": out.Currency, "store": req.Terminal.StoreID,
	})
}

func (s *Server) publishDecline(ctx context.Context, c *fiber.Ctx, accountID string, data map[string]any) {
	if err := s.store.Publish(ctx, accountID, store.Event{Type: "code.declined", Data: data, Time: s.now()}); err != nil {
		s.log.Error("event not published", "type", "code.declined", "account", accountID, "request_id", requestID(c), "error", err.Error())
	}
}
