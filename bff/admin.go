package bff

import (
	"context"
	"crypto/subtle"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paycode/paycode/api"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// Problem codes of the admin listener.
const (
	codeAdminDisabled    = "admin_disabled"
	codeInvalidPublicKey = "invalid_public_key"
)

// adminRoutes registers the admin listener's routes: its OpenAPI document
// (api/admin.yaml), probes and metrics without authentication (the listener is loopback by default), operator
// calls under /v1 behind the admin bearer token.
func (s *Server) adminRoutes() {
	s.admin.Get("/openapi.yaml", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "application/yaml")
		return c.Send(api.Admin)
	})
	s.admin.Get("/healthz", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	s.admin.Get("/readyz", s.readyz)
	s.admin.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})))

	ops := s.admin.Group("/v1", noStore, s.requireAdmin)
	ops.Get("/status", s.status)
	s.enrollmentAdminRoutes(ops)
	s.opsRoutes(ops)
}

// readyz answers 200 only after a real write/read/delete round trip to
// Redis, so a load balancer takes a replica out while its Redis is down or
// refuses writes; the 503 says which (the "reason" member).
func (s *Server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := s.store.Check(ctx); err != nil {
		s.metrics.ready.Set(0)
		p := toProblem(err)
		if p.Status != fiber.StatusServiceUnavailable {
			p = problemText(fiber.StatusServiceUnavailable, codeUnavailable, text.M(text.StoreCheckFailed))
			p.Err = err
		}
		// Why, for the operator and the orchestrator: a Redis that refuses
		// writes (a master short of its min-replicas, a replica not yet
		// promoted) is not the same incident as one that is gone.
		p.Extra = map[string]any{"reason": store.Why(err)}
		return p
	}
	s.metrics.ready.Set(1)
	return c.JSON(fiber.Map{"status": "ready"})
}

// requireAdmin checks the admin bearer token in constant time. Without a
// configured token (dev only) operator calls are refused.
func (s *Server) requireAdmin(c *fiber.Ctx) error {
	if s.cfg.AdminToken == "" {
		return problemText(fiber.StatusForbidden, codeAdminDisabled, text.M(text.AdminDisabled))
	}
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.AdminToken)) != 1 {
		p := problemText(fiber.StatusUnauthorized, codeUnauthorized, text.M(text.AdminToken))
		p.Headers = map[string]string{fiber.HeaderWWWAuthenticate: `Bearer realm="paycode-admin"`}
		return p
	}
	return c.Next()
}

// status tells an operator what this replica runs on.
func (s *Server) status(c *fiber.Ctx) error {
	kind := "redis"
	switch {
	case s.store.Embedded():
		kind = "embedded"
	case s.cfg.RedisSentinelMaster != "":
		kind = "sentinel"
	case len(s.cfg.RedisAddrs) > 0:
		kind = "cluster"
	}
	return c.JSON(fiber.Map{"env": s.cfg.Env, "store": kind, "public_url": s.cfg.PublicURL.String()})
}
