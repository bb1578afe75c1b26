package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycode/paycode/config"
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
