package bff

import (
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// Stores' sales: the terminal's list of today's sales (the scanner page
// refunds from it) and the operator's list of a store's payments, both
// read from the store's sales log (store/sales.go), paged with a cursor
// (Stripe's convention: next_cursor, null on the last page).

const defaultSalesPage = 50

// salesPage reads the limit and cursor of a list call.
func salesPage(c *fiber.Ctx) (int, string, error) {
	limit := defaultSalesPage
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxSalesPage {
			return 0, "", problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.SalesLimit, "max", strconv.Itoa(store.MaxSalesPage)))
		}
		limit = n
	}
	return limit, c.Query("cursor"), nil
}

// readSales reads a page and renders it; a cursor the log did not write is
// 400.
func (s *Server) readSales(c *fiber.Ctx, q store.SalesQuery, caller string, render func(store.Sale) fiber.Map) error {
	page, err := s.store.Sales(c.UserContext(), q)
	if errors.Is(err, store.ErrBadCursor) {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.SalesCursor))
	} else if err != nil {
		return err
	}
	s.metrics.salesReads.WithLabelValues(caller).Inc()
	out := make([]fiber.Map, 0, len(page.Sales))
	for _, sale := range page.Sales {
		out = append(out, render(sale))
	}
	var next any
	if page.Next != "" {
		next = page.Next
	}
	return c.JSON(fiber.Map{"payments": out, "next_cursor": next})
}

// saleStatus is a payment's state for a person: approved, then
// partially_refunded, refunded.
func saleStatus(sale store.Sale) string {
	switch {
	case sale.Kind == store.KindRefund:
		return "approved"
	case sale.Refunded >= sale.Amount:
		return "refunded"
	case sale.Refunded > 0:
		return "partially_refunded"
	}
	return "approved"
}

// terminalPayments lists this terminal's payments and top-ups of today (the
// business day in PAYCODE_TIMEZONE), newest first.
func (s *Server) terminalPayments(c *fiber.Ctx) error {
	limit, cursor, err := salesPage(c)
	if err != nil {
		return err
	}
	t := terminalOf(c)
	now := s.now().In(s.cfg.Location)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, s.cfg.Location)
	q := store.SalesQuery{StoreID: t.StoreID, TerminalID: t.ID, From: today, Cursor: cursor, Limit: limit, Now: s.now()}
	return s.readSales(c, q, "terminal", func(sale store.Sale) fiber.Map {
		return fiber.Map{"id": sale.ID, "kind": sale.Kind, "amount": sale.Amount, "refunded_amount": sale.Refunded,
			"currency": sale.Currency, "order_ref": sale.OrderRef, "status": saleStatus(sale), "created_at": sale.CreatedAt}
	})
}

// adminStorePayments lists a store's payments, top-ups and refunds, newest
// first, within ?from= and ?to= (RFC 3339; from inclusive, to exclusive).
// Reads are not audited (they change nothing) but counted.
func (s *Server) adminStorePayments(c *fiber.Ctx) error {
	id := c.Params("store_id")
	if !validStoreID(id) {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.StoreIDRequired))
	}
	limit, cursor, err := salesPage(c)
	if err != nil {
		return err
	}
	q := store.SalesQuery{StoreID: id, Cursor: cursor, Limit: limit, Now: s.now()}
	for name, t := range map[string]*time.Time{"from": &q.From, "to": &q.To} {
		if v := c.Query(name); v != "" {
			if *t, err = time.Parse(time.RFC3339, v); err != nil {
				return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.SalesTime, "param", name))
			}
		}
	}
	return s.readSales(c, q, "operator", func(sale store.Sale) fiber.Map {
		return fiber.Map{"id": sale.ID, "kind": sale.Kind, "payment_id": sale.PaymentID, "terminal_id": sale.TerminalID,
			"account_id": sale.AccountID, "amount": sale.Amount, "refunded_amount": sale.Refunded, "currency": sale.Currency,
			"order_ref": sale.OrderRef, "status": saleStatus(sale), "created_at": sale.CreatedAt}
	})
}
