package bff

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/tokens"
)

// Operator calls on the admin listener. Every state change names its
// operator and reason, and is audited as "operator:<name>".

func (s *Server) opsRoutes(ops fiber.Router) {
	ops.Post("/terminals", s.adminRegisterTerminal)
	ops.Get("/terminals/:id", s.adminGetTerminal)
	ops.Post("/terminals/:id/suspend", s.adminTerminalStatus(store.TerminalSuspended))
	ops.Post("/terminals/:id/activate", s.adminTerminalStatus(store.TerminalActive))
	ops.Post("/accounts/:id/freeze", s.adminAccountStatus(store.AccountFrozen))
	ops.Post("/accounts/:id/unfreeze", s.adminAccountStatus(store.AccountActive))
	ops.Get("/audit", s.adminAudit)
	s.switchRoutes(ops)
}

// adminAudit returns the newest audit events, oldest first; ?account=
// narrows them to one account and ?limit= (1-1000, default 100) bounds how
// many of the newest are read.
func (s *Server) adminAudit(c *fiber.Ctx) error {
	limit := c.QueryInt("limit", 100)
	if limit < 1 || limit > 1000 {
		return newProblem(fiber.StatusBadRequest, codeMalformed, "limit must be between 1 and 1000.")
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
		return newProblem(fiber.StatusBadRequest, codeMalformed, "The member \"operator\" (who acts, 1-64 printable characters) is required.")
	}
	if o.Reason == "" || len(o.Reason) > 500 {
		return newProblem(fiber.StatusBadRequest, codeMalformed, "The member \"reason\" (up to 500 characters) is required.")
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
	if req.StoreID == "" || len(req.StoreID) > 64 || !validOrderRef(req.StoreID) || strings.ContainsAny(req.StoreID, " {}") {
		return newProblem(fiber.StatusBadRequest, codeMalformed, "The member \"store_id\" (1-64 printable characters, no spaces) is required.")
	}
	if !validLabel(req.Label) {
		return newProblem(fiber.StatusBadRequest, codeInvalidLabel, "The member \"label\" must be 1 to 64 printable characters.")
	}
	if _, err := tokens.ParsePublicKeyPEM([]byte(req.PublicKeyPEM)); err != nil {
		p := newProblem(fiber.StatusBadRequest, "invalid_public_key", "The member \"public_key_pem\" must be a PEM PUBLIC KEY, EC P-256 (ES256) or Ed25519 (EdDSA).")
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
		return newProblem(fiber.StatusNotFound, codeNotFound, "No such terminal.")
	} else if err != nil {
		return err
	}
	guesses, err := s.store.Guesses(c.UserContext(), t.ID)
	if err != nil {
		return err
	}
	body := terminalBody(t)
	body["unknown_codes_recent"] = guesses
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
		if err != nil {
			return err
		}
		if !ok {
			return newProblem(fiber.StatusNotFound, codeNotFound, "No such terminal.")
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
			return newProblem(fiber.StatusNotFound, codeNotFound, "No such account.")
		}
		typ := "account.frozen"
		if status == store.AccountActive {
			typ = "account.unfrozen"
		}
		s.auditAs(c, "operator:"+req.Operator, typ, id, "", map[string]string{"reason": req.Reason})
		return c.JSON(fiber.Map{"account_id": id, "status": status})
	}
}
