// Command paycode is the paycode server.
//
//	paycode [serve]      run the public and admin listeners (the default)
//	paycode healthcheck  exit 0 when the local admin listener answers /healthz (for container HEALTHCHECK)
//
// Configuration comes from PAYCODE_* environment variables; see the README.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/paycode/paycode/bff"
	"github.com/paycode/paycode/config"
	"github.com/paycode/paycode/store"
)

func main() {
	cmd := "serve"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	switch cmd {
	case "serve":
		os.Exit(serve())
	case "healthcheck":
		os.Exit(healthcheck())
	default:
		fmt.Fprintf(os.Stderr, "usage: paycode [serve|healthcheck]\n")
		os.Exit(2)
	}
}

func serve() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	m := NewMain(os.Stdout)
	m.Console = os.Stderr
	if err := m.Run(ctx, os.LookupEnv); err != nil {
		reportStartError(os.Stderr, isTerminal(os.Stderr), m.Log, err)
		m.Close()
		return 1
	}
	<-ctx.Done()
	m.Log.Info("shutting down: draining in-flight requests")
	if err := m.Close(); err != nil {
		m.Log.Error("shutdown", "error", err.Error())
		return 1
	}
	return 0
}

// Main is the running program: configuration, store and server. main()
// only delegates to it, so tests can run it whole.
type Main struct {
	Log    *slog.Logger
	Config *config.Config
	Store  *store.Store
	Server *bff.Server
	// Console is where dev mode prints what a developer needs to read
	// (the admin token and a paycodectl line); nil prints nothing. serve
	// sets it to stderr, apart from the JSON log on stdout.
	Console io.Writer
	// Tracer makes the requests' spans and exports them when
	// OTEL_EXPORTER_OTLP_ENDPOINT is set (bff.NewTracerProvider).
	Tracer *sdktrace.TracerProvider

	logOut    io.Writer
	level     *slog.LevelVar
	served    chan error
	publicLn  net.Listener
	adminLn   net.Listener
	listening bool
}

// NewMain returns a Main logging JSON to out.
func NewMain(out io.Writer) *Main {
	level := new(slog.LevelVar)
	return &Main{
		logOut: out,
		level:  level,
		Log:    slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level})),
		served: make(chan error, 2),
	}
}

// Run loads the configuration, opens the store and starts both listeners.
// It returns once they are listening, or with the first start-up error.
func (m *Main) Run(ctx context.Context, getenv config.Getenv) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	m.Config = cfg
	_ = m.level.UnmarshalText([]byte(cfg.LogLevel))
	generatedToken, err := devAdminToken(cfg)
	if err != nil {
		return err
	}
	store.SetLogger(m.Log)

	openCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	m.Store, err = store.Open(openCtx, bff.StoreOptions(cfg, m.Log))
	if err != nil {
		return err
	}
	if err := checkReplication(openCtx, cfg, m.Store, m.Log); err != nil {
		return err
	}
	if cfg.DevSecret {
		m.Log.Warn("DEV SECRET: PAYCODE_SECRET is not set, so keyed hashes use a public dev value; for development only")
	}
	keys, err := bff.LoadSigningKeys(openCtx, cfg, m.Store)
	if err != nil {
		return err
	}
	if m.Tracer, err = bff.NewTracerProvider(ctx, getenv); err != nil {
		return err
	}
	m.Server, err = bff.New(cfg, m.Store, m.Log, bff.Deps{Keys: keys, Notifier: bff.NewNotifier(cfg, m.Store), Tracer: m.Tracer})
	if err != nil {
		return err
	}

	if m.publicLn, err = net.Listen("tcp", cfg.Addr); err != nil {
		return fmt.Errorf("listening on PAYCODE_ADDR: %w", err)
	}
	if m.adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
		return fmt.Errorf("listening on PAYCODE_ADMIN_ADDR: %w", err)
	}
	m.listening = true
	go func() { m.served <- m.Server.Serve(m.publicLn) }()
	go func() { m.served <- m.Server.ServeAdmin(m.adminLn) }()
	m.Log.Info("paycode listening", "env", cfg.Env, "public", m.publicLn.Addr().String(),
		"admin", m.adminLn.Addr().String(), "public_url", cfg.PublicURL.String(), "embedded_store", m.Store.Embedded())
	if generatedToken {
		m.Log.Warn("DEV ADMIN TOKEN: PAYCODE_ADMIN_TOKEN is not set, so this run made one; it is printed on the console, not logged")
	}
	announceAdmin(m.Console, cfg, m.AdminAddr(), generatedToken)
	return nil
}

// PublicAddr and AdminAddr are where the listeners are bound.
func (m *Main) PublicAddr() string { return m.publicLn.Addr().String() }

// AdminAddr is where the admin listener is bound.
func (m *Main) AdminAddr() string { return m.adminLn.Addr().String() }

// Close drains in-flight requests (up to the shutdown timeout), then closes
// the store. It is safe to call after a failed Run.
func (m *Main) Close() error {
	var errs []error
	if m.Server != nil && m.listening {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
		defer cancel()
		errs = append(errs, m.Server.Shutdown(ctx))
		for range 2 {
			if err := <-m.served; err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
	} else {
		for _, ln := range []net.Listener{m.publicLn, m.adminLn} {
			if ln != nil {
				ln.Close()
			}
		}
	}
	if m.Tracer != nil {
		// Spans still in the batch are sent (bounded: the exporter's own
		// timeout).
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := m.Tracer.Shutdown(ctx); err != nil {
			m.Log.Warn("flushing trace spans", "error", err.Error())
		}
	}
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
	}
	return errors.Join(errs...)
}

// reportStartError says why the server did not start. A configuration
// error lists every problem at once, one per line: on a terminal as plain
// lines a person reads, otherwise (a container's log) as one JSON line
// whose "problems" member lists them, never one string with newlines in it.
func reportStartError(w io.Writer, tty bool, log *slog.Logger, err error) {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if tty {
		fmt.Fprintln(w, "paycode did not start: "+lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintln(w, "  "+l)
		}
		return
	}
	if len(lines) == 1 {
		log.Error("paycode did not start", "error", lines[0])
		return
	}
	log.Error("paycode did not start", "error", strings.TrimSuffix(lines[0], ":"), "problems", lines[1:])
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// healthcheck asks the local admin listener for /healthz; distroless images
// have no curl, so the binary checks itself.
func healthcheck() int {
	addr := os.Getenv("PAYCODE_ADMIN_ADDR")
	if addr == "" {
		addr = "127.0.0.1:9090"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck: PAYCODE_ADMIN_ADDR is not host:port")
		return 1
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck: status", resp.StatusCode)
		return 1
	}
	return 0
}

// checkReplication refuses, in production, a topology with replicas when
// nobody decided whether money movements wait for them: without WAIT, a
// failover to a lagging replica loses payments that were answered 201.
func checkReplication(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger) error {
	if cfg.RedisWaitReplicas > 0 {
		// Asked to wait for more replicas than there are: every money
		// movement would answer 503 unconfirmed. Say so at start (Redis
		// may be catching up, so it is not fatal).
		if n, err := st.Replicas(ctx); err == nil && n < cfg.RedisWaitReplicas {
			log.Warn("PAYCODE_REDIS_WAIT_REPLICAS exceeds the replicas Redis has now: every payment answers 503 unconfirmed until enough are connected",
				"wait_replicas", cfg.RedisWaitReplicas, "replicas", n)
		}
		return nil
	}
	if cfg.Env != config.Production || cfg.RedisWaitReplicasSet {
		return nil
	}
	n, err := st.Replicas(ctx)
	if err != nil {
		return fmt.Errorf("PAYCODE_REDIS_WAIT_REPLICAS: cannot read the replication state: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("PAYCODE_REDIS_WAIT_REPLICAS: Redis has %d replica(s) per master; set how many must hold a payment before 201 (1 is usual), or 0 on purpose to accept losing acknowledged payments in a failover", n)
	}
	log.Warn("Redis has no replicas: an acknowledged payment survives a crash only through the AOF (README \"Durability\")")
	return nil
}
