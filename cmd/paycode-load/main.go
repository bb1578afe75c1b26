package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"
)

// Exit statuses; see the package documentation.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// maxErrorRate is the share of failed requests a phase may have.
const maxErrorRate = 0.01

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed flags.
type options struct {
	baseURL, adminURL string
	adminToken        string
	customers         int
	concurrency       int
	duration          time.Duration
	amount, topup     int64
	currency          string
	spoofIP           bool
	jsonOut           bool
	timeout           time.Duration
}

// errUsage marks a flag problem: exit status 2.
var errUsage = errors.New("usage")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("paycode-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.baseURL, "url", "http://localhost:8080", "public base URL of the server; must be its PAYCODE_PUBLIC_URL (DPoP htu, WebAuthn origin, assertion audience)")
	fs.StringVar(&o.adminURL, "admin-url", "http://127.0.0.1:9090", "base URL of the server's admin listener")
	fs.IntVar(&o.customers, "customers", 20, "customers to sign up")
	fs.IntVar(&o.concurrency, "concurrency", 8, "concurrent workers in each phase")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "length of each measured phase")
	fs.Int64Var(&o.amount, "amount", 1, "amount of each payment in the currency's minor unit")
	fs.Int64Var(&o.topup, "topup", 50000, "cash top-up per customer during setup (at most the server's PAYCODE_LIMIT_TOPUP)")
	fs.StringVar(&o.currency, "currency", "JPY", "currency of top-ups and payments")
	fs.BoolVar(&o.spoofIP, "spoof-ip", false, "send X-Forwarded-For with a distinct fake IP per customer (the server must trust this host in PAYCODE_TRUSTED_PROXIES)")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report as JSON instead of a table")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "timeout of each HTTP request")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: PAYCODE_ADMIN_TOKEN=... paycode-load [flags]\n\nThe target must be a dev-mode paycode server (OTPs are read from /dev/outbox).\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nexit status: 0 ok, 1 setup failed or a phase had more than 1%% errors, 2 usage or no dev outbox\n")
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
	var err error
	if o.baseURL, err = checkBaseURL("-url", o.baseURL); err != nil {
		return nil, err
	}
	if o.adminURL, err = checkBaseURL("-admin-url", o.adminURL); err != nil {
		return nil, err
	}
	switch {
	case o.customers < 1:
		return nil, usagef("-customers must be at least 1")
	case o.concurrency < 1:
		return nil, usagef("-concurrency must be at least 1")
	case o.duration <= 0:
		return nil, usagef("-duration must be positive")
	case o.amount < 1:
		return nil, usagef("-amount must be a positive integer in the currency's minor unit")
	case o.topup < o.amount:
		return nil, usagef("-topup must be at least -amount")
	case o.timeout <= 0:
		return nil, usagef("-timeout must be positive")
	case len(o.currency) != 3 || strings.ToUpper(o.currency) != o.currency:
		return nil, usagef("-currency %q is not an ISO 4217 code such as JPY", o.currency)
	}
	o.adminToken = os.Getenv("PAYCODE_ADMIN_TOKEN")
	if o.adminToken == "" {
		return nil, usagef("PAYCODE_ADMIN_TOKEN is not set: it is needed to register the load terminal on the admin API")
	}
	return o, nil
}

// checkBaseURL accepts an absolute http(s) URL without path, query,
// fragment or userinfo, and returns it without a trailing slash.
func checkBaseURL(name, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", usagef("%s %q is not an http(s) URL such as http://localhost:8080", name, raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return "", usagef("%s must be a bare origin without credentials, path, query or fragment", name)
	}
	return u.Scheme + "://" + u.Host, nil
}

// run is the whole program: it parses args (without the program name),
// writes the report to stdout and progress and errors to stderr, and
// returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	o, err := parseFlags(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "paycode-load: %v\n", err)
		return exitUsage
	}
	return load(ctx, o, stdout, stderr)
}

// load runs setup and the three phases and prints the report.
func load(ctx context.Context, o *options, stdout, stderr io.Writer) int {
	c := newClient(o)
	defer c.http.CloseIdleConnections()
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "paycode-load: "+format+"\n", args...) }

	if err := c.checkDevOutbox(ctx); err != nil {
		logf("%v", err)
		if errors.Is(err, errNoOutbox) {
			return exitUsage
		}
		return exitFailed
	}
	if o.customers < o.concurrency {
		logf("warning: %d customers for %d workers: at most %d requests are in flight", o.customers, o.concurrency, o.customers)
	}
	start := time.Now()
	customers, err := signUpAll(ctx, c, o.customers, o.concurrency)
	if err != nil {
		logf("setup: %v", err)
		return exitFailed
	}
	logf("signed up %d customers in %v", len(customers), time.Since(start).Round(time.Millisecond))
	term, err := registerTerminal(ctx, c)
	if err != nil {
		logf("setup: %v", err)
		return exitFailed
	}
	logf("registered terminal %s", term.id)
	if err := topUpAll(ctx, c, term, customers, o.topup, o.concurrency); err != nil {
		logf("setup: %v", err)
		return exitFailed
	}
	logf("topped up each customer with %d %s", o.topup, o.currency)

	pool := newPool(customers)
	rep := report{
		Target: o.baseURL, Customers: len(customers), Concurrency: o.concurrency,
		Duration: o.duration.String(), Amount: o.amount, Currency: o.currency, SpoofIP: o.spoofIP,
	}
	phases := []struct {
		name string
		op   operation
	}{
		{"floor", floorOp(c)},
		{"issuance", issuanceOp(c, pool)},
		{"redemption", redemptionOp(c, pool, term, o.amount, o.currency)},
	}
	for _, p := range phases {
		if ctx.Err() != nil {
			logf("interrupted")
			return exitFailed
		}
		logf("phase %s: %d workers for %v", p.name, o.concurrency, o.duration)
		res := runPhase(ctx, p.name, o.concurrency, o.duration, p.op)
		rep.Phases = append(rep.Phases, res)
	}
	if o.jsonOut {
		if err := rep.writeJSON(stdout); err != nil {
			logf("%v", err)
			return exitFailed
		}
	} else {
		rep.writeTable(stdout)
	}
	status := exitOK
	for _, p := range rep.Phases {
		if p.Requests == 0 {
			logf("phase %s made no requests", p.Name)
			status = exitFailed
		} else if p.ErrorRate > maxErrorRate {
			logf("phase %s: %.2f%% of requests failed (more than %.0f%%)", p.Name, 100*p.ErrorRate, 100*maxErrorRate)
			status = exitFailed
		}
	}
	return status
}
