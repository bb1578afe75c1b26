package bff

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"go.yaml.in/yaml/v3"

	"github.com/paycode/paycode/api"
	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// openAPIProblemCodes are the codes the OpenAPI document lists in the
// description of the Problem's code member: every backquoted snake_case
// word, except the names of extension members ("the extension member
// `enrollment_id`").
func openAPIProblemCodes(t *testing.T) map[string]bool {
	t.Helper()
	var doc struct {
		Components struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Code struct {
							Description string `yaml:"description"`
						} `yaml:"code"`
					} `yaml:"properties"`
				} `yaml:"Problem"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatalf("api/openapi.yaml does not parse: %v", err)
	}
	desc := doc.Components.Schemas.Problem.Properties.Code.Description
	codes := map[string]bool{}
	for _, m := range regexp.MustCompile("(extension member\\s+)?`([a-z][a-z0-9_]*)`").FindAllStringSubmatch(desc, -1) {
		if m[1] == "" {
			codes[m[2]] = true
		}
	}
	if len(codes) < 20 {
		t.Fatalf("found %d problem codes in the OpenAPI document's Problem.code description; has its form changed?", len(codes))
	}
	return codes
}

// sourceProblemCodes are the codes this package's code passes to the
// problem constructors (newProblem, problemText, authProblem,
// authProblemText) or sets as a Problem's Code, as string literals or
// package constants. Codes computed at run time (decline reasons) are
// covered by the OpenAPI list instead.
func sourceProblemCodes(t *testing.T) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	consts := map[string]string{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, id := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								consts[id.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				}
			}
		}
	}
	codeArg := map[string]int{"newProblem": 1, "problemText": 1, "authProblem": 0, "authProblemText": 0}
	codes := map[string]bool{}
	add := func(e ast.Expr) {
		switch v := e.(type) {
		case *ast.BasicLit:
			if s, err := strconv.Unquote(v.Value); err == nil {
				codes[s] = true
			}
		case *ast.Ident:
			if s, ok := consts[v.Name]; ok {
				codes[s] = true
			}
		}
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch v := n.(type) {
			case *ast.CallExpr:
				if fn, ok := v.Fun.(*ast.Ident); ok {
					if i, ok := codeArg[fn.Name]; ok && i < len(v.Args) {
						add(v.Args[i])
					}
				}
			case *ast.CompositeLit:
				if typ, ok := v.Type.(*ast.Ident); ok && typ.Name == "Problem" {
					for _, el := range v.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
								add(kv.Value)
							}
						}
					}
				}
			}
			return true
		})
	}
	if len(codes) < 10 {
		t.Fatalf("found %d problem codes in the package's source; has the form of the constructors changed?", len(codes))
	}
	return codes
}

// Every problem code the API can answer has a catalogue entry under its
// own id, without placeholders (clients show it as it is), and is listed
// in the OpenAPI document: a client can translate every code it receives.
func TestProblemCodesHaveText(t *testing.T) {
	documented := openAPIProblemCodes(t)
	answered := sourceProblemCodes(t)
	for code := range answered {
		if !documented[code] {
			t.Errorf("problem code %q is answered but not listed in api/openapi.yaml (Problem.code)", code)
		}
	}
	all := map[string]bool{}
	for c := range documented {
		all[c] = true
	}
	for c := range answered {
		all[c] = true
	}
	codes := make([]string, 0, len(all))
	for c := range all {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, code := range codes {
		e, ok := text.Lookup(text.ID(code))
		switch {
		case !ok:
			t.Errorf("problem code %q has no text: register text.ID(%q) in text/message_<area>.go", code, code)
		case len(e.Placeholders()) > 0:
			t.Errorf("the text of problem code %q has placeholders %v; a code's generic text must stand alone", code, e.Placeholders())
		}
	}
}

// problemRequest is a request that fails with a problem, and the message
// its detail renders.
type problemRequest struct {
	name   string
	method string
	path   string
	body   string
	status int
	msg    text.Message
	golden string // the golden file its English body must match, if any
}

func problemRequests() []problemRequest {
	return []problemRequest{
		{name: "fiber 404", method: "GET", path: "/no/such/thing", status: 404, msg: text.M(text.NotFound), golden: "problem_not_found.golden"},
		{name: "unavailable", method: "GET", path: "/test/unavailable", status: 503, msg: text.M(text.Unavailable), golden: "problem_unavailable.golden"},
		{name: "internal", method: "GET", path: "/test/internal", status: 500, msg: text.M(text.Internal), golden: "problem_internal.golden"},
		{name: "invalid contact", method: "POST", path: "/v1/signup/contact", body: `{"contact":"nobody"}`, status: 400,
			msg: text.M(text.InvalidContact)},
		{name: "missing member", method: "POST", path: "/v1/signup/finish", body: `{"credential":{}}`, status: 400,
			msg: text.M(text.MemberRequired, "member", "signup_id")},
		{name: "no DPoP proof", method: "POST", path: "/v1/login/start", body: `{}`, status: 401,
			msg: text.M(text.DPoPMissing)},
		{name: "unknown language", method: "GET", path: "/v1/text/fr", status: 404,
			msg: text.M(text.UnknownLanguage, "langs", "en, ja")},
	}
}

// A problem is answered in the language of Accept-Language: Japanese when
// the client prefers it, with Content-Language saying so, and otherwise
// byte for byte the English document it always was (the golden files).
// Only the detail changes; headers meant for programs (WWW-Authenticate)
// stay English.
func TestProblemLanguage(t *testing.T) {
	s, _ := newTestServer(t, nil, nil)
	s.app.Get("/test/internal", func(c *fiber.Ctx) error { return errors.New("db password=hunter2 failed") })
	s.app.Get("/test/unavailable", func(c *fiber.Ctx) error {
		return fmt.Errorf("reading: %w: dial tcp: refused", store.ErrUnavailable)
	})
	send := func(t *testing.T, pr problemRequest, acceptLanguage string) (map[string]any, []byte, map[string]string) {
		t.Helper()
		req := httptest.NewRequest(pr.method, pr.path, strings.NewReader(pr.body))
		req.Header.Set("X-Request-Id", "golden-request-0001")
		req.Header.Set("traceparent", goldenTraceparent)
		if pr.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if acceptLanguage != "" {
			req.Header.Set("Accept-Language", acceptLanguage)
		}
		resp, raw := do(t, s.app, req)
		if resp.StatusCode != pr.status {
			t.Fatalf("status %d, want %d: %s", resp.StatusCode, pr.status, raw)
		}
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("not JSON: %v: %s", err, raw)
		}
		h := map[string]string{"Content-Language": resp.Header.Get("Content-Language"), "WWW-Authenticate": resp.Header.Get("WWW-Authenticate")}
		return body, raw, h
	}
	for _, pr := range problemRequests() {
		t.Run(pr.name, func(t *testing.T) {
			en, enRaw, enH := send(t, pr, "")
			if enH["Content-Language"] != "en" {
				t.Errorf("Content-Language without Accept-Language = %q, want en", enH["Content-Language"])
			}
			wantEn := pr.msg.Render(text.En)
			if pr.golden != "" {
				// The golden documents stay what they were.
				want, err := os.ReadFile(filepath.Join("testdata", pr.golden))
				if err != nil {
					t.Fatal(err)
				}
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, enRaw, "", "  "); err != nil {
					t.Fatal(err)
				}
				pretty.WriteByte('\n')
				if !bytes.Equal(pretty.Bytes(), want) {
					t.Errorf("English body differs from %s:\n got: %s\nwant: %s", pr.golden, pretty.Bytes(), want)
				}
				if _, has := en["detail"]; !has {
					wantEn = "" // Fiber's own errors carry no detail in English
				}
			}
			if got, _ := en["detail"].(string); got != wantEn {
				t.Errorf("English detail = %q, want %q", got, wantEn)
			}
			for _, header := range []string{"fr-FR,fr;q=0.9", "en-US,en;q=0.9,ja;q=0.8"} {
				_, raw, h := send(t, pr, header)
				if !bytes.Equal(raw, enRaw) || h["Content-Language"] != "en" {
					t.Errorf("Accept-Language %q: %s (Content-Language %q); want the English document", header, raw, h["Content-Language"])
				}
			}

			ja, _, jaH := send(t, pr, "ja-JP,ja;q=0.9,en;q=0.8")
			if jaH["Content-Language"] != "ja" {
				t.Errorf("Content-Language = %q, want ja", jaH["Content-Language"])
			}
			wantJa := pr.msg.Render(text.Ja)
			if got, _ := ja["detail"].(string); got != wantJa || got == pr.msg.Render(text.En) {
				t.Errorf("Japanese detail = %q, want %q", got, wantJa)
			}
			for k, v := range en {
				if k != "detail" && fmt.Sprint(ja[k]) != fmt.Sprint(v) {
					t.Errorf("member %q = %v in Japanese, %v in English; only the detail may differ", k, ja[k], v)
				}
			}
			if jaH["WWW-Authenticate"] != enH["WWW-Authenticate"] {
				t.Errorf("WWW-Authenticate = %q in Japanese, %q in English; it is for programs and stays English", jaH["WWW-Authenticate"], enH["WWW-Authenticate"])
			}
		})
	}
}

// GET /v1/text/{lang} serves the whole catalogue of a language, public and
// cacheable, and revalidates with its ETag.
func TestTextCatalogueRoute(t *testing.T) {
	s, _ := newTestServer(t, nil, nil)
	for _, lang := range text.Langs {
		t.Run(string(lang), func(t *testing.T) {
			resp, raw := do(t, s.app, httptest.NewRequest("GET", "/v1/text/"+string(lang), nil))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, raw)
			}
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "public") || !strings.Contains(cc, "max-age=") {
				t.Errorf("Cache-Control = %q; want public with a max-age", cc)
			}
			if cl := resp.Header.Get("Content-Language"); cl != string(lang) {
				t.Errorf("Content-Language = %q, want %s", cl, lang)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			var doc struct {
				Lang     string            `json:"lang"`
				Messages map[string]string `json:"messages"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Lang != string(lang) {
				t.Errorf("lang = %q", doc.Lang)
			}
			all := text.All()
			if len(doc.Messages) != len(all) {
				t.Errorf("%d messages, want %d", len(doc.Messages), len(all))
			}
			for _, e := range all {
				if got := doc.Messages[string(e.ID)]; got != e.Template(lang) {
					t.Errorf("%s = %q, want %q", e.ID, got, e.Template(lang))
				}
			}

			etag := resp.Header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			req := httptest.NewRequest("GET", "/v1/text/"+string(lang), nil)
			req.Header.Set("If-None-Match", etag)
			if resp, raw := do(t, s.app, req); resp.StatusCode != 304 || len(raw) != 0 {
				t.Errorf("If-None-Match: status %d, %d bytes; want 304 and no body", resp.StatusCode, len(raw))
			}
		})
	}
	for _, path := range []string{"/v1/text/fr", "/v1/text/JA", "/v1/text/ja-JP", "/v1/text/"} {
		resp, raw := do(t, s.app, httptest.NewRequest("GET", path, nil))
		var p problemBody
		_ = json.Unmarshal(raw, &p)
		if resp.StatusCode != 404 || p.Code != codeNotFound {
			t.Errorf("GET %s = %d %s; want 404 not_found", path, resp.StatusCode, raw)
		}
	}
}

// The sign-up messages are rendered from the catalogue in English, word
// for word what they were before they became data.
func TestSignupNotificationText(t *testing.T) {
	e := newEnv(t, nil)
	const contact = "text-notice@example.com"
	first := e.newDevice()
	first.signup(contact)
	second := e.newDevice()
	r := second.do("POST", "/v1/signup/contact", map[string]string{"contact": contact}, false)
	mustStatus(t, "signup/contact again", r, 202)

	msgs, err := e.st.Outbox(t.Context(), 50)
	if err != nil {
		t.Fatal(err)
	}
	var otpText, existingText string
	for _, m := range msgs {
		if m.To != contact {
			continue
		}
		switch m.Type {
		case notify.TypeSignupOTP:
			otpText = m.Text
		case notify.TypeSignupExisting:
			existingText = m.Text
		}
	}
	otp := ""
	if g := regexp.MustCompile(`code is ([0-9]{6})\.`).FindStringSubmatch(otpText); g != nil {
		otp = g[1]
	}
	if want := fmt.Sprintf("Your paycode sign-up code is %s. It expires in 10 minutes. Never share it: paycode staff will never ask for it.", otp); otp == "" || otpText != want {
		t.Errorf("OTP message = %q, want %q", otpText, want)
	}
	if want := "Someone tried to create a paycode account with this address, which already has one. If it was you, sign in with your passkey instead; if not, no action is needed."; existingText != want {
		t.Errorf("existing-account message = %q, want %q", existingText, want)
	}
}
