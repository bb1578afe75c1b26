package store

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Errors callers compare with errors.Is.
var (
	// ErrNotFound means the key does not exist (or has expired, or was taken).
	ErrNotFound = errors.New("not found")
	// ErrUnavailable means Redis could not be reached or could not serve the
	// command; the operation did not happen and may be retried.
	ErrUnavailable = errors.New("store unavailable")
)

// Options says which Redis to use. Set URL (one node), or Addrs (Cluster
// seeds, or Sentinels when SentinelMaster is set), or Embedded.
type Options struct {
	URL            string
	Addrs          []string
	SentinelMaster string
	Username       string
	Password       string
	TLS            bool
	// Prefix begins every key name; it must not contain braces.
	Prefix string
	// Embedded starts an in-process miniredis when no address is set. It is a
	// development default, never a fallback after a failed connection.
	Embedded bool
	// Logger receives the start-up announcement of the embedded store.
	Logger *slog.Logger
	// Timeout bounds every Redis command: dialling, writing and reading
	// (default DefaultTimeout); waiting for a pooled connection may take
	// twice as long (a burst queues for the pool; that is load, not an
	// outage). A command is retried at most once (on a network error), so
	// a Redis that is down, paused or withholding replies costs a caller
	// about two timeouts before ErrUnavailable, never a hang.
	Timeout time.Duration
	// WaitReplicas is how many replicas must hold a money movement before
	// it is reported done (WAIT on the connection that ran the movement);
	// 0 does not wait. WaitTimeout bounds that WAIT (default
	// DefaultWaitTimeout).
	WaitReplicas int
	WaitTimeout  time.Duration
}

// Defaults of Options.
const (
	DefaultTimeout     = 500 * time.Millisecond
	DefaultWaitTimeout = 250 * time.Millisecond
)

// timeouts fills the go-redis options every topology shares.
type timeouts struct {
	dial, read, write, pool time.Duration
	retries                 int
	minBackoff, maxBackoff  time.Duration
}

func (o Options) timeouts() timeouts {
	t := o.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	read := t
	if o.WaitReplicas > 0 {
		// WAIT blocks for up to WaitTimeout before it answers.
		read += o.waitTimeout()
	}
	return timeouts{dial: t, read: read, write: t, pool: 2 * t, retries: 1,
		minBackoff: 4 * time.Millisecond, maxBackoff: 32 * time.Millisecond}
}

func (o Options) waitTimeout() time.Duration {
	if o.WaitTimeout <= 0 {
		return DefaultWaitTimeout
	}
	return o.WaitTimeout
}

// Store is the Redis layer. It is safe for concurrent use and keeps no state
// of its own besides the connection pool.
type Store struct {
	rdb  redis.UniversalClient
	keys Keys
	// waitReplicas and waitTimeout: see Options.
	waitReplicas int
	waitTimeout  time.Duration

	embedded *miniredis.Miniredis
	stop     chan struct{}
	stopped  sync.WaitGroup
}

// Open connects to Redis as opts says, checks it with a write/read/delete
// round trip, and returns the Store. It returns ErrUnavailable (wrapped) when
// Redis cannot be reached.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("opening store: key prefix %q contains a brace", opts.Prefix)
	}
	s := &Store{keys: Keys{prefix: opts.Prefix}, waitReplicas: opts.WaitReplicas, waitTimeout: opts.waitTimeout()}
	if opts.WaitReplicas < 0 {
		return nil, errors.New("opening store: WaitReplicas must not be negative")
	}
	to := opts.timeouts()
	var tlsConfig *tls.Config
	if opts.TLS {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	switch {
	case opts.URL != "":
		o, err := redis.ParseURL(opts.URL)
		if err != nil {
			// The URL may hold a password: do not repeat it.
			return nil, errors.New("opening store: PAYCODE_REDIS_URL does not parse")
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout = to.dial, to.read, to.write, to.pool
		o.MaxRetries, o.MinRetryBackoff, o.MaxRetryBackoff = to.retries, to.minBackoff, to.maxBackoff
		o.MaintNotificationsConfig = noMaintNotifications()
		s.rdb = redis.NewClient(o)
	case len(opts.Addrs) > 0 && opts.SentinelMaster != "":
		s.rdb = redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:    opts.SentinelMaster,
			SentinelAddrs: opts.Addrs,
			Username:      opts.Username,
			Password:      opts.Password,
			TLSConfig:     tlsConfig,
			DialTimeout:   to.dial, ReadTimeout: to.read, WriteTimeout: to.write, PoolTimeout: to.pool,
			MaxRetries: to.retries, MinRetryBackoff: to.minBackoff, MaxRetryBackoff: to.maxBackoff,
		})
	case len(opts.Addrs) > 0:
		cc := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:       opts.Addrs,
			Username:    opts.Username,
			Password:    opts.Password,
			TLSConfig:   tlsConfig,
			DialTimeout: to.dial, ReadTimeout: to.read, WriteTimeout: to.write, PoolTimeout: to.pool,
			MaxRetries: to.retries, MinRetryBackoff: to.minBackoff, MaxRetryBackoff: to.maxBackoff,
			// A failover moves slots: follow MOVED/ASK a few times within
			// the same bounded budget.
			MaxRedirects:             3,
			MaintNotificationsConfig: noMaintNotifications(),
		})
		cc.AddHook(followFailover{cc})
		s.rdb = cc
	case opts.Embedded:
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("starting the embedded store: %w", err)
		}
		s.embedded = mr
		s.rdb = redis.NewClient(&redis.Options{Addr: mr.Addr(), DialTimeout: to.dial, ReadTimeout: to.read,
			WriteTimeout: to.write, PoolTimeout: to.pool, MaxRetries: to.retries,
			MaintNotificationsConfig: noMaintNotifications()})
		s.stop = make(chan struct{})
		s.stopped.Add(1)
		go s.runEmbeddedClock()
		if opts.Logger != nil {
			opts.Logger.Warn("EMBEDDED STORE: no PAYCODE_REDIS_URL or PAYCODE_REDIS_ADDRS is set, so all state lives in this process and is lost when it stops; for development only",
				"addr", mr.Addr())
		}
	default:
		return nil, errors.New("opening store: no Redis address configured")
	}
	if err := s.Check(ctx); err != nil {
		// A Redis that answers but refuses writes (a master short of its
		// min-replicas, a replica not yet promoted, a dataset loading) is a
		// state the deployment recovers from on its own: start, answer 503
		// meanwhile, and let /readyz say why. A Redis that cannot be
		// reached at all is a configuration error: fail fast.
		if pingErr := s.rdb.Ping(ctx).Err(); pingErr != nil || !Unavailable(err) {
			s.Close()
			return nil, fmt.Errorf("opening store: %w", err)
		}
		if opts.Logger != nil {
			opts.Logger.Warn("Redis answers but refuses writes; serving 503 until it accepts them (see /readyz)", "error", err.Error())
		}
	}
	return s, nil
}

// runEmbeddedClock advances miniredis's key expiry with the wall clock:
// miniredis only expires keys when told time has passed, and the embedded
// store must honour TTLs (challenges, OTPs, codes) like Redis does.
func (s *Store) runEmbeddedClock() {
	defer s.stopped.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.embedded.SetTime(now)
			s.embedded.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Close releases the connections and stops the embedded store, if any.
func (s *Store) Close() error {
	err := s.rdb.Close()
	if s.embedded != nil {
		close(s.stop)
		s.stopped.Wait()
		s.embedded.Close()
	}
	return err
}

// Keys returns the key builder for this store's prefix.
func (s *Store) Keys() Keys { return s.keys }

// Client returns the underlying client for features that add their own
// commands and scripts in this package's subpackages and tests.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Embedded reports whether this store is the in-process development store.
func (s *Store) Embedded() bool { return s.embedded != nil }

// Check writes, reads back and deletes a probe key. It returns ErrUnavailable
// (wrapped) when Redis does not answer, and an error when it answers wrongly.
func (s *Store) Check(ctx context.Context) error {
	id, err := RandomID()
	if err != nil {
		return err
	}
	key := s.keys.Health(id)
	if err := s.rdb.Set(ctx, key, id, 10*time.Second).Err(); err != nil {
		return wrap("writing the health probe", err)
	}
	got, err := s.rdb.Get(ctx, key).Result()
	if err != nil {
		return wrap("reading the health probe", err)
	}
	if got != id {
		return errors.New("reading the health probe: Redis returned another value")
	}
	if err := s.rdb.Del(ctx, key).Err(); err != nil {
		return wrap("deleting the health probe", err)
	}
	return nil
}

// Put stores value under key only if the key does not exist, with a TTL
// (which must be positive: nothing single-use lives forever). It reports
// whether the value was stored. A key that already holds exactly value
// counts as stored: go-redis resends a command whose reply was lost, and a
// claim must recognise its own earlier write rather than report it as
// someone else's (callers whose values could be equal make them unique,
// as ClaimJTI does).
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errors.New("storing a single-use value: TTL must be positive")
	}
	n, err := claimScript.Run(ctx, s.rdb, []string{key}, value, ttl.Milliseconds()).Int()
	if err != nil {
		return false, wrap("storing a single-use value", err)
	}
	return n == 1, nil
}

// claimScript is SET NX that also reports success when the key already
// holds the same value (the caller's own write, resent). A TTL of 0 claims
// for good.
var claimScript = redis.NewScript(`
local set
if ARGV[2] == '0' then set = redis.call('SET', KEYS[1], ARGV[1], 'NX')
else set = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) end
if set then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
`)

// Take atomically reads and deletes key (GETDEL): of any number of
// concurrent callers, at most one gets the value. It returns ErrNotFound
// when the key is missing, expired or already taken.
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	v, err := s.rdb.GetDel(ctx, key).Bytes()
	if err != nil {
		return nil, wrap("taking a single-use value", err)
	}
	return bytes.Clone(v), nil
}

// wrap adds what we were doing to a Redis error and classifies it:
// redis.Nil becomes ErrNotFound, failures to reach or use the server
// ErrUnavailable.
func wrap(doing string, err error) error {
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("%s: %w", doing, ErrNotFound)
	}
	if Unavailable(err) {
		return fmt.Errorf("%s: %w: %w", doing, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// Unavailable reports whether err means Redis could not serve the command
// (as opposed to refusing it, such as a script error).
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		for _, p := range []string{"LOADING", "CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "READONLY", "NOREPLICAS", "BUSY", "MOVED", "ASK"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	var nerr net.Error
	return errors.As(err, &nerr) ||
		errors.Is(err, redis.ErrClosed) ||
		errors.Is(err, redis.ErrPoolTimeout) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// SetLogger sends go-redis's own messages (dial failures, pool trouble) to
// l as JSON warnings instead of plain text on stderr. They never carry
// command arguments.
func SetLogger(l *slog.Logger) { redis.SetLogger(redisLogger{l}) }

type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

type backgroundKey struct{}

// Background marks ctx as a replica's background work (the outbox worker,
// cache refreshes), not a request's: tests that count a request's round
// trips leave such commands out.
func Background(ctx context.Context, task string) context.Context {
	return context.WithValue(ctx, backgroundKey{}, task)
}

// IsBackground reports whether ctx was marked by Background.
func IsBackground(ctx context.Context) bool {
	_, ok := ctx.Value(backgroundKey{}).(string)
	return ok
}

// noMaintNotifications turns off go-redis's maintenance notifications
// (a Redis 8 / managed-service feature paycode does not use). In its
// default "auto" mode a failed handshake (every Redis 7 and miniredis)
// makes the client rewrite its shared options while another connection
// reads them: a data race go test -race caught in go-redis v9.23.0 during
// a Cluster failover with pinned connections (store/durable.go). The
// Sentinel client has them off already.
func noMaintNotifications() *maintnotifications.Config {
	return &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}
