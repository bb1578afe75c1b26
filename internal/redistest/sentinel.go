package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the name the sentinels know the master by.
const SentinelMaster = "paycode"

// Sentinel is a master with one replica, watched by three sentinels
// (quorum 2, down-after-milliseconds 1000, failover-timeout 3000).
type Sentinel struct {
	// Master and Replica are the data nodes as started; after a failover
	// Replica is the master (see CurrentMaster).
	Master, Replica *Node
	Sentinels       []*Node

	t testing.TB
}

// StartSentinel starts the group and waits until every sentinel sees the
// master, the replica and the two other sentinels, and the replica holds
// everything the master has. conf is added to both data nodes' redis.conf.
func StartSentinel(t testing.TB, conf ...string) *Sentinel {
	t.Helper()
	Require(t, "redis-server")
	s := &Sentinel{t: t}
	s.Master = startNode(t, "master", false, 0, conf)
	s.Replica = startNode(t, "replica", false, 0, append(append([]string{}, conf...), "replicaof 127.0.0.1 "+strconv.Itoa(s.Master.Port)))

	const n = 3
	ports, ids := make([]int, n), make([]string, n)
	for i := range n {
		p, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		var b [20]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		ports[i], ids[i] = p, hex.EncodeToString(b[:])
	}
	for i := range n {
		lines := []string{
			"sentinel myid " + ids[i],
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2", SentinelMaster, s.Master.Port),
			"sentinel down-after-milliseconds " + SentinelMaster + " 1000",
			"sentinel failover-timeout " + SentinelMaster + " 3000",
			"sentinel parallel-syncs " + SentinelMaster + " 1",
			// Known from the start, so no sentinel waits for the 10-second
			// INFO or 2-second hello rounds to discover the others.
			fmt.Sprintf("sentinel known-replica %s 127.0.0.1 %d", SentinelMaster, s.Replica.Port),
		}
		for j := range n {
			if j != i {
				lines = append(lines, fmt.Sprintf("sentinel known-sentinel %s 127.0.0.1 %d %s", SentinelMaster, ports[j], ids[j]))
			}
		}
		s.Sentinels = append(s.Sentinels, startNode(t, "sentinel-"+strconv.Itoa(i+1), true, ports[i], lines))
	}

	waitFor(t, 20*time.Second, "sentinels ready", func() (bool, string) {
		for _, sn := range s.Sentinels {
			m, err := sentinelMap(sn, "MASTER", SentinelMaster)
			if err != nil {
				return false, sn.Name + ": " + err.Error()
			}
			if m["flags"] != "master" || m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return false, fmt.Sprintf("%s: flags=%s replicas=%s other sentinels=%s", sn.Name, m["flags"], m["num-slaves"], m["num-other-sentinels"])
			}
			rs, err := sentinelMaps(sn, "REPLICAS", SentinelMaster)
			if err != nil || len(rs) != 1 {
				return false, fmt.Sprintf("%s: replicas %v %v", sn.Name, rs, err)
			}
			if rs[0]["flags"] != "slave" || rs[0]["master-link-status"] != "ok" {
				return false, fmt.Sprintf("%s: replica flags=%s link=%s", sn.Name, rs[0]["flags"], rs[0]["master-link-status"])
			}
		}
		return true, ""
	})
	s.WaitInSync(10 * time.Second)
	return s
}

// Addrs are the sentinels' addresses.
func (s *Sentinel) Addrs() []string {
	out := make([]string, len(s.Sentinels))
	for i, n := range s.Sentinels {
		out[i] = n.Addr
	}
	return out
}

// FailoverOptions are the options of a go-redis FailoverClient of this
// group.
func (s *Sentinel) FailoverOptions() *redis.FailoverOptions {
	return &redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: s.Addrs()}
}

// CurrentMaster is the data node the running sentinels name as the master
// (all of them the same); it fails the test when they disagree or none
// answers.
func (s *Sentinel) CurrentMaster() *Node {
	s.t.Helper()
	addr, state := s.masterAddr()
	if addr == "" {
		s.t.Fatalf("the sentinels do not agree on a master: %s", state)
	}
	return s.node(addr)
}

func (s *Sentinel) node(addr string) *Node {
	for _, n := range []*Node{s.Master, s.Replica} {
		if n.Addr == addr {
			return n
		}
	}
	s.t.Fatalf("the sentinels name %s, which is none of the group's data nodes", addr)
	return nil
}

// masterAddr asks every running sentinel for the master's address; it
// returns it when they all agree, else "" and what they said.
func (s *Sentinel) masterAddr() (string, string) {
	var seen []string
	agreed := ""
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r, err := sn.client.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMaster).StringSlice()
		cancel()
		if err != nil || len(r) != 2 {
			return "", fmt.Sprintf("%s: %v %v", sn.Name, r, err)
		}
		addr := net.JoinHostPort(r[0], r[1])
		seen = append(seen, sn.Name+"="+addr)
		if agreed != "" && agreed != addr {
			return "", strings.Join(seen, " ")
		}
		agreed = addr
	}
	return agreed, strings.Join(seen, " ")
}

// WaitFailover waits until every running sentinel names another master
// than old, and that node says it is a master; it returns the new master.
func (s *Sentinel) WaitFailover(old *Node, timeout time.Duration) *Node {
	s.t.Helper()
	var addr string
	waitFor(s.t, timeout, "sentinel failover away from "+old.Name, func() (bool, string) {
		a, state := s.masterAddr()
		if a == "" || a == old.Addr {
			return false, state
		}
		info, err := s.node(a).Info("replication")
		if err != nil {
			return false, err.Error()
		}
		if info["role"] != "master" {
			return false, a + " has role " + info["role"]
		}
		addr = a
		return true, ""
	})
	return s.node(addr)
}

// WaitInSync waits until every running replica of the current master has
// what the master had written when the call began.
func (s *Sentinel) WaitInSync(timeout time.Duration) {
	s.t.Helper()
	m := s.CurrentMaster()
	var replicas []*Node
	for _, n := range []*Node{s.Master, s.Replica} {
		if n != m && n.Running() {
			replicas = append(replicas, n)
		}
	}
	waitReplicated(s.t, m, replicas, timeout)
}

// sentinelMap runs a SENTINEL subcommand that answers one flat field/value
// list.
func sentinelMap(n *Node, args ...any) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := n.client.Do(ctx, append([]any{"SENTINEL"}, args...)...).Slice()
	if err != nil {
		return nil, err
	}
	return pairs(v), nil
}

// sentinelMaps runs a SENTINEL subcommand that answers a list of flat
// field/value lists (REPLICAS, SENTINELS).
func sentinelMaps(n *Node, args ...any) ([]map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, err := n.client.Do(ctx, append([]any{"SENTINEL"}, args...)...).Slice()
	if err != nil {
		return nil, err
	}
	out := make([]map[string]string, 0, len(v))
	for _, x := range v {
		l, _ := x.([]any)
		out = append(out, pairs(l))
	}
	return out, nil
}

func pairs(v []any) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(v); i += 2 {
		k, _ := v[i].(string)
		val, _ := v[i+1].(string)
		m[k] = val
	}
	return m
}
