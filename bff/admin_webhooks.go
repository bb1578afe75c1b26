package bff

import (
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/config"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// Merchant webhooks, the operator's side: each store may have one endpoint
// where its approved payments, refunds and top-ups are posted (signed as
// Standard Webhooks; see notify/merchant.go). The operator sets its URL
// (the first time, the answer carries the secret, once), rotates its
// secret (the old one keeps signing for a day), removes it, and replays a
// time range of the store's sales. Every change is audited with operator
// and reason; the audit records the URL's scheme and host only (a query may
// carry the receiver's own token), never a secret.

func (s *Server) webhookRoutes(ops fiber.Router) {
	ops.Put("/stores/:store_id/webhook", s.adminSetWebhook)
	ops.Get("/stores/:store_id/webhook", s.adminGetWebhook)
	ops.Delete("/stores/:store_id/webhook", s.adminDeleteWebhook)
	ops.Post("/stores/:store_id/webhook/rotate", s.adminRotateWebhook)
	ops.Post("/stores/:store_id/webhook/replay", s.adminReplayWebhook)
}

// checkWebhookURL accepts an absolute http(s) URL without credentials or
// fragment; https only in production (sales travel in it).
func checkWebhookURL(raw string, env config.Environment) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || len(raw) > 2048 || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.Fragment != "" {
		return nil, problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.WebhookURLInvalid))
	}
	if env == config.Production && u.Scheme != "https" {
		return nil, problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.WebhookHTTPS))
	}
	return u, nil
}

// storeParam reads and checks the :store_id of a store route.
func storeParam(c *fiber.Ctx) (string, error) {
	id := c.Params("store_id")
	if !validStoreID(id) {
		return "", problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.StoreIDRequired))
	}
	return id, nil
}

func webhookBody(ep *store.WebhookEndpoint) fiber.Map {
	body := fiber.Map{"store_id": ep.StoreID, "url": ep.URL, "created_at": ep.CreatedAt, "updated_at": ep.UpdatedAt,
		"rotated_at": nil, "previous_secret_valid_until": nil}
	if !ep.RotatedAt.IsZero() {
		body["rotated_at"] = ep.RotatedAt
	}
	if !ep.PreviousValidUntil.IsZero() {
		body["previous_secret_valid_until"] = ep.PreviousValidUntil
	}
	return body
}

// adminSetWebhook sets a store's endpoint URL: 201 with the new secret
// (shown this once) when the store had none, 200 when only the URL changed.
func (s *Server) adminSetWebhook(c *fiber.Ctx) error {
	var req struct {
		operatorReason
		URL string `json:"url"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	id, err := storeParam(c)
	if err != nil {
		return err
	}
	u, err := checkWebhookURL(req.URL, s.cfg.Env)
	if err != nil {
		return err
	}
	secret, created, err := s.webhooks.Put(c.UserContext(), id, req.URL)
	if err != nil {
		return err
	}
	s.refreshMerchantStores(c)
	s.auditAs(c, "operator:"+req.Operator, "webhook.endpoint_set", "", "", map[string]string{
		"store": id, "endpoint": u.Scheme + "://" + u.Host, "new_secret": boolWord(created), "reason": req.Reason})
	ep, err := s.webhooks.Get(c.UserContext(), id)
	if err != nil {
		return err
	}
	body := webhookBody(ep)
	if created {
		body["secret"] = secret
		return c.Status(fiber.StatusCreated).JSON(body)
	}
	return c.JSON(body)
}

func boolWord(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// refreshMerchantStores brings this replica's copy up to date at once
// after a change here (the others follow within a second).
func (s *Server) refreshMerchantStores(c *fiber.Ctx) {
	if err := s.merchantStores.refresh(c.UserContext()); err != nil {
		s.log.Warn("merchant webhook stores not re-read after a change", "request_id", requestID(c), "error", err.Error())
	}
}

func (s *Server) adminGetWebhook(c *fiber.Ctx) error {
	id, err := storeParam(c)
	if err != nil {
		return err
	}
	ep, err := s.webhooks.Get(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		return problemText(fiber.StatusNotFound, codeNotFound, text.M(text.NoWebhookEndpoint))
	} else if err != nil {
		return err
	}
	return c.JSON(webhookBody(ep))
}

func (s *Server) adminDeleteWebhook(c *fiber.Ctx) error {
	req, id, err := operatorOnStore(c)
	if err != nil {
		return err
	}
	ok, err := s.webhooks.Delete(c.UserContext(), id)
	if err != nil {
		return err
	}
	s.refreshMerchantStores(c)
	if !ok {
		return problemText(fiber.StatusNotFound, codeNotFound, text.M(text.NoWebhookEndpoint))
	}
	s.auditAs(c, "operator:"+req.Operator, "webhook.endpoint_removed", "", "", map[string]string{"store": id, "reason": req.Reason})
	return c.JSON(fiber.Map{"store_id": id, "removed": true})
}

// adminRotateWebhook gives the endpoint a new secret, shown this once; the
// old one signs too for store.PreviousSecretValidity.
func (s *Server) adminRotateWebhook(c *fiber.Ctx) error {
	req, id, err := operatorOnStore(c)
	if err != nil {
		return err
	}
	secret, err := s.webhooks.Rotate(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		return problemText(fiber.StatusNotFound, codeNotFound, text.M(text.NoWebhookEndpoint))
	} else if err != nil {
		return err
	}
	s.auditAs(c, "operator:"+req.Operator, "webhook.secret_rotated", "", "", map[string]string{"store": id, "reason": req.Reason})
	ep, err := s.webhooks.Get(c.UserContext(), id)
	if err != nil {
		return err
	}
	body := webhookBody(ep)
	body["secret"] = secret
	return c.JSON(body)
}

// maxReplaySpan bounds one replay (a store's month).
const maxReplaySpan = 31 * 24 * time.Hour

// replayRange reads a replay's [from, to).
func replayRange(from, to string) (time.Time, time.Time, error) {
	f, err1 := time.Parse(time.RFC3339, from)
	t, err2 := time.Parse(time.RFC3339, to)
	if err1 != nil || err2 != nil || !f.Before(t) || t.Sub(f) > maxReplaySpan {
		return time.Time{}, time.Time{}, problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.ReplayRange))
	}
	return f, t, nil
}

// adminReplayWebhook queues again the merchant events of the store's sales
// in [from, to), read from the store's sales log (the record of what
// happened; nothing else is kept for webhooks), oldest first, each with
// its own webhook-id so a receiver that has it already ignores it. 202:
// the events are queued, and delivered as any other.
func (s *Server) adminReplayWebhook(c *fiber.Ctx) error {
	var req struct {
		operatorReason
		From string `json:"from"`
		To   string `json:"to"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	id, err := storeParam(c)
	if err != nil {
		return err
	}
	from, to, err := replayRange(req.From, req.To)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	if _, err := s.webhooks.Get(ctx, id); errors.Is(err, store.ErrNotFound) {
		return problemText(fiber.StatusNotFound, codeNotFound, text.M(text.NoWebhookEndpoint))
	} else if err != nil {
		return err
	}
	queued := 0
	q := store.SalesQuery{StoreID: id, From: from, To: to, Oldest: true, Limit: store.MaxSalesPage, Now: s.now()}
	for {
		page, err := s.store.Sales(ctx, q)
		if err != nil {
			return err
		}
		refs := make([]store.MerchantRef, 0, len(page.Sales))
		for _, sale := range page.Sales {
			refs = append(refs, store.MerchantRef{StoreID: id, Kind: sale.Kind, ID: sale.ID, At: sale.CreatedAt})
		}
		if err := s.outbox.EnqueueMerchantEvents(ctx, refs...); err != nil {
			// What is queued stays queued (a replay is safe to repeat);
			// the audit says how far this one got.
			s.auditReplay(c, req.operatorReason, id, from, to, queued)
			return err
		}
		queued += len(refs)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	s.auditReplay(c, req.operatorReason, id, from, to, queued)
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"store_id": id, "from": from.UTC(), "to": to.UTC(), "queued": queued})
}

func (s *Server) auditReplay(c *fiber.Ctx, who operatorReason, storeID string, from, to time.Time, queued int) {
	s.auditAs(c, "operator:"+who.Operator, "webhook.replayed", "", "", map[string]string{"store": storeID,
		"from": from.UTC().Format(time.RFC3339), "to": to.UTC().Format(time.RFC3339), "queued": strconv.Itoa(queued), "reason": who.Reason})
}

// operatorOnStore reads the operator and reason of a call on one store's
// endpoint (a body with nothing else) and the store id of its path.
func operatorOnStore(c *fiber.Ctx) (operatorReason, string, error) {
	var req operatorReason
	if err := decodeExactJSON(c, &req); err != nil {
		return req, "", err
	}
	if err := req.check(); err != nil {
		return req, "", err
	}
	id, err := storeParam(c)
	return req, id, err
}
