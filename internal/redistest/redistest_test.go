package redistest_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paycode/paycode/internal/redistest"
)

// A node with AOF always keeps, across SIGKILL and Restart, every write it
// acknowledged; a paused node answers nothing until it is resumed.
func TestNodeKillRestartPause(t *testing.T) {
	n := redistest.StartNode(t, "aof", redistest.AOFAlways...)
	ctx := context.Background()
	c := n.Client()
	for _, p := range []int{6379, 7000, 7001, 7002} {
		if n.Port == p {
			t.Fatalf("node got the shared port %d", p)
		}
	}
	if n.Port+10000 >= 55000 {
		t.Fatalf("port %d: its bus port would be above 55000", n.Port)
	}
	if err := c.Set(ctx, "k", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	n.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("a killed node answered PING")
	}
	n.Restart()
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v1" {
		t.Fatalf("after restart k = %q, %v; want v1 from the AOF", v, err)
	}

	n.Pause()
	err := c.Ping(ctx).Err()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("PING to a paused node = %v; want a timeout", err)
	}
	n.Resume()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after resume: %v", err)
	}
}

// A sentinel group fails over to the replica when the master dies, and a
// FailoverClient follows it; what was in sync before survives.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five processes and waits for a failover")
	}
	s := redistest.StartSentinel(t)
	ctx := context.Background()
	fc := redis.NewFailoverClient(s.FailoverOptions())
	defer fc.Close()
	if err := fc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.WaitInSync(5 * time.Second)
	old := s.CurrentMaster()
	if old != s.Master {
		t.Fatalf("current master %s; want %s", old.Name, s.Master.Name)
	}
	start := time.Now()
	old.Kill()
	m := s.WaitFailover(old, 20*time.Second)
	t.Logf("failover to %s in %v", m.Name, time.Since(start).Round(10*time.Millisecond))
	if m != s.Replica {
		t.Fatalf("new master %s; want the replica", m.Name)
	}
	if v, err := m.Client().Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("on the new master k = %q, %v", v, err)
	}
}

// A cluster fails a slot over to the replica of its dead master.
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six processes and waits for a failover")
	}
	c := redistest.StartCluster(t)
	ctx := context.Background()
	cc := redis.NewClusterClient(c.ClusterOptions())
	defer cc.Close()
	const key = "{b0042}k"
	if err := cc.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c.WaitInSync(5 * time.Second)
	slot := c.KeySlot(key)
	old := c.Owner(slot)
	replicas := c.Replicas(old)
	if len(replicas) != 1 {
		t.Fatalf("%s has %d replicas; want 1", old.Name, len(replicas))
	}
	start := time.Now()
	old.Kill()
	m := c.WaitOwnerChange(slot, old, 20*time.Second)
	t.Logf("slot %d failed over from %s to %s in %v", slot, old.Name, m.Name, time.Since(start).Round(10*time.Millisecond))
	if m != replicas[0] {
		t.Fatalf("new owner %s; want %s", m.Name, replicas[0].Name)
	}
	if v, err := m.Client().Get(ctx, key).Result(); err != nil || v != "v" {
		t.Fatalf("on the new master %s = %q, %v", key, v, err)
	}
}
