package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paycode/paycode/notify"
)

// The notification outbox takes the notifier off the request path (issue
// 13: a request that sent a message waited for the webhook, so its timing
// told whether the contact had an account, and a slow webhook held
// sign-ups for 15 s). A request enqueues its message with one XADD
// (NotifyQueue.Notify) and answers; a worker on each replica
// (NotifyWorker) delivers it, retrying with backoff, and moves a message
// that keeps failing to a dead-letter list. A request that sends nothing
// where another would (an unknown contact) enqueues a decoy the worker
// drops, so both cost the same XADD.
//
// The queue is a stream with one consumer group (notifyGroup) in its own
// slot ({nq}); every replica's worker is a consumer of the group, so each
// message is delivered by one worker, and a message a crashed worker held
// is claimed by another once it has been idle for the retry backoff.
// Messages carry OTPs: they are sealed (AES-256-GCM under a key derived
// from PAYCODE_SECRET), so a copy of Redis reveals none, and deleted once
// delivered.

const notifyGroup = "notify"

// NotifyQueue enqueues notifications; it implements notify.Notifier.
type NotifyQueue struct {
	s    *Store
	aead cipher.AEAD
}

// NotifyQueue returns the queue, sealing messages under a key derived
// from secret.
func (s *Store) NotifyQueue(secret []byte) (*NotifyQueue, error) {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("paycode notification outbox v1"))
	block, err := aes.NewCipher(h.Sum(nil))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &NotifyQueue{s: s, aead: aead}, nil
}

func (q *NotifyQueue) seal(m notify.Message) (string, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encoding a notification: %w", err)
	}
	nonce := make([]byte, q.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return string(q.aead.Seal(nonce, nonce, raw, nil)), nil
}

func (q *NotifyQueue) open(sealed string) (notify.Message, error) {
	var m notify.Message
	b := []byte(sealed)
	n := q.aead.NonceSize()
	if len(b) < n {
		return m, errors.New("a queued notification is truncated")
	}
	raw, err := q.aead.Open(nil, b[:n], b[n:], nil)
	if err != nil {
		return m, errors.New("a queued notification does not open (another PAYCODE_SECRET?)")
	}
	return m, json.Unmarshal(raw, &m)
}

// enqueueNotification: KEYS notify stream. ARGV the sealed message.
// Returns the entry id. A script (not a bare XADD) so that evalDurable
// can pipeline it with WAIT on one pinned connection.
var enqueueNotification = redis.NewScript(`return redis.call('XADD', KEYS[1], '*', 'm', ARGV[1])`)

// Notify enqueues m (a decoy too) durably enough that a worker will
// deliver it: once it returns nil the message is in Redis, and, when
// Options.WaitReplicas is set, on that many replicas (the same WAIT as a
// payment: a queued security warning must survive a failover, since the
// change it warns of commits right after). An error means the caller
// must change nothing: ErrUnavailable when it was not enqueued,
// ErrUnconfirmed (which matches ErrUnavailable) when it was written but
// not confirmed on enough replicas (the worker may still deliver it; a
// warning without its change is harmless).
func (q *NotifyQueue) Notify(ctx context.Context, m notify.Message) error {
	sealed, err := q.seal(m)
	if err != nil {
		return err
	}
	if _, err := q.s.evalDurable(ctx, enqueueNotification, []string{q.s.keys.NotifyQueue()}, sealed); err != nil {
		return fmt.Errorf("enqueueing a notification: %w", err)
	}
	return nil
}

// NotifyWorkerOptions tune a worker; zero values take the defaults.
type NotifyWorkerOptions struct {
	// Attempts before a message is dead-lettered (default 8).
	Attempts int
	// Backoff before retry n is Backoff*2^(n-1), at most MaxBackoff
	// (defaults 1 s and 5 min).
	Backoff, MaxBackoff time.Duration
	// Timeout bounds one delivery (default 20 s).
	Timeout time.Duration
	// Observe is told each outcome: "sent", "retry", "dead", "decoy".
	Observe func(outcome string)
	Log     *slog.Logger
}

// NotifyWorker delivers the queue on one replica.
type NotifyWorker struct {
	q        *NotifyQueue
	deliver  notify.Notifier
	o        NotifyWorkerOptions
	consumer string
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// StartWorker starts delivering the queue through deliver.
func (q *NotifyQueue) StartWorker(deliver notify.Notifier, o NotifyWorkerOptions) *NotifyWorker {
	if o.Attempts <= 0 {
		o.Attempts = 8
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Second
	}
	if o.Observe == nil {
		o.Observe = func(string) {}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	id, _ := RandomID()
	w := &NotifyWorker{q: q, deliver: deliver, o: o, consumer: "w-" + id, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// Close stops the worker after its current delivery; undelivered messages
// stay queued for another worker.
func (w *NotifyWorker) Close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

func (w *NotifyWorker) backoff(attempts int64) time.Duration {
	d := w.o.Backoff
	for i := int64(1); i < attempts && d < w.o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, w.o.MaxBackoff)
}

func (w *NotifyWorker) run() {
	defer close(w.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-w.stop
		cancel()
	}()
	rdb, key := w.q.s.rdb, w.q.s.keys.NotifyQueue()
	grouped := false
	for ctx.Err() == nil {
		if !grouped {
			err := rdb.XGroupCreateMkStream(ctx, key, notifyGroup, "0").Err()
			if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
				w.pause(ctx, err)
				continue
			}
			grouped = true
		}
		if err := w.retry(ctx); err != nil {
			w.pause(ctx, err)
		}
		res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: notifyGroup, Consumer: w.consumer,
			Streams: []string{key, ">"}, Count: 16, Block: min(time.Second, w.o.Backoff)}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				grouped = false
			}
			w.pause(ctx, err)
			continue
		}
		for _, st := range res {
			for _, x := range st.Messages {
				w.handle(ctx, x, 1)
			}
		}
	}
}

// pause waits a moment after a Redis error (not a delivery error).
func (w *NotifyWorker) pause(ctx context.Context, err error) {
	if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
		return
	}
	w.o.Log.Warn("notification outbox: Redis error", "error", err.Error())
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// retry claims pending messages whose backoff has passed (failed
// deliveries, and messages of a worker that died) and dead-letters those
// out of attempts.
func (w *NotifyWorker) retry(ctx context.Context) error {
	rdb, key := w.q.s.rdb, w.q.s.keys.NotifyQueue()
	pend, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: key, Group: notifyGroup, Idle: w.o.Backoff,
		Start: "-", End: "+", Count: 64}).Result()
	if err != nil {
		return err
	}
	for _, p := range pend {
		if p.RetryCount >= int64(w.o.Attempts) {
			w.deadLetter(ctx, p.ID)
			continue
		}
		if p.Idle < w.backoff(p.RetryCount) {
			continue
		}
		claimed, err := rdb.XClaim(ctx, &redis.XClaimArgs{Stream: key, Group: notifyGroup, Consumer: w.consumer,
			MinIdle: w.backoff(p.RetryCount), Messages: []string{p.ID}}).Result()
		if err != nil {
			return err
		}
		for _, x := range claimed {
			w.handle(ctx, x, p.RetryCount+1)
		}
	}
	return nil
}

func (w *NotifyWorker) handle(ctx context.Context, x redis.XMessage, attempt int64) {
	sealed, _ := x.Values["m"].(string)
	m, err := w.q.open(sealed)
	if err != nil {
		w.o.Log.Error("notification outbox: unreadable message dead-lettered", "id", x.ID, "error", err.Error())
		w.deadLetter(ctx, x.ID)
		return
	}
	if m.Type == notify.TypeDecoy {
		w.done1(ctx, x.ID)
		w.o.Observe("decoy")
		return
	}
	dctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	err = w.deliver.Notify(dctx, m)
	cancel()
	if err != nil {
		// Left pending: retry claims it after its backoff. The error
		// names no address and no text.
		w.o.Log.Warn("notification not delivered; will retry", "id", m.ID, "type", m.Type, "attempt", attempt, "error", err.Error())
		w.o.Observe("retry")
		return
	}
	w.done1(ctx, x.ID)
	w.o.Observe("sent")
}

// done1 acknowledges and deletes a delivered message (its OTP leaves Redis).
func (w *NotifyWorker) done1(ctx context.Context, id string) {
	rdb, key := w.q.s.rdb, w.q.s.keys.NotifyQueue()
	pipe := rdb.TxPipeline()
	pipe.XAck(ctx, key, notifyGroup, id)
	pipe.XDel(ctx, key, id)
	_, _ = pipe.Exec(ctx)
}

// deadLetter moves a message (still sealed) to the dead-letter list for the
// operator, keeping the newest 1000.
func (w *NotifyWorker) deadLetter(ctx context.Context, id string) {
	rdb, key := w.q.s.rdb, w.q.s.keys.NotifyQueue()
	msgs, err := rdb.XRange(ctx, key, id, id).Result()
	if err != nil {
		return
	}
	pipe := rdb.TxPipeline()
	for _, x := range msgs {
		sealed, _ := x.Values["m"].(string)
		pipe.LPush(ctx, w.q.s.keys.NotifyDead(), x.ID+" "+sealed)
		pipe.LTrim(ctx, w.q.s.keys.NotifyDead(), 0, 999)
	}
	pipe.XAck(ctx, key, notifyGroup, id)
	pipe.XDel(ctx, key, id)
	if _, err := pipe.Exec(ctx); err == nil {
		w.o.Log.Error("notification dead-lettered after its attempts", "id", id)
		w.o.Observe("dead")
	}
}

// DeadNotifications is how many messages the dead-letter list holds.
func (q *NotifyQueue) DeadNotifications(ctx context.Context) (int64, error) {
	n, err := q.s.rdb.LLen(ctx, q.s.keys.NotifyDead()).Result()
	if err != nil {
		return 0, wrap("reading the dead letters", err)
	}
	return n, nil
}
