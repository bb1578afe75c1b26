package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/text"
)

func testApp() *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Use("/", Handler())
	return app
}

func get(t *testing.T, app *fiber.App, method, path string) (int, string, string) {
	t.Helper()
	resp, err := app.Test(httptest.NewRequest(method, path, nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func readStatic(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(static, "static/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServesTheAppWithTheRightTypes(t *testing.T) {
	app := testApp()
	for path, want := range map[string]string{
		"/":                          "text/html",
		"/index.html":                "text/html",
		"/app.js":                    "text/javascript",
		"/sw.js":                     "text/javascript",
		"/style.css":                 "text/css",
		"/manifest.webmanifest":      "application/manifest+json",
		"/icon.svg":                  "image/svg+xml",
		"/icon-192.png":              "image/png",
		"/icon-512.png":              "image/png",
		"/scanner":                   "text/html",
		"/scanner.js":                "text/javascript",
		"/vendor/zxing/zxing.min.js": "text/javascript",
	} {
		status, typ, body := get(t, app, "GET", path)
		if status != 200 || !strings.HasPrefix(typ, want) || body == "" {
			t.Errorf("GET %s = %d %q (%d bytes), want 200 %s", path, status, typ, len(body), want)
		}
	}
	// Not files: the next handler (the API's 404) answers.
	for _, tc := range []struct{ method, path string }{{"GET", "/v1/nothing"}, {"POST", "/"}, {"GET", "/../go.mod"}} {
		if status, _, _ := get(t, app, tc.method, tc.path); status != 404 {
			t.Errorf("%s %s = %d, want 404 from the next handler", tc.method, tc.path, status)
		}
	}
}

// The server's CSP has no 'unsafe-inline' and no other origins: the page
// must carry no inline script, style or handler, and load nothing from
// elsewhere.
func TestNoInlineScriptOrStyle(t *testing.T) {
	for _, page := range []string{"index.html", "scanner.html"} {
		checkNoInline(t, page)
	}
	scripts, err := fs.Glob(static, "static/*.js")
	if err != nil || len(scripts) < 2 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range scripts {
		name := strings.TrimPrefix(file, "static/")
		js := readStatic(t, name)
		for _, bad := range []string{"eval(", "new Function", "innerHTML", "http://", "https://"} {
			if strings.Contains(js, bad) {
				t.Errorf("%s uses %q", name, bad)
			}
		}
	}
}

func checkNoInline(t *testing.T, page string) {
	t.Helper()
	html := readStatic(t, page)
	for _, m := range regexp.MustCompile(`(?is)<script\b[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(m, `src="/`) {
			t.Errorf("inline or foreign script: %s", m)
		}
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<style\b`),
		regexp.MustCompile(`(?i)\sstyle\s*=`),
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
		regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`),
		regexp.MustCompile(`(?i)javascript:`),
	} {
		if m := bad.FindString(html); m != "" {
			t.Errorf("%s has %q, which the CSP refuses", page, m)
		}
	}
}

// The vendored decoder is the pinned npm file, unchanged: its checksum is
// the one its VERSION note records (update both together).
func TestVendoredDecoderIsPinned(t *testing.T) {
	note := readStatic(t, "vendor/zxing/VERSION")
	m := regexp.MustCompile(`sha256 of zxing.min.js ([0-9a-f]{64})`).FindStringSubmatch(note)
	if m == nil {
		t.Fatal("vendor/zxing/VERSION records no sha256")
	}
	sum := sha256.Sum256([]byte(readStatic(t, "vendor/zxing/zxing.min.js")))
	if got := hex.EncodeToString(sum[:]); got != m[1] {
		t.Errorf("vendor/zxing/zxing.min.js has sha256 %s, VERSION says %s", got, m[1])
	}
	if !strings.Contains(readStatic(t, "vendor/zxing/LICENSE"), "Apache License") {
		t.Error("vendor/zxing/LICENSE is not the Apache licence")
	}
	if !strings.Contains(readStatic(t, "scanner.html"), `src="/vendor/zxing/zxing.min.js"`) {
		t.Error("scanner.html does not load the vendored decoder")
	}
}

// The service worker keeps only the shell, never an API response.
func TestServiceWorkerCachesOnlyTheShell(t *testing.T) {
	sw := readStatic(t, "sw.js")
	m := regexp.MustCompile(`const SHELL = \[([^\]]*)\]`).FindStringSubmatch(sw)
	if m == nil {
		t.Fatal("sw.js has no SHELL list")
	}
	listed := map[string]bool{}
	for _, p := range regexp.MustCompile(`'([^']*)'`).FindAllStringSubmatch(m[1], -1) {
		path := p[1]
		if strings.HasPrefix(path, "/v1") || strings.HasPrefix(path, "/dev/") || strings.HasPrefix(path, "/.well-known") {
			t.Errorf("the shell lists the API path %s", path)
		}
		name := strings.TrimPrefix(path, "/")
		if name == "" {
			name = "index.html"
		}
		if strings.HasPrefix(name, "text/") {
			continue // the message catalogue, served by bff (/text/{lang}.json)
		}
		if _, err := fs.Stat(static, "static/"+name); err != nil {
			t.Errorf("the shell lists %s, which is not embedded", path)
		}
		listed[name] = true
	}
	// Every file of the app is in the shell, or an offline start breaks.
	// The store's register (/scanner) is not the shopper's app: it moves
	// money only online, and a shopper's phone never downloads its decoder.
	files, _ := fs.ReadDir(static, "static")
	for _, f := range files {
		if strings.HasPrefix(f.Name(), "scanner") || f.Name() == "vendor" {
			if listed[f.Name()] {
				t.Errorf("the shopper's shell lists the register's %s", f.Name())
			}
			continue
		}
		if f.Name() != "sw.js" && !listed[f.Name()] {
			t.Errorf("static/%s is not in the service worker's shell", f.Name())
		}
	}
	if !strings.Contains(sw, "!SHELL.includes(url.pathname)") {
		t.Error("sw.js must pass every non-shell request to the network untouched")
	}
}

func TestManifest(t *testing.T) {
	var m struct {
		Name, ShortName, StartURL, Display string
		Icons                              []struct{ Src, Sizes, Type string }
	}
	raw := readStatic(t, "manifest.webmanifest")
	if err := json.Unmarshal([]byte(strings.NewReplacer(`"short_name"`, `"ShortName"`, `"start_url"`, `"StartURL"`).Replace(raw)), &m); err != nil {
		t.Fatal(err)
	}
	if m.Name == "" || m.ShortName == "" || m.StartURL != "/" || m.Display != "standalone" {
		t.Errorf("manifest = %+v", m)
	}
	sizes := map[string]bool{}
	for _, ic := range m.Icons {
		if _, err := fs.Stat(static, "static"+ic.Src); err != nil {
			t.Errorf("icon %s is not embedded", ic.Src)
		}
		sizes[ic.Sizes] = true
	}
	if !sizes["192x192"] || !sizes["512x512"] {
		t.Errorf("installable PWAs need 192 and 512 px icons: %v", sizes)
	}
}

// Every text id the pages name (data-t, data-t-attr, 'pwa.…' and
// 'scanner.…' in the scripts) is in the catalogue, and every pwa.* and
// scanner.* message of the catalogue is named by a page, literally or as a
// family ('pwa.history.' + kind).
func TestTextIDsAreInTheCatalogue(t *testing.T) {
	used := map[string]bool{}
	families := map[string]bool{}
	for _, page := range []string{"index.html", "scanner.html"} {
		html := readStatic(t, page)
		for _, m := range regexp.MustCompile(`data-t="([^"]+)"`).FindAllStringSubmatch(html, -1) {
			used[m[1]] = true
		}
		for _, m := range regexp.MustCompile(`data-t-attr="([^"]+)"`).FindAllStringSubmatch(html, -1) {
			for _, pair := range strings.Split(m[1], ";") {
				if _, id, ok := strings.Cut(pair, "="); ok {
					used[strings.TrimSpace(id)] = true
				}
			}
		}
	}
	scripts, _ := fs.Glob(static, "static/*.js")
	for _, file := range scripts {
		js := readStatic(t, strings.TrimPrefix(file, "static/"))
		for _, m := range regexp.MustCompile(`'((?:pwa|scanner)\.[a-z_.]+)'`).FindAllStringSubmatch(js, -1) {
			if strings.HasSuffix(m[1], ".") {
				families[m[1]] = true
			} else {
				used[m[1]] = true
			}
		}
	}
	for id := range used {
		if !text.Has(text.ID(id)) {
			t.Errorf("the app names %q, which the catalogue (text/message_pwa.go) lacks", id)
		}
	}
	for _, e := range text.All() {
		id := string(e.ID)
		if !(strings.HasPrefix(id, "pwa.") || strings.HasPrefix(id, "scanner.")) || used[id] {
			continue
		}
		if family := id[:strings.LastIndex(id, ".")+1]; !families[family] {
			t.Errorf("the catalogue's %q is not used by the app", id)
		}
	}
}

// The dark scheme changes colours only (custom properties of :root): the
// browser test relies on it when it checks only the colour rules of
// axe-core in dark mode.
func TestDarkSchemeSetsOnlyColours(t *testing.T) {
	css := readStatic(t, "style.css")
	m := regexp.MustCompile(`(?s)@media \(prefers-color-scheme: dark\) \{\s*:root \{([^}]*)\}\s*\}`).FindStringSubmatch(css)
	if m == nil {
		t.Fatal("style.css has no dark block of the form @media (prefers-color-scheme: dark) { :root { ... } }")
	}
	for _, decl := range strings.Split(m[1], ";") {
		if decl = strings.TrimSpace(decl); decl != "" && !strings.HasPrefix(decl, "--") {
			t.Errorf("the dark block sets %q, not a colour variable", decl)
		}
	}
	if n := strings.Count(css, "prefers-color-scheme"); n != 1 {
		t.Errorf("style.css names prefers-color-scheme %d times; keep one dark block", n)
	}
}

// Attack (issue 13): a passkey thief names their device with words meant
// to read as paycode's own ("paycode support: approve to keep your
// account"). On the approve screen the name stands as the client's words:
// inside <q>, next to the note that it is how the new phone named itself,
// and set as text only (textContent), so markup in a name stays text.
func TestApproveLabelIsTheClientsWords(t *testing.T) {
	html := readStatic(t, "index.html")
	dd := regexp.MustCompile(`<dd class="client-words"><q id="approve-label"[^>]*></q> <small id="approve-label-note" data-t="pwa.approve.label_note"></small></dd>`)
	if !dd.MatchString(html) {
		t.Error(`index.html: the new phone's name is not a <q id="approve-label"> beside the note pwa.approve.label_note`)
	}
	if !text.Has("pwa.approve.label_note") {
		t.Error("pwa.approve.label_note has no text")
	}
	app := readStatic(t, "app.js")
	uses := regexp.MustCompile(`\$\('approve-label'\)\.([A-Za-z]+)`).FindAllStringSubmatch(app, -1)
	if len(uses) == 0 {
		t.Fatal("app.js never fills approve-label")
	}
	for _, u := range uses {
		if u[1] != "textContent" {
			t.Errorf("app.js sets approve-label through %s; want textContent only", u[1])
		}
	}
	entries, err := fs.ReadDir(static, "static")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".js") {
			continue
		}
		if src := readStatic(t, e.Name()); regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write`).MatchString(src) {
			t.Errorf("%s writes markup from a string; every client-supplied text must stay text", e.Name())
		}
	}
}
