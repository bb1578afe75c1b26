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

	rounds     int    // A/B rounds per path
	paths      string // which paths to measure: redemption,issuance,login
	redisURL   string // the server's Redis, for the floor server and -seed
	floorURL   string // a floor server that runs already
	floorAddr  string // where the child floor server listens
	serverCPUs string // taskset -c list for the child floor server
	halfLoad   bool   // run the half-load phase of redemption

	serveFloors bool // -serve-floors mode
	seed        int  // -seed mode: accounts to create
	seedBatch   int
	redisPrefix string // key prefix of -seed (the server's PAYCODE_REDIS_PREFIX)
}

// Targets of the ratios (issue 12): a path's throughput over its floor's.
var targets = map[string]float64{"redemption": 0.5, "issuance": 0.5, "login": 0.4}

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
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "length of each measured phase (of each path and floor in each round)")
	fs.IntVar(&o.rounds, "rounds", 6, "A/B rounds of each path against its floor")
	fs.StringVar(&o.paths, "paths", "redemption,issuance,login", "paths to measure, comma-separated")
	fs.StringVar(&o.redisURL, "redis", os.Getenv("PAYCODE_REDIS_URL"), "URL of the server's Redis (default $PAYCODE_REDIS_URL): the floor server and -seed use it")
	fs.StringVar(&o.floorURL, "floor-url", "", "base URL of a floor server that runs already (paycode-load -serve-floors); default: start one")
	fs.StringVar(&o.floorAddr, "floor-addr", "127.0.0.1:9091", "address of the floor server (-serve-floors, or the one started)")
	fs.StringVar(&o.serverCPUs, "server-cpus", "", "run the floor server under `taskset -c LIST`, the CPUs the paycode server is pinned to")
	fs.BoolVar(&o.halfLoad, "half-load", true, "after the rounds, send redemptions at half the measured maximum rate and report their latency")
	fs.BoolVar(&o.serveFloors, "serve-floors", false, "serve the floors on -floor-addr against -redis, and nothing else")
	fs.IntVar(&o.seed, "seed", 0, "create this many accounts directly in -redis (pipelined), and nothing else")
	fs.IntVar(&o.seedBatch, "seed-batch", 500, "accounts per pipeline with -seed")
	fs.StringVar(&o.redisPrefix, "redis-prefix", "pc:", "key prefix of the accounts -seed writes (the server's PAYCODE_REDIS_PREFIX)")
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
	if o.serveFloors || o.seed != 0 {
		switch {
		case o.serveFloors && o.seed != 0:
			return nil, usagef("-serve-floors and -seed are separate modes")
		case o.redisURL == "":
			return nil, usagef("-redis (or PAYCODE_REDIS_URL) is needed with -serve-floors and -seed")
		case o.seed < 0 || o.seedBatch < 1:
			return nil, usagef("-seed and -seed-batch must be positive")
		}
		return o, nil
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
	case o.rounds < 1:
		return nil, usagef("-rounds must be at least 1")
	case o.floorURL == "" && o.redisURL == "":
		return nil, usagef("-redis (or PAYCODE_REDIS_URL) must name the server's Redis: the floors run against it")
	}
	for _, p := range strings.Split(o.paths, ",") {
		if _, ok := targets[p]; !ok {
			return nil, usagef("-paths: unknown path %q (redemption, issuance, login)", p)
		}
	}
	if o.floorURL != "" {
		if o.floorURL, err = checkBaseURL("-floor-url", o.floorURL); err != nil {
			return nil, err
		}
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
	switch {
	case o.serveFloors:
		if err := serveFloors(ctx, o.floorAddr, o.redisURL, stderr); err != nil {
			fmt.Fprintf(stderr, "paycode-load: floor server: %v\n", err)
			return exitFailed
		}
		return exitOK
	case o.seed > 0:
		return seed(ctx, o, stdout, stderr)
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

	key, err := newFloorKey()
	if err != nil {
		logf("setup: %v", err)
		return exitFailed
	}
	fsrv, err := startFloorServer(ctx, o, key, stderr)
	if err != nil {
		logf("setup: %v", err)
		return exitFailed
	}
	defer fsrv.stop()

	pool := newPool(customers)
	rep := report{
		Target: o.baseURL, Customers: len(customers), Concurrency: o.concurrency,
		Duration: o.duration.String(), Rounds: o.rounds, Amount: o.amount, Currency: o.currency, SpoofIP: o.spoofIP,
	}
	closed := func(name string, op operation) func(context.Context) phaseResult {
		return func(ctx context.Context) phaseResult { return runPhase(ctx, name, o.concurrency, o.duration, op) }
	}
	all := map[string]pathRun{
		"redemption": {name: "redemption", floor: "floor: 1 round trip",
			run: func(ctx context.Context) phaseResult {
				return runRedemption(ctx, c, customers, term, o.concurrency, o.duration, o.amount, o.currency)
			},
			runFloor: closed("", floorRedeemOp(c, fsrv, term, o.amount, o.currency))},
		"issuance": {name: "issuance", floor: "floor: 2 ES256 + 1 SET",
			run: closed("", issuanceOp(c, pool)), runFloor: closed("", floorIssueOp(c, fsrv, key))},
		"login": {name: "login", floor: "floor: 1 ES256 + 2 round trips",
			run: closed("", loginOp(pool)), runFloor: closed("", floorLoginOp(c, fsrv, key))},
	}
	var paths []pathRun
	for _, p := range strings.Split(o.paths, ",") {
		paths = append(paths, all[p])
	}
	logf("%d A/B rounds of %v per path and floor, %d workers", o.rounds, o.duration, o.concurrency)
	rep.Phases, rep.RoundResults, rep.Ratios = runRounds(ctx, paths, o.rounds, targets, logf)
	if ctx.Err() != nil {
		logf("interrupted")
		return exitFailed
	}
	for _, s := range rep.Ratios {
		if s.Path == "redemption" && o.halfLoad && s.PathRPS > 0 {
			rate := s.PathRPS / 2
			logf("redemption at half load: %.0f/s for %v", rate, o.duration)
			h := runOpenRedemption(ctx, c, customers, term, o.concurrency, rate, o.duration, o.amount, o.currency)
			h.Name = fmt.Sprintf("redemption at %.0f/s (half load)", rate)
			rep.HalfLoad = &halfLoad{RateRPS: round(rate, 1), Phase: h, TargetP99MS: 5, TargetMet: h.LatencyMS.P99 < 5}
			rep.Phases = append(rep.Phases, h)
		}
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
