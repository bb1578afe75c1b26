package bff

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// guessWindow is the window in which a terminal's unknown codes count.
const guessWindow = 10 * time.Minute

// wallet shows the customer's balance, limits and recent movements.
func (s *Server) wallet(c *fiber.Ctx) error {
	sess, _ := sessionOf(c)
	w, err := s.store.Wallet(c.UserContext(), sess.AccountID, 10)
	if err != nil {
		return err
	}
	acct, err := s.store.Account(c.UserContext(), sess.AccountID)
	if err != nil {
		return err
	}
	currency := w.Currency
	if currency == "" {
		currency = s.cfg.Currency
	}
	limits := fiber.Map{"per_payment": s.cfg.LimitPayment, "per_day": s.cfg.LimitDay, "per_topup": s.cfg.LimitTopup,
		"topups_per_day": s.cfg.LimitTopupsPerDay, "probation": false}
	if !acct.ProbationUntil.IsZero() && s.now().Before(acct.ProbationUntil) {
		limits["probation"] = true
		limits["probation_until"] = acct.ProbationUntil
		limits["per_payment"] = min(s.cfg.LimitPayment, s.cfg.ProbationLimitDay)
		limits["per_day"] = min(s.cfg.LimitDay, s.cfg.ProbationLimitDay)
		limits["topups_per_day"] = 0
	}
	recent := make([]fiber.Map, 0, len(w.Recent))
	for _, e := range w.Recent {
		recent = append(recent, fiber.Map{"id": e.ID, "kind": e.Kind, "amount": e.Amount, "balance": e.Balance,
			"payment_id": e.Payment, "store_id": e.Store, "at": e.At})
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"balance": w.Balance, "currency": currency, "limits": limits, "recent": recent})
}
