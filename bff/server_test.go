package bff

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/config"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

var update = flag.Bool("update", false, "rewrite golden files")

const testAdminToken = "test-admin-token-0123456789abcdef0123"

// logBuffer collects the server's JSON log lines for assertions.
type logBuffer struct{ bytes.Buffer }

func newTestServerWith(t testing.TB, st *store.Store, env map[string]string, now func() time.Time) *Server {
	t.Helper()
	s, _ := newTestServerNow(t, st, env, now)
	return s
}

func newTestServer(t testing.TB, st *store.Store, env map[string]string) (*Server, *logBuffer) {
	t.Helper()
	return newTestServerNow(t, st, env, nil)
}

func newTestServerNow(t testing.TB, st *store.Store, env map[string]string, now func() time.Time) (*Server, *logBuffer) {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["PAYCODE_ADMIN_TOKEN"]; !ok {
		env["PAYCODE_ADMIN_TOKEN"] = testAdminToken
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if st == nil {
		st = storetest.Open(t)
	}
	logs := &logBuffer{}
	keys, err := LoadSigningKeys(context.Background(), cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, st, slog.New(slog.NewJSONHandler(logs, nil)), Deps{Keys: keys, Notifier: NewNotifier(cfg, st), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, logs
}

func do(t *testing.T, app *fiber.App, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := app.Test(req, 10_000)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// goldenTraceparent is a fixed W3C trace context, so that problem documents
// (which carry the trace id) are reproducible.
const (
	goldenTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	goldenTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
)

// TestProblemGolden pins the exact problem documents clients receive.
func TestProblemGolden(t *testing.T) {
	s, _ := newTestServer(t, nil, nil)
	// Routes that fail in each way a handler can.
	s.app.Get("/test/problem", func(c *fiber.Ctx) error {
		p := newProblem(fiber.StatusPaymentRequired, "code_used", "This code was already used.")
		p.Err = errors.New("cause that must not be sent")
		return p
	})
	s.app.Get("/test/panic", func(c *fiber.Ctx) error { panic("boom: secret-should-not-leak") })
	s.app.Get("/test/internal", func(c *fiber.Ctx) error { return errors.New("db password=hunter2 failed") })
	s.app.Get("/test/unavailable", func(c *fiber.Ctx) error {
		return fmt.Errorf("reading: %w: dial tcp: refused", store.ErrUnavailable)
	})

	for _, tc := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"not_found", "GET", "/no/such/thing", "", 404},
		{"problem", "GET", "/test/problem", "", 402},
		{"panic", "GET", "/test/panic", "", 500},
		{"internal", "GET", "/test/internal", "", 500},
		{"unavailable", "GET", "/test/unavailable", "", 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			req.Header.Set("X-Request-Id", "golden-request-0001")
			req.Header.Set("traceparent", goldenTraceparent)
			resp, body := do(t, s.app, req)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d; want %d; body %s", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q; want application/problem+json", ct)
			}
			for _, secret := range []string{"hunter2", "secret-should-not-leak", "must not be sent"} {
				if bytes.Contains(body, []byte(secret)) {
					t.Errorf("body leaks %q: %s", secret, body)
				}
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, body, "", "  "); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, body)
			}
			pretty.WriteByte('\n')
			golden := filepath.Join("testdata", "problem_"+tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./bff -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("problem body differs from %s:\n got: %s\nwant: %s", golden, pretty.Bytes(), want)
			}
		})
	}
	if got := resp503RetryAfter(t, s); got != "1" {
		t.Errorf("503 Retry-After = %q; want 1", got)
	}
}

func resp503RetryAfter(t *testing.T, s *Server) string {
	resp, _ := do(t, s.app, httptest.NewRequest("GET", "/test/unavailable", nil))
	return resp.Header.Get("Retry-After")
}

// Attack: log injection and log forging through the request id header. A
// well-formed client id is kept (so a POS vendor can correlate), anything
// else is replaced by a fresh one.
func TestRequestID(t *testing.T) {
	s, logs := newTestServer(t, nil, nil)
	hexID := regexp.MustCompile(`^[0-9a-f]{24}$`)
	for _, tc := range []struct {
		name, in string
		keep     bool
	}{
		{"absent", "", false},
		{"valid", "pos-4711.req_0001", true},
		{"newline", "abcdefgh\n{\"level\":\"ERROR\"}", false},
		{"too short", "abc", false},
		{"too long", strings.Repeat("a", 65), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			if tc.in != "" {
				req.Header.Set("X-Request-Id", tc.in)
			}
			resp, _ := do(t, s.app, req)
			got := resp.Header.Get("X-Request-Id")
			if tc.keep && got != tc.in {
				t.Errorf("X-Request-Id = %q; want the client's %q", got, tc.in)
			}
			if !tc.keep && !hexID.MatchString(got) {
				t.Errorf("X-Request-Id = %q; want a fresh 24-hex id", got)
			}
			if !strings.Contains(logs.String(), `"request_id":"`+got+`"`) {
				t.Errorf("no access-log line carries request id %q", got)
			}
		})
	}
	// Two requests without an id get different ids.
	r1, _ := do(t, s.app, httptest.NewRequest("GET", "/", nil))
	r2, _ := do(t, s.app, httptest.NewRequest("GET", "/", nil))
	if r1.Header.Get("X-Request-Id") == r2.Header.Get("X-Request-Id") {
		t.Error("two requests got the same request id")
	}
}

// One access-log line per request, JSON, with route pattern and status, and
// never the query string or body (where codes and OTPs would travel).
func TestAccessLog(t *testing.T) {
	s, logs := newTestServer(t, nil, nil)
	req := httptest.NewRequest("POST", "/nothing-here?otp=123456", strings.NewReader(`{"code":"991234567890123456789012"}`))
	do(t, s.app, req)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d log lines; want 1:\n%s", len(lines), logs)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatalf("log line is not JSON: %v", err)
	}
	if line["status"] != float64(404) || line["route"] != routeUnmatched || line["problem"] != codeNotFound {
		t.Errorf("log line = %v; want status 404, route %q, problem not_found", line, routeUnmatched)
	}
	for _, secret := range []string{"123456", "991234567890123456789012", "nothing-here"} {
		if strings.Contains(lines[0], secret) {
			t.Errorf("log line carries %q: %s", secret, lines[0])
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, publicURL string
		hsts            bool
	}{{"http dev", "", false}, {"https", "https://pay.example.com", true}} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"PAYCODE_ENV": "dev"}
			if tc.publicURL != "" {
				env["PAYCODE_PUBLIC_URL"] = tc.publicURL
			}
			s, _ := newTestServer(t, nil, env)
			for _, path := range []string{"/", "/missing", "/scanner"} {
				resp, _ := do(t, s.app, httptest.NewRequest("GET", path, nil))
				// The camera is the register's only: no other page, no frame.
				wantPP := "camera=(), microphone=(), geolocation=()"
				if path == "/scanner" {
					wantPP = "camera=(self), microphone=(), geolocation=()"
				}
				if got := resp.Header.Get("Permissions-Policy"); got != wantPP {
					t.Errorf("%s: Permissions-Policy = %q; want %q", path, got, wantPP)
				}
				for h, want := range map[string]string{
					"X-Content-Type-Options": "nosniff",
					"X-Frame-Options":        "DENY",
					"Referrer-Policy":        "no-referrer",
				} {
					if got := resp.Header.Get(h); got != want {
						t.Errorf("%s: %s = %q; want %q", path, h, got, want)
					}
				}
				if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'self'") {
					t.Errorf("%s: CSP = %q", path, csp)
				}
				if hsts := resp.Header.Get("Strict-Transport-Security"); (hsts != "") != tc.hsts {
					t.Errorf("%s: HSTS = %q; want present=%v", path, hsts, tc.hsts)
				}
			}
		})
	}
}

func TestAdminAuth(t *testing.T) {
	s, _ := newTestServer(t, nil, nil)
	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"none", "", 401},
		{"wrong", "Bearer " + strings.Repeat("z", len(testAdminToken)), 401},
		{"basic", "Basic " + testAdminToken, 401},
		{"right", "Bearer " + testAdminToken, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/v1/status", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, body := do(t, s.admin, req)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d; want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// The admin API is not on the public listener.
	req := httptest.NewRequest("GET", "/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if resp, _ := do(t, s.app, req); resp.StatusCode != 404 {
		t.Errorf("public GET /v1/status = %d; want 404", resp.StatusCode)
	}
	// Without a configured token, operator calls are refused outright.
	s2, _ := newTestServer(t, nil, map[string]string{"PAYCODE_ADMIN_TOKEN": ""})
	req = httptest.NewRequest("GET", "/v1/status", nil)
	req.Header.Set("Authorization", "Bearer ")
	if resp, body := do(t, s2.admin, req); resp.StatusCode != 403 || !bytes.Contains(body, []byte("admin_disabled")) {
		t.Errorf("status without admin token = %d %s; want 403 admin_disabled", resp.StatusCode, body)
	} else if !bytes.Contains(body, []byte("the server's setting")) {
		// An integrator reading it must not think their request was wrong.
		t.Errorf("admin_disabled does not say it is the server's setting: %s", body)
	}
}

func TestMetrics(t *testing.T) {
	s, _ := newTestServer(t, nil, nil)
	do(t, s.app, httptest.NewRequest("GET", "/", nil))
	do(t, s.app, httptest.NewRequest("GET", "/missing/abc123", nil))
	_, body := do(t, s.admin, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`paycode_http_requests_total{listener="public",method="GET",route="static",status="200"} 1`,
		`paycode_http_requests_total{listener="public",method="GET",route="unmatched",status="404"} 1`,
		`paycode_http_request_duration_seconds_count{listener="public",method="GET",route="static"} 1`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if bytes.Contains(body, []byte("abc123")) {
		t.Error("metrics carry a raw path")
	}
}

// Fault: Redis stops. /readyz must turn 503 while it is down (so the load
// balancer drains this replica) and 200 once it is back, without a restart.
func TestReadyzFollowsRedis(t *testing.T) {
	srv := storetest.StartServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: srv.URL, Prefix: "readyz:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, _ := newTestServer(t, st, nil)
	ready := func() int {
		resp, _ := do(t, s.admin, httptest.NewRequest("GET", "/readyz", nil))
		return resp.StatusCode
	}
	if got := ready(); got != 200 {
		t.Fatalf("readyz with Redis up = %d; want 200", got)
	}
	srv.Stop()
	if got := ready(); got != 503 {
		t.Fatalf("readyz with Redis stopped = %d; want 503", got)
	}
	if resp, _ := do(t, s.admin, httptest.NewRequest("GET", "/healthz", nil)); resp.StatusCode != 200 {
		t.Errorf("healthz with Redis stopped = %d; want 200 (liveness does not depend on Redis)", resp.StatusCode)
	}
	srv.Start()
	// The pool reconnects on the next command; the first probe after the
	// restart may still hold a dead connection, so allow a few probes.
	got := 0
	for range 5 {
		if got = ready(); got == 200 {
			break
		}
	}
	if got != 200 {
		t.Fatalf("readyz after Redis came back = %d; want 200 (real server: %v)", got, srv.Real)
	}
}

// Graceful shutdown: a request in flight when shutdown begins completes
// with its response, and Shutdown returns only after it.
func TestGracefulShutdown(t *testing.T) {
	s, _ := newTestServer(t, nil, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	s.app.Get("/test/slow", func(c *fiber.Ctx) error {
		close(entered)
		<-release
		return c.SendString("finished")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/test/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{resp.StatusCode, string(b), err}
	}()
	<-entered

	shutdownDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdownDone <- s.Shutdown(ctx)
	}()
	select {
	case err := <-shutdownDone:
		t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
	case r := <-got:
		t.Fatalf("request finished (%+v) before it was released", r)
	default:
	}
	close(release)
	r := <-got
	if r.err != nil || r.status != 200 || r.body != "finished" {
		t.Fatalf("in-flight request = %+v; want 200 finished", r)
	}
	if err := <-shutdownDone; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after shutdown: %v", err)
	}
}

// A body over the limit is refused by the server before any handler reads
// it, still as a problem document with a request id (over a real listener:
// the limit is enforced while reading the request).
func TestBodyLimit(t *testing.T) {
	s, logs := newTestServer(t, nil, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	// Announce a body over the limit and send only the headers: the server
	// refuses on the length alone and closes, which a client still writing
	// the body would see as a reset instead of the answer.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/anything HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		ln.Addr(), s.cfg.BodyLimit+1)
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var p problemBody
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("413 body is not a problem: %v: %s", err, body)
	}
	if resp.StatusCode != 413 || p.Code != codeBodyTooLarge || p.RequestID == "" || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("oversized body = %d %+v; want 413 body_too_large with a request id", resp.StatusCode, p)
	}
	if !strings.Contains(logs.String(), `"problem":"body_too_large"`) {
		t.Errorf("no access-log line for the refused request:\n%s", logs)
	}
}

func TestAdminAudit(t *testing.T) {
	s, _ := newTestServer(t, nil, nil)
	body := `{"operator":"ops-jane","reason":"chargeback review"}`
	req := httptest.NewRequest("POST", "/v1/accounts/acct_0001aaaaaaaaaaaaaaaaaaaaaaaa/freeze", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	if resp, _ := do(t, s.admin, req); resp.StatusCode != 404 {
		t.Fatalf("freeze of an unknown account = %d; want 404", resp.StatusCode)
	}
	// A malformed id is an unknown account, not a server error.
	req = httptest.NewRequest("POST", "/v1/accounts/acct_x/freeze", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	if resp, _ := do(t, s.admin, req); resp.StatusCode != 404 {
		t.Fatalf("freeze of a malformed account id = %d; want 404", resp.StatusCode)
	}
	id, _ := store.RandomID()
	if err := s.store.Audit(t.Context(), store.AuditEvent{Type: "test.event", AccountID: "acct_x" + id, Actor: "system", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	req = httptest.NewRequest("GET", "/v1/audit?limit=10&account=acct_x"+id, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, raw := do(t, s.admin, req)
	var out struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != 200 || len(out.Events) != 1 || out.Events[0]["type"] != "test.event" {
		t.Fatalf("audit = %d %s", resp.StatusCode, raw)
	}
	req = httptest.NewRequest("GET", "/v1/audit?limit=0", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if resp, _ := do(t, s.admin, req); resp.StatusCode != 400 {
		t.Errorf("limit=0 = %d; want 400", resp.StatusCode)
	}
}

// Regression: metric label values taken from Fiber's request buffer were
// kept by the metrics after the request; the next request reused the
// buffer, a stored "PUT" series turned into a second "GET" one, and
// /metrics failed with "was collected before with the same name and label
// values".
func TestMetricsLabelsSurviveBufferReuse(t *testing.T) {
	s, _ := newTestServer(t, nil, nil)
	for range 20 {
		for _, m := range []string{"PUT", "DELETE", "PATCH", "POST"} {
			do(t, s.app, httptest.NewRequest(m, "/", nil))
		}
		do(t, s.app, httptest.NewRequest("GET", "/", nil))
	}
	resp, body := do(t, s.admin, httptest.NewRequest("GET", "/metrics", nil))
	if resp.StatusCode != 200 || bytes.Contains(body, []byte("collected before")) {
		t.Fatalf("/metrics = %d: %.300s", resp.StatusCode, body)
	}
	for _, m := range []string{"PUT", "DELETE", "PATCH", "POST"} {
		if !bytes.Contains(body, []byte(`method="`+m+`"`)) {
			t.Errorf("no series for %s: its label was overwritten", m)
		}
	}
}
