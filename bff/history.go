package bff

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// The shopper's history: payments, refunds and top-ups, newest first, from
// the account's ledger, with each store's display names. GET /v1/wallet
// carries the newest few ("recent"); GET /v1/wallet/history pages through
// all of them with a cursor.

const (
	historyPageDefault = 20
	historyPageMax     = 100
)

// movements renders ledger entries with their stores' names (one round
// trip for all of them).
func (s *Server) movements(ctx context.Context, entries []store.LedgerEntry) ([]fiber.Map, error) {
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.Store)
	}
	names, err := s.store.StoreNames(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]fiber.Map, 0, len(entries))
	for _, e := range entries {
		out = append(out, fiber.Map{"id": e.ID, "kind": e.Kind, "amount": e.Amount, "balance": e.Balance,
			"currency": e.Currency, "payment_id": e.Payment, "store_id": e.Store, "store_name": storeNameMap(names, e.Store),
			"at": e.At})
	}
	return out, nil
}

// walletHistory is one page of the history: ?before=<id of the last entry
// of the previous page> and ?limit= (1-100, default 20). "next" is the
// cursor of the following page, or null after the oldest entry.
func (s *Server) walletHistory(c *fiber.Ctx) error {
	before := c.Query("before")
	if before != "" && !streamID.MatchString(before) {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.HistoryCursor)).about("before")
	}
	limit := c.QueryInt("limit", historyPageDefault)
	if limit < 1 || limit > historyPageMax {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.HistoryLimit)).about("limit")
	}
	sess, _ := sessionOf(c)
	// One more than asked tells whether another page follows.
	entries, err := s.store.LedgerPage(c.UserContext(), sess.AccountID, before, int64(limit)+1)
	if err != nil {
		return err
	}
	var next any
	if len(entries) > limit {
		entries = entries[:limit]
		next = entries[limit-1].ID
	}
	items, err := s.movements(c.UserContext(), entries)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"entries": items, "next": next})
}
