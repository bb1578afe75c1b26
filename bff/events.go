package bff

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// Event streams (GET /v1/events) are Server-Sent Events, read by the app
// with fetch() and a streaming body, not EventSource: EventSource cannot
// send headers, and every call here needs the DPoP-bound token and a DPoP
// proof. Events travel through Redis pub/sub, so a stream on one replica
// sees what any replica publishes; each event is also kept in a short
// per-account stream, so a client that reconnects with Last-Event-ID gets
// what it missed. A stream sends a comment every heartbeat, checks its
// session at the same time (a logged-out or revoked device's stream ends),
// and ends after streamMaxAge so clients reconnect (and re-prove) regularly.
//
// Every stream on a replica hears Redis through the replica's one hub
// (store.Hub): one PSUBSCRIBE connection, however many streams. An account
// may hold PAYCODE_STREAMS_PER_ACCOUNT streams on a replica and a replica
// PAYCODE_STREAMS_PER_REPLICA; past either the call answers 429
// too_many_streams. A stream ends as soon as its client closes the
// connection (clientWatch), and when the hub loses Redis (the client
// reconnects and replays).
const (
	streamHeartbeat = 15 * time.Second
	streamMaxAge    = 10 * time.Minute
)

var streamID = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

// sseEvent is one event on the wire.
type sseEvent struct {
	ID   string
	Type string
	Data any
}

func writeSSE(w *bufio.Writer, e sseEvent) error {
	payload, err := json.Marshal(e.Data)
	if err != nil {
		return err
	}
	if e.ID != "" {
		w.WriteString("id: " + e.ID + "\n")
	}
	w.WriteString("event: " + e.Type + "\ndata: ")
	w.Write(payload)
	w.WriteString("\n\n")
	return w.Flush()
}

// afterID reports whether stream id a comes after b.
func afterID(a, b string) bool {
	if b == "" {
		return true
	}
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	ami, _ := strconv.ParseUint(am, 10, 64)
	bmi, _ := strconv.ParseUint(bm, 10, 64)
	if ami != bmi {
		return ami > bmi
	}
	asi, _ := strconv.ParseUint(as, 10, 64)
	bsi, _ := strconv.ParseUint(bs, 10, 64)
	return asi > bsi
}

func (s *Server) events(c *fiber.Ctx) error {
	sess, _ := sessionOf(c)
	last := c.Get("Last-Event-ID") // used after the handler returns: a copy, the app is Immutable
	if last != "" && !streamID.MatchString(last) {
		return problemText(fiber.StatusBadRequest, codeMalformed, text.M(text.LastEventID)).about("Last-Event-ID")
	}
	// Subscribe before reading the replay, so nothing published in between
	// is lost; duplicates are dropped by id. The subscription is a place
	// in the replica's hub, not a Redis connection of its own.
	if !s.hub.Up() {
		// Just started: the hub's subscription is being confirmed.
		wctx, wcancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		_ = s.hub.WaitUp(wctx)
		wcancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := s.hub.Subscribe(sess.AccountID, store.HubLimits{PerAccount: s.cfg.StreamsPerAccount, Total: s.cfg.StreamsPerReplica})
	if err != nil {
		cancel()
		var lim *store.StreamLimitError
		if errors.As(err, &lim) {
			s.metrics.limited.WithLabelValues("event-streams").Inc()
			if lim.PerAccount {
				return problemText(fiber.StatusTooManyRequests, codeTooManyStreams, text.M(text.TooManyStreamsAccount, "max", strconv.Itoa(lim.Limit)))
			}
			p := problemText(fiber.StatusTooManyRequests, codeTooManyStreams, text.M(text.TooManyStreams))
			p.Headers = map[string]string{fiber.HeaderRetryAfter: "5"}
			return p
		}
		return err
	}
	var replay []store.Event
	if last != "" {
		if replay, err = s.store.EventsSince(ctx, sess.AccountID, last); err != nil {
			sub.Close()
			cancel()
			return err
		}
	}
	accountID, sessionID, jkt := sess.AccountID, sess.ID, sess.JKT
	conn := c.Context().Conn()
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set("X-Accel-Buffering", "no")
	// The stream's connection is not reused: its end is the stream's end,
	// and the watch below may read from it.
	c.Context().SetConnectionClose()
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		defer sub.Close()
		s.metrics.streams.Inc()
		defer s.metrics.streams.Dec()
		if s.streamEnded != nil {
			defer s.streamEnded()
		}
		gone := watchClientGone(conn)
		defer gone.stop()
		extend := func() { _ = conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)) }

		st := &streamState{lastID: last}
		send := func(e store.Event) bool {
			if e.ID != "" && !afterID(e.ID, st.lastID) {
				return true // already sent (replay and live overlap)
			}
			e = s.nameStore(ctx, st, e)
			extend()
			if err := writeSSE(w, sseEvent{ID: e.ID, Type: e.Type, Data: e}); err != nil {
				return false
			}
			if e.ID != "" {
				st.lastID = e.ID
			}
			st.track(e)
			return true
		}
		extend()
		if _, err := w.WriteString(": paycode events\nretry: 3000\n\n"); err != nil || w.Flush() != nil {
			return
		}
		for _, e := range replay {
			if !send(e) {
				return
			}
		}
		heartbeat := time.NewTicker(streamHeartbeat)
		defer heartbeat.Stop()
		maxAge := time.NewTimer(streamMaxAge)
		defer maxAge.Stop()
		for {
			select {
			case <-s.closing:
				return
			case <-gone.c:
				return // the client went away: free its place at once, not at the next heartbeat
			case <-maxAge.C:
				return
			case e, ok := <-sub.C:
				if !ok || !send(e) {
					return
				}
			case <-st.expiry():
				if e, ok := st.expired(); ok && !send(e) {
					return
				}
			case <-heartbeat.C:
				if _, err := s.store.TouchSession(ctx, sessionID, accountID, jkt, s.cfg.SessionIdle, s.now()); err != nil {
					return // logged out, revoked device, or store down: the client reconnects and re-proves
				}
				extend()
				if _, err := w.WriteString(": ping\n\n"); err != nil || w.Flush() != nil {
					return
				}
			}
		}
	})
	return nil
}

// clientWatch learns that an event stream's client went away. An
// event-stream client sends nothing after its request, so a read on the
// connection returns only when the client closes it (EOF or reset), or, for
// a client that does send, with bytes we then treat the same way (the
// connection is closed after the stream). Without it a stream would learn
// of a closed connection only at its next write, up to a heartbeat later,
// holding its place (and, before the hub, a Redis connection) until then.
type clientWatch struct {
	c    chan struct{}
	conn net.Conn
	done chan struct{}
}

func watchClientGone(conn net.Conn) *clientWatch {
	w := &clientWatch{c: make(chan struct{}), conn: conn, done: make(chan struct{})}
	_ = conn.SetReadDeadline(time.Time{}) // the request's read deadline no longer applies
	go func() {
		defer close(w.done)
		var b [1]byte
		_, _ = conn.Read(b[:])
		close(w.c)
	}()
	return w
}

// stop ends the watch's read and waits for it, so the connection is not
// read after the stream returns.
func (w *clientWatch) stop() {
	_ = w.conn.SetReadDeadline(time.Now())
	<-w.done
}

// streamState follows the device's current code through the events, so
// the stream can say code.expired when it lapses unused (Redis expires keys
// silently).
type streamState struct {
	// storeNames caches the stores' display names for the stream's life.
	storeNames map[string]any
	lastID     string
	codeID     string
	redeemed   bool
	timer      *time.Timer
}

func (st *streamState) track(e store.Event) {
	id, _ := e.Data["code_id"].(string)
	switch e.Type {
	case "code.issued":
		exp, ok := e.Data["expires_at"].(string)
		at, err := time.Parse(time.RFC3339Nano, exp)
		if !ok || err != nil {
			return
		}
		st.codeID, st.redeemed = id, false
		if st.timer != nil {
			st.timer.Stop()
		}
		st.timer = time.NewTimer(time.Until(at))
	case "code.redeemed":
		if id == st.codeID {
			st.redeemed = true
		}
	}
}

func (st *streamState) expiry() <-chan time.Time {
	if st.timer == nil {
		return nil
	}
	return st.timer.C
}

func (st *streamState) expired() (store.Event, bool) {
	st.timer = nil
	if st.redeemed || st.codeID == "" {
		return store.Event{}, false
	}
	return store.Event{Type: "code.expired", Data: map[string]any{"code_id": st.codeID}, Time: time.Now()}, true
}

// nameStore adds the store's display names to an event that names a store
// ("store_name": {"en", "ja"}; null when the operator gave it none), so the
// app shows "Paid at FamilyMart Shibuya" rather than an id. The money
// scripts publish the id only; the names are read once per stream and
// store. A failed read leaves the event as it is. The event's Data is
// shared by every stream of the account on this replica (the hub decodes
// it once), so the names go into a copy: writing the shared map while
// another stream encodes it is a data race that aborts the process.
func (s *Server) nameStore(ctx context.Context, st *streamState, e store.Event) store.Event {
	id, ok := e.Data["store"].(string)
	if !ok || id == "" {
		return e
	}
	if _, done := e.Data["store_name"]; done {
		return e
	}
	name, cached := st.storeNames[id]
	if !cached {
		names, err := s.store.StoreNames(ctx, id)
		if err != nil {
			return e
		}
		name = storeNameMap(names, id)
		if st.storeNames == nil {
			st.storeNames = map[string]any{}
		}
		st.storeNames[id] = name
	}
	e.Data = maps.Clone(e.Data)
	e.Data["store_name"] = name
	return e
}
