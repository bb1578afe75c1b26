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
// and the landing page.
func TestRunDevEmbedded(t *testing.T) {
	logs := &syncBuffer{}
	m := NewMain(logs)
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
