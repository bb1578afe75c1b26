package bff

import (
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// Stores' display names. Terminals belong to a store (the store_id they
// are registered with); the operator gives each store a name in Japanese
// and English, which shoppers see in their history and in the app's
// messages (code.redeemed, code.declined) instead of the raw id. A store
// without a name is shown by its id.

func (s *Server) storeRoutes(ops fiber.Router) {
	ops.Put("/stores/:store_id", s.adminNameStore)
	ops.Get("/stores/:store_id", s.adminGetStore)
	ops.Get("/stores/:store_id/payments", s.adminStorePayments)
}

// validStoreID is the form terminal registration accepts.
func validStoreID(id string) bool {
	return id != "" && len(id) <= 64 && validOrderRef(id) && !strings.ContainsAny(id, " {}")
}

// validStoreName accepts 1-64 printable characters.
func validStoreName(n string) bool {
	return validLabel(n) && utf8.RuneCountInString(strings.TrimSpace(n)) == utf8.RuneCountInString(n)
}

func storeNameBody(n store.StoreName) fiber.Map {
	return fiber.Map{"store_id": n.StoreID, "name": fiber.Map{"en": n.En, "ja": n.Ja}, "updated_at": n.UpdatedAt}
}

// adminNameStore sets a store's display names (both languages, so no
// shopper ever sees one half-translated).
func (s *Server) adminNameStore(c *fiber.Ctx) error {
	var req struct {
		operatorReason
		NameEn string `json:"name_en"`
		NameJa string `json:"name_ja"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	id := c.Params("store_id")
	if !validStoreID(id) {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.StoreIDRequired)).about("store_id")
	}
	if !validStoreName(req.NameEn) || !validStoreName(req.NameJa) {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.StoreNameInvalid))
	}
	n := store.StoreName{StoreID: id, En: req.NameEn, Ja: req.NameJa, UpdatedAt: s.now()}
	if err := s.store.PutStoreName(c.UserContext(), n); err != nil {
		return err
	}
	s.auditAs(c, "operator:"+req.Operator, "store.named", "", "", map[string]string{
		"store": id, "name_en": req.NameEn, "name_ja": req.NameJa, "reason": req.Reason})
	return c.JSON(storeNameBody(n))
}

func (s *Server) adminGetStore(c *fiber.Ctx) error {
	id := c.Params("store_id")
	names, err := s.store.StoreNames(c.UserContext(), id)
	if err != nil {
		return err
	}
	n, ok := names[id]
	if !ok {
		return problemText(fiber.StatusNotFound, codeNotFound, text.M(text.NoSuchStore))
	}
	return c.JSON(storeNameBody(n))
}

// storeNameMap is what clients get for a store: {"en": ..., "ja": ...},
// or nil when the store has no name.
func storeNameMap(names map[string]store.StoreName, id string) any {
	n, ok := names[id]
	if !ok {
		return nil
	}
	return map[string]string{"en": n.En, "ja": n.Ja}
}
