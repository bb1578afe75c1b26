package store_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paycode/paycode/internal/redistest"
	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

var setScript = redis.NewScript(`redis.call('SET', KEYS[1], ARGV[1], 'PX', 60000) return 'done'`)

// A movement that fewer replicas hold than configured is never reported
// as done: on a node without replicas, WAIT 1 falls short and the caller
// gets ErrUnconfirmed (a 503 to the client), although the write happened.
// Without this, a failover to a replica that missed the write loses a
// payment the terminal was told is approved.
func TestEvalDurableUnconfirmedWithoutReplicas(t *testing.T) {
	s := storetest.OpenRedis(t, func(o *store.Options) {
		o.WaitReplicas = 1
		o.WaitTimeout = 50 * time.Millisecond
	})
	ctx := context.Background()
	key := s.Keys().Health("durable-wait")
	res, err := s.EvalDurable(ctx, setScript, []string{key}, "v1")
	if !errors.Is(err, store.ErrUnconfirmed) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("EvalDurable with WAIT 1 and no replica: err = %v, want ErrUnconfirmed (and ErrUnavailable)", err)
	}
	if res != "done" {
		t.Errorf("the script's reply = %v, want it even when unconfirmed", res)
	}
	if got, err := s.Client().Get(ctx, key).Result(); err != nil || got != "v1" {
		t.Errorf("the write: %q %v; the script must have run once", got, err)
	}
}

// The script is evaluated even when Redis does not have it cached: NOSCRIPT
// falls back to EVAL on the same pinned connection. (A private server: a
// SCRIPT FLUSH on the shared one would change other tests' round trips.)
func TestEvalDurableNoScript(t *testing.T) {
	srv := storetest.StartServer(t)
	if !srv.Real {
		t.Skip("needs a real redis-server (WAIT)")
	}
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{URL: srv.URL, Prefix: "noscript:", WaitReplicas: 1, WaitTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := s.Keys().Health("durable-noscript")
	if err := s.Client().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EvalDurable(ctx, setScript, []string{key}, "v2"); !errors.Is(err, store.ErrUnconfirmed) {
		t.Fatalf("after SCRIPT FLUSH: %v; want the script run and ErrUnconfirmed (no replica)", err)
	}
	if got, _ := s.Client().Get(ctx, key).Result(); got != "v2" {
		t.Errorf("after SCRIPT FLUSH the write is %q, want v2", got)
	}
}

func TestEvalDurableWithoutWait(t *testing.T) {
	s := storetest.Open(t)
	res, err := s.EvalDurable(context.Background(), setScript, []string{s.Keys().Health("durable-nowait")}, "v")
	if err != nil || res != "done" {
		t.Fatalf("EvalDurable without WAIT = %v, %v", res, err)
	}
}

// A claim that go-redis resends after a lost reply finds its own write and
// reports success; a different value is refused. Without it a retried DPoP
// proof was answered 401 invalid_dpop_proof as a replay of itself.
func TestPutRecognisesItsOwnWrite(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx := context.Background()
			key := s.Keys().Health("claim")
			for i, want := range []bool{true, true} {
				if ok, err := s.Put(ctx, key, []byte("mine"), time.Minute); err != nil || ok != want {
					t.Fatalf("Put #%d of the same value = %v, %v; want %v", i+1, ok, err, want)
				}
			}
			if ok, err := s.Put(ctx, key, []byte("theirs"), time.Minute); err != nil || ok {
				t.Fatalf("Put of another value = %v, %v; want false", ok, err)
			}
			// Two proofs with the same jti are still a replay.
			if fresh, err := s.ClaimJTI(ctx, "jkt", "jti-1", time.Minute); err != nil || !fresh {
				t.Fatalf("first claim = %v, %v", fresh, err)
			}
			if fresh, err := s.ClaimJTI(ctx, "jkt", "jti-1", time.Minute); err != nil || fresh {
				t.Fatalf("second claim of the same jti = %v, %v; want a replay", fresh, err)
			}
		})
	}
}

// BenchmarkEvalDurable measures what WAIT costs a money movement: the same
// one-write script on a master with one live replica, without WAIT and
// with WAIT 1 (script and WAIT pipelined on one pinned connection), in the
// same run. Report the ratio: `go test -run '^$' -bench EvalDurable ./store`.
func BenchmarkEvalDurable(b *testing.B) {
	master := redistest.StartNode(b, "master")
	replica := redistest.StartNode(b, "replica", "replicaof 127.0.0.1 "+strconv.Itoa(master.Port))
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := master.Info("replication")
		if err == nil && info["connected_slaves"] == "1" && strings.Contains(info["slave0"], "state=online") {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("replica %s did not come online: %v %v", replica.Addr, info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, wait := range []int{0, 1} {
		b.Run("wait="+strconv.Itoa(wait), func(b *testing.B) {
			s, err := store.Open(ctx, store.Options{URL: "redis://" + master.Addr, Prefix: "bench:", WaitReplicas: wait})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			key := s.Keys().Health("durable-bench")
			b.ResetTimer()
			for range b.N {
				if _, err := s.EvalDurable(ctx, setScript, []string{key}, "v"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A queued warning is confirmed like a payment (issue 13): the contact
// change or recovery it warns of commits right after Notify returns, so
// with PAYCODE_REDIS_WAIT_REPLICAS set, a warning only the master holds
// must not count as sent. Without the WAIT, a failover to a replica that
// missed the XADD loses the warning and keeps the change. On a node
// without replicas, WAIT 1 falls short: Notify fails (the caller changes
// nothing) with ErrUnconfirmed.
func TestNotifyUnconfirmedWithoutReplicas(t *testing.T) {
	s := storetest.OpenRedis(t, func(o *store.Options) {
		o.WaitReplicas = 1
		o.WaitTimeout = 50 * time.Millisecond
	})
	q, err := s.NotifyQueue([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	err = q.Notify(context.Background(), notify.Message{ID: "msg_wait", Type: notify.TypeSecurity, To: "a@example.com", Text: "warning"})
	if !errors.Is(err, store.ErrUnconfirmed) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Notify with WAIT 1 and no replica: err = %v, want ErrUnconfirmed (and ErrUnavailable)", err)
	}
}

// With a live replica, Notify returns only once the replica holds the
// message: read from the replica right after, it is there.
func TestNotifyOnReplica(t *testing.T) {
	master := redistest.StartNode(t, "master")
	replica := redistest.StartNode(t, "replica", "replicaof 127.0.0.1 "+strconv.Itoa(master.Port))
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := master.Info("replication")
		if err == nil && info["connected_slaves"] == "1" && strings.Contains(info["slave0"], "state=online") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s did not come online: %v %v", replica.Addr, info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s, err := store.Open(ctx, store.Options{URL: "redis://" + master.Addr, Prefix: "nq:", WaitReplicas: 1, WaitTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q, err := s.NotifyQueue([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr})
	defer rc.Close()
	for i := range 3 {
		if err := q.Notify(ctx, notify.Message{ID: "msg_" + strconv.Itoa(i), Type: notify.TypeSecurity, To: "a@example.com", Text: "warning"}); err != nil {
			t.Fatalf("Notify #%d with a live replica: %v", i+1, err)
		}
		if n, err := rc.XLen(ctx, s.Keys().NotifyQueue()).Result(); err != nil || n != int64(i+1) {
			t.Fatalf("the replica holds %d queued messages (%v) after Notify #%d returned; want %d", n, err, i+1, i+1)
		}
	}
}
