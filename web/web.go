// Package web holds the browser-facing files embedded in the binary: the
// customer PWA (index.html, the ES modules app.js, device.js, events.js,
// api.js, i18n.js, barcode.js, kv.js, jws.js and ui.js, style.css,
// manifest.webmanifest, icons and a service worker that caches only the
// app shell and its texts, never an API response; docs/shopper-app.md
// describes the app), and the store's register at /scanner (scanner.html,
// scanner*.js, sharing kv.js, jws.js, i18n.js, ui.js and api.js, with the
// vendored decoder vendor/zxing; docs/scanner.md), which the service worker
// does not keep: a register moves money only online. Every
// text the app shows comes from package text (/text/{lang}.json, served by
// bff). The files are plain ES modules and CSS with no inline script or
// style, so they run under the server's strict Content-Security-Policy
// without a build step.
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

// contentTypes overrides the types the file server would guess for the
// extensions it does not know (or guesses from the host's mime.types).
var contentTypes = map[string]string{
	".webmanifest": "application/manifest+json",
	".js":          "text/javascript; charset=utf-8",
	".svg":         "image/svg+xml",
}

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
		switch name {
		case "":
			name = "index.html"
		case "scanner":
			name = "scanner.html" // the store's register (scanner.js)
		}
		if st, err := fs.Stat(sub, name); err != nil || st.IsDir() {
			return c.Next()
		}
		c.Set(fiber.HeaderCacheControl, "no-cache")
		if err := filesystem.SendFile(c, root, "/"+name); err != nil {
			return err
		}
		if t, ok := contentTypes[path.Ext(name)]; ok {
			c.Set(fiber.HeaderContentType, t)
		}
		return nil
	}
}
