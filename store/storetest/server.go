package storetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Server is a Redis server owned by one test, which the test may stop and
// start again (fault tests). It is a real redis-server process on a unix
// socket when redis-server is installed (required in CI), else miniredis.
type Server struct {
	t    testing.TB
	URL  string
	Real bool

	sock, dir string
	cmd       *exec.Cmd
	mini      *miniredis.Miniredis
	durable   bool
}

// StartServer starts a private Redis server, stopped when the test ends.
func StartServer(t testing.TB) *Server { return startServer(t, false) }

// StartDurableServer is StartServer with AOF and appendfsync always, so
// that what it acknowledged survives Stop and Start (the production
// setting the README recommends). It needs a real redis-server.
func StartDurableServer(t testing.TB) *Server { return startServer(t, true) }

func startServer(t testing.TB, durable bool) *Server {
	t.Helper()
	s := &Server{t: t, durable: durable}
	if _, err := exec.LookPath("redis-server"); err != nil {
		if Required() || durable {
			if !Required() {
				t.Skip("redis-server is not installed; this test needs a real, durable Redis")
			}
			t.Fatal("redis-server is not installed, and this run requires real Redis")
		}
		s.mini = miniredis.RunT(t)
		s.URL = "redis://" + s.mini.Addr()
		return s
	}
	s.Real = true
	s.dir = t.TempDir()
	s.sock = filepath.Join(s.dir, "redis.sock")
	s.URL = "unix://" + s.sock
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server (again) and waits until it answers PING.
func (s *Server) Start() {
	s.t.Helper()
	if s.mini != nil {
		if err := s.mini.Restart(); err != nil {
			s.t.Fatalf("restarting miniredis: %v", err)
		}
		return
	}
	aof := []string{"--appendonly", "no"}
	if s.durable {
		aof = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	args := append([]string{"--port", "0", "--unixsocket", s.sock, "--unixsocketperm", "700",
		"--save", "", "--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log")}, aof...)
	s.cmd = exec.Command("redis-server", args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.sock, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatal("redis-server did not answer PING within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop stops the server; clients see connection errors until Start.
func (s *Server) Stop() {
	if s.mini != nil {
		s.mini.Close()
		return
	}
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
	_ = os.Remove(s.sock)
}
