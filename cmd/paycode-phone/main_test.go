package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The phone's happy path runs in cmd/paycode's TestREADMEWalk against a
// real server; these are the refusals that need none.
func TestUsageAndRefusals(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "phone.json")
	if err := os.WriteFile(existing, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, exitUsage, "usage"},
		{"unknown command", []string{"pay"}, exitUsage, "unknown command"},
		{"signup without contact", []string{"signup"}, exitUsage, "-contact is required"},
		{"url is for signup only", []string{"code", "-url", "http://x"}, exitUsage, "-url"},
		// A second sign-up must not overwrite the first phone's keys.
		{"signup over a phone", []string{"signup", "-contact", "a@example.com", "-state", existing, "-url", "http://127.0.0.1:1"}, exitFailed, "exists"},
		{"code before signup", []string{"code", "-state", filepath.Join(dir, "none.json")}, exitFailed, "run paycode-phone signup first"},
		{"broken state", []string{"wallet", "-state", existing}, exitFailed, "device key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("run(%q) = %d %q; want %d with %q", tc.args, code, stderr.String(), tc.code, tc.want)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "{}" {
		t.Errorf("the existing state was changed: %s", b)
	}
}
