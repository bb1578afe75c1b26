package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// AOFAlways is the configuration of a node that writes every command to
// its append-only file before it answers: what it acknowledged survives
// SIGKILL and Restart.
var AOFAlways = []string{"appendonly yes", "appendfsync always"}

// Node is one redis-server process (a data node or a sentinel) owned by a
// test. It keeps its port and its directory across Kill and Restart.
type Node struct {
	// Name says what the node is for in messages ("master", "sentinel-2").
	Name string
	Port int
	// Addr is 127.0.0.1:Port.
	Addr string

	t        testing.TB
	dir      string
	conf     []string
	sentinel bool
	client   *redis.Client

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// startTimeout bounds how long a node may take to answer after its
// process started (loading its AOF included).
const startTimeout = 15 * time.Second

// StartNode starts a data node with the given redis.conf lines added to
// the defaults (loopback only, no RDB snapshots, no AOF, logs in its
// directory), killed when the test ends.
func StartNode(t testing.TB, name string, conf ...string) *Node {
	t.Helper()
	Require(t, "redis-server")
	return startNode(t, name, false, 0, conf)
}

// startNode starts a node on port, or on a free port when port is 0
// (trying another one when the chosen port was taken in between).
func startNode(t testing.TB, name string, sentinel bool, port int, conf []string) *Node {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	n := &Node{Name: name, t: t, dir: dir, conf: conf, sentinel: sentinel}
	t.Cleanup(n.cleanup)
	for try := 0; ; try++ {
		p := port
		if p == 0 {
			var err error
			if p, err = freePort(); err != nil {
				t.Fatal(err)
			}
		}
		n.setPort(p)
		err := n.start()
		if err == nil {
			return n
		}
		if port != 0 || try >= 4 || !errors.Is(err, errPortTaken) {
			t.Fatalf("starting %s: %v", name, err)
		}
	}
}

func (n *Node) setPort(p int) {
	n.Port, n.Addr = p, "127.0.0.1:"+strconv.Itoa(p)
	if n.client != nil {
		n.client.Close()
	}
	n.client = redis.NewClient(&redis.Options{
		Addr: n.Addr, Protocol: 2, MaxRetries: -1, PoolSize: 4,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
	})
}

// writeConf writes the node's redis.conf: the defaults, then the extra
// lines. A sentinel rewrites its own file, so it is written only once.
func (n *Node) writeConf() (string, error) {
	path := filepath.Join(n.dir, "redis.conf")
	if n.sentinel {
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	lines := []string{
		"port " + strconv.Itoa(n.Port),
		"bind 127.0.0.1",
		"daemonize no",
		"dir " + n.dir,
		"logfile " + filepath.Join(n.dir, "redis.log"),
	}
	if !n.sentinel {
		lines = append(lines,
			`save ""`,
			"appendonly no",
			// A replica's first sync starts at once instead of after 5 s.
			"repl-diskless-sync-delay 0",
		)
	}
	lines = append(lines, n.conf...)
	return path, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}

var (
	errPortTaken    = errors.New("port already in use")
	errUnobservable = errors.New("process state cannot be observed on this system")
)

// start runs the process and waits until it answers PING (and, for a data
// node, has finished loading its data).
func (n *Node) start() error {
	conf, err := n.writeConf()
	if err != nil {
		return err
	}
	args := []string{conf}
	if n.sentinel {
		args = append(args, "--sentinel")
	}
	cmd := exec.Command("redis-server", args...)
	cmd.Dir = n.dir
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()

	var died bool
	err = poll(startTimeout, func() (bool, string) {
		select {
		case <-exited:
			died = true
			return true, "exited"
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := n.client.Ping(ctx).Err(); err != nil {
			return false, err.Error()
		}
		if n.sentinel {
			return true, ""
		}
		info, err := n.infoCtx(ctx, "persistence")
		if err != nil {
			return false, err.Error()
		}
		return info["loading"] == "0", "loading=" + info["loading"]
	})
	if died {
		n.mu.Lock()
		n.cmd = nil
		n.mu.Unlock()
		log := n.logTail()
		if strings.Contains(log, "Address already in use") {
			return fmt.Errorf("%w: %d", errPortTaken, n.Port)
		}
		return fmt.Errorf("redis-server exited at start; its log ends:\n%s", log)
	}
	if err != nil {
		return fmt.Errorf("redis-server on %s did not become ready: %w; its log ends:\n%s", n.Addr, err, n.logTail())
	}
	return nil
}

// logTail is the end of the node's log, for failure messages.
func (n *Node) logTail() string {
	b, err := os.ReadFile(filepath.Join(n.dir, "redis.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

func (n *Node) cleanup() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd = nil
	n.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill() // SIGKILL also ends a stopped process
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
	}
	if n.client != nil {
		n.client.Close()
	}
}

// Client is a client of this node alone (no retries, one-second
// timeouts), for checks and controls. It must not be closed.
func (n *Node) Client() *redis.Client { return n.client }

// Running reports whether the process is alive (paused counts as alive).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

// Kill sends SIGKILL and waits until the process is gone: nothing it had
// not written to its AOF (or sent to a replica) survives.
func (n *Node) Kill() {
	n.t.Helper()
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		n.t.Fatalf("killing %s: it is not running", n.Name)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		n.t.Fatalf("killing %s: %v", n.Name, err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		n.t.Fatalf("%s did not exit within 10 s of SIGKILL", n.Name)
	}
}

// Restart starts a killed node again on the same port and directory (so
// from its AOF, when it has one) and waits until it has loaded its data.
func (n *Node) Restart() {
	n.t.Helper()
	if n.Running() {
		n.t.Fatalf("restarting %s: it is still running", n.Name)
	}
	if err := n.start(); err != nil {
		n.t.Fatalf("restarting %s: %v", n.Name, err)
	}
}

// Pause freezes the process (SIGSTOP) and waits until the kernel reports
// it stopped: it keeps its connections open and answers nothing.
func (n *Node) Pause() { n.signalAndWait(syscall.SIGSTOP, true) }

// Resume continues a paused process (SIGCONT).
func (n *Node) Resume() { n.signalAndWait(syscall.SIGCONT, false) }

func (n *Node) signalAndWait(sig syscall.Signal, stop bool) {
	n.t.Helper()
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd == nil {
		n.t.Fatalf("sending %v to %s: it is not running", sig, n.Name)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		n.t.Fatalf("sending %v to %s: %v", sig, n.Name, err)
	}
	waitFor(n.t, 5*time.Second, fmt.Sprintf("%s after %v", n.Name, sig), func() (bool, string) {
		s, err := stopped(cmd.Process.Pid)
		if errors.Is(err, errUnobservable) {
			return true, ""
		}
		if err != nil {
			return false, err.Error()
		}
		return s == stop, fmt.Sprintf("stopped=%v", s)
	})
}

// KillReplicaLinks closes the node's connections to its replicas (CLIENT
// KILL TYPE replica): until a replica reconnects, it receives nothing the
// node writes. It fails the test when no replica was connected.
func (n *Node) KillReplicaLinks() {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	killed, err := n.client.ClientKillByFilter(ctx, "TYPE", "replica").Result()
	if err != nil {
		n.t.Fatalf("CLIENT KILL TYPE replica on %s: %v", n.Name, err)
	}
	if killed == 0 {
		n.t.Fatalf("CLIENT KILL TYPE replica on %s: no replica was connected", n.Name)
	}
}

// Info returns one INFO section as a map.
func (n *Node) Info(section string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return n.infoCtx(ctx, section)
}

func (n *Node) infoCtx(ctx context.Context, section string) (map[string]string, error) {
	s, err := n.client.Info(ctx, section).Result()
	if err != nil {
		return nil, err
	}
	return parseInfo(s), nil
}

func parseInfo(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// replicaOffsets reads the master's replication offset and the offset
// each online replica acknowledged, by replica address.
func (n *Node) replicaOffsets() (master int64, replicas map[string]int64, err error) {
	info, err := n.Info("replication")
	if err != nil {
		return 0, nil, err
	}
	master, _ = strconv.ParseInt(info["master_repl_offset"], 10, 64)
	replicas = map[string]int64{}
	for k, v := range info {
		if !strings.HasPrefix(k, "slave") || k == "slave_read_repl_offset" || k == "slave_repl_offset" {
			continue
		}
		if _, err := strconv.Atoi(k[len("slave"):]); err != nil {
			continue
		}
		f := map[string]string{}
		for _, kv := range strings.Split(v, ",") {
			if a, b, ok := strings.Cut(kv, "="); ok {
				f[a] = b
			}
		}
		if f["state"] != "online" {
			continue
		}
		off, _ := strconv.ParseInt(f["offset"], 10, 64)
		replicas[f["ip"]+":"+f["port"]] = off
	}
	return master, replicas, nil
}

// waitReplicated waits until every node in replicas has acknowledged the
// master's offset as it was when the call began: everything written to the
// master before the call is on them.
func waitReplicated(t testing.TB, master *Node, replicas []*Node, timeout time.Duration) {
	t.Helper()
	target, _, err := master.replicaOffsets()
	if err != nil {
		t.Fatalf("reading the replication offset of %s: %v", master.Name, err)
	}
	waitFor(t, timeout, fmt.Sprintf("replicas of %s in sync", master.Name), func() (bool, string) {
		_, got, err := master.replicaOffsets()
		if err != nil {
			return false, err.Error()
		}
		for _, r := range replicas {
			if off, ok := got[r.Addr]; !ok || off < target {
				return false, fmt.Sprintf("%s acknowledged %d of %d (online: %v)", r.Name, off, target, ok)
			}
		}
		return true, ""
	})
}
