package bff

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// Support tools on the admin listener: find an account by its contact or
// by an enrollment (new-device request) id, and show a wallet and its
// ledger. A store's payments and operator refunds are the store routes'.
//
// Every call names its operator and reason (in the body, or for the reads
// in the query parameters operator and reason), is audited
// ("support.account_lookup", "support.wallet_viewed",
// "support.ledger_viewed") and counted (paycode_support_reads_total).
// A contact is looked up as the product does (normalised, then its keyed
// hash: the contact index holds no address) and is sent in a POST body,
// never in a URL; it is not written to the audit trail or a log line, and
// the answer shows it masked.

const (
	ledgerPageDefault = 50
	ledgerPageMax     = 200
)

func (s *Server) supportRoutes(ops fiber.Router) {
	ops.Post("/support/accounts/lookup", s.supportLookup)
	ops.Get("/accounts/:account_id/wallet", s.supportWallet)
	ops.Get("/accounts/:account_id/ledger", s.supportLedger)
}

// maskContact shows enough of a contact to confirm it with its owner:
// an e-mail's first character and domain, a phone number's country
// prefix and last two digits.
func maskContact(contact, kind string) string {
	if kind == "phone" {
		if len(contact) <= 5 {
			return strings.Repeat("*", len(contact))
		}
		return contact[:3] + strings.Repeat("*", len(contact)-5) + contact[len(contact)-2:]
	}
	local, domain, ok := strings.Cut(contact, "@")
	if !ok || local == "" {
		return "***"
	}
	return local[:1] + "***@" + domain
}

func accountBody(a *store.Account) fiber.Map {
	body := fiber.Map{"account_id": a.ID, "status": a.Status, "contact_kind": a.ContactKind,
		"contact_masked": maskContact(a.Contact, a.ContactKind), "created_at": a.CreatedAt, "device_id": a.DeviceID,
		"device_status": a.DeviceStatus, "language": a.Lang, "probation_until": nil}
	if !a.ProbationUntil.IsZero() {
		body["probation_until"] = a.ProbationUntil
	}
	return body
}

// supportLookup finds the account of a contact or of an enrollment.
func (s *Server) supportLookup(c *fiber.Ctx) error {
	var req struct {
		operatorReason
		Contact      string `json:"contact"`
		EnrollmentID string `json:"enrollment_id"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	if (req.Contact == "") == (req.EnrollmentID == "") {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.SupportLookup))
	}
	ctx := c.UserContext()
	fields := map[string]string{"reason": req.Reason}
	var accountID string
	var enrollment fiber.Map
	if req.Contact != "" {
		contact, _, ok := normalizeContact(req.Contact)
		if !ok {
			return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.SupportContact))
		}
		fields["by"] = "contact"
		id, err := s.store.AccountByContact(ctx, s.contactHash(contact))
		if errors.Is(err, store.ErrNotFound) {
			return s.supportMiss(c, req.Operator, fields, text.NoAccountForContact)
		} else if err != nil {
			return err
		}
		accountID = id
	} else {
		fields["by"], fields["enrollment"] = "enrollment", req.EnrollmentID
		e, err := s.store.Enrollment(ctx, req.EnrollmentID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && e.AccountID == "") {
			// A decoy (an enrollment begun with a contact that has no
			// account) has no account to show.
			return s.supportMiss(c, req.Operator, fields, text.NoSuchEnrollment)
		} else if err != nil {
			return err
		}
		accountID = e.AccountID
		enrollment = fiber.Map{"enrollment_id": e.ID, "state": e.StateAt(s.now()), "origin": e.Origin, "label": e.Label,
			"created_at": e.CreatedAt, "expires_at": e.ExpiresAt}
	}
	a, err := s.store.Account(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return s.supportMiss(c, req.Operator, fields, text.NoSuchAccount)
	} else if err != nil {
		return err
	}
	s.metrics.support.WithLabelValues("account_lookup", "found").Inc()
	s.auditAs(c, "operator:"+req.Operator, "support.account_lookup", accountID, "", fields)
	body := fiber.Map{"account": accountBody(a)}
	if enrollment != nil {
		body["enrollment"] = enrollment
	}
	return c.JSON(body)
}

// supportMiss audits and counts a lookup that found nothing, and answers
// 404.
func (s *Server) supportMiss(c *fiber.Ctx, operator string, fields map[string]string, id text.ID) error {
	s.metrics.support.WithLabelValues("account_lookup", "not_found").Inc()
	fields["found"] = "false"
	s.auditAs(c, "operator:"+operator, "support.account_lookup", "", "", fields)
	return problemText(fiber.StatusNotFound, codeNotFound, text.M(id))
}

// supportRead checks a support read's operator and reason (query
// parameters) and that the account exists; it audits and counts the read.
func (s *Server) supportRead(c *fiber.Ctx, call string, extra map[string]string) (*store.Account, error) {
	who := operatorReason{Operator: c.Query("operator"), Reason: c.Query("reason")}
	if who.check() != nil {
		return nil, problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.OperatorQuery))
	}
	id := c.Params("account_id")
	a, err := s.store.Account(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.metrics.support.WithLabelValues(call, "not_found").Inc()
		return nil, problemText(fiber.StatusNotFound, codeNotFound, text.M(text.NoSuchAccount))
	} else if err != nil {
		return nil, err
	}
	s.metrics.support.WithLabelValues(call, "found").Inc()
	fields := map[string]string{"reason": who.Reason}
	for k, v := range extra {
		fields[k] = v
	}
	s.auditAs(c, "operator:"+who.Operator, "support."+call+"_viewed", id, "", fields)
	return a, nil
}

// supportWallet shows an account, its wallet and today's counters.
func (s *Server) supportWallet(c *fiber.Ctx) error {
	a, err := s.supportRead(c, "wallet", nil)
	if err != nil {
		return err
	}
	w, err := s.store.Wallet(c.UserContext(), a.ID, 5)
	if err != nil {
		return err
	}
	if w.Currency == "" {
		w.Currency = s.cfg.Currency
	}
	if err := s.store.LedgerDetails(c.UserContext(), w.Recent); err != nil {
		return err
	}
	recent := make([]fiber.Map, 0, len(w.Recent))
	for _, e := range w.Recent {
		recent = append(recent, ledgerBody(e))
	}
	return c.JSON(fiber.Map{"account": accountBody(a), "wallet": fiber.Map{"balance": w.Balance, "currency": w.Currency},
		"recent": recent})
}

func ledgerBody(e store.LedgerEntry) fiber.Map {
	return fiber.Map{"id": e.ID, "kind": e.Kind, "amount": e.Amount, "balance": e.Balance, "currency": e.Currency,
		"payment_id": e.Payment, "refund_id": e.Refund, "store_id": e.Store, "terminal_id": e.Terminal,
		"order_ref": e.OrderRef, "at": e.At.UTC().Format(time.RFC3339Nano)}
}

// supportLedger is one page of an account's ledger, newest first:
// ?cursor=<the previous page's next> and ?limit= (1-200, default 50).
func (s *Server) supportLedger(c *fiber.Ctx) error {
	cursor := c.Query("cursor")
	if cursor != "" && !streamID.MatchString(cursor) {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.LedgerCursor))
	}
	limit := c.QueryInt("limit", ledgerPageDefault)
	if limit < 1 || limit > ledgerPageMax {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.LedgerLimit))
	}
	a, err := s.supportRead(c, "ledger", map[string]string{"cursor": cursor})
	if err != nil {
		return err
	}
	entries, err := s.store.LedgerPage(c.UserContext(), a.ID, cursor, int64(limit)+1)
	if err != nil {
		return err
	}
	if err := s.store.LedgerDetails(c.UserContext(), entries); err != nil {
		return err
	}
	var next any
	if len(entries) > limit {
		entries = entries[:limit]
		next = entries[limit-1].ID
	}
	out := make([]fiber.Map, 0, len(entries))
	for _, e := range entries {
		out = append(out, ledgerBody(e))
	}
	return c.JSON(fiber.Map{"account_id": a.ID, "entries": out, "next": next})
}
