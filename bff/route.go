package bff

import (
	"strings"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"
)

// Route labels (metrics, access log, span names) are route patterns, never
// raw paths: a path carries ids, and raw paths would give the metrics
// unbounded labels.
const (
	// routeUnmatched: no route and no static file answered (a 404).
	routeUnmatched = "unmatched"
	// routeStatic: a file of the embedded PWA (one label for all of them).
	routeStatic = "static"
)

const localRoute = "paycode.route"

// routeTable holds an app's route patterns by method, so that a request a
// middleware refused before its route ran (a missing admin token, a
// blocked country) is still counted under the route it asked for, not
// under the middleware's group ("/v1").
type routeTable struct {
	handlers uint32 // the app's handler count when it was built
	byMethod map[string][][]string
}

// routes is an app's route table, rebuilt when routes were added since
// (tests add routes after New; a serving app does not change).
type routes struct {
	app   *fiber.App
	table atomic.Pointer[routeTable]
}

func (r *routes) get() *routeTable {
	n := r.app.HandlersCount()
	if t := r.table.Load(); t != nil && t.handlers == n {
		return t
	}
	t := &routeTable{handlers: n, byMethod: map[string][][]string{}}
	for _, rt := range r.app.GetRoutes(true) {
		if rt.Path != "" {
			t.byMethod[rt.Method] = append(t.byMethod[rt.Method], strings.Split(rt.Path, "/"))
		}
	}
	r.table.Store(t)
	return t
}

// match is the pattern of the first route of method that matches path (the
// order Fiber tries them in), or "" for none. Patterns use only ":name"
// parameters (each one non-empty segment) and literal segments; routing is
// strict and case sensitive, as the apps are configured.
func (t *routeTable) match(method, path string) string {
	segs := strings.Split(path, "/")
	for _, pat := range t.byMethod[method] {
		if len(pat) != len(segs) {
			continue
		}
		ok := true
		for i, p := range pat {
			if strings.HasPrefix(p, ":") {
				ok = segs[i] != ""
			} else {
				ok = p == segs[i]
			}
			if !ok {
				break
			}
		}
		if ok {
			return strings.Join(pat, "/")
		}
	}
	return ""
}

// staticFiles marks the request as one for the embedded PWA, whose files
// share one route label.
func staticFiles(serve fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Locals(localRoute, routeStatic)
		return serve(c)
	}
}

// routeOf is the route label of the request once it has been answered:
// "static" for a PWA file; else the pattern of the route it asked for
// ("/v1/terminal/payments/:id"), whether that route answered or a
// middleware refused the request before it ran; "unmatched" otherwise.
func routeOf(c *fiber.Ctx, r *routes) string {
	if l, _ := c.Locals(localRoute).(string); l == routeStatic && c.Response().StatusCode() != fiber.StatusNotFound {
		return routeStatic
	}
	t := r.get()
	if p := t.match(c.Method(), c.Path()); p != "" {
		return p
	}
	if c.Method() == fiber.MethodHead {
		if p := t.match(fiber.MethodGet, c.Path()); p != "" {
			return p
		}
	}
	return routeUnmatched
}
