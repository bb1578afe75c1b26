package bff

import (
	"errors"
	"net/url"
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
}

// checkWebhookURL accepts an absolute http(s) URL without credentials or
// fragment; https only in production (sales travel in it).
func (s *Server) checkWebhookURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || len(raw) > 2048 || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.Fragment != "" {
		return nil, problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.WebhookURLInvalid))
	}
	if s.cfg.Env == config.Production && u.Scheme != "https" {
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
	u, err := s.checkWebhookURL(req.URL)
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
	var req operatorReason
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
	var req operatorReason
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
