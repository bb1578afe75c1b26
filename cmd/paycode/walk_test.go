package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// walkBlock is the README's walk: the fenced block after its marker.
var walkBlock = regexp.MustCompile("(?s)<!-- walk:[^>]*-->\\s*```sh\\n(.*?)```")

// exportLine is the line the dev server prints with its admin token.
var exportLine = regexp.MustCompile(`(?m)^\s*export (PAYCODE_ADMIN_URL=\S+ PAYCODE_ADMIN_TOKEN=[0-9a-f]{64} PAYCODE_OPERATOR=\S+)$`)

// The README's walk from `go run ./cmd/paycode` to a paid code works as
// written: the binaries are built, the server starts on free ports with no
// configuration but its addresses (a fresh machine: embedded store, dev
// mode, no admin token), and the README's block runs in bash with the
// export line the server printed. Only what a fresh machine would not
// share with the README is replaced: `go run ./cmd/NAME` by the built
// binary (the same code, built once) and the README's default addresses
// by the free ports. It ends with the wallet the README promises.
func TestREADMEWalk(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four binaries")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := walkBlock.FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no walk block (<!-- walk: ... --> then ```sh)")
	}
	block := string(m[1])

	bin := t.TempDir()
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := exec.Command(gobin, "build", "-o", bin+string(os.PathSeparator),
		"./cmd/paycode", "./cmd/paycode-phone", "./cmd/paycode-terminal", "./cmd/paycodectl")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	public, admin := freeAddr(t), freeAddr(t)
	publicURL := "http://localhost:" + port(public)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	server := exec.CommandContext(ctx, filepath.Join(bin, "paycode"))
	server.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"PAYCODE_ADDR=" + public, "PAYCODE_ADMIN_ADDR=" + admin, "PAYCODE_PUBLIC_URL=" + publicURL}
	var logs bytes.Buffer
	server.Stdout = &logs
	console, err := server.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = server.Process.Signal(syscall.SIGTERM)
			_ = server.Wait()
		}
	}
	defer stop()

	// Read the console until the export line (or until the server exits,
	// which ends the pipe).
	var export string
	var printed strings.Builder
	sc := bufio.NewScanner(console)
	for sc.Scan() {
		printed.WriteString(sc.Text() + "\n")
		if e := exportLine.FindStringSubmatch(sc.Text()); e != nil {
			export = e[1]
			break
		}
	}
	if export == "" {
		stop()
		t.Fatalf("the server printed no admin export line:\n%s\nlog:\n%s", printed.String(), logs.String())
	}
	go func() { // keep draining the console so the server never blocks on it
		for sc.Scan() {
		}
	}()

	script := block
	script = regexp.MustCompile(`go run \./cmd/([a-z-]+)`).ReplaceAllString(script, "$1")
	script = strings.ReplaceAll(script, "http://localhost:8080", publicURL)
	script = strings.ReplaceAll(script, "127.0.0.1:9090", admin)
	walk := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	walk.Dir = t.TempDir()
	walk.Env = append([]string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + walk.Dir}, strings.Fields(export)...)
	out, err := walk.CombinedOutput()
	if err != nil {
		t.Fatalf("the README walk failed: %v\n--- script\n%s\n--- output\n%s\n--- server log\n%s", err, script, out, logs.String())
	}
	for _, want := range []string{`"kind": "topup"`, `"kind": "payment"`, `"status": "approved"`, "balance: 2500 JPY"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the walk's output lacks %q:\n%s", want, out)
		}
	}
	if info, err := os.Stat(filepath.Join(walk.Dir, "paycode-phone.json")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the phone's state file (it holds private keys): %v, %v; want mode 0600", info, err)
	}
	if !strings.Contains(block, "balance: 2500 JPY") {
		t.Error("the README's walk no longer says what the wallet shows at the end")
	}
	stop()
	if strings.Contains(logs.String(), strings.TrimPrefix(strings.Fields(export)[1], "PAYCODE_ADMIN_TOKEN=")) {
		t.Error("the admin token reached the server's log")
	}
}

// freeAddr is a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
