package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/paycode/paycode/tokens"
)

// Exit statuses; see the package documentation.
const (
	exitOK          = 0
	exitRefused     = 1
	exitUsage       = 2
	exitDeclined    = 3
	exitUnavailable = 4
)

const usageText = `usage: paycode-terminal <command> [flags]

commands:
  keygen  -out terminal.pem [-alg ES256|EdDSA] [-force]   (writes terminal.pem and terminal.pub.pem)
  token   -url URL -id TERMINAL_ID -key terminal.pem
  pay     -url URL -id ID -key KEY -amount N [-currency JPY] [-order REF] [-idempotency-key K] (-code DIGITS | -image FILE)
  refund  -url URL -id ID -key KEY -payment PAYMENT_ID -amount N [-idempotency-key K]
  topup   -url URL -id ID -key KEY -amount N [-currency JPY] [-idempotency-key K] (-code DIGITS | -image FILE)
  get     -url URL -id ID -key KEY -payment PAYMENT_ID

-url, -id and -key default to $PAYCODE_TERMINAL_URL, $PAYCODE_TERMINAL_ID, $PAYCODE_TERMINAL_KEY.
Run "paycode-terminal <command> -h" for a command's flags.
exit status: 0 ok, 1 refused or local error, 2 usage, 3 declined (402), 4 unavailable (retry with the same -idempotency-key)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program: it parses args (without the program name),
// writes the server's answers to stdout and messages to stderr, and returns
// the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "keygen":
		return keygen(args, stdout, stderr)
	case "token", "pay", "refund", "topup", "get":
		return call(ctx, cmd, args, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		fmt.Fprintf(stderr, "paycode-terminal: unknown command %q\n\n%s", cmd, usageText)
		return exitUsage
	}
}

// errUsage marks a flag problem: exit status 2.
var errUsage = errors.New("usage")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// request is what the flags of one server command say.
type request struct {
	baseURL, audience, terminalID, keyFile string
	timeout                                time.Duration

	amount         int64
	currency       string
	orderRef       string
	paymentID      string
	code, image    string
	idempotencyKey string
}

// parseFlags reads the flags of cmd. The -h output and flag errors go to
// stderr.
func parseFlags(cmd string, args []string, stderr io.Writer) (*request, error) {
	r := &request{}
	fs := flag.NewFlagSet("paycode-terminal "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&r.baseURL, "url", os.Getenv("PAYCODE_TERMINAL_URL"), "paycode server base URL, e.g. https://pay.example.com ($PAYCODE_TERMINAL_URL)")
	fs.StringVar(&r.terminalID, "id", os.Getenv("PAYCODE_TERMINAL_ID"), "terminal id the operator registered ($PAYCODE_TERMINAL_ID)")
	fs.StringVar(&r.keyFile, "key", os.Getenv("PAYCODE_TERMINAL_KEY"), "terminal private key PEM file, from keygen ($PAYCODE_TERMINAL_KEY)")
	fs.StringVar(&r.audience, "aud", "", "client assertion audience (default URL + /v1/terminal/token; set it when -url is not the server's public URL)")
	fs.DurationVar(&r.timeout, "timeout", 30*time.Second, "timeout of each HTTP request")
	needsAmount, needsCode, needsPayment, idempotent := false, false, false, false
	switch cmd {
	case "pay", "topup":
		needsAmount, needsCode, idempotent = true, true, true
	case "refund":
		needsAmount, needsPayment, idempotent = true, true, true
	case "get":
		needsPayment = true
	}
	if needsAmount {
		fs.Int64Var(&r.amount, "amount", 0, "amount in the currency's minor unit (JPY: yen); required")
	}
	if needsCode {
		fs.StringVar(&r.currency, "currency", "JPY", "ISO 4217 currency code")
		fs.StringVar(&r.code, "code", "", "the customer's 24-digit payment code")
		fs.StringVar(&r.image, "image", "", "a barcode image (PNG, JPEG ...) of the code, decoded with zbarimg")
	}
	if cmd == "pay" {
		fs.StringVar(&r.orderRef, "order", "", "the store's order reference")
	}
	if needsPayment {
		fs.StringVar(&r.paymentID, "payment", "", "payment id; required")
	}
	if idempotent {
		fs.StringVar(&r.idempotencyKey, "idempotency-key", "", "Idempotency-Key to send (default: a new random one, printed); reuse it to retry")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() != 0 {
		return nil, usagef("unexpected arguments %q", fs.Args())
	}

	base, err := checkBaseURL(r.baseURL)
	if err != nil {
		return nil, err
	}
	r.baseURL = base
	if r.audience == "" {
		r.audience = base + "/v1/terminal/token"
	}
	if r.terminalID == "" {
		return nil, usagef("-id is required")
	}
	if r.keyFile == "" {
		return nil, usagef("-key is required")
	}
	if r.timeout <= 0 {
		return nil, usagef("-timeout must be positive")
	}
	if needsAmount && r.amount <= 0 {
		return nil, usagef("-amount must be a positive integer in the currency's minor unit")
	}
	if needsCode {
		if !currencyRE.MatchString(r.currency) {
			return nil, usagef("-currency %q is not an ISO 4217 code such as JPY", r.currency)
		}
		switch {
		case r.code == "" && r.image == "":
			return nil, usagef("give the customer's code with -code or -image")
		case r.code != "" && r.image != "":
			return nil, usagef("give -code or -image, not both")
		case r.code != "":
			if r.code, err = normalizeCode(r.code); err != nil {
				return nil, usagef("-code: %v", err)
			}
		}
	}
	if needsPayment && r.paymentID == "" {
		return nil, usagef("-payment is required")
	}
	if idempotent {
		if r.idempotencyKey == "" {
			r.idempotencyKey = newIdempotencyKey()
		} else if !idempotencyKeyRE.MatchString(r.idempotencyKey) {
			return nil, usagef("-idempotency-key must be 1 to 255 printable ASCII characters without spaces")
		}
	}
	return r, nil
}

var (
	currencyRE       = regexp.MustCompile(`^[A-Z]{3}$`)
	idempotencyKeyRE = regexp.MustCompile(`^[\x21-\x7e]{1,255}$`)
)

// checkBaseURL accepts an absolute http(s) URL without query, fragment or
// userinfo, and returns it without a trailing slash.
func checkBaseURL(raw string) (string, error) {
	if raw == "" {
		return "", usagef("-url is required (e.g. https://pay.example.com)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", usagef("-url %q is not an http(s) URL such as https://pay.example.com", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", usagef("-url must not have credentials, a query or a fragment")
	}
	return strings.TrimRight(raw, "/"), nil
}

// plainHTTPRisk reports whether base sends credentials in the clear to a
// host that is not this machine.
func plainHTTPRisk(base string) bool {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// normalizeCode drops the spaces and hyphens people type between groups and
// checks length, digits and check digit, so that a typo is caught here
// rather than counted by the server as a guess.
func normalizeCode(s string) (string, error) {
	s = strings.NewReplacer(" ", "", "-", "").Replace(s)
	if len(s) != tokens.CodeLength {
		return "", fmt.Errorf("a payment code is %d digits", tokens.CodeLength)
	}
	c, err := tokens.ParseCode(s, s[:tokens.CodePrefixDigits])
	switch {
	case errors.Is(err, tokens.ErrIssuerPrefix):
		return "", tokens.ErrCodeDigits
	case err != nil:
		return "", err
	}
	return c.Digits(), nil
}

// newIdempotencyKey is a random UUID (version 4) in its text form.
func newIdempotencyKey() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("paycode-terminal: no randomness: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// loadKey reads the terminal's private key, warning when others can read it.
func loadKey(file string, stderr io.Writer) (tokens.SigningKey, error) {
	info, err := os.Stat(file)
	if err != nil {
		return tokens.SigningKey{}, fmt.Errorf("terminal key: %w", err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "paycode-terminal: warning: %s is readable by others (mode %04o); chmod 600 it\n", file, info.Mode().Perm())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return tokens.SigningKey{}, fmt.Errorf("terminal key: %w", err)
	}
	k, err := tokens.ParsePrivateKeyPEM(b)
	if err != nil {
		return tokens.SigningKey{}, fmt.Errorf("terminal key %s: %w", file, err)
	}
	return k, nil
}
