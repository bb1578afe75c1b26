package bff

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/paycode/paycode/api"
	"github.com/paycode/paycode/config"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/web"
)

// Server is the paycode backend-for-frontend: the public app and the admin
// app, and the dependencies their handlers use. It keeps no request state
// in memory: every replica is interchangeable.
type Server struct {
	cfg     *config.Config
	store   *store.Store
	log     *slog.Logger
	metrics *metrics

	app   *fiber.App
	admin *fiber.App
}

// New builds the server's two apps; it does not listen.
func New(cfg *config.Config, st *store.Store, log *slog.Logger) *Server {
	s := &Server{cfg: cfg, store: st, log: log, metrics: newMetrics()}
	s.app = s.newApp("paycode")
	s.admin = s.newApp("paycode-admin")
	s.routes()
	s.adminRoutes()
	return s
}

func (s *Server) newApp(name string) *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:               name,
		ErrorHandler:          s.handleError,
		BodyLimit:             s.cfg.BodyLimit,
		ReadTimeout:           s.cfg.ReadTimeout,
		WriteTimeout:          s.cfg.WriteTimeout,
		IdleTimeout:           s.cfg.IdleTimeout,
		DisableStartupMessage: true,
		CaseSensitive:         true,
		StrictRouting:         true,
	})
	listener := "public"
	if name != "paycode" {
		listener = "admin"
	}
	app.Use(s.observe(listener), s.securityHeaders, recover.New(recover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, e any) {
			s.log.Error("panic", "request_id", requestID(c), "panic", e, "stack", string(debug.Stack()))
		},
	}))
	return app
}

// routes registers the public API.
func (s *Server) routes() {
	s.app.Get("/openapi.yaml", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, "application/yaml")
		return c.Send(api.OpenAPI)
	})
	s.app.Use("/", web.Handler())
}

// App is the public Fiber app, for tests (app.Test) and for Serve.
func (s *Server) App() *fiber.App { return s.app }

// Admin is the admin Fiber app.
func (s *Server) Admin() *fiber.App { return s.admin }

// Serve serves the public API on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// ServeAdmin serves the admin API on ln until Shutdown.
func (s *Server) ServeAdmin(ln net.Listener) error { return s.admin.Listener(ln) }

// Shutdown stops accepting connections and waits for in-flight requests on
// both listeners until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return errors.Join(s.app.ShutdownWithContext(ctx), s.admin.ShutdownWithContext(ctx))
}
