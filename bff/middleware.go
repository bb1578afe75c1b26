package bff

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
)

const (
	headerRequestID = "X-Request-Id"
	localRequestID  = "paycode.request_id"
	localProblem    = "paycode.problem"
)

// A client-supplied request id is kept only if it is short and plain, so it
// cannot inject into logs.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

func (s *Server) assignRequestID(c *fiber.Ctx) string {
	id := c.Get(headerRequestID)
	if !validRequestID.MatchString(id) {
		var b [12]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
		id = hex.EncodeToString(b[:])
	}
	c.Locals(localRequestID, id)
	c.Set(headerRequestID, id)
	return id
}

// observe is the outermost middleware: it gives the request an id and its
// trace context (a span), turns a returned error into its problem
// response, and writes the one access-log line, the metrics and the span
// of the request. It never logs bodies, query strings or headers, so no
// code, token or OTP can reach a log line.
func (s *Server) observe(listener string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		s.assignRequestID(c)
		span := s.startSpan(c)
		if err := c.Next(); err != nil {
			if herr := s.handleError(c, err); herr != nil {
				span.End()
				return herr
			}
		}
		// Label values are kept by the metrics after the request; they are
		// safe to keep because the apps are Immutable (see newApp).
		route := routeOf(c, s.routeTables[listener])
		method := c.Method()
		status := c.Response().StatusCode()
		p := problemOf(c)
		ids := logIDs(c, route)
		s.logRequest(c, route, time.Since(start), p, ids)
		s.metrics.requests.WithLabelValues(listener, route, method, strconv.Itoa(status)).Inc()
		s.metrics.latency.WithLabelValues(listener, route, method).Observe(time.Since(start).Seconds())
		if p != nil {
			s.metrics.problems.WithLabelValues(listener, p.Code).Inc()
		}
		endSpan(span, listener, route, method, status, p, ids)
		return nil
	}
}

func problemOf(c *fiber.Ctx) *Problem {
	p, _ := c.Locals(localProblem).(*Problem)
	return p
}

func (s *Server) logRequest(c *fiber.Ctx, route string, d time.Duration, p *Problem, ids []slog.Attr) {
	status := c.Response().StatusCode()
	attrs := []slog.Attr{
		slog.String("request_id", requestID(c)),
		slog.String("method", c.Method()),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Int64("duration_us", d.Microseconds()),
		slog.String("ip", s.clientIP(c)),
	}
	attrs = append(attrs, ids...)
	// Body() would read a streamed body (event streams) to its end.
	if !c.Response().IsBodyStream() {
		attrs = append(attrs, slog.Int("bytes_out", len(c.Response().Body())))
	}
	level := slog.LevelInfo
	if p != nil {
		attrs = append(attrs, p.logAttrs()...)
		if status >= 500 {
			level = slog.LevelError
		}
	}
	s.log.LogAttrs(c.UserContext(), level, "request", attrs...)
}

// noStore marks every API response as not to be stored by any cache: they
// carry tokens, codes, balances and personal data. It runs before the
// handler, so the rare cacheable API response (a public document) says so
// itself.
func noStore(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

// permissionsPolicy is the Permissions-Policy of a response: no camera,
// microphone or location for any page, except the camera for the store's
// register (/scanner, web/static/scanner.html), which reads the shopper's
// code with it; even there, no other origin (no frame: frame-ancestors
// 'none') may use it.
func permissionsPolicy(path string) string {
	if path == "/scanner" || path == "/scanner.html" {
		return "camera=(self), microphone=(), geolocation=()"
	}
	return "camera=(), microphone=(), geolocation=()"
}

// securityHeaders sets the headers every response carries. HSTS is sent when
// the public URL is https (TLS may end at a proxy in front of us).
func (s *Server) securityHeaders(c *fiber.Ctx) error {
	h := &c.Response().Header
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", permissionsPolicy(c.Path()))
	if s.cfg.PublicURL.Scheme == "https" {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	return c.Next()
}
