package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Event is something a customer's client should learn at once
// ("code.redeemed", "enrollment.pending", "device.revoked", ...). Events
// carry no secrets: no code digits, no tokens.
type Event struct {
	// ID is the event's stream id, usable as SSE Last-Event-ID.
	ID   string         `json:"id"`
	Type string         `json:"type"`
	Data map[string]any `json:"data,omitempty"`
	Time time.Time      `json:"time"`
}

// eventsKept bounds the per-account replay stream; eventsTTL ends it when
// the account is quiet.
const (
	eventsKept = 100
	eventsTTL  = time.Hour
)

// Publish records an event for the account (for replay after a
// reconnection) and publishes it to every replica's subscribers.
func (s *Store) Publish(ctx context.Context, accountID string, e Event) error {
	b, err := BucketOf(accountID)
	if err != nil {
		return fmt.Errorf("publishing an event: %w", err)
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding an event: %w", err)
	}
	err = publishEvent.Run(ctx, s.rdb, []string{s.keys.Events(b, accountID)},
		eventsKept, raw, eventsTTL.Milliseconds(), s.keys.EventChannel(b, accountID)).Err()
	if err != nil {
		return wrap("publishing an event", err)
	}
	return nil
}

// publishEvent records an event in the account's replay stream and
// publishes "<stream id>\n<event JSON>" in one round trip (the redemption
// script publishes the same form). KEYS: events stream. ARGV: kept, event
// JSON, TTL (ms), channel.
var publishEvent = redis.NewScript(`
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], id .. '\n' .. ARGV[2])
return id
`)

// EventsSince returns the account's recorded events after the given id
// (exclusive), oldest first.
func (s *Store) EventsSince(ctx context.Context, accountID, afterID string) ([]Event, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return nil, fmt.Errorf("replaying events: %w", err)
	}
	msgs, err := s.rdb.XRange(ctx, s.keys.Events(b, accountID), "("+afterID, "+").Result()
	if err != nil {
		return nil, wrap("replaying events", err)
	}
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := m.Values["e"].(string)
		var e Event
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return nil, fmt.Errorf("decoding an event: %w", err)
		}
		e.ID = m.ID
		out = append(out, e)
	}
	return out, nil
}

// Subscription delivers an account's events as they are published (see
// Hub.Subscribe).
type Subscription struct {
	hub     *Hub
	channel string
	account string
	c       chan Event
	closed  bool // under hub.mu
	// C delivers the events; it is closed when the subscription ends
	// (Close, a client too slow to keep up, or the hub going down).
	C <-chan Event
}

// Close ends the subscription; C is closed.
func (sub *Subscription) Close() error {
	sub.hub.mu.Lock()
	defer sub.hub.mu.Unlock()
	sub.hub.dropLocked(sub)
	return nil
}
