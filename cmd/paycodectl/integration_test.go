package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/bff"
	"github.com/paycode/paycode/config"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// newAdminServer starts a real bff server (store from storetest: real
// Redis with PAYCODE_TEST_REDIS) and serves its admin listener on
// 127.0.0.1; it returns the admin base URL.
func newAdminServer(t *testing.T) string {
	t.Helper()
	env := map[string]string{"PAYCODE_ADMIN_TOKEN": testToken}
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeAdmin(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

// TestAgainstRealServer drives the real admin API: register a terminal,
// read it, suspend it, fail to freeze an unknown account, and find the
// changes in the audit trail under the operator's name with the reason.
func TestAgainstRealServer(t *testing.T) {
	base := newAdminServer(t)
	setEnv(t, base)
	t.Setenv("PAYCODE_OPERATOR", testOperator)
	pubFile, _, _ := writePublicKey(t)

	code, stdout, stderr := runCLI(t, "terminal", "register", "-store", "store-0042", "-label", "lane 1", "-key", pubFile, "-reason", "new lane", "-json")
	if code != exitOK {
		t.Fatalf("terminal register = %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	var term struct {
		TerminalID string `json:"terminal_id"`
		Status     string `json:"status"`
	}
	if err := json.Unmarshal([]byte(stdout), &term); err != nil || term.TerminalID == "" || term.Status != "active" {
		t.Fatalf("terminal register printed %s (%v)", stdout, err)
	}

	code, stdout, stderr = runCLI(t, "store", "name", "store-0042", "-en", "FamilyMart Shibuya", "-ja", "ファミリーマート 渋谷店", "-reason", "new store")
	if code != exitOK || !strings.Contains(stdout, "ファミリーマート 渋谷店") {
		t.Fatalf("store name = %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "store", "get", "store-0042")
	if code != exitOK || !strings.Contains(stdout, "FamilyMart Shibuya") {
		t.Fatalf("store get = %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if code, _, _ = runCLI(t, "store", "name", "store-0042", "-en", "Only English", "-reason", "x"); code != exitUsage {
		t.Errorf("store name without -ja = %d, want 2", code)
	}

	code, stdout, stderr = runCLI(t, "terminal", "get", term.TerminalID)
	if code != exitOK || !strings.Contains(stdout, term.TerminalID) || !strings.Contains(stdout, "store-0042") || !strings.Contains(stdout, "unknown_codes_recent:") {
		t.Fatalf("terminal get = %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	code, stdout, stderr = runCLI(t, "terminal", "suspend", term.TerminalID, "-reason", "lane closed")
	if code != exitOK || !strings.Contains(stdout, "suspended") {
		t.Fatalf("terminal suspend = %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, "terminal", "get", term.TerminalID, "-json")
	if code != exitOK || !strings.Contains(stdout, `"suspended"`) {
		t.Fatalf("terminal get after suspend = %d: %s", code, stdout)
	}

	// A well-formed id of an account that does not exist. (A malformed id
	// such as "acc_x" is answered 500 by the server today, see
	// bff/admin_ops.go adminAccountStatus: exit 4.)
	unknown, _, err := store.NewAccountID()
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "account", "freeze", unknown, "-reason", "fraud report")
	if code != exitRefused || !strings.Contains(stderr, "not_found") || stdout != "" {
		t.Fatalf("account freeze of an unknown account = %d, want 1 not_found\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	code, stdout, stderr = runCLI(t, "audit")
	if code != exitOK {
		t.Fatalf("audit = %d\nstderr: %s", code, stderr)
	}
	for _, want := range []string{"terminal.registered", "terminal.suspended", "operator:" + testOperator, `reason="new lane"`, `reason="lane closed"`, "terminal=" + term.TerminalID} {
		if !strings.Contains(stdout, want) {
			t.Errorf("audit lacks %q:\n%s", want, stdout)
		}
	}

	code, stdout, _ = runCLI(t, "audit", "-account", unknown, "-limit", "10")
	if code != exitOK || strings.TrimSpace(stdout) != "no events" {
		t.Errorf("audit of another account = %d: %s", code, stdout)
	}

	code, stdout, _ = runCLI(t, "status", "-json")
	var st map[string]any
	if code != exitOK || json.Unmarshal([]byte(stdout), &st) != nil || st["env"] != "dev" {
		t.Errorf("status = %d: %s", code, stdout)
	}

	t.Setenv("PAYCODE_ADMIN_TOKEN", "not-the-admin-token-0123456789abcdef")
	if code, _, stderr := runCLI(t, "status"); code != exitRefused || !strings.Contains(stderr, "unauthorized") {
		t.Errorf("wrong token: exit %d, stderr %s", code, stderr)
	}
}

// TestSwitchesAgainstRealServer sets and reads the kill switches through
// the real admin API (skipped while the server has no /v1/switches).
func TestSwitchesAgainstRealServer(t *testing.T) {
	base := newAdminServer(t)
	setEnv(t, base)
	t.Setenv("PAYCODE_OPERATOR", testOperator)

	code, stdout, stderr := runCLI(t, "switch", "list")
	if code == exitRefused && strings.Contains(stderr, "HTTP 404") {
		t.Skip("this server has no /v1/switches yet")
	}
	if code != exitOK || !strings.Contains(stdout, "signups") {
		t.Fatalf("switch list = %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	for _, set := range [][]string{{"topups", "off"}, {"blocked_countries", "KP,RU"}, {"reauth_after", "now"}} {
		code, stdout, stderr = runCLI(t, "switch", "set", set[0], set[1], "-reason", "incident 12")
		if code != exitOK {
			t.Fatalf("switch set %s %s = %d\nstdout: %s\nstderr: %s", set[0], set[1], code, stdout, stderr)
		}
	}
	code, stdout, _ = runCLI(t, "switch", "list")
	for _, want := range []string{"topups", "off", "KP,RU"} {
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("switch list lacks %q:\n%s", want, stdout)
		}
	}
	// A value the server refuses (a cut-off in the future) is exit 1.
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if code, _, stderr := runCLI(t, "switch", "set", "reauth_after", future, "-reason", "incident 12"); code != exitRefused || !strings.Contains(stderr, "invalid_switch_value") {
		t.Errorf("switch set reauth_after in the future = %d: %s", code, stderr)
	}
	code, stdout, _ = runCLI(t, "audit")
	if code != exitOK || !strings.Contains(stdout, "switch.changed") || !strings.Contains(stdout, "switch=topups") || !strings.Contains(stdout, `reason="incident 12"`) {
		t.Errorf("audit lacks the switch changes:\n%s", stdout)
	}
}

// TestPairingAndSalesCommands drives issue 14's and 15's commands against
// the real admin API: a key registered from standard input, a pairing code
// printed with its expiry, a store's (empty) payments, and an operator's
// refund of a payment that does not exist (refused, exit 1).
func TestPairingAndSalesCommands(t *testing.T) {
	base := newAdminServer(t)
	setEnv(t, base)
	t.Setenv("PAYCODE_OPERATOR", testOperator)
	_, _, pubPEM := writePublicKey(t)
	stdin = strings.NewReader(string(pubPEM))
	t.Cleanup(func() { stdin = os.Stdin })
	code, stdout, stderr := runCLI(t, "terminal", "register", "--store", "store-0042", "--label", "tablet", "--public-key-file", "-", "-reason", "pasted key")
	if code != exitOK || !strings.Contains(stdout, "term_") {
		t.Fatalf("register from stdin: exit %d\n%s%s", code, stdout, stderr)
	}

	code, stdout, stderr = runCLI(t, "terminal", "pair", "--store", "store-0042", "--label", "tablet 2", "-reason", "new tablet")
	if code != exitOK || !regexp.MustCompile(`pairing_code:\s+[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}`).MatchString(stdout) ||
		!strings.Contains(stdout, "expires_at:") {
		t.Fatalf("terminal pair: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, _ := runCLI(t, "terminal", "pair", "--store", "store-0042", "-reason", "r"); code != exitUsage {
		t.Errorf("terminal pair without -label: exit %d; want usage", code)
	}

	code, stdout, stderr = runCLI(t, "store", "payments", "store-0042", "--from", "2026-11-29T00:00:00+09:00")
	if code != exitOK || !strings.Contains(stdout, "no payments") {
		t.Errorf("store payments: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, _ := runCLI(t, "store", "payments", "store-0042", "--from", "yesterday"); code != exitUsage {
		t.Errorf("store payments -from yesterday: exit %d; want usage", code)
	}

	code, _, stderr = runCLI(t, "payment", "refund", "pay_0042aaaaaaaaaaaaaaaaaaaaaaaa", "--amount", "100", "-reason", "customer complaint")
	if code != exitRefused || !strings.Contains(stderr, "404") {
		t.Errorf("refunding no payment: exit %d\n%s", code, stderr)
	}
	if code, _, _ := runCLI(t, "payment", "refund", "pay_0042aaaaaaaaaaaaaaaaaaaaaaaa", "-reason", "r"); code != exitUsage {
		t.Errorf("refund without -amount: exit %d; want usage", code)
	}
}
