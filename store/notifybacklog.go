package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// NotifyBacklog is the state of the notification outbox for the operator's
// dashboard: messages waiting (delivered ones are deleted, so the stream's
// length is the backlog), how long the oldest has waited, and the
// dead-letter list's length.
type NotifyBacklog struct {
	Pending int64
	Oldest  time.Duration // 0 when nothing waits
	Dead    int64
}

// NotifyBacklog reads the outbox's backlog (three reads of the {nq} slot,
// nothing written).
func (q *NotifyQueue) NotifyBacklog(ctx context.Context, now time.Time) (NotifyBacklog, error) {
	var b NotifyBacklog
	pipe := q.s.rdb.Pipeline()
	n := pipe.XLen(ctx, q.s.keys.NotifyQueue())
	first := pipe.XRangeN(ctx, q.s.keys.NotifyQueue(), "-", "+", 1)
	dead := pipe.LLen(ctx, q.s.keys.NotifyDead())
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return b, wrap("reading the outbox backlog", err)
	}
	b.Pending, b.Dead = n.Val(), dead.Val()
	if msgs := first.Val(); len(msgs) > 0 {
		// A stream id starts with its Unix milliseconds.
		ms, _, _ := strings.Cut(msgs[0].ID, "-")
		if t, err := strconv.ParseInt(ms, 10, 64); err == nil {
			if age := now.Sub(time.UnixMilli(t)); age > 0 {
				b.Oldest = age
			}
		}
	}
	return b, nil
}
