package faultproxy_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paycode/paycode/internal/faultproxy"
)

// echo is a line echo server that counts the lines it received.
type echo struct {
	ln    net.Listener
	lines atomic.Int64
}

func startEcho(t *testing.T) *echo {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echo{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					e.lines.Add(1)
					if _, err := io.WriteString(c, line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return e
}

func startProxy(t *testing.T, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.Listen(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, r: bufio.NewReader(c)}
}

// roundTrip sends a line and waits up to wait for it to come back; it
// returns how long that took, or the read error.
func (c *client) roundTrip(line string, wait time.Duration) (time.Duration, error) {
	c.t.Helper()
	start := time.Now()
	if _, err := io.WriteString(c.c, line+"\n"); err != nil {
		return 0, err
	}
	c.c.SetReadDeadline(start.Add(wait))
	got, err := c.r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if got != line+"\n" {
		c.t.Fatalf("echo = %q; want %q", got, line)
	}
	return time.Since(start), nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

func waitLines(t *testing.T, e *echo, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.lines.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the server received %d lines; want %d", e.lines.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPassThroughAndDelay(t *testing.T) {
	e := startEcho(t)
	p := startProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	if d, err := c.roundTrip("a", 2*time.Second); err != nil || d > time.Second {
		t.Fatalf("pass-through round trip = %v, %v", d, err)
	}
	p.Delay(300 * time.Millisecond)
	d, err := c.roundTrip("b", 5*time.Second)
	if err != nil || d < 300*time.Millisecond {
		t.Fatalf("delayed round trip = %v, %v; want at least 300ms", d, err)
	}
	p.Delay(0)
	if d, err := c.roundTrip("c", 2*time.Second); err != nil || d > 250*time.Millisecond {
		t.Fatalf("round trip after Delay(0) = %v, %v", d, err)
	}
}

// A withheld reply never comes, although the request reached the server;
// PassThrough cuts the connection that lost it, and new ones work.
func TestWithhold(t *testing.T) {
	e := startEcho(t)
	p := startProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	if _, err := c.roundTrip("a", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Withhold()
	if _, err := c.roundTrip("b", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("withheld round trip err = %v; want a timeout", err)
	}
	waitLines(t, e, 2)
	// New connections are withheld too.
	c2 := dial(t, p.Addr())
	if _, err := c2.roundTrip("c", 300*time.Millisecond); !isTimeout(err) {
		t.Fatalf("withheld round trip on a new connection err = %v; want a timeout", err)
	}
	p.PassThrough()
	c.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.r.ReadString('\n'); err == nil || isTimeout(err) {
		t.Fatalf("read on a connection that lost a reply = %v; want it closed", err)
	}
	c3 := dial(t, p.Addr())
	if _, err := c3.roundTrip("d", 2*time.Second); err != nil {
		t.Fatalf("round trip after PassThrough: %v", err)
	}
}

func TestCut(t *testing.T) {
	e := startEcho(t)
	p := startProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	if _, err := c.roundTrip("a", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	c.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.r.ReadString('\n'); err == nil || isTimeout(err) {
		t.Fatalf("read after Cut = %v; want the connection closed", err)
	}
	c2 := dial(t, p.Addr())
	if _, err := c2.roundTrip("b", 2*time.Second); err != nil {
		t.Fatalf("round trip after Cut: %v", err)
	}
	if n := p.Conns(); n != 1 {
		t.Errorf("open connections = %d; want 1", n)
	}
}

// Controls race with traffic (run with -race): every round trip either
// answers correctly or fails, and the proxy closes cleanly.
func TestControlsConcurrently(t *testing.T) {
	e := startEcho(t)
	p := startProxy(t, e.ln.Addr().String())
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.Dial("tcp", p.Addr())
				if err != nil {
					continue
				}
				r := bufio.NewReader(c)
				for range 20 {
					c.SetDeadline(time.Now().Add(200 * time.Millisecond))
					if _, err := io.WriteString(c, "x\n"); err != nil {
						break
					}
					got, err := r.ReadString('\n')
					if err != nil {
						break
					}
					if got != "x\n" {
						t.Errorf("echo = %q", got)
					}
				}
				c.Close()
			}
		}()
	}
	for i := range 50 {
		switch i % 4 {
		case 0:
			p.Delay(time.Duration(i) * time.Millisecond)
		case 1:
			p.Withhold()
		case 2:
			p.Cut()
		case 3:
			p.PassThrough()
		}
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
