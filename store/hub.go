package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Hub is a replica's one Redis subscription: every event stream on the
// replica, and its kill-switch cache, hear Redis through it, so a replica
// holds one pub/sub connection however many streams it serves (issue 13:
// one connection per stream let one account exhaust Redis's clients).
//
// It PSUBSCRIBEs to two patterns: every account's event channel
// (Keys.EventChannel, "<prefix>evch:*") and the switch channel
// (Keys.SwitchChannel). Events and switch changes are published with
// classic PUBLISH (not SPUBLISH), which a Redis Cluster forwards to every
// node over its bus, so one PSUBSCRIBE connection to any node hears every
// slot; on Sentinel the connection follows the master. Sharded pub/sub
// would need one connection per shard and a resubscription on every slot
// move, for no gain at this volume.
//
// When the connection fails the hub is down: every subscription is closed
// (its stream ends and the client reconnects with Last-Event-ID, replaying
// what it missed from the account's event stream), Subscribe answers
// ErrUnavailable, and the switch caches fall back to their one-second
// re-read. The hub reconnects with backoff and calls OnChange again when it
// is up, since a switch change may have been missed while it was down.
type Hub struct {
	rdb      redis.UniversalClient
	keys     Keys
	log      *slog.Logger
	patterns []string
	evPrefix string
	swChan   string

	mu      sync.Mutex
	up      bool
	closed  bool
	subs    map[string]map[*Subscription]struct{} // by channel
	perAcct map[string]int
	total   int
	// onSwitch is called when a switch changed (or may have: after the hub
	// came back up).
	onSwitch []func()
	// onState is told each change of up (metrics).
	onState func(up bool)

	stop chan struct{}
	done chan struct{}
	// upCh is closed when the hub is first up (tests, start-up).
	upCh   chan struct{}
	upOnce sync.Once
}

// HubLimits caps the subscriptions a hub serves: per account and in all.
// Zero is no cap.
type HubLimits struct {
	PerAccount int
	Total      int
}

// ErrStreamLimit is returned by Subscribe when a cap is reached; errors.As
// to *StreamLimitError says which.
var ErrStreamLimit = errors.New("too many event streams")

// StreamLimitError says which cap refused a subscription.
type StreamLimitError struct {
	// PerAccount is true for the account's cap, false for the replica's.
	PerAccount bool
	Limit      int
}

func (e *StreamLimitError) Error() string {
	if e.PerAccount {
		return fmt.Sprintf("too many event streams for the account (cap %d)", e.Limit)
	}
	return fmt.Sprintf("too many event streams on this replica (cap %d)", e.Limit)
}

func (e *StreamLimitError) Unwrap() error { return ErrStreamLimit }

// SwitchChannel is the pub/sub channel on which a switch change is
// announced (the message is empty: receivers re-read the switches).
func (k Keys) SwitchChannel() string { return k.prefix + "swch" }

// globEscape escapes the glob characters of PSUBSCRIBE.
func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}

// hubBackoff bounds the reconnection backoff; hubHealth is how long the
// hub waits for any message before it pings, and a second hubHealth
// without an answer ends the connection.
const (
	hubMinBackoff = 50 * time.Millisecond
	hubMaxBackoff = 2 * time.Second
	hubHealth     = 5 * time.Second
)

// NewHub starts the replica's hub. Close it when the replica stops.
func (s *Store) NewHub(log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	evPrefix := s.keys.EventChannelPrefix()
	h := &Hub{
		rdb: s.rdb, keys: s.keys, log: log,
		evPrefix: evPrefix,
		swChan:   s.keys.SwitchChannel(),
		patterns: []string{globEscape(evPrefix) + "*", globEscape(s.keys.SwitchChannel())},
		subs:     map[string]map[*Subscription]struct{}{},
		perAcct:  map[string]int{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		upCh:     make(chan struct{}),
	}
	go h.run()
	return h
}

// OnSwitch registers f, called (on the hub's goroutine: keep it short)
// when a switch change is announced and whenever the hub comes (back) up.
func (h *Hub) OnSwitch(f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onSwitch = append(h.onSwitch, f)
}

// OnState registers f, called with true when the hub's subscription is
// confirmed and false when it is lost (a gauge).
func (h *Hub) OnState(f func(up bool)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onState = f
	f(h.up) // the state it may already be in
}

// Up reports whether the hub's subscription is confirmed.
func (h *Hub) Up() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.up
}

// WaitUp waits until the hub is first up, or ctx ends.
func (h *Hub) WaitUp(ctx context.Context) error {
	select {
	case <-h.upCh:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Streams is how many subscriptions the hub serves.
func (h *Hub) Streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

// Close ends the hub and every subscription.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		<-h.done
		return
	}
	h.closed = true
	h.mu.Unlock()
	close(h.stop)
	<-h.done
}

func (h *Hub) run() {
	defer close(h.done)
	backoff := hubMinBackoff
	for {
		err := h.session()
		// A session that got its subscription confirmed was a recovery:
		// the next outage starts from the shortest backoff again.
		if h.Up() {
			backoff = hubMinBackoff
		}
		h.setDown()
		select {
		case <-h.stop:
			return
		default:
		}
		if errors.Is(err, redis.ErrClosed) {
			return // the store was closed
		}
		h.log.Warn("event hub: subscription lost, reconnecting", "error", err.Error(), "backoff_ms", backoff.Milliseconds())
		t := time.NewTimer(backoff)
		select {
		case <-h.stop:
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, hubMaxBackoff)
	}
}

// session holds one PSUBSCRIBE connection until it fails or the hub stops.
func (h *Hub) session() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ps := h.rdb.PSubscribe(ctx)
	defer ps.Close()
	go func() {
		select {
		case <-h.stop:
			ps.Close() // unblocks Receive
		case <-ctx.Done():
		}
	}()
	if err := ps.PSubscribe(ctx, h.patterns...); err != nil {
		return err
	}
	confirmed, pinged := 0, false
	for {
		msg, err := ps.ReceiveTimeout(ctx, hubHealth)
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				pinged = true
				if err := ps.Ping(ctx); err != nil {
					return err
				}
				continue
			}
			return err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "psubscribe" {
				if confirmed++; confirmed == len(h.patterns) {
					h.setUp()
				}
			}
		case *redis.Message:
			h.dispatch(m.Channel, m.Payload)
		case *redis.Pong:
		}
	}
}

func (h *Hub) setUp() {
	h.mu.Lock()
	h.up = true
	fs := append([]func(){}, h.onSwitch...)
	st := h.onState
	h.mu.Unlock()
	if st != nil {
		st(true)
	}
	h.upOnce.Do(func() { close(h.upCh) })
	for _, f := range fs {
		f() // a change may have been missed while down
	}
}

// setDown closes every subscription: their streams end and the clients
// replay what they missed when they reconnect.
func (h *Hub) setDown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.up && h.onState != nil {
		h.onState(false)
	}
	h.up = false
	for ch, set := range h.subs {
		for sub := range set {
			h.dropLocked(sub)
		}
		delete(h.subs, ch)
	}
}

func (h *Hub) dispatch(channel, payload string) {
	if channel == h.swChan {
		h.mu.Lock()
		fs := append([]func(){}, h.onSwitch...)
		h.mu.Unlock()
		for _, f := range fs {
			f()
		}
		return
	}
	if !strings.HasPrefix(channel, h.evPrefix) {
		return
	}
	// Every replica receives every account's events (one pattern
	// subscription); most have no stream open here, so look before
	// decoding (measured: the decoding of events nobody here follows
	// was 1 to 2 % of a replica's CPU under load).
	h.mu.Lock()
	n := len(h.subs[channel])
	h.mu.Unlock()
	if n == 0 {
		return
	}
	id, raw, ok := strings.Cut(payload, "\n")
	var e Event
	if !ok || json.Unmarshal([]byte(raw), &e) != nil {
		return
	}
	e.ID = id
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs[channel] {
		select {
		case sub.c <- e:
		default:
			// A client that does not keep up is ended rather than
			// silently skipped: it reconnects and replays.
			h.dropLocked(sub)
		}
	}
}

// dropLocked ends a subscription (h.mu held).
func (h *Hub) dropLocked(sub *Subscription) {
	if sub.closed {
		return
	}
	sub.closed = true
	close(sub.c)
	if set := h.subs[sub.channel]; set != nil {
		delete(set, sub)
		if len(set) == 0 {
			delete(h.subs, sub.channel)
		}
	}
	h.total--
	if h.perAcct[sub.account]--; h.perAcct[sub.account] <= 0 {
		delete(h.perAcct, sub.account)
	}
}

// Subscribe starts receiving the account's events through the hub. Once it
// returns, no event published afterwards is missed while the hub stays up
// (if it goes down, C is closed). It returns ErrUnavailable (wrapped) when
// the hub is down and a *StreamLimitError when a cap is reached. Close it
// when done.
func (h *Hub) Subscribe(accountID string, lim HubLimits) (*Subscription, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return nil, fmt.Errorf("subscribing to events: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.up || h.closed {
		return nil, fmt.Errorf("subscribing to events: the event hub is down: %w", ErrUnavailable)
	}
	if lim.PerAccount > 0 && h.perAcct[accountID] >= lim.PerAccount {
		return nil, &StreamLimitError{PerAccount: true, Limit: lim.PerAccount}
	}
	if lim.Total > 0 && h.total >= lim.Total {
		return nil, &StreamLimitError{Limit: lim.Total}
	}
	ch := h.keys.EventChannel(b, accountID)
	c := make(chan Event, 16)
	sub := &Subscription{hub: h, channel: ch, account: accountID, c: c, C: c}
	if h.subs[ch] == nil {
		h.subs[ch] = map[*Subscription]struct{}{}
	}
	h.subs[ch][sub] = struct{}{}
	h.total++
	h.perAcct[accountID]++
	return sub, nil
}
