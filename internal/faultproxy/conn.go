package faultproxy

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// conn is one proxied connection. requests copies client to server;
// replies reads the server and queues each chunk with the time it may be
// delivered; deliver writes the queue to the client when each chunk is
// due.
type conn struct {
	client, server net.Conn

	queue     chan chunk
	closeOnce sync.Once
	done      chan struct{}
	// lost is set once a reply was withheld: the client's stream has a hole.
	lost atomic.Bool
}

type chunk struct {
	data []byte
	due  time.Time
}

// queueLen bounds the replies in flight per connection; a full queue
// stops reading the server, as a slow network would.
const queueLen = 1024

func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.client.Close()
		c.server.Close()
		close(c.done)
	})
}

func (p *Proxy) forget(c *conn) {
	c.close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) requests(c *conn) {
	defer p.wg.Done()
	defer p.forget(c)
	buf := make([]byte, 32<<10)
	for {
		n, err := c.client.Read(buf)
		if n > 0 {
			if _, werr := c.server.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// replies ends by closing the queue, so that deliver writes what the
// server sent before it hung up.
func (p *Proxy) replies(c *conn) {
	defer p.wg.Done()
	defer close(c.queue)
	for {
		buf := make([]byte, 32<<10)
		n, err := c.server.Read(buf)
		if n > 0 {
			delay, withhold := p.mode()
			if withhold {
				c.lost.Store(true)
			} else {
				select {
				case c.queue <- chunk{data: buf[:n], due: time.Now().Add(delay)}:
				case <-c.done:
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) deliver(c *conn) {
	defer p.wg.Done()
	defer p.forget(c)
	for {
		select {
		case ch, ok := <-c.queue:
			if !ok {
				return
			}
			if wait := time.Until(ch.due); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-c.done:
					t.Stop()
					return
				}
			}
			if _, err := c.client.Write(ch.data); err != nil {
				return
			}
		case <-c.done:
			return
		}
	}
}
