package bff

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
)

// audit appends a customer-caused event to the audit stream. The action it
// records has already happened; a failure to record it is logged as an
// error for the operator (the store is then most likely down).
func (s *Server) audit(c *fiber.Ctx, typ, accountID, deviceID string, fields map[string]string) {
	s.auditAs(c, "customer", typ, accountID, deviceID, fields)
}

func (s *Server) auditAs(c *fiber.Ctx, actor, typ, accountID, deviceID string, fields map[string]string) {
	s.recordAudit(c.UserContext(), store.AuditEvent{
		Type: typ, AccountID: accountID, DeviceID: deviceID, Actor: actor,
		IP: s.clientIP(c), RequestID: requestID(c), Fields: fields, Time: s.now(),
	})
}

// recordAudit appends an event to the audit stream and counts it; a
// failure is logged for the operator, not returned. The domain services
// (pay) report their events through it.
func (s *Server) recordAudit(ctx context.Context, ev store.AuditEvent) {
	err := s.store.Audit(ctx, ev)
	s.metrics.audit.WithLabelValues(ev.Type).Inc()
	if err != nil {
		s.log.Error("audit event not recorded", "type", ev.Type, "account", ev.AccountID, "request_id", ev.RequestID, "error", err.Error())
	}
}

// publish sends an event to the account's clients (SSE). Like audit, the
// action already happened: a failure is logged, not returned.
func (s *Server) publish(c *fiber.Ctx, accountID, typ string, data map[string]any) {
	if err := s.store.Publish(c.UserContext(), accountID, store.Event{Type: typ, Data: data, Time: s.now()}); err != nil {
		s.log.Error("event not published", "type", typ, "account", accountID, "request_id", requestID(c), "error", err.Error())
	}
}
