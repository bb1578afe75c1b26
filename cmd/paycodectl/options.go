package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

const defaultAdminURL = "http://127.0.0.1:9090"

// options are the global flags, shared by every command.
type options struct {
	adminURL  string
	tokenFile string
	operator  string
	reason    string
	json      bool
	timeout   time.Duration

	// envToken is $PAYCODE_ADMIN_TOKEN, used when there is no -token-file.
	envToken string
}

// optionsFromEnv reads the environment defaults.
func optionsFromEnv(getenv func(string) string) options {
	o := options{
		adminURL:  getenv("PAYCODE_ADMIN_URL"),
		tokenFile: getenv("PAYCODE_ADMIN_TOKEN_FILE"),
		operator:  getenv("PAYCODE_OPERATOR"),
		envToken:  getenv("PAYCODE_ADMIN_TOKEN"),
		timeout:   30 * time.Second,
	}
	if o.adminURL == "" {
		o.adminURL = defaultAdminURL
	}
	return o
}

// bind registers the global flags on fs with the current values as
// defaults, so that they may be given before or after the command.
func (o *options) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.adminURL, "admin-url", o.adminURL, "admin listener base URL ($PAYCODE_ADMIN_URL)")
	fs.StringVar(&o.tokenFile, "token-file", o.tokenFile, "file holding the admin token ($PAYCODE_ADMIN_TOKEN_FILE; else $PAYCODE_ADMIN_TOKEN is used)")
	fs.StringVar(&o.operator, "operator", o.operator, "your operator name, recorded in the audit trail ($PAYCODE_OPERATOR); required for changes")
	fs.StringVar(&o.reason, "reason", o.reason, "why you make this change, recorded in the audit trail; required for changes")
	fs.BoolVar(&o.json, "json", o.json, "print the server's JSON answer")
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "timeout of the HTTP request")
}

// usageError is a problem with the command line: exit status 2, and
// nothing was sent.
type usageError struct{ msg string }

func (e *usageError) Error() string { return "usage: " + e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// refuseTokenFlag rejects -token on the command line, where it would show in
// ps and the shell history, without repeating its value.
func refuseTokenFlag(args []string) error {
	for _, a := range args {
		if a == "--" {
			return nil
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "token" || name == "admin-token") {
			return usagef("the admin token is not taken on the command line (it would show in ps and the shell history): set PAYCODE_ADMIN_TOKEN or use -token-file")
		}
	}
	return nil
}

// spec says what a command takes besides the global flags.
type spec struct {
	// args names the positional arguments, all required.
	args []string
	// change marks a state change: -operator and -reason are required.
	change bool
	// flags registers the command's own flags.
	flags func(fs *flag.FlagSet)
}

// parse reads a command's flags and arguments (flags may come before,
// between or after the arguments), checks the global options and readies
// the admin client. Nothing is sent when it fails.
func (c *cli) parse(name string, args []string, sp spec) ([]string, error) {
	if err := refuseTokenFlag(args); err != nil {
		return nil, err
	}
	fs := flag.NewFlagSet("paycodectl "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	c.opts.bind(fs)
	if sp.flags != nil {
		sp.flags(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: paycodectl %s", name)
		for _, a := range sp.args {
			fmt.Fprintf(fs.Output(), " %s", a)
		}
		fmt.Fprintln(fs.Output(), " [flags]")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil, err
	} else if err != nil {
		return nil, usagef("%v", err)
	}
	if len(pos) != len(sp.args) {
		return nil, usagef("want %d argument(s) %s, got %d", len(sp.args), strings.Join(sp.args, " "), len(pos))
	}
	for i, p := range pos {
		// An id is a path segment: "" or a dot segment would name another
		// resource.
		if strings.HasSuffix(sp.args[i], "ID") && (p == "" || p == "." || p == "..") {
			return nil, usagef("%s %q is not valid", sp.args[i], p)
		}
	}
	if sp.change {
		if err := checkOperator(c.opts.operator); err != nil {
			return nil, err
		}
		if err := checkReason(c.opts.reason); err != nil {
			return nil, err
		}
	}
	if c.opts.timeout <= 0 {
		return nil, usagef("-timeout must be positive")
	}
	base, err := checkAdminURL(c.opts.adminURL)
	if err != nil {
		return nil, err
	}
	tok, err := c.loadToken()
	if err != nil {
		return nil, err
	}
	if cleartextToRemote(base) {
		fmt.Fprintf(c.stderr, "paycodectl: warning: %s is plain http to a host other than this machine: the admin token crosses the network in the clear\n", base)
	}
	c.api = newAdminClient(base, tok, c.opts.timeout)
	return pos, nil
}

// parseInterleaved parses fs from args, collecting the positional
// arguments found between flags. After "--" everything is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		consumed := args[:len(args)-len(rest)]
		if len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// checkOperator accepts what the server records as "operator:<name>": 1 to
// 64 printable characters without spaces or colons.
func checkOperator(op string) error {
	if op == "" {
		return usagef("-operator (or $PAYCODE_OPERATOR) is required for a change: it names you in the audit trail")
	}
	if utf8.RuneCountInString(op) > 64 || !printable(op) || strings.ContainsAny(op, ": ") {
		return usagef("-operator must be 1 to 64 printable characters without spaces or colons")
	}
	return nil
}

// checkReason accepts 1 to 500 printable characters.
func checkReason(r string) error {
	if strings.TrimSpace(r) == "" {
		return usagef("-reason is required for a change: say why, it goes to the audit trail")
	}
	if utf8.RuneCountInString(r) > 500 || !printable(r) {
		return usagef("-reason must be 1 to 500 printable characters (no newlines or control characters)")
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// checkAdminURL accepts an absolute http(s) URL without credentials, query
// or fragment, and returns it without a trailing slash.
func checkAdminURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil, u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return "", usagef("-admin-url %q is not an http(s) URL such as %s", raw, defaultAdminURL)
	case u.User != nil:
		return "", usagef("-admin-url must not carry credentials; the token comes from $PAYCODE_ADMIN_TOKEN or -token-file")
	case u.RawQuery != "" || u.Fragment != "":
		return "", usagef("-admin-url must not have a query or a fragment")
	}
	return strings.TrimRight(raw, "/"), nil
}

// cleartextToRemote reports whether base is plain http to a host that is
// not this machine.
func cleartextToRemote(base string) bool {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// adminToken is the admin bearer token. It prints as a fingerprint only.
type adminToken struct{ b []byte }

func (t adminToken) String() string {
	sum := sha256.Sum256(t.b)
	return "admin-token:sha256:" + hex.EncodeToString(sum[:4])
}

func (t adminToken) GoString() string { return t.String() }

// loadToken reads the token from -token-file, else $PAYCODE_ADMIN_TOKEN.
func (c *cli) loadToken() (adminToken, error) {
	raw := c.opts.envToken
	from := "$PAYCODE_ADMIN_TOKEN"
	if c.opts.tokenFile != "" {
		from = c.opts.tokenFile
		info, err := os.Stat(c.opts.tokenFile)
		if err != nil {
			return adminToken{}, usagef("-token-file: %v", err)
		}
		if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
			fmt.Fprintf(c.stderr, "paycodectl: warning: %s is readable by others (mode %04o); chmod 600 it\n", c.opts.tokenFile, info.Mode().Perm())
		}
		f, err := os.Open(c.opts.tokenFile)
		if err != nil {
			return adminToken{}, usagef("-token-file: %v", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, 4096))
		if err != nil {
			return adminToken{}, usagef("-token-file: %v", err)
		}
		raw = string(b)
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return adminToken{}, usagef("no admin token: set PAYCODE_ADMIN_TOKEN or use -token-file")
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x21 || raw[i] > 0x7e {
			// The value is not repeated: it is a secret.
			return adminToken{}, usagef("the admin token in %s must be printable ASCII without spaces", from)
		}
	}
	return adminToken{[]byte(raw)}, nil
}
