package faulttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/paycode/paycode/internal/faultproxy"
	"github.com/paycode/paycode/internal/moneycheck"
	"github.com/paycode/paycode/internal/redistest"
	"github.com/paycode/paycode/store"
)

// run is one fault test: paycode on Redis, the workload set up (and, with
// sync, on every replica), load, the fault injected and healed by fault,
// load again until it recovered, then verification and the checker. It
// prints the summary and fails the test when an invariant that no fault
// may break is broken; the caller asserts the rest.
type run struct {
	// redis is how paycode reaches Redis; direct how the checker does
	// (the same, unless a proxy is in between).
	redis, direct moneycheck.Redis
	env           map[string]string
	cfg           moneycheck.Config
	sync          func()
	fault         func(w *moneycheck.Workload)
	// recover, when set, runs after the fault healed: a test's own steps
	// to get the load going again.
	recover func(w *moneycheck.Workload)
}

func (r run) check(t *testing.T) *moneycheck.Report {
	t.Helper()
	start := time.Now()
	p := moneycheck.StartPaycode(t, r.redis, r.env)
	w := moneycheck.Setup(t, p, r.cfg)
	if r.sync != nil {
		r.sync()
	}
	w.Start()
	w.WaitProgress(t, time.Second, 0, 20, 30*time.Second)
	r.fault(w)
	if r.recover != nil {
		r.recover(w)
	}
	// The load recovers: new requests are answered 201 again.
	faults := w.History().Faults()
	healed := faults[len(faults)-1].End
	w.WaitProgress(t, 0, 0, 1, 45*time.Second)
	t.Logf("first 201 %v after the fault healed", time.Since(healed).Round(10*time.Millisecond))
	w.WaitProgress(t, 0, 0, 20, 45*time.Second)
	w.Stop()
	w.Verify()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := moneycheck.Check(ctx, w.History(), p.Inspect(t, r.direct))
	if err != nil {
		t.Fatalf("checking: %v", err)
	}
	t.Logf("%s (%v)", rep.Summary(), time.Since(start).Round(100*time.Millisecond))
	for _, f := range w.History().Faults() {
		t.Logf("fault %q: %v", f.Name, f.End.Sub(f.Start).Round(10*time.Millisecond))
	}
	t.Log(rep.AnswerTable())
	for _, d := range rep.Details {
		t.Log(d)
	}
	if rep.Internal > 0 {
		for _, l := range p.LogLines(`"status":500`, 3) {
			t.Logf("paycode logged: %s", l)
		}
	}
	if b := rep.Broken(); len(b) > 0 {
		t.Errorf("invariants broken: %v", b)
	}
	return rep
}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: starts Redis processes and runs a workload for seconds")
	}
}

// One Redis with AOF appendfsync always is SIGKILLed mid-load and
// restarted from its AOF: a process crash loses nothing acknowledged,
// moves nothing twice, and no key is answered with two ids.
func TestCrashWithAOFAlways(t *testing.T) {
	skipShort(t)
	node := redistest.StartNode(t, "redis", redistest.AOFAlways...)
	target := moneycheck.Redis{URL: "redis://" + node.Addr}
	rep := run{redis: target, direct: target, env: settings(0), fault: func(w *moneycheck.Workload) {
		w.FaultBegin("SIGKILL, down, restarted from the AOF")
		node.Kill()
		// Down long enough for every terminal to be told so.
		w.WaitProgress(t, 0, 4, 0, 15*time.Second)
		node.Restart()
		w.FaultEnd()
	}}.check(t)
	if rep.Lost != 0 || rep.Doubled != 0 || rep.TwoIDs != 0 {
		t.Errorf("a crash with AOF always: lost=%d doubled=%d two_ids=%d; want 0", rep.Lost, rep.Doubled, rep.TwoIDs)
	}
	if rep.Wrong != 0 {
		t.Errorf("wrong answers: %d; want 0 (no idempotency lock outlives its request)", rep.Wrong)
	}
}

// failoverRows are the two settings of the failover tests: without WAIT an
// acknowledged movement can be lost with the master (the run prints how
// many: the README's figures); with PAYCODE_REDIS_WAIT_REPLICAS=1 it
// cannot.
var failoverRows = []struct {
	name         string
	waitReplicas int
}{{"wait=0", 0}, {"wait=1", 1}}

// assertFailover asserts what a failover with a lagging replica may and
// may not do to the money, for a run with waitReplicas.
func assertFailover(t *testing.T, rep *moneycheck.Report, waitReplicas int) {
	t.Helper()
	if rep.Doubled != 0 {
		t.Errorf("doubled=%d; no request may move money twice", rep.Doubled)
	}
	if waitReplicas == 0 {
		if rep.Lost > 0 || rep.TwoIDs > 0 {
			t.Logf("without WAIT the failover lost %d acknowledged requests (%d answered under two ids after a retry): "+
				"what PAYCODE_REDIS_WAIT_REPLICAS=0 accepts", rep.Lost, rep.TwoIDs)
		}
		return
	}
	if rep.Lost != 0 || rep.TwoIDs != 0 {
		t.Errorf("with WAIT %d: lost=%d two_ids=%d; want 0", waitReplicas, rep.Lost, rep.TwoIDs)
	}
	if rep.Wrong != 0 {
		t.Errorf("with WAIT %d: %d wrong answers (stale 409s: %d); want 0", waitReplicas, rep.Wrong, rep.StaleConflicts)
	}
}

// Sentinel (1 master, 1 replica, 3 sentinels): the replica is frozen
// (SIGSTOP) and its link cut (CLIENT KILL TYPE replica) 2 s before the
// master is SIGKILLed; the replica is resumed and promoted with what it
// had. Movements acknowledged in those 2 s are gone unless paycode waited
// for the replica.
func TestSentinelFailoverLaggingReplica(t *testing.T) {
	skipShort(t)
	for _, row := range failoverRows {
		t.Run(row.name, func(t *testing.T) {
			s := redistest.StartSentinel(t)
			target := moneycheck.Redis{Addrs: s.Addrs(), SentinelMaster: redistest.SentinelMaster}
			rep := run{redis: target, direct: target, env: settings(row.waitReplicas),
				sync: func() { s.WaitInSync(10 * time.Second) },
				fault: func(w *moneycheck.Workload) {
					w.FaultBegin("replica frozen and cut off 2 s, master killed, failover")
					s.Replica.Pause()
					s.Master.KillReplicaLinks()
					w.WaitProgress(t, 2*time.Second, 10, 0, 20*time.Second)
					s.Master.Kill()
					s.Replica.Resume()
					s.WaitFailover(s.Master, 30*time.Second)
					w.FaultEnd()
				},
				recover: func(w *moneycheck.Workload) {
					if row.waitReplicas == 0 {
						return
					}
					// The promoted replica has no replica of its own: with
					// WAIT 1 nothing can be acknowledged (every answer is
					// 503 unconfirmed) until a supervisor brings the old
					// master back, which Sentinel turns into its replica.
					assertNothingAcknowledged(t, w, 2*time.Second)
					s.Master.Restart()
					t.Logf("restarted the old master; Sentinel makes it a replica")
				}}.check(t)
			assertFailover(t, rep, row.waitReplicas)
		})
	}
}

// The same on a Cluster of 3 masters and 3 replicas: every customer's
// bucket is on the master that is killed.
func TestClusterFailoverLaggingReplica(t *testing.T) {
	skipShort(t)
	for _, row := range failoverRows {
		t.Run(row.name, func(t *testing.T) {
			c := redistest.StartCluster(t)
			first, _ := store.RandomBucket()
			slot := c.KeySlot(first.Tag())
			victim := c.Owner(slot)
			replicas := c.Replicas(victim)
			if len(replicas) != 1 {
				t.Fatalf("%s has %d replicas; want 1", victim.Name, len(replicas))
			}
			buckets := []store.Bucket{first}
			for b := first + 1; len(buckets) < 4; b = (b + 1) % store.Buckets {
				if c.Owner(c.KeySlot(b.Tag())) == victim {
					buckets = append(buckets, b)
				}
			}
			target := moneycheck.Redis{Addrs: c.Seeds()}
			rep := run{redis: target, direct: target, env: settings(row.waitReplicas),
				cfg:  moneycheck.Config{Buckets: buckets},
				sync: func() { c.WaitInSync(10 * time.Second) },
				fault: func(w *moneycheck.Workload) {
					w.FaultBegin(fmt.Sprintf("replica of %s frozen and cut off 2 s, %s killed, failover", victim.Name, victim.Name))
					replicas[0].Pause()
					victim.KillReplicaLinks()
					w.WaitProgress(t, 2*time.Second, 10, 0, 20*time.Second)
					victim.Kill()
					replicas[0].Resume()
					for _, b := range buckets {
						c.WaitOwnerChange(c.KeySlot(b.Tag()), victim, 30*time.Second)
					}
					w.FaultEnd()
				},
				recover: func(w *moneycheck.Workload) {
					if row.waitReplicas > 0 {
						// As with Sentinel: no replica is left to confirm
						// on until the old master rejoins as one. (Whether
						// paycode follows the new master by itself is the
						// wait=0 row's check.)
						assertNothingAcknowledged(t, w, 2*time.Second)
						victim.Restart()
						t.Logf("restarted %s as a replica", victim.Name)
						return
					}
					d, err := w.TryProgress(0, 0, 1, followBound)
					if err == nil {
						t.Logf("paycode served the failed-over slots %v after the failover", d.Round(10*time.Millisecond))
						return
					}
					t.Errorf("paycode must serve the new master within %v of a Cluster failover while %s stays dead: %v",
						followBound, victim.Name, err)
				}}.check(t)
			assertFailover(t, rep, row.waitReplicas)
		})
	}
}

// assertNothingAcknowledged checks that, for d after a failover that left
// no replica to WAIT on, no movement is answered 201: paycode refuses to
// acknowledge what a second failure could lose.
func assertNothingAcknowledged(t *testing.T, w *moneycheck.Workload, d time.Duration) {
	t.Helper()
	if _, err := w.TryProgress(0, 0, 1, d); err == nil {
		t.Errorf("a movement was acknowledged with WAIT 1 while no replica could hold it")
	}
}

// followBound is how soon paycode must serve a Cluster's failed-over slots
// while their old master stays dead. go-redis v9.23's ClusterClient reloads
// its slot map on MOVED, READONLY, or every ClusterStateReloadInterval
// (default 60 s): a dead master's connection errors trigger nothing.
const followBound = 10 * time.Second

// proxied is a run whose paycode reaches one Redis (AOF always) through
// the fault proxy.
func proxied(t *testing.T, fault func(px *faultproxy.Proxy, w *moneycheck.Workload)) *moneycheck.Report {
	t.Helper()
	node := redistest.StartNode(t, "redis", redistest.AOFAlways...)
	px, err := faultproxy.Listen(node.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	rep := run{redis: moneycheck.Redis{URL: "redis://" + px.Addr()}, direct: moneycheck.Redis{URL: "redis://" + node.Addr},
		env: settings(0), cfg: moneycheck.Config{RequestDeadline: 12 * time.Second},
		fault: func(w *moneycheck.Workload) { fault(px, w) }}.check(t)
	assertPrompt(t, rep)
	return rep
}

// assertPrompt logs how attempts made during the fault were answered, and
// with the deadline fix asserts that each was answered 503 with
// Retry-After (or 201) within about a second.
func assertPrompt(t *testing.T, rep *moneycheck.Report) {
	t.Helper()
	var slowest time.Duration
	counts := map[string]int{}
	var bad []string
	for _, a := range rep.FaultAttempts {
		slowest = max(slowest, a.Elapsed)
		counts[a.Answer()]++
		switch {
		case a.Status == 0 || a.Elapsed > promptAnswerMillis*time.Millisecond:
			bad = append(bad, fmt.Sprintf("%s after %v", a.Answer(), a.Elapsed.Round(10*time.Millisecond)))
		case a.Status == 201, a.Status == 503 && a.RetryAfter != "":
		default:
			bad = append(bad, a.Answer())
		}
	}
	t.Logf("during the fault: %d attempts, slowest %v, answers %v", len(rep.FaultAttempts), slowest.Round(10*time.Millisecond), counts)
	if len(rep.FaultAttempts) == 0 {
		t.Error("no attempt was under way during the fault")
	}
	if len(bad) > 0 {
		t.Errorf("with PAYCODE_REDIS_TIMEOUT=%s, %d attempts during the fault were not answered 503 with Retry-After within %dms: %v",
			redisTimeout, len(bad), promptAnswerMillis, bad[:min(len(bad), 10)])
	}
	if rep.Wrong != 0 {
		t.Errorf("wrong=%d; want 0", rep.Wrong)
	}
}

// faultSpell is how long replies are delayed or withheld: longer than one
// attempt of the workload (8 s), so that attempts begin, and end, while
// the fault lasts.
const faultSpell = 9 * time.Second

// Every Redis reply arrives 4 s late (the commands run at once): callers
// must not wait for it.
func TestRedisRepliesDelayed(t *testing.T) {
	skipShort(t)
	rep := proxied(t, func(px *faultproxy.Proxy, w *moneycheck.Workload) {
		w.FaultBegin("Redis replies delayed 4 s")
		px.Delay(4 * time.Second)
		w.WaitProgress(t, faultSpell, 0, 0, 2*faultSpell)
		px.PassThrough()
		w.FaultEnd()
	})
	if rep.Lost != 0 || rep.Doubled != 0 || rep.TwoIDs != 0 {
		t.Errorf("delayed replies: lost=%d doubled=%d two_ids=%d; want 0", rep.Lost, rep.Doubled, rep.TwoIDs)
	}
}

// Redis replies are withheld (the commands run, no answer comes back):
// callers must not wait for them.
func TestRedisRepliesWithheld(t *testing.T) {
	skipShort(t)
	rep := proxied(t, func(px *faultproxy.Proxy, w *moneycheck.Workload) {
		w.FaultBegin("Redis replies withheld")
		px.Withhold()
		w.WaitProgress(t, faultSpell, 0, 0, 2*faultSpell)
		px.PassThrough()
		w.FaultEnd()
	})
	if rep.Lost != 0 || rep.Doubled != 0 || rep.TwoIDs != 0 {
		t.Errorf("withheld replies: lost=%d doubled=%d two_ids=%d; want 0", rep.Lost, rep.Doubled, rep.TwoIDs)
	}
}
