// Package faultproxy is a TCP proxy for fault tests: it sits between a
// client (paycode) and a server (Redis) and, on command, delays the
// server's replies, withholds them, or cuts every connection. It knows
// nothing of the protocol it carries.
//
// Requests always reach the server: a withheld or late reply belongs to a
// command that ran. That is the case a client cannot tell apart from a
// command that never ran, and the one idempotency has to survive. (A
// server that hangs without running anything is a paused process:
// redistest's Node.Pause.)
//
// Every method is safe to call concurrently with the others and with the
// traffic.
package faultproxy

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Proxy forwards connections accepted on Addr to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	delay    time.Duration
	withhold bool
	conns    map[*conn]struct{}
	closed   bool

	wg sync.WaitGroup
}

// Listen starts a proxy on a free loopback port that forwards to target.
// It passes traffic through until told otherwise.
func Listen(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[*conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// PassThrough ends Delay and Withhold: replies flow as they come. The
// connections whose replies were withheld are cut, since their clients
// have lost bytes of the stream.
func (p *Proxy) PassThrough() {
	p.mu.Lock()
	p.delay, p.withhold = 0, false
	var tainted []*conn
	for c := range p.conns {
		if c.lost.Load() {
			tainted = append(tainted, c)
		}
	}
	p.mu.Unlock()
	for _, c := range tainted {
		c.close()
	}
}

// Delay makes every reply that arrives from now on reach its client d
// after the server sent it (in order). Delay(0) is no delay.
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Withhold swallows every reply that arrives from now on, on existing and
// new connections: clients' commands reach the server, and no answer ever
// comes back.
func (p *Proxy) Withhold() {
	p.mu.Lock()
	p.withhold = true
	p.mu.Unlock()
}

// Cut closes every open connection (both sides). New connections are
// accepted as before.
func (p *Proxy) Cut() {
	p.mu.Lock()
	cs := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	for _, c := range cs {
		c.close()
	}
}

// Conns is the number of open connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Close stops accepting, cuts every connection and waits for the proxy's
// goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.Cut()
	p.wg.Wait()
	return err
}

func (p *Proxy) mode() (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delay, p.withhold
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			client.Close()
			continue
		}
		c := &conn{client: client, server: server, queue: make(chan chunk, queueLen), done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.close()
			return
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(3)
		go p.requests(c)
		go p.replies(c)
		go p.deliver(c)
	}
}
