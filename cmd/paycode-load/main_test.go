package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/bff"
	"github.com/paycode/paycode/config"
	"github.com/paycode/paycode/store/storetest"
)

const testAdminToken = "load-admin-token-under-test-0123456789"

// startServer runs a real paycode server (store from storetest: real Redis
// with PAYCODE_TEST_REDIS) on two 127.0.0.1 listeners and returns the
// public and admin base URLs.
func startServer(t *testing.T, extra map[string]string) (publicURL, adminURL string) {
	t.Helper()
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// WebAuthn wants a domain, not an IP, as the relying party id: the
	// public URL names the listener as localhost.
	publicURL = "http://localhost:" + portOf(t, pub)
	adminURL = "http://" + adm.Addr().String()
	env := map[string]string{
		"PAYCODE_ADDR":             "127.0.0.1:0",
		"PAYCODE_ADMIN_ADDR":       "127.0.0.1:0",
		"PAYCODE_ADMIN_TOKEN":      testAdminToken,
		"PAYCODE_PUBLIC_URL":       publicURL,
		"PAYCODE_CODES_PER_MINUTE": "1000000",
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t)
	keys, err := bff.LoadSigningKeys(context.Background(), cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := bff.New(cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)), bff.Deps{Keys: keys, Notifier: bff.NewNotifier(cfg, st)})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(pub) }()
	go func() { _ = srv.ServeAdmin(adm) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return publicURL, adminURL
}

func portOf(t *testing.T, ln net.Listener) string {
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func runTool(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestAgainstRealServer runs the whole tool against a real server: setup,
// three phases, JSON report.
func TestAgainstRealServer(t *testing.T) {
	publicURL, adminURL := startServer(t, map[string]string{"PAYCODE_TRUSTED_PROXIES": "127.0.0.1"})
	t.Setenv("PAYCODE_ADMIN_TOKEN", testAdminToken)
	code, stdout, stderr := runTool(t, "-url", publicURL, "-admin-url", adminURL,
		"-customers", "3", "-concurrency", "2", "-duration", "1s", "-spoof-ip", "-json")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	var rep report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout)
	}
	if rep.Customers != 3 || rep.Concurrency != 2 || !rep.SpoofIP {
		t.Errorf("report header = %+v", rep)
	}
	want := []string{"floor", "issuance", "redemption"}
	if len(rep.Phases) != len(want) {
		t.Fatalf("phases = %+v; want %v", rep.Phases, want)
	}
	for i, p := range rep.Phases {
		if p.Name != want[i] {
			t.Errorf("phase %d is %q; want %q", i, p.Name, want[i])
		}
		if p.Requests <= 0 || p.Errors != 0 || len(p.ErrorsBy) != 0 || p.Throughput <= 0 {
			t.Errorf("phase %s: requests %d, errors %d %v, %.1f req/s", p.Name, p.Requests, p.Errors, p.ErrorsBy, p.Throughput)
		}
		l := p.LatencyMS
		if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
			t.Errorf("phase %s: percentiles out of order: %+v", p.Name, l)
		}
	}
}

// TestRefreshAndStepUp runs against a server with very short access tokens
// and payment window: the tool must refresh and step up (unmeasured) and
// still see no errors.
func TestRefreshAndStepUp(t *testing.T) {
	publicURL, adminURL := startServer(t, map[string]string{
		"PAYCODE_TRUSTED_PROXIES":  "127.0.0.1",
		"PAYCODE_ACCESS_TOKEN_TTL": "2s",
		"PAYCODE_PAYMENT_WINDOW":   "1s",
	})
	t.Setenv("PAYCODE_ADMIN_TOKEN", testAdminToken)
	code, stdout, stderr := runTool(t, "-url", publicURL, "-admin-url", adminURL,
		"-customers", "3", "-concurrency", "2", "-duration", "1500ms", "-spoof-ip", "-json")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	var rep report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout)
	}
	refreshes, stepUps := 0, 0
	for _, p := range rep.Phases {
		if p.Requests == 0 || p.Errors != 0 {
			t.Errorf("phase %s: %d requests, errors %v", p.Name, p.Requests, p.ErrorsBy)
		}
		refreshes += p.Refreshes
		stepUps += p.Reauths
	}
	if refreshes == 0 || stepUps == 0 {
		t.Errorf("%d refreshes and %d step-ups; want some of each\n%s", refreshes, stepUps, stdout)
	}
}

// TestTableWithoutSpoofing checks the table output and that a run without
// -spoof-ip works for a few customers from one address.
func TestTableWithoutSpoofing(t *testing.T) {
	publicURL, adminURL := startServer(t, nil)
	t.Setenv("PAYCODE_ADMIN_TOKEN", testAdminToken)
	code, stdout, stderr := runTool(t, "-url", publicURL, "-admin-url", adminURL,
		"-customers", "2", "-concurrency", "3", "-duration", "300ms")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, s := range []string{"phase", "p50 ms", "p99 ms", "floor", "issuance", "redemption"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("table lacks %q:\n%s", s, stdout)
		}
	}
	if !strings.Contains(stderr, "warning: 2 customers for 3 workers") {
		t.Errorf("no warning about fewer customers than workers:\n%s", stderr)
	}
}

// A phase with more than 1% errors makes the exit status 1: here the
// server allows one code per account per minute (the top-up's), so every
// issuance of the run is refused 429, however few fit in its second.
func TestErrorsFailTheRun(t *testing.T) {
	publicURL, adminURL := startServer(t, map[string]string{"PAYCODE_CODES_PER_MINUTE": "1"})
	t.Setenv("PAYCODE_ADMIN_TOKEN", testAdminToken)
	code, stdout, stderr := runTool(t, "-url", publicURL, "-admin-url", adminURL,
		"-customers", "1", "-concurrency", "1", "-duration", "1s", "-json")
	if code != exitFailed {
		t.Fatalf("exit %d; want %d\nstdout: %s\nstderr: %s", code, exitFailed, stdout, stderr)
	}
	var rep report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout)
	}
	if n := rep.Phases[1].ErrorsBy["429 rate_limited"]; n == 0 {
		t.Errorf("issuance errors = %v; want 429 rate_limited", rep.Phases[1].ErrorsBy)
	}
}

// A server without the dev outbox (production) is a usage error.
func TestNoDevOutbox(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	t.Setenv("PAYCODE_ADMIN_TOKEN", testAdminToken)
	code, stdout, stderr := runTool(t, "-url", srv.URL, "-admin-url", srv.URL, "-duration", "1s")
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "dev outbox") || !strings.Contains(stderr, "PAYCODE_ENV=dev") {
		t.Fatalf("exit %d; want %d\nstdout: %s\nstderr: %s", code, exitUsage, stdout, stderr)
	}
}

func TestUsage(t *testing.T) {
	t.Setenv("PAYCODE_ADMIN_TOKEN", testAdminToken)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
		{"argument", []string{"extra"}, "unexpected arguments"},
		{"zero customers", []string{"-customers", "0"}, "-customers"},
		{"zero concurrency", []string{"-concurrency", "0"}, "-concurrency"},
		{"negative duration", []string{"-duration", "-1s"}, "-duration"},
		{"zero amount", []string{"-amount", "0"}, "-amount"},
		{"small top-up", []string{"-amount", "10", "-topup", "5"}, "-topup"},
		{"bad url", []string{"-url", "localhost:8080"}, "-url"},
		{"url with path", []string{"-url", "http://localhost:8080/v1"}, "-url"},
		{"bad admin url", []string{"-admin-url", "ftp://x"}, "-admin-url"},
		{"bad currency", []string{"-currency", "yen"}, "-currency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runTool(t, tc.args...)
			if code != exitUsage || stdout != "" || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q (want %q)", code, exitUsage, stdout, stderr, tc.want)
			}
		})
	}
	t.Run("no admin token", func(t *testing.T) {
		t.Setenv("PAYCODE_ADMIN_TOKEN", "")
		code, _, stderr := runTool(t)
		if code != exitUsage || !strings.Contains(stderr, "PAYCODE_ADMIN_TOKEN") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("help", func(t *testing.T) {
		code, stdout, stderr := runTool(t, "-h")
		if code != exitOK || stdout != "" || !strings.Contains(stderr, "dev-mode") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := percentiles(ds)
	if l.P50 != 50 || l.P90 != 90 || l.P99 != 99 || l.Max != 100 || l.Mean != 50.5 {
		t.Errorf("percentiles of 1..100 ms = %+v", l)
	}
	if l := percentiles(nil); l != (latency{}) {
		t.Errorf("percentiles of nothing = %+v", l)
	}
	if l := percentiles([]time.Duration{3 * time.Millisecond}); l.P50 != 3 || l.Max != 3 {
		t.Errorf("percentiles of one = %+v", l)
	}
}

func TestSpoofIPs(t *testing.T) {
	ips := spoofIPs(300)
	seen := map[string]bool{}
	for _, s := range ips {
		ip := net.ParseIP(s)
		_, bench, _ := net.ParseCIDR("198.18.0.0/15")
		if ip == nil || !bench.Contains(ip) || seen[s] {
			t.Fatalf("bad or repeated address %q", s)
		}
		seen[s] = true
	}
}
