package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycode/paycode/config"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/paycode/paycode/internal/redistest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The fresh-machine promise: with no configuration at all (no Redis), the
// server starts on the embedded store, says so loudly, and answers /healthz
// and the landing page; it makes an admin token, prints it on the console
// (never in the log) with a paycodectl line, and operator calls take it.
func TestRunDevEmbedded(t *testing.T) {
	logs, console := &syncBuffer{}, &syncBuffer{}
	m := NewMain(logs)
	m.Console = console
	env := map[string]string{"PAYCODE_ADDR": "127.0.0.1:0", "PAYCODE_ADMIN_ADDR": "127.0.0.1:0"}
	if err := m.Run(context.Background(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	for _, tc := range []struct{ url, want string }{
		{"http://" + m.AdminAddr() + "/healthz", `"ok"`},
		{"http://" + m.AdminAddr() + "/readyz", `"ready"`},
		{"http://" + m.PublicAddr() + "/", "<h1>paycode</h1>"},
	} {
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), tc.want) {
			t.Errorf("GET %s = %d %q; want 200 containing %q", tc.url, resp.StatusCode, body, tc.want)
		}
	}
	if !strings.Contains(logs.String(), "EMBEDDED STORE") {
		t.Errorf("the embedded store was not announced:\n%s", logs)
	}

	token := m.Config.AdminToken
	if len(token) != 64 {
		t.Fatalf("dev admin token %d characters; want 64 (32 random bytes, hex)", len(token))
	}
	line := "export PAYCODE_ADMIN_URL=http://" + m.AdminAddr() + " PAYCODE_ADMIN_TOKEN=" + token + " PAYCODE_OPERATOR=dev"
	if !strings.Contains(console.String(), line) || !strings.Contains(console.String(), "go run ./cmd/paycodectl status") {
		t.Errorf("console = %q; want the line %q and a paycodectl command", console, line)
	}
	if strings.Contains(logs.String(), token) {
		t.Error("the admin token is in the log")
	}
	req, _ := http.NewRequest("GET", "http://"+m.AdminAddr()+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /v1/status with the printed token = %d; want 200", resp.StatusCode)
	}
}

// The admin token is made and printed only in dev: production needs its
// own (config refuses to start without one) and never prints it; a dev
// token from PAYCODE_ADMIN_TOKEN is kept and printed.
func TestDevAdminTokenOnlyInDev(t *testing.T) {
	const set = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	for _, tc := range []struct {
		env            config.Environment
		token          string
		wantGenerated  bool
		wantPrinted    bool
		wantTokenAfter string
	}{
		{config.Dev, "", true, true, ""},
		{config.Dev, set, false, true, set},
		{config.Production, set, false, false, set},
		{config.Production, "", false, false, ""},
	} {
		t.Run(string(tc.env)+"/"+strconv.FormatBool(tc.token != ""), func(t *testing.T) {
			cfg := &config.Config{Env: tc.env, AdminToken: tc.token}
			generated, err := devAdminToken(cfg)
			if err != nil || generated != tc.wantGenerated {
				t.Fatalf("devAdminToken = %v, %v; want %v", generated, err, tc.wantGenerated)
			}
			if tc.wantTokenAfter != "" && cfg.AdminToken != tc.wantTokenAfter || !generated && tc.token == "" && cfg.AdminToken != "" {
				t.Errorf("token after = %q", cfg.AdminToken)
			}
			var out strings.Builder
			announceAdmin(&out, cfg, "0.0.0.0:9090", generated)
			if printed := out.Len() > 0; printed != tc.wantPrinted {
				t.Fatalf("printed = %v; want %v: %q", printed, tc.wantPrinted, out.String())
			}
			if tc.wantPrinted && !strings.Contains(out.String(), "PAYCODE_ADMIN_URL=http://127.0.0.1:9090 PAYCODE_ADMIN_TOKEN="+cfg.AdminToken+" ") {
				t.Errorf("console = %q; want a ready line with the loopback URL and the token", out.String())
			}
		})
	}
}

// Production never falls back to the embedded store.
func TestRunProductionWithoutRedis(t *testing.T) {
	m := NewMain(io.Discard)
	env := map[string]string{
		"PAYCODE_ENV": "production", "PAYCODE_ADMIN_TOKEN": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "PAYCODE_PUBLIC_URL": "https://pay.example.com",
		"PAYCODE_ADDR": "127.0.0.1:0", "PAYCODE_ADMIN_ADDR": "127.0.0.1:0",
	}
	err := m.Run(context.Background(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), "required in production") {
		t.Fatalf("Run error = %v; want a fatal missing-Redis error", err)
	}
	if m.Store != nil {
		t.Error("a store was opened in production without a Redis address")
	}
	m.Close()
}

// Production with an unreachable Redis fails at start-up, not at the first
// payment.
func TestRunUnreachableRedis(t *testing.T) {
	m := NewMain(io.Discard)
	env := map[string]string{"PAYCODE_REDIS_URL": "redis://127.0.0.1:1/0", "PAYCODE_ADDR": "127.0.0.1:0", "PAYCODE_ADMIN_ADDR": "127.0.0.1:0"}
	if err := m.Run(context.Background(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil {
		t.Fatal("Run succeeded with an unreachable Redis")
	}
	m.Close()
}

// Production on a Redis with replicas refuses to start until someone has
// decided whether money movements wait for them: without WAIT a failover
// to a lagging replica loses payments that were answered 201 (README
// "Durability").
func TestRunProductionReplicasNeedWaitDecision(t *testing.T) {
	master := redistest.StartNode(t, "master")
	redistest.StartNode(t, "replica", "replicaof 127.0.0.1 "+strconv.Itoa(master.Port))
	deadline := time.Now().Add(15 * time.Second)
	for {
		if info, err := master.Info("replication"); err == nil && info["connected_slaves"] == "1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica did not connect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	run := func(wait string) error {
		env := map[string]string{
			"PAYCODE_ENV": "production", "PAYCODE_ADMIN_TOKEN": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "PAYCODE_PUBLIC_URL": "https://pay.example.com",
			"PAYCODE_ADDR": "127.0.0.1:0", "PAYCODE_ADMIN_ADDR": "127.0.0.1:0", "PAYCODE_REDIS_URL": "redis://" + master.Addr + "/0",
			"PAYCODE_SECRET": "5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", "PAYCODE_SIGNING_KEYS": filepath.Join(t.TempDir(), "missing.pem"),
			"PAYCODE_NOTIFY_WEBHOOK_URL": "https://ops.example.com/notify", "PAYCODE_NOTIFY_WEBHOOK_SECRET": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
		}
		if wait != "" {
			env["PAYCODE_REDIS_WAIT_REPLICAS"] = wait
		}
		m := NewMain(io.Discard)
		defer m.Close()
		return m.Run(context.Background(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	}
	if err := run(""); err == nil || !strings.Contains(err.Error(), "PAYCODE_REDIS_WAIT_REPLICAS") {
		t.Fatalf("production with a replica and no WAIT decision: %v; want a PAYCODE_REDIS_WAIT_REPLICAS error", err)
	}
	for _, wait := range []string{"0", "1"} {
		// Past the decision, start-up goes on (and stops at the signing
		// key file, which this test does not provide).
		if err := run(wait); err == nil || strings.Contains(err.Error(), "PAYCODE_REDIS_WAIT_REPLICAS") {
			t.Errorf("production with PAYCODE_REDIS_WAIT_REPLICAS=%s: %v; want past the WAIT check", wait, err)
		}
	}
}

// A configuration error lists every problem one per line: plain lines on a
// terminal, and off a terminal one JSON log line whose problems are a list
// (never one string with newlines inside).
func TestStartErrorOnePerLine(t *testing.T) {
	env := map[string]string{"PAYCODE_ENV": "production", "PAYCODE_ADDR": "nowhere", "PAYCODE_BODY_LIMIT": "12"}
	m := NewMain(io.Discard)
	err := m.Run(context.Background(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	m.Close()
	if err == nil {
		t.Fatal("Run accepted a broken configuration")
	}
	var tty strings.Builder
	reportStartError(&tty, true, nil, err)
	lines := strings.Split(strings.TrimSpace(tty.String()), "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "paycode did not start: invalid configuration") {
		t.Fatalf("terminal report:\n%s", tty.String())
	}
	for _, want := range []string{"PAYCODE_ADDR", "PAYCODE_BODY_LIMIT", "PAYCODE_ADMIN_TOKEN"} {
		n := 0
		for _, l := range lines[1:] {
			if strings.HasPrefix(strings.TrimSpace(l), want+":") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("terminal report has %d lines starting with %s; want 1:\n%s", n, want, tty.String())
		}
	}

	var logs strings.Builder
	m = NewMain(&logs)
	reportStartError(io.Discard, false, m.Log, err)
	out := strings.TrimSpace(logs.String())
	if strings.Count(out, "\n") != 0 || strings.Contains(out, `\n`) {
		t.Fatalf("log report is not one JSON line without newlines: %s", out)
	}
	var line struct {
		Msg      string   `json:"msg"`
		Error    string   `json:"error"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &line); err != nil {
		t.Fatal(err)
	}
	if line.Error != "invalid configuration" || len(line.Problems) != len(lines)-1 {
		t.Errorf("log report = %+v; want %d problems", line, len(lines)-1)
	}
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, a request's span reaches an OTLP/HTTP
// receiver, in the trace the client's traceparent started, named after the
// route pattern; without it nothing is sent (the receiver would see it).
func TestOTLPExport(t *testing.T) {
	got := make(chan *coltracepb.ExportTraceServiceRequest, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := &coltracepb.ExportTraceServiceRequest{}
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		got <- req
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Write(b)
	}))
	defer recv.Close()

	run := func(otlp bool) {
		m := NewMain(io.Discard)
		env := map[string]string{"PAYCODE_ADDR": "127.0.0.1:0", "PAYCODE_ADMIN_ADDR": "127.0.0.1:0"}
		if otlp {
			env["OTEL_EXPORTER_OTLP_ENDPOINT"] = recv.URL
		}
		if err := m.Run(context.Background(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", "http://"+m.PublicAddr()+"/v1/wallet", nil)
		req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if err := m.Close(); err != nil { // flushes the spans
			t.Fatal(err)
		}
	}
	run(false)
	select {
	case r := <-got:
		t.Fatalf("spans were exported without an endpoint: %v", r)
	default:
	}
	run(true)
	var found bool
	for !found {
		select {
		case r := <-got:
			for _, rs := range r.ResourceSpans {
				for _, ss := range rs.ScopeSpans {
					for _, sp := range ss.Spans {
						if hex.EncodeToString(sp.TraceId) == "0af7651916cd43dd8448eb211c80319c" && sp.Name == "GET /v1/wallet" {
							found = true
							if hex.EncodeToString(sp.ParentSpanId) != "b7ad6b7169203331" {
								t.Errorf("span parent = %x; want the client's span", sp.ParentSpanId)
							}
						}
					}
				}
			}
		default:
			t.Fatal("no span of the request reached the OTLP receiver")
		}
	}
}
