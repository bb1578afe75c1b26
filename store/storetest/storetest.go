// Package storetest opens the stores that tests run against: the embedded
// store always, and real Redis and a real Redis Cluster when the environment
// names them.
//
//	PAYCODE_TEST_REDIS           redis:// URL of a single node, e.g. redis://127.0.0.1:6379/0
//	PAYCODE_TEST_REDIS_CLUSTER   comma-separated Cluster seeds, e.g. 127.0.0.1:7000,127.0.0.1:7001
//	PAYCODE_TEST_REQUIRE_REDIS   when set (or CI is set), a missing variable fails the test instead of skipping it
//
// Every store a test opens has its own random key prefix, and its keys are
// deleted when the test ends, so packages can run in parallel against one
// Redis without flushing it.
package storetest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paycode/paycode/store"
)

// Backend is one kind of store a suite runs against.
type Backend struct {
	Name string
	// Cluster is true for the Redis Cluster backend.
	Cluster bool
	// Open returns a fresh store with its own key prefix, closed and cleaned
	// when the test ends. It skips (locally) or fails (in CI) the test when
	// the backend is not configured.
	Open func(t testing.TB) *store.Store
}

// testTimeout is the Redis command deadline of test stores.
const testTimeout = 3 * time.Second

// Required reports whether a missing Redis must fail the tests (CI).
func Required() bool {
	return os.Getenv("PAYCODE_TEST_REQUIRE_REDIS") != "" || os.Getenv("CI") != ""
}

// Backends returns the embedded store, real Redis and real Redis Cluster.
func Backends() []Backend {
	return []Backend{
		{Name: "embedded", Open: func(t testing.TB) *store.Store { return open(t, store.Options{Embedded: true}) }},
		{Name: "redis", Open: func(t testing.TB) *store.Store {
			return open(t, store.Options{URL: fromEnv(t, "PAYCODE_TEST_REDIS")})
		}},
		{Name: "cluster", Cluster: true, Open: func(t testing.TB) *store.Store {
			return open(t, store.Options{Addrs: strings.Split(fromEnv(t, "PAYCODE_TEST_REDIS_CLUSTER"), ",")})
		}},
	}
}

// Open returns the best store this environment offers for a test that needs
// one store: real Redis when PAYCODE_TEST_REDIS is set, else (outside CI)
// the embedded store.
func Open(t testing.TB) *store.Store {
	t.Helper()
	if url := os.Getenv("PAYCODE_TEST_REDIS"); url != "" {
		return open(t, store.Options{URL: url})
	}
	if Required() {
		t.Fatal("PAYCODE_TEST_REDIS is not set, and CI requires real Redis")
	}
	return open(t, store.Options{Embedded: true})
}

func fromEnv(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if Required() {
			t.Fatalf("%s is not set, and this run requires real Redis", name)
		}
		t.Skipf("%s is not set; set it to run this test against real Redis", name)
	}
	return v
}

func open(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	id, err := store.RandomID()
	if err != nil {
		t.Fatal(err)
	}
	opts.Prefix = "test:" + id[:10] + ":"
	if opts.Timeout == 0 {
		// Tests run with -race on two shared cores, where a goroutine can
		// wait longer than the production deadline for its turn; a test
		// that is about deadlines sets its own.
		opts.Timeout = testTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := DeletePrefix(ctx, s.Client(), opts.Prefix); err != nil {
			t.Errorf("cleaning test keys: %v", err)
		}
		s.Close()
	})
	return s
}

// DeletePrefix deletes every key that begins with prefix, on every master of
// a Cluster.
func DeletePrefix(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	del := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, del)
	}
	if c, ok := rdb.(*redis.Client); ok {
		return del(ctx, c)
	}
	return nil
}

// OpenRedis opens a store on the real Redis of PAYCODE_TEST_REDIS with
// options adjusted by set (for tests of settings the embedded store does
// not have, such as WAIT). It skips locally and fails in CI without one.
func OpenRedis(t testing.TB, set func(*store.Options)) *store.Store {
	t.Helper()
	opts := store.Options{URL: fromEnv(t, "PAYCODE_TEST_REDIS")}
	set(&opts)
	return open(t, opts)
}
