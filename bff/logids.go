package bff

import (
	"log/slog"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// The ids a request's access-log line (and its span) carries where they
// exist: which terminal and store called, which account was served, which
// payment moved. They are identifiers, never credentials: no code, token,
// OTP, contact or key is among them.
const (
	logTerminal   = "terminal_id"
	logStore      = "store_id"
	logAccount    = "account_id"
	logPayment    = "payment_id"
	logEnrollment = "enrollment_id"
)

const localLogIDs = "paycode.log_ids"

// logIDOrder is the order the ids are written in.
var logIDOrder = []string{logTerminal, logStore, logAccount, logPayment, logEnrollment}

// plainID is what an id taken from a path must look like to be logged: a
// path is the client's, so anything else (too long, odd characters) is left
// out rather than quoted.
var plainID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// setLogID records an id of the request for its log line (the value is
// copied: the apps are Immutable).
func setLogID(c *fiber.Ctx, key, value string) {
	if value == "" {
		return
	}
	m, _ := c.Locals(localLogIDs).(map[string]string)
	if m == nil {
		m = make(map[string]string, 4)
		c.Locals(localLogIDs, m)
	}
	m[key] = value
}

// paramIDs names the route parameters that are ids: ":id" by the
// collection before it, the others by their own name.
var paramIDs = map[string]string{
	"accounts":      logAccount,
	"terminals":     logTerminal,
	"payments":      logPayment,
	"stores":        logStore,
	"enrollments":   logEnrollment,
	"account_id":    logAccount,
	"store_id":      logStore,
	"enrollment_id": logEnrollment,
	"terminal_id":   logTerminal,
	"payment_id":    logPayment,
}

// logIDs are the request's ids: those the handlers recorded (setLogID),
// then those named by the route's parameters.
func logIDs(c *fiber.Ctx, route string) []slog.Attr {
	m, _ := c.Locals(localLogIDs).(map[string]string)
	if strings.Contains(route, ":") {
		segs := strings.Split(route, "/")
		path := strings.Split(c.Path(), "/")
		for i, seg := range segs {
			name, ok := strings.CutPrefix(seg, ":")
			if !ok || i >= len(path) {
				continue
			}
			if name == "id" && i > 0 {
				name = segs[i-1]
			}
			key, ok := paramIDs[name]
			if !ok || !plainID.MatchString(path[i]) {
				continue
			}
			if _, set := m[key]; set {
				continue
			}
			if m == nil {
				m = make(map[string]string, 2)
			}
			m[key] = path[i]
		}
	}
	if len(m) == 0 {
		return nil
	}
	attrs := make([]slog.Attr, 0, len(m))
	for _, k := range logIDOrder {
		if v, ok := m[k]; ok {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	return attrs
}
