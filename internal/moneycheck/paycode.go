package moneycheck

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/bff"
	"github.com/paycode/paycode/config"
	"github.com/paycode/paycode/store"
)

// Redis says how paycode reaches Redis: a URL (one node), Sentinel
// addresses and a master name, or Cluster seeds.
type Redis struct {
	URL            string
	Addrs          []string
	SentinelMaster string
}

func (r Redis) env(env map[string]string) {
	switch {
	case r.URL != "":
		env["PAYCODE_REDIS_URL"] = r.URL
	case len(r.Addrs) > 0:
		env["PAYCODE_REDIS_ADDRS"] = strings.Join(r.Addrs, ",")
		if r.SentinelMaster != "" {
			env["PAYCODE_REDIS_SENTINEL_MASTER"] = r.SentinelMaster
		}
	}
}

// Paycode is a paycode server running in the test process on loopback
// listeners, as cmd/paycode runs it.
type Paycode struct {
	// URL and AdminURL are the public and admin base URLs.
	URL, AdminURL string
	AdminToken    string
	Config        *config.Config
	// Store is the server's own store (for setting up customers and codes
	// while Redis is healthy).
	Store *store.Store
	// LogPath is the server's JSON log.
	LogPath string

	srv *bff.Server
}

// StartPaycode configures paycode from env (PAYCODE_* variables; the listeners,
// public URL, admin token, secret, Redis address and prefix are set here,
// and wallet limits are raised so that no valid request of the workload
// is declined), opens its store on r and serves both listeners until the
// test ends.
func StartPaycode(t testing.TB, r Redis, env map[string]string) *Paycode {
	t.Helper()
	public, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		public.Close()
		t.Fatal(err)
	}
	vars := map[string]string{
		"PAYCODE_LIMIT_PAYMENT":        "1000000000",
		"PAYCODE_LIMIT_DAY":            "1000000000000",
		"PAYCODE_LIMIT_TOPUP":          "1000000000",
		"PAYCODE_LIMIT_TOPUPS_PER_DAY": "1000000000",
		"PAYCODE_GUESS_THROTTLE":       "1000000000",
		"PAYCODE_GUESS_SUSPEND":        "1000000000",
		"PAYCODE_LOG_LEVEL":            "warn",
	}
	for k, v := range env {
		vars[k] = v
	}
	vars["PAYCODE_ADDR"] = public.Addr().String()
	vars["PAYCODE_ADMIN_ADDR"] = admin.Addr().String()
	// The relying party id must be a domain; requests go to 127.0.0.1.
	vars["PAYCODE_PUBLIC_URL"] = "http://localhost:" + portOf(public)
	vars["PAYCODE_ADMIN_TOKEN"] = randomHex(t, 24)
	vars["PAYCODE_SECRET"] = randomHex(t, 24)
	vars["PAYCODE_REDIS_PREFIX"] = "mc" + randomHex(t, 4) + ":"
	r.env(vars)
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		public.Close()
		admin.Close()
		t.Fatalf("configuring paycode: %v", err)
	}

	p := &Paycode{URL: "http://" + public.Addr().String(), AdminURL: "http://" + admin.Addr().String(),
		AdminToken: cfg.AdminToken, Config: cfg, LogPath: filepath.Join(t.TempDir(), "paycode.log")}
	logFile, err := os.Create(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p.Store, err = store.Open(ctx, bff.StoreOptions(cfg, log))
	if err != nil {
		t.Fatalf("opening paycode's store: %v", err)
	}
	keys, err := bff.LoadSigningKeys(ctx, cfg, p.Store)
	if err != nil {
		t.Fatal(err)
	}
	p.srv, err = bff.New(cfg, p.Store, log, bff.Deps{Keys: keys, Notifier: bff.NewNotifier(cfg, p.Store)})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 2)
	go func() { served <- p.srv.Serve(public) }()
	go func() { served <- p.srv.ServeAdmin(admin) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.srv.Shutdown(ctx); err != nil {
			t.Logf("paycode shutdown: %v", err)
		}
		for range 2 {
			if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
				t.Logf("paycode listener: %v", err)
			}
		}
		p.Store.Close()
		logFile.Close()
		if t.Failed() {
			t.Logf("the end of paycode's log:\n%s", tail(p.LogPath, 20))
		}
	})
	return p
}

// Inspect opens a store of paycode's keys (same prefix) on r, for the
// checker: r is the topology itself, not a proxy in front of it. It is
// closed when the test ends.
func (p *Paycode) Inspect(t testing.TB, r Redis) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: r.URL, Addrs: r.Addrs, SentinelMaster: r.SentinelMaster, Prefix: p.Config.RedisPrefix})
	if err != nil {
		t.Fatalf("opening Redis for the checker: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// LogLines returns up to n lines of paycode's log that contain substr
// (the log carries no secret).
func (p *Paycode) LogLines(substr string, n int) []string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, substr) && len(out) < n {
			out = append(out, l)
		}
	}
	return out
}

// tail is the last n lines of a file (paycode's log carries no secret).
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func portOf(ln net.Listener) string {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
