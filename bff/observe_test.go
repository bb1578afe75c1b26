package bff

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/config"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// logLines decodes the JSON log lines of a test server.
func logLines(t *testing.T, logs *logBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, l)
		}
		out = append(out, m)
	}
	return out
}

// requestLine is the access-log line of the request with id rid.
func requestLine(t *testing.T, logs *logBuffer, rid string) map[string]any {
	t.Helper()
	for _, l := range logLines(t, logs) {
		if l["msg"] == "request" && l["request_id"] == rid {
			return l
		}
	}
	t.Fatalf("no access-log line for request %s:\n%s", rid, logs)
	return nil
}

// Route labels are route patterns for every request: one label for all PWA
// files, and a request a middleware refused (no admin token, no terminal
// token) under the route it asked for, never under its group ("/v1") or
// with the raw path (ids would make unbounded labels).
func TestRouteLabels(t *testing.T) {
	s, logs := newTestServer(t, nil, nil)
	for i, tc := range []struct {
		admin        bool
		method, path string
		status       int
		route        string
	}{
		{false, "GET", "/", 200, "static"},
		{false, "GET", "/app.js", 200, "static"},
		{false, "GET", "/icon.svg", 200, "static"},
		{false, "GET", "/no-such-file.js", 404, "unmatched"},
		{false, "GET", "/v1/no/such/route", 404, "unmatched"},
		{false, "POST", "/v1/terminal/payments", 401, "/v1/terminal/payments"},
		{false, "GET", "/v1/terminal/payments/pay_secretish123", 401, "/v1/terminal/payments/:id"},
		{false, "GET", "/v1/wallet", 401, "/v1/wallet"},
		{false, "GET", "/openapi.yaml", 200, "/openapi.yaml"},
		{true, "GET", "/v1/status", 401, "/v1/status"},
		{true, "POST", "/v1/terminals/term_abc123/suspend", 401, "/v1/terminals/:id/suspend"},
		{true, "GET", "/v1/accounts/acct_abc123/enrollments", 401, "/v1/accounts/:account_id/enrollments"},
		{true, "GET", "/v1/nothing", 401, "unmatched"},
		{true, "GET", "/metrics", 200, "/metrics"},
	} {
		app, listener := s.app, "public"
		if tc.admin {
			app, listener = s.admin, "admin"
		}
		req := httptest.NewRequest(tc.method, tc.path, nil)
		rid := "route-label-test-" + string(rune('a'+i))
		req.Header.Set("X-Request-Id", rid)
		resp, body := do(t, app, req)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s %s = %d; want %d: %s", listener, tc.method, tc.path, resp.StatusCode, tc.status, body)
			continue
		}
		if got := requestLine(t, logs, rid)["route"]; got != tc.route {
			t.Errorf("%s %s %s: logged route %v; want %q", listener, tc.method, tc.path, got, tc.route)
		}
	}
	_, metrics := do(t, s.admin, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`paycode_http_requests_total{listener="public",method="GET",route="static",status="200"} 3`,
		`paycode_http_requests_total{listener="admin",method="GET",route="/v1/status",status="401"} 1`,
		`paycode_http_requests_total{listener="admin",method="POST",route="/v1/terminals/:id/suspend",status="401"} 1`,
		`paycode_http_requests_total{listener="public",method="GET",route="/v1/terminal/payments/:id",status="401"} 1`,
		`paycode_problems_total{code="unauthorized",listener="admin"} 4`,
		`paycode_problems_total{code="not_found",listener="public"} 2`,
	} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, raw := range []string{"pay_secretish123", "term_abc123", "app.js", `route="/v1"`} {
		if bytes.Contains(metrics, []byte(raw)) {
			t.Errorf("metrics carry %q", raw)
		}
	}
}

var traceIDForm = regexp.MustCompile(`^[0-9a-f]{32}$`)

// W3C trace context: an incoming traceparent is continued (its trace id in
// the log line and the problem document); without one, or with a malformed
// one, a new trace id is made, the same in both.
func TestTraceContext(t *testing.T) {
	s, logs := newTestServer(t, nil, nil)
	for _, tc := range []struct {
		name, traceparent, want string
	}{
		{"continued", goldenTraceparent, goldenTraceID},
		{"none", "", ""},
		{"malformed", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		{"garbage", "hello", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/v1/wallet", nil)
			rid := "trace-test-" + tc.name
			req.Header.Set("X-Request-Id", rid)
			if tc.traceparent != "" {
				req.Header.Set("traceparent", tc.traceparent)
			}
			resp, body := do(t, s.app, req)
			if resp.StatusCode != 401 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var p map[string]any
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			got, _ := p["trace_id"].(string)
			if !traceIDForm.MatchString(got) {
				t.Fatalf("problem trace_id = %q; want 32 hex digits", got)
			}
			if tc.want != "" && got != tc.want {
				t.Errorf("problem trace_id = %s; want the incoming %s", got, tc.want)
			}
			if tc.want == "" && got == goldenTraceID {
				t.Error("a new trace reused another request's id")
			}
			line := requestLine(t, logs, rid)
			if line["trace_id"] != got {
				t.Errorf("log trace_id = %v; problem says %s", line["trace_id"], got)
			}
			if sid, _ := line["span_id"].(string); len(sid) != 16 || sid == "00f067aa0ba902b7" {
				t.Errorf("log span_id = %q; want this request's own span", sid)
			}
		})
	}
}

// The access-log lines of a money movement carry the terminal, store and
// payment ids, a customer's calls their account id (so support can follow
// one payment through the logs), and no line carries the code. (The
// movement's account is known only inside the money script; the payment id
// leads to it.)
func TestLogLinesCarryIDs(t *testing.T) {
	clk := &clock{now: time.Now().Truncate(time.Second)}
	st := storetest.Open(t)
	s, logs := newTestServerNow(t, st, nil, clk.Now)
	e := &env{t: t, s: s, st: st, clock: clk}
	term := e.registerTerminal("store-log-1")
	d := e.customer("logged@example.com")
	code := d.code()
	r := term.topup(code, 3000)
	mustStatus(t, "top-up", r, 201)
	pid := r.str("payment_id")
	var found bool
	for _, l := range logLines(t, logs) {
		if l["msg"] != "request" {
			continue
		}
		raw, _ := json.Marshal(l)
		if bytes.Contains(raw, []byte(code)) {
			t.Errorf("a log line carries the payment code: %s", raw)
		}
		switch l["route"] {
		case "/v1/terminal/topups":
			found = true
			want := map[string]any{"terminal_id": term.id, "store_id": "store-log-1", "payment_id": pid}
			for k, v := range want {
				if l[k] != v {
					t.Errorf("top-up log line %s = %v; want %v (%s)", k, l[k], v, raw)
				}
			}
		case "/v1/codes":
			if l["account_id"] != d.account {
				t.Errorf("code log line account_id = %v; want %s", l["account_id"], d.account)
			}
		}
	}
	if !found {
		t.Fatalf("no log line for the top-up:\n%s", logs)
	}
	// The yen volume counts the approved amount once (a replay is not new
	// money).
	r = term.call("POST", "/v1/terminal/payments", "idem-log-ids-0001", map[string]any{"code": d.code(), "amount": 1200, "currency": "JPY"})
	mustStatus(t, "pay", r, 201)
	r = term.call("POST", "/v1/terminal/payments", "idem-log-ids-0001", map[string]any{"code": d.code(), "amount": 1200, "currency": "JPY"})
	if r.status != 201 && r.status != 422 {
		t.Fatalf("replay = %d %s", r.status, r.raw)
	}
	_, metrics := do(t, s.admin, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`paycode_money_amount_total{currency="JPY",kind="topup"} 3000`,
		`paycode_money_amount_total{currency="JPY",kind="payment"} 1200`,
	} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// An admin call names the terminal from its path.
	req := httptest.NewRequest("GET", "/v1/terminals/"+term.id, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("X-Request-Id", "log-ids-admin-0001")
	if resp, body := do(t, s.admin, req); resp.StatusCode != 200 {
		t.Fatalf("get terminal = %d %s", resp.StatusCode, body)
	}
	if got := requestLine(t, logs, "log-ids-admin-0001")["terminal_id"]; got != term.id {
		t.Errorf("admin log line terminal_id = %v; want %s", got, term.id)
	}
}

// paycode_store_ready is set when the server starts, without any call to
// /readyz, and the periodic check follows Redis going away and coming back.
func TestStoreReadyWithoutProbes(t *testing.T) {
	srv := storetest.StartServer(t)
	if !srv.Real {
		t.Skip("needs a real redis-server to stop and start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: srv.URL, Prefix: "ready-loop:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg, err := config.Load(func(k string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	keys, err := LoadSigningKeys(ctx, cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, st, slog.New(slog.NewJSONHandler(&logBuffer{}, nil)),
		Deps{Keys: keys, Notifier: NewNotifier(cfg, st), ReadyInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gauge := func() string {
		_, body := do(t, s.admin, httptest.NewRequest("GET", "/metrics", nil))
		m := regexp.MustCompile(`(?m)^paycode_store_ready (\S+)$`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("no paycode_store_ready in /metrics")
		}
		return string(m[1])
	}
	if g := gauge(); g != "1" {
		t.Fatalf("paycode_store_ready at start = %s; want 1 (no /readyz was called)", g)
	}
	waitGauge := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for gauge() != want {
			if time.Now().After(deadline) {
				t.Fatalf("paycode_store_ready did not become %s", want)
			}
			time.Sleep(20 * time.Millisecond) // polling the observable state, not ordering
		}
	}
	srv.Stop()
	waitGauge("0")
	srv.Start()
	waitGauge("1")
}
