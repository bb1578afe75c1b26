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

// startFloors serves the floors in this process on a 127.0.0.1 listener
// against the test store's Redis, and returns its base URL.
func startFloors(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t)
	if err := st.Client().Set(context.Background(), floorPrefix+"redeem", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	app := floorApp(st.Client())
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })
	return "http://" + ln.Addr().String()
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
// each path next to its floor, the half-load phase, JSON report.
func TestAgainstRealServer(t *testing.T) {
	publicURL, adminURL := startServer(t, map[string]string{"PAYCODE_TRUSTED_PROXIES": "127.0.0.1"})
	floorURL := startFloors(t)
	t.Setenv("PAYCODE_ADMIN_TOKEN", testAdminToken)
	code, stdout, stderr := runTool(t, "-url", publicURL, "-admin-url", adminURL, "-floor-url", floorURL,
		"-customers", "3", "-concurrency", "2", "-duration", "500ms", "-rounds", "2", "-spoof-ip", "-json")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	var rep report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout)
	}
	if rep.Customers != 3 || rep.Concurrency != 2 || !rep.SpoofIP || rep.Rounds != 2 {
		t.Errorf("report header = %+v", rep)
	}
	// Round 1 runs the path first, round 2 its floor.
	want := []string{"redemption #1", "floor: 1 round trip #1", "floor: 1 round trip #2", "redemption #2",
		"issuance #1", "floor: 2 ES256 + 1 SET #1", "floor: 2 ES256 + 1 SET #2", "issuance #2",
		"login #1", "floor: 1 ES256 + 2 round trips #1", "floor: 1 ES256 + 2 round trips #2", "login #2"}
	if len(rep.Phases) == len(want)+1 {
		want = append(want, rep.Phases[len(want)].Name) // the half-load phase, checked below
	}
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
	if len(rep.Ratios) != 3 || len(rep.RoundResults) != 6 {
		t.Fatalf("ratios %+v, rounds %+v; want 3 paths of 2 rounds", rep.Ratios, rep.RoundResults)
	}
	for i, s := range rep.Ratios {
		if s.Path != []string{"redemption", "issuance", "login"}[i] || s.Rounds != 2 || !(0 < s.Min && s.Min <= s.Median && s.Median <= s.Max) ||
			s.TargetMet != (s.Median >= s.Target) {
			t.Errorf("ratio %d = %+v", i, s)
		}
	}
	h := rep.HalfLoad
	if h == nil || h.RateRPS != round(rep.Ratios[0].PathRPS/2, 1) || h.Phase.Requests == 0 || h.Phase.Errors != 0 {
		t.Errorf("half load = %+v; want redemption at half of %.1f/s", h, rep.Ratios[0].PathRPS)
	}
}

// The floor server verifies what it is sent: a proof signed by another
// key is refused, so a floor can never be cheaper than its work.
func TestFloorVerifies(t *testing.T) {
	st := storetest.Open(t)
	app := floorApp(st.Client())
	key, err := newFloorKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := newFloorKey()
	if err != nil {
		t.Fatal(err)
	}
	status := func(method, path, body string, h map[string]string) int {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := app.Test(req, 5000)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	proof := func(k *floorKey) string {
		p, err := k.sign(`{"alg":"ES256"}`, `{"jti":"x"}`)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if got := status("POST", "/floor/issue", "{}", map[string]string{"Authorization": "DPoP " + key.token, "DPoP": proof(key)}); got != 401 {
		t.Errorf("issue before the key was set: %d; want 401", got)
	}
	if got := status("PUT", "/floor/key", "nope", nil); got != 400 {
		t.Errorf("PUT of a bad key: %d; want 400", got)
	}
	if got := status("PUT", "/floor/key", key.public(), nil); got != 200 {
		t.Fatalf("PUT /floor/key: %d", got)
	}
	if got := status("POST", "/floor/issue", "{}", map[string]string{"Authorization": "DPoP " + key.token, "DPoP": proof(key)}); got != 201 {
		t.Errorf("issue with good signatures: %d; want 201", got)
	}
	if got := status("POST", "/floor/issue", "{}", map[string]string{"Authorization": "DPoP " + key.token, "DPoP": proof(other)}); got != 401 {
		t.Errorf("issue with a proof of another key: %d; want 401", got)
	}
	if got := status("POST", "/floor/login/finish", `{"login_id":"nope","signature":"AAAA"}`, map[string]string{"Content-Type": "application/json"}); got != 401 {
		t.Errorf("finish of an unknown login: %d; want 401", got)
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
	floorURL := startFloors(t)
	t.Setenv("PAYCODE_ADMIN_TOKEN", testAdminToken)
	code, stdout, stderr := runTool(t, "-url", publicURL, "-admin-url", adminURL, "-floor-url", floorURL,
		"-customers", "3", "-concurrency", "2", "-duration", "1500ms", "-rounds", "1", "-paths", "issuance", "-half-load=false", "-spoof-ip", "-json")
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
// -spoof-ip works for a few customers from one address (logins are left
// out: 30 passkey ceremonies a minute from one address is the limit).
func TestTableWithoutSpoofing(t *testing.T) {
	publicURL, adminURL := startServer(t, nil)
	floorURL := startFloors(t)
	t.Setenv("PAYCODE_ADMIN_TOKEN", testAdminToken)
	code, stdout, stderr := runTool(t, "-url", publicURL, "-admin-url", adminURL, "-floor-url", floorURL,
		"-customers", "2", "-concurrency", "3", "-duration", "300ms", "-rounds", "1", "-paths", "redemption,issuance")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, s := range []string{"phase", "p50 ms", "p99 ms", "ratio median", "floor: 1 round trip", "issuance", "redemption", "half load"} {
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
	floorURL := startFloors(t)
	t.Setenv("PAYCODE_ADMIN_TOKEN", testAdminToken)
	code, stdout, stderr := runTool(t, "-url", publicURL, "-admin-url", adminURL, "-floor-url", floorURL,
		"-customers", "1", "-concurrency", "1", "-duration", "1s", "-rounds", "1", "-paths", "issuance", "-json")
	if code != exitFailed {
		t.Fatalf("exit %d; want %d\nstdout: %s\nstderr: %s", code, exitFailed, stdout, stderr)
	}
	var rep report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout)
	}
	if n := rep.Phases[0].ErrorsBy["429 rate_limited"]; rep.Phases[0].Name != "issuance #1" || n == 0 {
		t.Errorf("%s errors = %v; want issuance with 429 rate_limited", rep.Phases[0].Name, rep.Phases[0].ErrorsBy)
	}
}

// A server without the dev outbox (production) is a usage error.
func TestNoDevOutbox(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	t.Setenv("PAYCODE_ADMIN_TOKEN", testAdminToken)
	code, stdout, stderr := runTool(t, "-url", srv.URL, "-admin-url", srv.URL, "-floor-url", srv.URL, "-duration", "1s")
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "dev outbox") || !strings.Contains(stderr, "PAYCODE_ENV=dev") {
		t.Fatalf("exit %d; want %d\nstdout: %s\nstderr: %s", code, exitUsage, stdout, stderr)
	}
}

func TestUsage(t *testing.T) {
	t.Setenv("PAYCODE_ADMIN_TOKEN", testAdminToken)
	t.Setenv("PAYCODE_REDIS_URL", "redis://127.0.0.1:1/0")
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
		{"zero rounds", []string{"-rounds", "0"}, "-rounds"},
		{"unknown path", []string{"-paths", "redemption,refund"}, "unknown path"},
		{"no redis", []string{"-redis", ""}, "-redis"},
		{"seed without redis", []string{"-seed", "10", "-redis", ""}, "-redis"},
		{"seed and floors", []string{"-seed", "10", "-serve-floors"}, "separate modes"},
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
