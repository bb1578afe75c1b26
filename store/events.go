package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/paycode/paycode/notify"
)

// AuditEvent is one line of the audit trail: who did what to which
// account, from where. It never carries a secret.
type AuditEvent struct {
	Type      string            // e.g. "account.created", "session.refresh_reuse"
	AccountID string            // may be empty
	DeviceID  string            // may be empty
	Actor     string            // "customer", "operator:<name>", "system"
	IP        string            // client IP
	RequestID string            // the request that caused it
	Fields    map[string]string // anything else, never secrets
	Time      time.Time
}

// Audit appends an event to the audit stream (durable, never trimmed).
func (s *Store) Audit(ctx context.Context, e AuditEvent) error {
	values := map[string]any{
		"type": e.Type, "account": e.AccountID, "device": e.DeviceID, "actor": e.Actor,
		"ip": e.IP, "request_id": e.RequestID, "time": e.Time.UTC().Format(time.RFC3339Nano),
	}
	for k, v := range e.Fields {
		values["f."+k] = v
	}
	if err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.Audit(), Values: values}).Err(); err != nil {
		return wrap("writing an audit event", err)
	}
	return nil
}

// AuditEvents returns the newest events, newest last, at most n.
func (s *Store) AuditEvents(ctx context.Context, n int64) ([]AuditEvent, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.keys.Audit(), "+", "-", n).Result()
	if err != nil {
		return nil, wrap("reading audit events", err)
	}
	out := make([]AuditEvent, 0, len(msgs))
	for i := len(msgs) - 1; i >= 0; i-- {
		v := msgs[i].Values
		str := func(k string) string { s, _ := v[k].(string); return s }
		e := AuditEvent{Type: str("type"), AccountID: str("account"), DeviceID: str("device"), Actor: str("actor"),
			IP: str("ip"), RequestID: str("request_id"), Fields: map[string]string{}}
		e.Time, _ = time.Parse(time.RFC3339Nano, str("time"))
		for k, val := range v {
			if len(k) > 2 && k[:2] == "f." {
				e.Fields[k[2:]], _ = val.(string)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// Limiter returns a rate limiter on this store (GCRA in Redis, shared by
// every replica).
func (s *Store) Limiter() *redis_rate.Limiter { return redis_rate.NewLimiter(s.rdb) }

// Allow spends one request of the subject's limit. The key names only a
// kind and a non-secret subject (an IP or a keyed hash).
func (s *Store) Allow(ctx context.Context, kind, subject string, limit redis_rate.Limit) (*redis_rate.Result, error) {
	res, err := s.Limiter().Allow(ctx, s.keys.RateLimit(kind, subject), limit)
	if err != nil {
		return nil, wrap("checking a rate limit", err)
	}
	return res, nil
}

// AppendOutbox implements notify.Outbox: the dev outbox is a capped stream.
func (s *Store) AppendOutbox(ctx context.Context, m notify.Message) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding a message: %w", err)
	}
	pipe := s.rdb.TxPipeline()
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.keys.Outbox(), MaxLen: 1000, Approx: true, Values: map[string]any{"m": raw}})
	pipe.Expire(ctx, s.keys.Outbox(), 24*time.Hour)
	if _, err := pipe.Exec(ctx); err != nil {
		return wrap("appending to the outbox", err)
	}
	return nil
}

// Outbox returns the newest dev-outbox messages, newest first.
func (s *Store) Outbox(ctx context.Context, n int64) ([]notify.Message, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.keys.Outbox(), "+", "-", n).Result()
	if err != nil {
		return nil, wrap("reading the outbox", err)
	}
	out := make([]notify.Message, 0, len(msgs))
	for _, x := range msgs {
		raw, _ := x.Values["m"].(string)
		var m notify.Message
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return nil, fmt.Errorf("decoding an outbox message: %w", err)
		}
		out = append(out, m)
	}
	return out, nil
}
