package bff

import (
	"bytes"
	"net/http/httptest"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"go.yaml.in/yaml/v3"

	"github.com/paycode/paycode/api"
)

func TestLandingAndOpenAPI(t *testing.T) {
	s, _ := newTestServer(t, nil, nil)
	resp, body := do(t, s.app, httptest.NewRequest("GET", "/", nil))
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("<h1>paycode</h1>")) {
		t.Errorf("GET / = %d %q; want the landing page", resp.StatusCode, body)
	}
	for _, tc := range []struct {
		name string
		app  *fiber.App
		want []byte
	}{
		{"public", s.app, api.OpenAPI},
		{"admin", s.admin, api.Admin},
	} {
		resp, body = do(t, tc.app, httptest.NewRequest("GET", "/openapi.yaml", nil))
		if resp.StatusCode != 200 || !bytes.Equal(body, tc.want) || resp.Header.Get("Content-Type") != "application/yaml" {
			t.Errorf("%s GET /openapi.yaml = %d %s; want its embedded document", tc.name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

// openAPIDoc is what the route test reads of a document.
type openAPIDoc struct {
	OpenAPI string                               `yaml:"openapi"`
	Paths   map[string]map[string]map[string]any `yaml:"paths"`
}

func parseOpenAPI(t *testing.T, name string, text []byte) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := yaml.Unmarshal(text, &doc); err != nil {
		t.Fatalf("api/%s does not parse: %v", name, err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("api/%s: openapi = %q; want 3.1.0", name, doc.OpenAPI)
	}
	return doc
}

var fiberParam = regexp.MustCompile(`:([a-z_]+)`)

// documentedOps is "METHOD /path" of every operation of doc.
func documentedOps(doc openAPIDoc) map[string]bool {
	ops := map[string]bool{}
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch":
				ops[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	return ops
}

// servedOps is "METHOD /path" of every route app serves, in the document's
// path syntax. Fiber adds a HEAD for each GET. The static files are
// mounted with Use, which GetRoutes does not tell from middleware: GET /
// counts as served when it answers 200.
func servedOps(t *testing.T, app *fiber.App) map[string]bool {
	ops := map[string]bool{}
	if resp, _ := do(t, app, httptest.NewRequest("GET", "/", nil)); resp.StatusCode == 200 {
		ops["GET /"] = true
	}
	for _, r := range app.GetRoutes(true) {
		if r.Method == "USE" || r.Method == "HEAD" {
			continue
		}
		ops[r.Method+" "+fiberParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	return ops
}

// The served documents match the routes registered in Fiber, in both
// directions and per listener: every route is documented in its
// listener's document, and no document describes an operation its
// listener does not serve (the admin API described as public, or a
// removed route left in the document), so neither can drift from the code.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s, _ := newTestServer(t, nil, nil) // dev mode: /dev/outbox exists
	for _, tc := range []struct {
		name string
		text []byte
		app  *fiber.App
	}{
		{"openapi.yaml", api.OpenAPI, s.app},
		{"admin.yaml", api.Admin, s.admin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := parseOpenAPI(t, tc.name, tc.text)
			documented, served := documentedOps(doc), servedOps(t, tc.app)
			if len(served) < 5 {
				t.Fatalf("only %d routes found; has the registration changed?", len(served))
			}
			for _, op := range sortedKeys(served) {
				if !documented[op] {
					t.Errorf("route %s is served but not in api/%s", op, tc.name)
				}
			}
			for _, op := range sortedKeys(documented) {
				if !served[op] {
					t.Errorf("api/%s documents %s, which this listener does not serve", tc.name, op)
				}
			}
		})
	}
}

// Both documents follow the layout their headers describe: a unique
// operationId, one tag and a security requirement on every operation.
func TestOpenAPIOperationsComplete(t *testing.T) {
	ids := map[string]string{}
	for name, text := range map[string][]byte{"openapi.yaml": api.OpenAPI, "admin.yaml": api.Admin} {
		doc := parseOpenAPI(t, name, text)
		for op := range documentedOps(doc) {
			method, path, _ := strings.Cut(op, " ")
			o := doc.Paths[path][strings.ToLower(method)]
			id, _ := o["operationId"].(string)
			if id == "" {
				t.Errorf("api/%s %s: no operationId", name, op)
			} else if prev, dup := ids[id]; dup {
				t.Errorf("operationId %q is used by %s and by api/%s %s", id, prev, name, op)
			}
			ids[id] = "api/" + name + " " + op
			if tags, _ := o["tags"].([]any); len(tags) != 1 {
				t.Errorf("api/%s %s: tags = %v; want one", name, op, o["tags"])
			}
			if _, ok := o["security"]; !ok {
				t.Errorf("api/%s %s: no security (write [] for a public operation)", name, op)
			}
		}
	}
}

// The admin document repeats the public schemas it shares (it stands
// alone); the copies must not drift.
func TestAdminDocumentSharedSchemas(t *testing.T) {
	schemas := func(text []byte) map[string]any {
		var doc struct {
			Components struct {
				Schemas map[string]any `yaml:"schemas"`
			} `yaml:"components"`
		}
		if err := yaml.Unmarshal(text, &doc); err != nil {
			t.Fatal(err)
		}
		return doc.Components.Schemas
	}
	pub, adm := schemas(api.OpenAPI), schemas(api.Admin)
	for _, name := range []string{"Enrollment", "Problem"} {
		if pub[name] == nil || !reflect.DeepEqual(pub[name], adm[name]) {
			t.Errorf("components/schemas/%s differs between api/openapi.yaml and api/admin.yaml", name)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
