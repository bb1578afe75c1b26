package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of 3 masters with one replica each
// (cluster-node-timeout 1000 ms).
type Cluster struct {
	Nodes []*Node

	t testing.TB
}

// StartCluster starts six nodes, joins them with redis-cli --cluster create
// --cluster-replicas 1, and waits until every node reports the cluster ok,
// with every slot served and every replica in sync. conf is added to each
// node's redis.conf.
func StartCluster(t testing.TB, conf ...string) *Cluster {
	t.Helper()
	Require(t, "redis-server", "redis-cli")
	c := &Cluster{t: t}
	nodeConf := append(append([]string{}, conf...),
		"cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 1000")
	args := []string{"--cluster", "create"}
	for i := range 6 {
		n := startNode(t, "node-"+strconv.Itoa(i+1), false, 0, nodeConf)
		c.Nodes = append(c.Nodes, n)
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	waitFor(t, 30*time.Second, "cluster ok on every node", func() (bool, string) {
		for _, n := range c.Nodes {
			info, err := c.clusterInfo(n)
			if err != nil {
				return false, n.Name + ": " + err.Error()
			}
			if info["cluster_state"] != "ok" || info["cluster_known_nodes"] != "6" || info["cluster_slots_ok"] != "16384" || info["cluster_size"] != "3" {
				return false, fmt.Sprintf("%s: state=%s known=%s slots_ok=%s size=%s", n.Name,
					info["cluster_state"], info["cluster_known_nodes"], info["cluster_slots_ok"], info["cluster_size"])
			}
		}
		return true, ""
	})
	// Gossip spreads who replicates whom after the slots are ok: wait
	// until every node sees each of the 3 masters with its replica, so
	// that a test asking for a master's replicas gets the whole answer.
	waitFor(t, 30*time.Second, "every node sees 3 masters with one replica each", func() (bool, string) {
		for _, n := range c.Nodes {
			v, err := c.view(n)
			if err != nil {
				return false, n.Name + ": " + err.Error()
			}
			masters, replicas := map[string]bool{}, map[string]int{}
			for _, cn := range v {
				switch {
				case cn.has("master") && len(cn.slots) > 0:
					masters[cn.id] = true
				case cn.has("slave") && cn.master != "-":
					replicas[cn.master]++
				}
			}
			if len(masters) != 3 {
				return false, fmt.Sprintf("%s sees %d masters", n.Name, len(masters))
			}
			for id := range masters {
				if replicas[id] != 1 {
					return false, fmt.Sprintf("%s sees %d replicas of %s", n.Name, replicas[id], id)
				}
			}
		}
		return true, ""
	})
	c.WaitInSync(20 * time.Second)
	return c
}

// Seeds are the addresses of all nodes, for a ClusterClient.
func (c *Cluster) Seeds() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// ClusterOptions are the options of a go-redis ClusterClient of this
// cluster.
func (c *Cluster) ClusterOptions() *redis.ClusterOptions {
	return &redis.ClusterOptions{Addrs: c.Seeds()}
}

func (c *Cluster) clusterInfo(n *Node) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, err := n.client.ClusterInfo(ctx).Result()
	if err != nil {
		return nil, err
	}
	return parseInfo(s), nil
}

// KeySlot is the hash slot of key (CLUSTER KEYSLOT on a running node).
func (c *Cluster) KeySlot(key string) int {
	c.t.Helper()
	var last error
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		slot, err := n.client.ClusterKeySlot(ctx, key).Result()
		cancel()
		if err == nil {
			return int(slot)
		}
		last = err
	}
	c.t.Fatalf("CLUSTER KEYSLOT: no node answered: %v", last)
	return 0
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr, master string
	flags            []string
	slots            [][2]int
}

func (cn clusterNode) has(flag string) bool {
	for _, f := range cn.flags {
		if f == flag {
			return true
		}
	}
	return false
}

func (cn clusterNode) serves(slot int) bool {
	for _, r := range cn.slots {
		if slot >= r[0] && slot <= r[1] {
			return true
		}
	}
	return false
}

// view is the cluster as one node sees it (CLUSTER NODES).
func (c *Cluster) view(n *Node) ([]clusterNode, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s, err := n.client.ClusterNodes(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []clusterNode
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		cn := clusterNode{id: f[0], addr: addr, master: f[3], flags: strings.Split(f[2], ",")}
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") { // a slot being migrated
				continue
			}
			lo, hi, ok := strings.Cut(r, "-")
			if !ok {
				hi = lo
			}
			a, err1 := strconv.Atoi(lo)
			b, err2 := strconv.Atoi(hi)
			if err1 == nil && err2 == nil {
				cn.slots = append(cn.slots, [2]int{a, b})
			}
		}
		out = append(out, cn)
	}
	return out, nil
}

func (c *Cluster) byAddr(addr string) *Node {
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n
		}
	}
	c.t.Fatalf("the cluster names %s, which is none of its nodes", addr)
	return nil
}

// anyView is the view of the first running node that answers.
func (c *Cluster) anyView() []clusterNode {
	c.t.Helper()
	var last error
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		v, err := c.view(n)
		if err == nil {
			return v
		}
		last = err
	}
	c.t.Fatalf("CLUSTER NODES: no node answered: %v", last)
	return nil
}

// Owner is the master that serves slot, as the first node that answers
// sees it.
func (c *Cluster) Owner(slot int) *Node {
	c.t.Helper()
	for _, cn := range c.anyView() {
		if cn.has("master") && !cn.has("fail") && cn.serves(slot) {
			return c.byAddr(cn.addr)
		}
	}
	c.t.Fatalf("no master serves slot %d", slot)
	return nil
}

// Replicas are the nodes that replicate master.
func (c *Cluster) Replicas(master *Node) []*Node {
	c.t.Helper()
	v := c.anyView()
	var id string
	for _, cn := range v {
		if cn.addr == master.Addr {
			id = cn.id
		}
	}
	var out []*Node
	for _, cn := range v {
		if id != "" && cn.master == id && cn.has("slave") {
			out = append(out, c.byAddr(cn.addr))
		}
	}
	return out
}

// WaitOwnerChange waits until every running node reports the cluster ok
// and slot served by a master other than old; it returns that master.
func (c *Cluster) WaitOwnerChange(slot int, old *Node, timeout time.Duration) *Node {
	c.t.Helper()
	var owner string
	waitFor(c.t, timeout, fmt.Sprintf("slot %d served by another master than %s", slot, old.Name), func() (bool, string) {
		owner = ""
		for _, n := range c.Nodes {
			if !n.Running() {
				continue
			}
			info, err := c.clusterInfo(n)
			if err != nil {
				return false, n.Name + ": " + err.Error()
			}
			if info["cluster_state"] != "ok" {
				return false, n.Name + ": cluster_state " + info["cluster_state"]
			}
			v, err := c.view(n)
			if err != nil {
				return false, n.Name + ": " + err.Error()
			}
			got := ""
			for _, cn := range v {
				if cn.has("master") && !cn.has("fail") && cn.serves(slot) {
					got = cn.addr
				}
			}
			if got == "" || got == old.Addr || (owner != "" && got != owner) {
				return false, fmt.Sprintf("%s sees slot %d on %q", n.Name, slot, got)
			}
			owner = got
		}
		return owner != "", "no running node"
	})
	return c.byAddr(owner)
}

// WaitInSync waits until every running replica has what its master had
// written when the call began.
func (c *Cluster) WaitInSync(timeout time.Duration) {
	c.t.Helper()
	v := c.anyView()
	for _, cn := range v {
		if !cn.has("master") || cn.has("fail") || len(cn.slots) == 0 {
			continue
		}
		m := c.byAddr(cn.addr)
		if !m.Running() {
			continue
		}
		var replicas []*Node
		for _, r := range v {
			if r.master == cn.id && r.has("slave") {
				if n := c.byAddr(r.addr); n.Running() {
					replicas = append(replicas, n)
				}
			}
		}
		waitReplicated(c.t, m, replicas, timeout)
	}
}
