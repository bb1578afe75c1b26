package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/paycode/paycode/tokens"
)

const (
	testToken    = "admin-token-under-test-0123456789abcdef"
	testOperator = "ops-jane"
	testReason   = "ticket 4711: lane replaced"
)

// recorded is one request the fake admin listener received.
type recorded struct {
	method, path, query, auth, contentType string
	body                                   map[string]any
}

// fakeAdmin is the admin listener: it refuses calls without the bearer
// token (as bff.requireAdmin does), records the others and answers them
// from canned, keyed by "METHOD path".
type fakeAdmin struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	requests []recorded
	canned   map[string]answer
}

type answer struct {
	status int
	body   string
	header map[string]string
}

func newFakeAdmin(t *testing.T) *fakeAdmin {
	t.Helper()
	f := &fakeAdmin{t: t, canned: map[string]answer{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAdmin) answer(key string, a answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.canned[key] = a
}

func (f *fakeAdmin) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"type":"about:blank","title":"Unauthorized","status":401,"code":"unauthorized","detail":"Admin calls need Authorization: Bearer with the admin token."}`)
		return
	}
	rec := recorded{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery, auth: r.Header.Get("Authorization"), contentType: r.Header.Get("Content-Type")}
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		if err := json.Unmarshal(b, &rec.body); err != nil {
			f.t.Errorf("%s %s: body is not a JSON object: %q", r.Method, r.URL.Path, b)
		}
	}
	f.mu.Lock()
	f.requests = append(f.requests, rec)
	a, ok := f.canned[r.Method+" "+rec.path]
	f.mu.Unlock()
	if !ok {
		a = answer{status: 404, body: `{"type":"about:blank","title":"Not Found","status":404,"code":"not_found","detail":"No such route."}`}
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	ct := "application/json"
	if a.status >= 400 {
		ct = "application/problem+json"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (f *fakeAdmin) calls() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

// setEnv gives run a clean environment pointing at url.
func setEnv(t *testing.T, url string) {
	t.Helper()
	t.Setenv("PAYCODE_ADMIN_URL", url)
	t.Setenv("PAYCODE_ADMIN_TOKEN", testToken)
	t.Setenv("PAYCODE_ADMIN_TOKEN_FILE", "")
	t.Setenv("PAYCODE_OPERATOR", "")
}

// runCLI runs paycodectl and checks that the token is in neither output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	for name, s := range map[string]string{"stdout": out.String(), "stderr": errb.String()} {
		if strings.Contains(s, testToken) || strings.Contains(s, "s3cret-on-the-command-line") {
			t.Errorf("paycodectl %v printed the admin token on %s:\n%s", args, name, s)
		}
	}
	return code, out.String(), errb.String()
}

// writePublicKey writes a terminal's public key PEM (and its private key)
// to files.
func writePublicKey(t *testing.T) (pubFile, privFile string, pubPEM []byte) {
	t.Helper()
	k, err := tokens.GenerateSigningKey(tokens.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err = tokens.MarshalPublicKeyPEM(k.Private.Public())
	if err != nil {
		t.Fatal(err)
	}
	privPEM, err := tokens.MarshalPrivateKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pubFile, privFile = filepath.Join(dir, "lane1.pub.pem"), filepath.Join(dir, "lane1.pem")
	if err := os.WriteFile(pubFile, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(privFile, privPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return pubFile, privFile, pubPEM
}

const (
	terminalJSON = `{"terminal_id":"term_01","store_id":"store-0042","label":"lane 1","status":"active","created_at":"2026-11-26T09:00:00Z"}`
	switchesJSON = `{"signups":"on","topups":"off","new_devices":"on","reauth_after":null,"blocked_countries":["KP","RU"]}`
	auditJSON    = `{"events":[{"type":"terminal.registered","account_id":"","device_id":"","actor":"operator:ops-jane","ip":"127.0.0.1","request_id":"r1","fields":{"terminal":"term_01","store":"store-0042","reason":"new lane"},"time":"2026-11-26T09:00:00Z"},` +
		`{"type":"account.frozen","account_id":"acc_7","device_id":"dev_1","actor":"operator:ops-jane","ip":"127.0.0.1","request_id":"r2","fields":{"reason":"fraud"},"time":"2026-11-26T09:01:00Z"}]}`
	enrollmentsJSON = `{"account_id":"acc_7","enrollments":[{"id":"enr_1","state":"pending_recovery","origin":"https://pay.example.com","label":"new phone","ip":"203.0.113.9","created_at":"2026-11-26T09:00:00Z","expires_at":"2026-11-26T09:30:00Z"}],"probation_until":null}`
	approvedJSON    = `{"id":"enr_1","state":"approved","origin":"https://pay.example.com","label":"new phone","ip":"203.0.113.9","created_at":"2026-11-26T09:00:00Z","expires_at":"2026-11-26T09:30:00Z","approved_by":"operator"}`
)

// TestCommands runs every command against the fake admin listener and
// checks the method, path, query and body it sent, the bearer token, that
// every change names the operator and the reason, and what it printed.
func TestCommands(t *testing.T) {
	pubFile, _, pubPEM := writePublicKey(t)
	change := []string{"-operator", testOperator, "-reason", testReason}
	withChange := func(m map[string]any) map[string]any {
		m["operator"], m["reason"] = testOperator, testReason
		return m
	}
	for _, tc := range []struct {
		name       string
		args       []string
		method     string
		path       string
		query      string
		body       map[string]any // nil: no body
		answer     string
		status     int
		wantOut    []string
		isChange   bool
		answerPath string // when the path the server sees differs from path
	}{
		{name: "status", args: []string{"status"}, method: "GET", path: "/v1/status",
			answer: `{"env":"dev","store":"embedded","public_url":"http://localhost:8080"}`, wantOut: []string{"env:", "dev", "store:", "embedded", "public_url:", "http://localhost:8080"}},
		{name: "terminal register", args: append([]string{"terminal", "register", "-store", "store-0042", "-label", "lane 1", "-key", pubFile}, change...),
			method: "POST", path: "/v1/terminals", status: 201, answer: terminalJSON, isChange: true,
			body:    withChange(map[string]any{"store_id": "store-0042", "label": "lane 1", "public_key_pem": string(pubPEM)}),
			wantOut: []string{"terminal_id:", "term_01", "status:", "active"}},
		{name: "terminal get", args: []string{"terminal", "get", "term_01"}, method: "GET", path: "/v1/terminals/term_01",
			answer:  `{"terminal_id":"term_01","store_id":"store-0042","label":"lane 1","status":"active","created_at":"2026-11-26T09:00:00Z","unknown_codes_recent":3}`,
			wantOut: []string{"terminal_id:", "unknown_codes_recent:", "3"}},
		{name: "terminal get escapes the id", args: []string{"terminal", "get", "a/b?c"}, method: "GET", path: "/v1/terminals/a%2Fb%3Fc",
			answer: terminalJSON, wantOut: []string{"term_01"}},
		{name: "terminal suspend", args: append([]string{"terminal", "suspend", "term_01"}, change...), method: "POST", path: "/v1/terminals/term_01/suspend",
			body: withChange(map[string]any{}), answer: `{"terminal_id":"term_01","status":"suspended"}`, isChange: true, wantOut: []string{"suspended"}},
		{name: "terminal activate, flags first", args: append(append([]string{"terminal", "activate"}, change...), "term_01"), method: "POST", path: "/v1/terminals/term_01/activate",
			body: withChange(map[string]any{}), answer: `{"terminal_id":"term_01","status":"active"}`, isChange: true, wantOut: []string{"active"}},
		{name: "account freeze, global flags before the command", args: append(append([]string{}, change...), "account", "freeze", "acc_7"), method: "POST", path: "/v1/accounts/acc_7/freeze",
			body: withChange(map[string]any{}), answer: `{"account_id":"acc_7","status":"frozen"}`, isChange: true, wantOut: []string{"account_id:", "acc_7", "frozen"}},
		{name: "account unfreeze", args: append([]string{"account", "unfreeze", "acc_7"}, change...), method: "POST", path: "/v1/accounts/acc_7/unfreeze",
			body: withChange(map[string]any{}), answer: `{"account_id":"acc_7","status":"active"}`, isChange: true, wantOut: []string{"active"}},
		{name: "enrollment list", args: []string{"enrollment", "list", "acc_7"}, method: "GET", path: "/v1/accounts/acc_7/enrollments",
			answer: enrollmentsJSON, wantOut: []string{"account:", "acc_7", "probation_until:", "ID", "STATE", "enr_1", "pending_recovery", "new phone", "203.0.113.9"}},
		{name: "enrollment approve", args: append([]string{"enrollment", "approve", "enr_1", "-account", "acc_7"}, change...), method: "POST", path: "/v1/enrollments/enr_1/operator-approval",
			body: withChange(map[string]any{"account_id": "acc_7"}), answer: approvedJSON, isChange: true, wantOut: []string{"state:", "approved", "approved_by:", "operator"}},
		{name: "switch list", args: []string{"switch", "list"}, method: "GET", path: "/v1/switches",
			answer: switchesJSON, wantOut: []string{"NAME", "VALUE", "signups", "topups", "off", "reauth_after", "-", "blocked_countries", "KP,RU"}},
		{name: "switch set toggle", args: append([]string{"switch", "set", "topups", "off"}, change...), method: "PUT", path: "/v1/switches/topups",
			body: withChange(map[string]any{"value": "off"}), answer: switchesJSON, isChange: true, wantOut: []string{"topups", "off"}},
		{name: "switch set reauth_after now", args: append([]string{"switch", "set", "reauth_after", "now"}, change...), method: "PUT", path: "/v1/switches/reauth_after",
			body: withChange(map[string]any{"value": "now"}), answer: switchesJSON, isChange: true},
		{name: "switch set reauth_after time", args: append([]string{"switch", "set", "reauth_after", "2026-11-26T09:00:00Z"}, change...), method: "PUT", path: "/v1/switches/reauth_after",
			body: withChange(map[string]any{"value": "2026-11-26T09:00:00Z"}), answer: switchesJSON, isChange: true},
		{name: "switch set blocked_countries", args: append([]string{"switch", "set", "blocked_countries", "KP,RU"}, change...), method: "PUT", path: "/v1/switches/blocked_countries",
			body: withChange(map[string]any{"value": "KP,RU"}), answer: switchesJSON, isChange: true, wantOut: []string{"KP,RU"}},
		{name: "switch set blocked_countries none", args: append([]string{"switch", "set", "blocked_countries", ""}, change...), method: "PUT", path: "/v1/switches/blocked_countries",
			body: withChange(map[string]any{"value": ""}), answer: switchesJSON, isChange: true},
		{name: "audit", args: []string{"audit"}, method: "GET", path: "/v1/audit", answer: auditJSON,
			wantOut: []string{"2026-11-26T09:00:00Z", "terminal.registered", "operator:ops-jane", `reason="new lane"`, "store=store-0042", "account.frozen", "acc_7", "device=dev_1", "reason=fraud"}},
		{name: "audit filtered", args: []string{"audit", "-account", "acc_7", "-limit", "20"}, method: "GET", path: "/v1/audit", query: "account=acc_7&limit=20",
			answer: `{"events":[]}`, wantOut: []string{"no events"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, asJSON := range []bool{false, true} {
				f := newFakeAdmin(t)
				setEnv(t, f.srv.URL)
				status := tc.status
				if status == 0 {
					status = 200
				}
				f.answer(tc.method+" "+tc.path, answer{status: status, body: tc.answer})
				args := tc.args
				if asJSON {
					args = append(append([]string{}, args...), "-json")
				}
				code, stdout, stderr := runCLI(t, args...)
				if code != exitOK {
					t.Fatalf("paycodectl %q = %d, want 0\nstdout: %s\nstderr: %s", args, code, stdout, stderr)
				}
				calls := f.calls()
				if len(calls) != 1 {
					t.Fatalf("%d requests, want 1: %+v", len(calls), calls)
				}
				got := calls[0]
				if got.method != tc.method || got.path != tc.path || got.query != tc.query {
					t.Errorf("sent %s %s?%s, want %s %s?%s", got.method, got.path, got.query, tc.method, tc.path, tc.query)
				}
				if got.auth != "Bearer "+testToken {
					t.Errorf("Authorization %q", got.auth)
				}
				if tc.body == nil {
					if got.body != nil {
						t.Errorf("sent a body %v to a read", got.body)
					}
				} else {
					if got.contentType != "application/json" {
						t.Errorf("Content-Type %q", got.contentType)
					}
					if !equalJSON(got.body, tc.body) {
						t.Errorf("sent body %v\nwant %v", got.body, tc.body)
					}
				}
				if tc.isChange && (got.body["operator"] != testOperator || got.body["reason"] != testReason) {
					t.Errorf("a change without operator and reason: %v", got.body)
				}
				if asJSON {
					var gotOut, want any
					if err := json.Unmarshal([]byte(stdout), &gotOut); err != nil {
						t.Fatalf("-json printed something that is not JSON: %v\n%s", err, stdout)
					}
					_ = json.Unmarshal([]byte(tc.answer), &want)
					if !equalJSON(gotOut, want) {
						t.Errorf("-json printed %s, want the server's %s", stdout, tc.answer)
					}
					continue
				}
				for _, w := range tc.wantOut {
					if !strings.Contains(stdout, w) {
						t.Errorf("stdout lacks %q:\n%s", w, stdout)
					}
				}
				if stderr != "" {
					t.Errorf("unexpected stderr: %s", stderr)
				}
			}
		})
	}
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// TestChangesNeedOperatorAndReason: a change without -operator or -reason
// is a usage error and sends nothing, so that no change escapes the audit
// trail's "who" and "why".
func TestChangesNeedOperatorAndReason(t *testing.T) {
	pubFile, _, _ := writePublicKey(t)
	changes := [][]string{
		{"terminal", "register", "-store", "s1", "-label", "lane 1", "-key", pubFile},
		{"terminal", "suspend", "term_01"},
		{"terminal", "activate", "term_01"},
		{"account", "freeze", "acc_7"},
		{"account", "unfreeze", "acc_7"},
		{"enrollment", "approve", "enr_1", "-account", "acc_7"},
		{"switch", "set", "signups", "off"},
	}
	for _, c := range changes {
		for _, missing := range []struct {
			name string
			args []string
			want string
		}{
			{"no operator", []string{"-reason", testReason}, "-operator"},
			{"no reason", []string{"-operator", testOperator}, "-reason"},
			{"blank reason", []string{"-operator", testOperator, "-reason", "  "}, "-reason"},
			{"operator with a colon", []string{"-operator", "ops:jane", "-reason", testReason}, "-operator"},
			{"operator with a space", []string{"-operator", "ops jane", "-reason", testReason}, "-operator"},
			{"reason with a newline", []string{"-operator", testOperator, "-reason", "a\nforged line"}, "-reason"},
		} {
			t.Run(strings.Join(c[:2], " ")+"/"+missing.name, func(t *testing.T) {
				f := newFakeAdmin(t)
				setEnv(t, f.srv.URL)
				code, _, stderr := runCLI(t, append(append([]string{}, c...), missing.args...)...)
				if code != exitUsage {
					t.Errorf("exit %d, want %d; stderr: %s", code, exitUsage, stderr)
				}
				if !strings.Contains(stderr, missing.want) {
					t.Errorf("stderr does not name %s: %s", missing.want, stderr)
				}
				if n := len(f.calls()); n != 0 {
					t.Errorf("%d requests sent, want none", n)
				}
			})
		}
	}

	t.Run("operator from PAYCODE_OPERATOR", func(t *testing.T) {
		f := newFakeAdmin(t)
		setEnv(t, f.srv.URL)
		t.Setenv("PAYCODE_OPERATOR", "ops-ken")
		f.answer("POST /v1/accounts/acc_7/freeze", answer{status: 200, body: `{"account_id":"acc_7","status":"frozen"}`})
		if code, _, stderr := runCLI(t, "account", "freeze", "acc_7", "-reason", testReason); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if got := f.calls()[0].body["operator"]; got != "ops-ken" {
			t.Errorf("operator %v, want ops-ken", got)
		}
	})
}

// TestUsageErrors: bad command lines exit 2 and send nothing.
func TestUsageErrors(t *testing.T) {
	pubFile, privFile, _ := writePublicKey(t)
	change := []string{"-operator", testOperator, "-reason", testReason}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no command", nil, nil, "usage: paycodectl"},
		{"unknown command", []string{"frobnicate"}, nil, "unknown command"},
		{"missing subcommand", []string{"terminal"}, nil, "missing subcommand"},
		{"unknown subcommand", []string{"terminal", "delete", "x"}, nil, "unknown subcommand"},
		{"missing id", []string{"terminal", "get"}, nil, "ID"},
		{"extra argument", []string{"terminal", "get", "a", "b"}, nil, "argument"},
		{"dot-dot id", append([]string{"account", "freeze", ".."}, change...), nil, "not valid"},
		{"unknown flag", []string{"status", "-verbose"}, nil, "verbose"},
		{"token on the command line", []string{"-token", "s3cret-on-the-command-line", "status"}, nil, "PAYCODE_ADMIN_TOKEN"},
		{"token= on the command line", []string{"status", "--token=s3cret-on-the-command-line"}, nil, "not taken on the command line"},
		{"no token", []string{"status"}, map[string]string{"PAYCODE_ADMIN_TOKEN": ""}, "no admin token"},
		{"token with a space", []string{"status"}, map[string]string{"PAYCODE_ADMIN_TOKEN": "s3cret-on-the-command-line x"}, "printable ASCII"},
		{"missing token file", []string{"status", "-token-file", "/nonexistent/token"}, nil, "-token-file"},
		{"bad admin url", []string{"status", "-admin-url", "ftp://x"}, nil, "-admin-url"},
		{"admin url with credentials", []string{"status", "-admin-url", "http://u:p@127.0.0.1:9"}, nil, "credentials"},
		{"bad timeout", []string{"status", "-timeout", "0s"}, nil, "-timeout"},
		{"register without -store", append([]string{"terminal", "register", "-label", "l", "-key", pubFile}, change...), nil, "-store"},
		{"register without -label", append([]string{"terminal", "register", "-store", "s", "-key", pubFile}, change...), nil, "-label"},
		{"register without -key", append([]string{"terminal", "register", "-store", "s", "-label", "l"}, change...), nil, "-key"},
		{"register with a missing key file", append([]string{"terminal", "register", "-store", "s", "-label", "l", "-key", "/nonexistent.pem"}, change...), nil, "-key"},
		// A private key must never leave the terminal, even by mistake.
		{"register with the private key", append([]string{"terminal", "register", "-store", "s", "-label", "l", "-key", privFile}, change...), nil, "PRIVATE key"},
		{"approve without -account", append([]string{"enrollment", "approve", "enr_1"}, change...), nil, "-account"},
		{"unknown switch", append([]string{"switch", "set", "logins", "off"}, change...), nil, "unknown switch"},
		{"bad toggle", append([]string{"switch", "set", "signups", "yes"}, change...), nil, "on or off"},
		{"bad reauth time", append([]string{"switch", "set", "reauth_after", "tomorrow"}, change...), nil, "RFC 3339"},
		{"bad country", append([]string{"switch", "set", "blocked_countries", "JP,Japan"}, change...), nil, "alpha-2"},
		{"switch set without value", append([]string{"switch", "set", "signups"}, change...), nil, "VALUE"},
		{"audit limit 0", []string{"audit", "-limit", "-1"}, nil, "-limit"},
		{"audit limit too big", []string{"audit", "-limit", "1001"}, nil, "-limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAdmin(t)
			setEnv(t, f.srv.URL)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr lacks %q: %s", tc.want, stderr)
			}
			if n := len(f.calls()); n != 0 {
				t.Errorf("%d requests sent, want none", n)
			}
		})
	}

	t.Run("help", func(t *testing.T) {
		for _, args := range [][]string{{"help"}, {"-h"}, {"terminal", "get", "-h"}} {
			if code, _, _ := runCLI(t, args...); code != exitOK {
				t.Errorf("paycodectl %q = %d, want 0", args, code)
			}
		}
	})
}

// TestServerAnswers maps the server's refusals and failures to exit
// statuses and messages.
func TestServerAnswers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		a          answer
		wantCode   int
		wantStderr []string
	}{
		{"problem", answer{status: 404, body: `{"type":"about:blank","title":"Not Found","status":404,"code":"not_found","detail":"No such account.","request_id":"req-9"}`},
			exitRefused, []string{"refused", "HTTP 404", "not_found", "No such account.", "req-9"}},
		{"conflict", answer{status: 409, body: `{"title":"Conflict","status":409,"code":"enrollment_state","detail":"The enrollment is not pending."}`},
			exitRefused, []string{"enrollment_state", "not pending"}},
		{"not JSON", answer{status: 400, body: "bad things"}, exitRefused, []string{"HTTP 400", "bad things"}},
		{"unavailable", answer{status: 503, body: `{"title":"Service Unavailable","status":503,"code":"unavailable","detail":"The store is unavailable."}`, header: map[string]string{"Retry-After": "5"}},
			exitUnavailable, []string{"unavailable", "HTTP 503", "retry after 5"}},
		{"internal", answer{status: 500, body: `{"status":500,"code":"internal"}`}, exitUnavailable, []string{"HTTP 500", "internal"}},
		{"rate limited", answer{status: 429, body: `{"status":429,"code":"rate_limited"}`}, exitUnavailable, []string{"rate_limited"}},
		{"redirect", answer{status: 307, body: "", header: map[string]string{"Location": "https://elsewhere.example/v1/accounts/acc_7/freeze"}},
			exitRefused, []string{"redirected", "elsewhere.example"}},
		{"garbled success", answer{status: 200, body: "<html>"}, exitRefused, []string{"not the expected JSON"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAdmin(t)
			setEnv(t, f.srv.URL)
			f.answer("POST /v1/accounts/acc_7/freeze", tc.a)
			code, stdout, stderr := runCLI(t, "account", "freeze", "acc_7", "-operator", testOperator, "-reason", testReason)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tc.wantCode, stderr)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q: %s", w, stderr)
				}
			}
			if stdout != "" {
				t.Errorf("stdout without -json: %s", stdout)
			}
			if n := len(f.calls()); n != 1 {
				t.Errorf("%d requests, want 1 (a redirect is not followed)", n)
			}
		})
	}

	t.Run("problem with -json", func(t *testing.T) {
		f := newFakeAdmin(t)
		setEnv(t, f.srv.URL)
		body := `{"type":"about:blank","title":"Not Found","status":404,"code":"not_found","detail":"No such terminal."}`
		f.answer("GET /v1/terminals/nope", answer{status: 404, body: body})
		code, stdout, _ := runCLI(t, "terminal", "get", "nope", "-json")
		if code != exitRefused {
			t.Errorf("exit %d, want 1", code)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(stdout), &got); err != nil || got["code"] != "not_found" {
			t.Errorf("stdout is not the problem: %q (%v)", stdout, err)
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		f := newFakeAdmin(t)
		setEnv(t, f.srv.URL)
		t.Setenv("PAYCODE_ADMIN_TOKEN", "not-the-admin-token-s3cret-on-the-command-line")
		code, _, stderr := runCLI(t, "status")
		if code != exitRefused || !strings.Contains(stderr, "unauthorized") || !strings.Contains(stderr, "admin-token:sha256:") {
			t.Errorf("exit %d, stderr: %s", code, stderr)
		}
	})

	t.Run("no server", func(t *testing.T) {
		f := newFakeAdmin(t)
		setEnv(t, f.srv.URL)
		f.srv.Close()
		code, _, stderr := runCLI(t, "status")
		if code != exitUnavailable || !strings.Contains(stderr, "no answer") {
			t.Errorf("exit %d, want 4; stderr: %s", code, stderr)
		}
	})
}

// TestTokenFile: -token-file takes precedence over $PAYCODE_ADMIN_TOKEN,
// its trailing newline is dropped, and a file others can read is warned
// about.
func TestTokenFile(t *testing.T) {
	f := newFakeAdmin(t)
	setEnv(t, f.srv.URL)
	t.Setenv("PAYCODE_ADMIN_TOKEN", "the-wrong-token-0123456789abcdef0123456")
	f.answer("GET /v1/status", answer{status: 200, body: `{"env":"dev"}`})
	file := filepath.Join(t.TempDir(), "admin-token")
	if err := os.WriteFile(file, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "status", "-token-file", file)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr: %s", code, stderr)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAYCODE_ADMIN_TOKEN_FILE", file)
	code, _, stderr = runCLI(t, "status")
	if code != exitOK || !strings.Contains(stderr, "readable by others") {
		t.Errorf("exit %d, stderr: %s", code, stderr)
	}
}

// TestHumanOutputQuotesControlCharacters: an enrollment label, audit reason
// or terminal label is chosen by whoever created it; printed raw, an ANSI
// escape could clear or rewrite the operator's screen and a bidi override
// or newline could forge what the operator reads. They are quoted.
func TestHumanOutputQuotesControlCharacters(t *testing.T) {
	f := newFakeAdmin(t)
	setEnv(t, f.srv.URL)
	f.answer("GET /v1/accounts/acc_7/enrollments", answer{status: 200,
		body: `{"account_id":"acc_7","enrollments":[{"id":"enr_1","state":"pending_recovery","label":"\u001b[2J\u001b[1;1Happroved\u202e","created_at":"x","expires_at":"y"}]}`})
	f.answer("GET /v1/audit", answer{status: 200,
		body: `{"events":[{"type":"x","actor":"operator:a","account_id":"acc_7","fields":{"reason":"ok\nforged.event operator:root"},"time":"t"}]}`})
	_, stdout, _ := runCLI(t, "enrollment", "list", "acc_7")
	if strings.ContainsAny(stdout, "\x1b\u202e") || !strings.Contains(stdout, `\x1b[2J`) {
		t.Errorf("label not quoted:\n%q", stdout)
	}
	_, stdout, _ = runCLI(t, "audit")
	if lines := strings.Count(stdout, "\n"); lines != 1 || !strings.Contains(stdout, `reason="ok\nforged.event operator:root"`) {
		t.Errorf("one event must print as one line:\n%s", stdout)
	}
}

func TestCleartextToRemote(t *testing.T) {
	for base, want := range map[string]bool{
		"http://127.0.0.1:9090":        false,
		"http://localhost:9090":        false,
		"http://[::1]:9090":            false,
		"https://admin.example.com":    false,
		"http://admin.example.com":     true,
		"http://10.0.0.5:9090":         true,
		"http://0.0.0.0:9090":          true,
		"http://127.0.0.1.nip.io:9090": true,
	} {
		if got := cleartextToRemote(base); got != want {
			t.Errorf("cleartextToRemote(%q) = %v, want %v", base, got, want)
		}
	}

	t.Run("warning", func(t *testing.T) {
		setEnv(t, "http://0.0.0.0:1") // not loopback by name; nothing listens
		code, _, stderr := runCLI(t, "status", "-timeout", "2s")
		if !strings.Contains(stderr, "warning") || !strings.Contains(stderr, "in the clear") {
			t.Errorf("no plain-http warning: %s", stderr)
		}
		if code != exitUnavailable {
			t.Errorf("exit %d, want 4", code)
		}
	})
}

// TestAdminTokenString: the token never prints, whatever the verb.
func TestAdminTokenString(t *testing.T) {
	tok := adminToken{[]byte(testToken)}
	for _, s := range []string{tok.String(), tok.GoString()} {
		if strings.Contains(s, testToken) {
			t.Errorf("the token printed: %s", s)
		}
	}
}
