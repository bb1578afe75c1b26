package bff

import (
	"github.com/gofiber/fiber/v2"
)

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
	a := s.pay.Allowance(acct.ProbationUntil)
	limits := fiber.Map{"per_payment": a.PerPayment, "per_day": a.PerDay, "per_topup": a.PerTopup,
		"topups_per_day": a.TopupsPerDay, "probation": a.InProbation()}
	if a.InProbation() {
		limits["probation_until"] = a.ProbationUntil
	}
	recent, err := s.movements(c.UserContext(), w.Recent)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"balance": w.Balance, "currency": currency, "limits": limits, "recent": recent})
}
