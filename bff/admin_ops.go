package bff

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

// Operator calls on the admin listener. Every state change names its
// operator and reason, and is audited as "operator:<name>".

func (s *Server) opsRoutes(ops fiber.Router) {
	ops.Post("/terminals", s.adminRegisterTerminal)
	ops.Post("/terminal-pairings", s.adminCreatePairing)
	ops.Post("/payments/:id/refunds", s.adminRefund)
	ops.Get("/terminals/:id", s.adminGetTerminal)
	ops.Post("/terminals/:id/suspend", s.adminTerminalStatus(store.TerminalSuspended))
	ops.Post("/terminals/:id/activate", s.adminTerminalStatus(store.TerminalActive))
	ops.Post("/accounts/:id/freeze", s.adminAccountStatus(store.AccountFrozen))
	ops.Post("/accounts/:id/unfreeze", s.adminAccountStatus(store.AccountActive))
	ops.Get("/audit", s.adminAudit)
	s.switchRoutes(ops)
	s.storeRoutes(ops)
}

// adminAudit returns the newest audit events, oldest first; ?account=
// narrows them to one account and ?limit= (1-1000, default 100) bounds how
// many of the newest are read.
func (s *Server) adminAudit(c *fiber.Ctx) error {
	limit := c.QueryInt("limit", 100)
	if limit < 1 || limit > 1000 {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.AuditLimit)).about("limit")
	}
	events, err := s.store.AuditEvents(c.UserContext(), int64(limit))
	if err != nil {
		return err
	}
	account := c.Query("account")
	out := make([]fiber.Map, 0, len(events))
	for _, e := range events {
		if account != "" && e.AccountID != account {
			continue
		}
		out = append(out, fiber.Map{"type": e.Type, "account_id": e.AccountID, "device_id": e.DeviceID, "actor": e.Actor,
			"ip": e.IP, "request_id": e.RequestID, "fields": e.Fields, "time": e.Time})
	}
	return c.JSON(fiber.Map{"events": out})
}

// operatorReason reads the operator's name and reason every change needs.
type operatorReason struct {
	Operator string `json:"operator"`
	Reason   string `json:"reason"`
}

func (o operatorReason) check() error {
	if o.Operator == "" || len(o.Operator) > 64 || !validOrderRef(o.Operator) {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.OperatorRequired)).about("operator")
	}
	if o.Reason == "" || len(o.Reason) > 500 {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.ReasonRequired)).about("reason")
	}
	return nil
}

func (s *Server) adminRegisterTerminal(c *fiber.Ctx) error {
	var req struct {
		operatorReason
		StoreID      string `json:"store_id"`
		Label        string `json:"label"`
		PublicKeyPEM string `json:"public_key_pem"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	if !validStoreID(req.StoreID) {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.StoreIDRequired)).about("store_id")
	}
	if !validLabel(req.Label) {
		return problemText(fiber.StatusBadRequest, codeInvalidLabel, text.M(text.TerminalLabel))
	}
	if _, err := tokens.ParsePublicKeyPEM([]byte(req.PublicKeyPEM)); err != nil {
		p := problemText(fiber.StatusBadRequest, codeInvalidPublicKey, text.M(text.InvalidPublicKey)).about("public_key_pem")
		p.Err = err
		return p
	}
	id, err := store.NewTerminalID()
	if err != nil {
		return err
	}
	t := store.Terminal{ID: id, StoreID: req.StoreID, Label: req.Label, PublicKeyPEM: req.PublicKeyPEM, Status: store.TerminalActive, CreatedAt: s.now()}
	if err := s.store.PutTerminal(c.UserContext(), t); err != nil {
		return err
	}
	s.auditAs(c, "operator:"+req.Operator, "terminal.registered", "", "", map[string]string{"terminal": id, "store": req.StoreID, "reason": req.Reason})
	return c.Status(fiber.StatusCreated).JSON(terminalBody(&t))
}

func terminalBody(t *store.Terminal) fiber.Map {
	return fiber.Map{"terminal_id": t.ID, "store_id": t.StoreID, "label": t.Label, "status": t.Status, "created_at": t.CreatedAt}
}

func (s *Server) adminGetTerminal(c *fiber.Ctx) error {
	t, err := s.store.Terminal(c.UserContext(), c.Params("id"))
	if errors.Is(err, store.ErrNotFound) {
		return problemText(fiber.StatusNotFound, codeNotFound, text.M(text.NoSuchTerminal))
	} else if err != nil {
		return err
	}
	body := terminalBody(t)
	body["unknown_codes_recent"] = t.GuessesAt(s.now()) // read with the terminal
	return c.JSON(body)
}

func (s *Server) adminTerminalStatus(status string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req operatorReason
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		if err := req.check(); err != nil {
			return err
		}
		id := c.Params("id")
		ok, err := s.store.SetTerminalStatus(c.UserContext(), id, status)
		s.terms.forget(id) // this replica at once; the others within terminalCacheTTL
		if err != nil {
			return err
		}
		if !ok {
			return problemText(fiber.StatusNotFound, codeNotFound, text.M(text.NoSuchTerminal))
		}
		s.auditAs(c, "operator:"+req.Operator, "terminal."+status, "", "", map[string]string{"terminal": id, "reason": req.Reason})
		return c.JSON(fiber.Map{"terminal_id": id, "status": status})
	}
}

func (s *Server) adminAccountStatus(status string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req operatorReason
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		if err := req.check(); err != nil {
			return err
		}
		id := c.Params("id")
		ok, err := s.store.SetAccountStatus(c.UserContext(), id, status)
		if err != nil && !errors.Is(err, store.ErrNotFound) { // a malformed id is not found too
			return err
		}
		if !ok {
			return problemText(fiber.StatusNotFound, codeNotFound, text.M(text.NoSuchAccount))
		}
		typ := "account.frozen"
		if status == store.AccountActive {
			typ = "account.unfrozen"
		}
		s.auditAs(c, "operator:"+req.Operator, typ, id, "", map[string]string{"reason": req.Reason})
		return c.JSON(fiber.Map{"account_id": id, "status": status})
	}
}
