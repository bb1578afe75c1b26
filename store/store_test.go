package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// TestConformance runs the same suite on the embedded store, real Redis and
// real Redis Cluster: the embedded default must behave like production.
func TestConformance(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := context.Background()

			t.Run("check round trip", func(t *testing.T) {
				if err := s.Check(ctx); err != nil {
					t.Fatalf("Check: %v", err)
				}
			})

			t.Run("put take once", func(t *testing.T) {
				key := s.Keys().Ephemeral(42, "test", "once")
				ok, err := s.Put(ctx, key, []byte("v1"), time.Minute)
				if err != nil || !ok {
					t.Fatalf("first Put = %v, %v; want true, nil", ok, err)
				}
				ok, err = s.Put(ctx, key, []byte("v2"), time.Minute)
				if err != nil || ok {
					t.Fatalf("second Put = %v, %v; want false, nil (no overwrite)", ok, err)
				}
				ttl, err := s.Client().PTTL(ctx, key).Result()
				if err != nil || ttl <= 0 || ttl > time.Minute {
					t.Fatalf("PTTL = %v, %v; want a TTL within a minute", ttl, err)
				}
				v, err := s.Take(ctx, key)
				if err != nil || string(v) != "v1" {
					t.Fatalf("Take = %q, %v; want v1", v, err)
				}
				if _, err := s.Take(ctx, key); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("second Take error = %v; want ErrNotFound", err)
				}
			})

			t.Run("put refuses no TTL", func(t *testing.T) {
				if _, err := s.Put(ctx, s.Keys().Ephemeral(1, "test", "forever"), []byte("x"), 0); err == nil {
					t.Fatal("Put with TTL 0 succeeded; single-use values must expire")
				}
			})

			// Attack: two requests finishing the same ceremony at once. Of many
			// concurrent Takes of one value exactly one may win.
			t.Run("concurrent take has one winner", func(t *testing.T) {
				key := s.Keys().Ephemeral(7, "test", "race")
				if ok, err := s.Put(ctx, key, []byte("prize"), time.Minute); err != nil || !ok {
					t.Fatalf("Put = %v, %v", ok, err)
				}
				var wins, misses atomic.Int32
				var wg sync.WaitGroup
				for range 50 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, err := s.Take(ctx, key)
						switch {
						case err == nil:
							wins.Add(1)
						case errors.Is(err, store.ErrNotFound):
							misses.Add(1)
						default:
							t.Errorf("Take: %v", err)
						}
					}()
				}
				wg.Wait()
				if wins.Load() != 1 || misses.Load() != 49 {
					t.Fatalf("wins=%d misses=%d; want 1 and 49", wins.Load(), misses.Load())
				}
			})

			t.Run("expired value is gone", func(t *testing.T) {
				key := s.Keys().Ephemeral(9, "test", "short")
				if ok, err := s.Put(ctx, key, []byte("x"), 50*time.Millisecond); err != nil || !ok {
					t.Fatalf("Put = %v, %v", ok, err)
				}
				// Wait for expiry by polling Redis itself, not by sleeping a
				// fixed time: the assertion is that the key does go away.
				deadline := time.Now().Add(5 * time.Second)
				for {
					n, err := s.Client().Exists(ctx, key).Result()
					if err != nil {
						t.Fatal(err)
					}
					if n == 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("a value with a 50 ms TTL still exists after 5 s")
					}
					time.Sleep(10 * time.Millisecond)
				}
				if _, err := s.Take(ctx, key); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("Take after expiry error = %v; want ErrNotFound", err)
				}
			})

			if b.Cluster {
				// Every key of one account must hash to one slot, or a
				// redemption could not be one atomic script in a Cluster.
				t.Run("account keys share a slot", func(t *testing.T) {
					id, bucket, err := store.NewAccountID()
					if err != nil {
						t.Fatal(err)
					}
					k := s.Keys()
					keys := []string{
						k.Ephemeral(bucket, "challenge", "a"),
						k.Ephemeral(bucket, "otp", "zzzzzzzz"),
					}
					want, err := s.Client().ClusterKeySlot(ctx, keys[0]).Result()
					if err != nil {
						t.Fatal(err)
					}
					for _, key := range keys[1:] {
						got, err := s.Client().ClusterKeySlot(ctx, key).Result()
						if err != nil || got != want {
							t.Errorf("CLUSTER KEYSLOT %q = %d, %v; want %d like the account's other keys (%s)", key, got, err, want, id)
						}
					}
				})
			}
		})
	}
}

func TestAccountID(t *testing.T) {
	seen := map[store.Bucket]bool{}
	for range 200 {
		id, b, err := store.NewAccountID()
		if err != nil {
			t.Fatal(err)
		}
		got, err := store.BucketOf(id)
		if err != nil || got != b {
			t.Fatalf("BucketOf(%q) = %v, %v; want %v", id, got, err, b)
		}
		seen[b] = true
	}
	if len(seen) < 150 {
		t.Errorf("200 account ids fell into %d buckets; buckets are not random", len(seen))
	}
	for _, bad := range []string{"", "acct_", "acct_12", "acct_abcdaaaaaaaaaaaaaaaaaaaaaaaa", "acct_-001aaaaaaaaaaaaaaaaaaaaaaaa",
		"acct_0001AAAAAAAAAAAAAAAAAAAAAAAA", "user_0001aaaaaaaaaaaaaaaaaaaaaaaa", "acct_0001aaaaaaaaaaaaaaaaaaaaaaa"} {
		if _, err := store.BucketOf(bad); !errors.Is(err, store.ErrBadID) {
			t.Errorf("BucketOf(%q) error = %v; want ErrBadID", bad, err)
		}
	}
}

func TestBucketTag(t *testing.T) {
	for _, tc := range []struct {
		b    store.Bucket
		want string
	}{{0, "{b0000}"}, {42, "{b0042}"}, {9999, "{b9999}"}} {
		if got := tc.b.Tag(); got != tc.want {
			t.Errorf("Bucket(%d).Tag() = %q; want %q", tc.b, got, tc.want)
		}
	}
}

// A store that cannot reach Redis fails with ErrUnavailable, never silently
// falls back to the embedded store.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := store.Open(ctx, store.Options{URL: "redis://127.0.0.1:1/0", Embedded: true})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open(unreachable) error = %v; want ErrUnavailable", err)
	}
}
