// Package web holds the browser-facing files embedded in the binary: for
// now a landing page; the PWA and the scanner page will live here.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
)

//go:embed static
var static embed.FS

// Handler serves the embedded files for GET and HEAD. Any other request, or
// a path with no file, goes on to the next handler untouched (the API's
// routes and its 404 problem).
func Handler() fiber.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	root := http.FS(sub)
	return func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			return c.Next()
		}
		name := strings.TrimPrefix(path.Clean("/"+c.Path()), "/")
		if name == "" {
			name = "index.html"
		}
		if st, err := fs.Stat(sub, name); err != nil || st.IsDir() {
			return c.Next()
		}
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return filesystem.SendFile(c, root, "/"+name)
	}
}
