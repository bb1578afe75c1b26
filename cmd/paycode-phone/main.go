// Command paycode-phone plays a shopper's phone from a shell, for trying
// paycode on a dev server without a browser: it signs up with a software
// passkey and a device key, shows payment codes and the wallet. It is the
// customer half of the README's walk from `go run ./cmd/paycode` to a paid
// code.
//
//	paycode-phone signup -contact alice@example.com [-url http://localhost:8080] [-state paycode-phone.json]
//	paycode-phone code   [-state paycode-phone.json]   prints a fresh 24-digit payment code
//	paycode-phone wallet [-state paycode-phone.json]   prints the balance
//
// -url defaults to $PAYCODE_PHONE_URL, then http://localhost:8080 (the
// server's PAYCODE_PUBLIC_URL: DPoP proofs and the passkey's origin name
// it). -state defaults to $PAYCODE_PHONE_STATE, then paycode-phone.json.
//
// Dev servers only: the sign-up code is read from GET /dev/outbox, which a
// production server does not have. The state file holds the phone's
// secrets (the device key, the passkey's private key, the session's
// tokens); it is written with mode 0600, like a private key. Each command
// refreshes the session or steps up with the passkey when the server asks
// (an expired access token, or a passkey verification older than the
// payment window), as the app does.
//
// Exit status: 0 ok, 1 refused by the server or failed, 2 usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	defaultURL  = "http://localhost:8080"
	defaultFile = "paycode-phone.json"
)

const usage = `usage: paycode-phone <command> [flags]

commands:
  signup -contact ADDRESS [-url URL] [-state FILE]   sign up (dev servers: the OTP comes from /dev/outbox)
  code   [-state FILE]                               print a fresh payment code
  wallet [-state FILE]                               print the balance
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("paycode-phone "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateFile := fs.String("state", envOr("PAYCODE_PHONE_STATE", defaultFile), "the phone's state file ($PAYCODE_PHONE_STATE)")
	var url, contact string
	if cmd == "signup" {
		fs.StringVar(&url, "url", envOr("PAYCODE_PHONE_URL", defaultURL), "the server's public URL ($PAYCODE_PHONE_URL)")
		fs.StringVar(&contact, "contact", "", "e-mail address or E.164 phone number; required")
	}
	switch cmd {
	case "signup", "code", "wallet":
	default:
		fmt.Fprintf(stderr, "paycode-phone: unknown command %q\n%s", cmd, usage)
		return exitUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "paycode-phone %s: unexpected arguments %q\n", cmd, fs.Args())
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var err error
	switch cmd {
	case "signup":
		if contact == "" {
			fmt.Fprintln(stderr, "paycode-phone signup: -contact is required")
			return exitUsage
		}
		err = signup(ctx, url, contact, *stateFile, stdout)
	case "code":
		err = withPhone(ctx, *stateFile, func(p *phone) error { return p.code(ctx, stdout) })
	case "wallet":
		err = withPhone(ctx, *stateFile, func(p *phone) error { return p.wallet(ctx, stdout) })
	}
	if err != nil {
		fmt.Fprintf(stderr, "paycode-phone %s: %v\n", cmd, err)
		return exitFailed
	}
	return exitOK
}

// withPhone loads the phone, runs fn and saves the phone again (its tokens
// and passkey counter change), also when fn failed after a refresh.
func withPhone(ctx context.Context, file string, fn func(*phone) error) error {
	p, err := load(file)
	if err != nil {
		return err
	}
	ferr := fn(p)
	if err := p.save(file); err != nil {
		return errors.Join(ferr, err)
	}
	return ferr
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
