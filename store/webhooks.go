package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paycode/paycode/notify"
)

// Merchant webhooks: each store may have one endpoint, set by the operator,
// where its sales are posted (notify.MerchantWebhook signs and posts them;
// the notification outbox queues and retries them). An endpoint's secret is
// kept sealed (AES-256-GCM under a key derived from PAYCODE_SECRET), so a
// copy of Redis cannot sign events; it is shown to the operator once, when
// it is made. A rotated secret stays valid for PreviousSecretValidity, and
// deliveries are signed under both meanwhile.

// PreviousSecretValidity is how long a rotated-out secret still signs.
const PreviousSecretValidity = 24 * time.Hour

// WebhookEndpoint is what the operator sees of an endpoint: never a secret.
type WebhookEndpoint struct {
	StoreID   string
	URL       string
	CreatedAt time.Time
	UpdatedAt time.Time
	RotatedAt time.Time // zero until the first rotation
	// PreviousValidUntil is when the rotated-out secret stops signing
	// (zero when there is none).
	PreviousValidUntil time.Time
}

// WebhookEndpoints keeps the stores' endpoints. It implements
// notify.Endpoints for the outbox worker.
type WebhookEndpoints struct {
	s    *Store
	aead cipher.AEAD
	now  func() time.Time
}

func newAEAD(secret []byte, label string) (cipher.AEAD, error) {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(label))
	block, err := aes.NewCipher(h.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// WebhookEndpoints returns the endpoints, sealing secrets under a key
// derived from secret; now is the clock (nil: time.Now).
func (s *Store) WebhookEndpoints(secret []byte, now func() time.Time) (*WebhookEndpoints, error) {
	aead, err := newAEAD(secret, "paycode merchant webhook secrets v1")
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &WebhookEndpoints{s: s, aead: aead, now: now}, nil
}

// seal binds the sealed secret to its store, so one store's sealed secret
// copied into another's record does not open.
func (e *WebhookEndpoints) seal(storeID, whsec string) string {
	nonce := make([]byte, e.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(e.aead.Seal(nonce, nonce, []byte(whsec), []byte(storeID)))
}

func (e *WebhookEndpoints) open(storeID, sealed string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(sealed)
	n := e.aead.NonceSize()
	if err != nil || len(b) < n {
		return nil, errors.New("a webhook secret is unreadable")
	}
	raw, err := e.aead.Open(nil, b[:n], b[n:], []byte(storeID))
	if err != nil {
		return nil, errors.New("a webhook secret does not open (another PAYCODE_SECRET?)")
	}
	return notify.ParseWebhookSecret(string(raw))
}

// Put sets the store's endpoint URL. A store without an endpoint gets one
// with a new secret, returned (created true) for the operator to hand to
// the store once; an existing endpoint keeps its secrets (secret "").
func (e *WebhookEndpoints) Put(ctx context.Context, storeID, url string) (secret string, created bool, err error) {
	whsec, err := notify.NewWebhookSecret()
	if err != nil {
		return "", false, err
	}
	k := e.s.keys
	key, now := k.WebhookEndpoint(storeID), strconv.FormatInt(e.now().UnixMilli(), 10)
	pipe := e.s.rdb.TxPipeline()
	fresh := pipe.HSetNX(ctx, key, "secret", e.seal(storeID, whsec))
	pipe.HSetNX(ctx, key, "created_at", now)
	pipe.HSet(ctx, key, "store", storeID, "url", url, "updated_at", now)
	pipe.SAdd(ctx, k.WebhookStores(), storeID)
	pipe.Incr(ctx, k.WebhookVersion())
	if _, err := pipe.Exec(ctx); err != nil {
		return "", false, wrap("setting a webhook endpoint", err)
	}
	if fresh.Val() {
		return whsec, true, nil
	}
	return "", false, nil
}

// rotateSecret moves the current secret to prev (valid until ARGV[3]) and
// sets the new one; 0 when the store has no endpoint.
var rotateSecret = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'secret')
if not cur then return 0 end
redis.call('HSET', KEYS[1], 'prev', cur, 'prev_until', ARGV[3], 'secret', ARGV[1], 'rotated_at', ARGV[2], 'updated_at', ARGV[2])
return 1
`)

// Rotate gives the store's endpoint a new secret and returns it; the old
// one keeps signing for PreviousSecretValidity. ErrNotFound: no endpoint.
func (e *WebhookEndpoints) Rotate(ctx context.Context, storeID string) (string, error) {
	whsec, err := notify.NewWebhookSecret()
	if err != nil {
		return "", err
	}
	now := e.now()
	n, err := rotateSecret.Run(ctx, e.s.rdb, []string{e.s.keys.WebhookEndpoint(storeID)}, e.seal(storeID, whsec),
		now.UnixMilli(), now.Add(PreviousSecretValidity).UnixMilli()).Int()
	if err != nil {
		return "", wrap("rotating a webhook secret", err)
	}
	if n == 0 {
		return "", fmt.Errorf("rotating a webhook secret: %w", ErrNotFound)
	}
	return whsec, nil
}

// Delete removes the store's endpoint; false when it had none. Events
// still queued for it are dropped at delivery.
func (e *WebhookEndpoints) Delete(ctx context.Context, storeID string) (bool, error) {
	k := e.s.keys
	pipe := e.s.rdb.TxPipeline()
	del := pipe.Del(ctx, k.WebhookEndpoint(storeID))
	pipe.SRem(ctx, k.WebhookStores(), storeID)
	pipe.Incr(ctx, k.WebhookVersion())
	if _, err := pipe.Exec(ctx); err != nil {
		return false, wrap("removing a webhook endpoint", err)
	}
	return del.Val() == 1, nil
}

// Get reads the store's endpoint (no secret). ErrNotFound: none.
func (e *WebhookEndpoints) Get(ctx context.Context, storeID string) (*WebhookEndpoint, error) {
	m, err := e.s.rdb.HGetAll(ctx, e.s.keys.WebhookEndpoint(storeID)).Result()
	if err != nil {
		return nil, wrap("reading a webhook endpoint", err)
	}
	if m["url"] == "" {
		return nil, fmt.Errorf("reading a webhook endpoint: %w", ErrNotFound)
	}
	ep := &WebhookEndpoint{StoreID: storeID, URL: m["url"], CreatedAt: millis(m["created_at"]),
		UpdatedAt: millis(m["updated_at"]), RotatedAt: millis(m["rotated_at"])}
	if until := millis(m["prev_until"]); until.After(e.now()) {
		ep.PreviousValidUntil = until
	}
	return ep, nil
}

// MerchantEndpoint implements notify.Endpoints: the URL and the keys that
// sign now (the current secret, then a rotated one still valid).
func (e *WebhookEndpoints) MerchantEndpoint(ctx context.Context, storeID string) (*notify.Endpoint, error) {
	m, err := e.s.rdb.HGetAll(ctx, e.s.keys.WebhookEndpoint(storeID)).Result()
	if err != nil {
		return nil, wrap("reading a webhook endpoint", err)
	}
	if m["url"] == "" || m["secret"] == "" {
		return nil, notify.ErrNoEndpoint
	}
	cur, err := e.open(storeID, m["secret"])
	if err != nil {
		return nil, err
	}
	ep := &notify.Endpoint{URL: m["url"], Keys: [][]byte{cur}}
	if m["prev"] != "" && millis(m["prev_until"]).After(e.now()) {
		if prev, err := e.open(storeID, m["prev"]); err == nil {
			ep.Keys = append(ep.Keys, prev)
		}
	}
	return ep, nil
}

// StoresWithEndpoints returns the ids of the stores that have an endpoint
// and the version of that set; when the version is still known (the
// caller's), it returns changed false and no ids (one small read).
func (e *WebhookEndpoints) StoresWithEndpoints(ctx context.Context, known int64) (version int64, ids []string, changed bool, err error) {
	k := e.s.keys
	v, err := e.s.rdb.Get(ctx, k.WebhookVersion()).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, nil, false, wrap("reading the webhook stores", err)
	}
	if v == known {
		return v, nil, false, nil
	}
	// The set and its version in one step, so the version never claims a
	// newer set than the one read.
	pipe := e.s.rdb.TxPipeline()
	ver := pipe.Get(ctx, k.WebhookVersion())
	members := pipe.SMembers(ctx, k.WebhookStores())
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, nil, false, wrap("reading the webhook stores", err)
	}
	v, _ = ver.Int64()
	return v, members.Val(), true, nil
}

// MerchantRef names one movement a store's systems are told of: a
// payment or top-up (pay_ id) or a refund (rfd_ id), made at StoreID.
type MerchantRef struct {
	StoreID string
	Kind    Kind
	ID      string
	// At is when the message was queued (the movement's time on a
	// replay); MerchantBody uses it to tell a movement still in flight
	// from one that never happened.
	At time.Time
}

// WebhookID is the event's webhook-id: "evt_" and the movement's id, the
// same for every delivery of it (replays included).
func (r MerchantRef) WebhookID() string { return "evt_" + r.ID }

func (r MerchantRef) message() notify.Message {
	return notify.Message{ID: r.WebhookID(), Type: notify.TypeMerchantEvent, To: r.StoreID,
		Data: map[string]string{"kind": string(r.Kind), "id": r.ID}, CreatedAt: r.At}
}

// AppendMerchantEvents adds the events' outbox entries to pipe, so that
// they go in the same round trip as another write of the sale. Nothing is
// written before pipe runs.
func (q *NotifyQueue) AppendMerchantEvents(ctx context.Context, pipe redis.Pipeliner, refs ...MerchantRef) error {
	for _, r := range refs {
		if _, err := q.appendMerchant(ctx, pipe, r); err != nil {
			return err
		}
	}
	return nil
}

func (q *NotifyQueue) appendMerchant(ctx context.Context, pipe redis.Pipeliner, r MerchantRef) (*redis.StringCmd, error) {
	sealed, err := q.seal(r.message())
	if err != nil {
		return nil, err
	}
	return pipe.XAdd(ctx, &redis.XAddArgs{Stream: q.s.keys.NotifyQueue(), Values: []any{"m", sealed}}), nil
}

// appendSaleWith writes the sale's log entry (AppendSale) and, when q is
// set, queues the sale's merchant event in the same round trip: one
// pipeline (in a Cluster, go-redis sends the two commands to their nodes
// in parallel). With PAYCODE_REDIS_WAIT_REPLICAS the log entry needs a
// connection of its own to its slot's master (evalDurable), so the event
// goes beside it, in parallel: the same latency, one more command.
func (s *Store) appendSaleWith(ctx context.Context, r SaleRef, q *NotifyQueue) (logErr, eventErr error) {
	if q == nil {
		return s.AppendSale(ctx, r), nil
	}
	ev := MerchantRef{StoreID: r.StoreID, Kind: r.Kind, ID: r.ID, At: r.At}
	if s.waitReplicas > 0 {
		done := make(chan error, 1)
		go func() { done <- q.EnqueueMerchantEvents(context.WithoutCancel(ctx), ev) }()
		logErr = s.AppendSale(ctx, r)
		return logErr, <-done
	}
	keys, member := s.saleKeys(r)
	pipe := s.rdb.Pipeline()
	sale := appendSale.EvalSha(ctx, pipe, keys, member)
	xadd, err := q.appendMerchant(ctx, pipe, ev)
	if err != nil {
		return s.AppendSale(ctx, r), err
	}
	_, _ = pipe.Exec(ctx) // each command's error is read below
	logErr = sale.Err()
	if logErr != nil && redis.HasErrorPrefix(logErr, "NOSCRIPT") {
		// The first use of the script on this node: load it (once).
		logErr = appendSale.Run(ctx, s.rdb, keys, member).Err()
	}
	if logErr != nil {
		logErr = fmt.Errorf("logging a sale: %w", sendError(logErr))
	}
	if err := xadd.Err(); err != nil {
		eventErr = wrap("enqueueing a merchant event", err)
	}
	return logErr, eventErr
}

// EnqueueMerchantEvents queues the events for delivery, in one round trip.
// Once it returns nil they are in Redis.
func (q *NotifyQueue) EnqueueMerchantEvents(ctx context.Context, refs ...MerchantRef) error {
	if len(refs) == 0 {
		return nil
	}
	pipe := q.s.rdb.Pipeline()
	if err := q.AppendMerchantEvents(ctx, pipe, refs...); err != nil {
		return err
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return wrap("enqueueing merchant events", err)
	}
	return nil
}

// merchantGrace is how long after its message a movement's record may
// still be missing because its script has not run yet (a script's run is
// bounded by the Redis timeout, well under a second): a record missing
// after that means the movement was declined, and the message is dropped.
const merchantGrace = 30 * time.Second

// ErrNotYetRecorded: a merchant event's movement has no record yet, and
// may still get one; the outbox retries it.
var ErrNotYetRecorded = fmt.Errorf("the movement is not recorded yet: %w", notify.ErrLater)

// MerchantBody implements notify.Endpoints: the body of the event m
// announces, read from the movement's record (and, for a refund, its
// payment's), so it holds only what happened and is the same bytes on
// every attempt (the fields read never change: a payment's refunded total
// is left out).
func (e *WebhookEndpoints) MerchantBody(ctx context.Context, m notify.Message) ([]byte, error) {
	kind, id := Kind(m.Data["kind"]), m.Data["id"]
	prefix := "pay"
	if kind == KindRefund {
		prefix = "rfd"
	}
	b, err := BucketOfKind(prefix, id)
	if err != nil || !kind.Valid() {
		return nil, fmt.Errorf("a merchant event names %q %q: %w", kind, id, notify.ErrDrop)
	}
	key := e.s.keys.Payment(b, id)
	if kind == KindRefund {
		key = e.s.keys.Refund(b, id)
	}
	rec, err := e.s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, wrap("reading a merchant event's movement", err)
	}
	if len(rec) == 0 {
		if e.now().Sub(m.CreatedAt) > merchantGrace {
			return nil, fmt.Errorf("the movement of a merchant event never happened (declined): %w", notify.ErrDrop)
		}
		return nil, ErrNotYetRecorded
	}
	n := func(m map[string]string, k string) int64 { v, _ := strconv.ParseInt(m[k], 10, 64); return v }
	at := millis(rec["created_at"]).UTC()
	data := map[string]any{"store_id": m.To, "terminal_id": rec["terminal"], "amount": n(rec, "amount"),
		"created_at": at.Format(time.RFC3339Nano)}
	typ := notify.EventPaymentApproved
	switch kind {
	case KindRefund:
		pb, err := BucketOfKind("pay", rec["payment"])
		if err != nil {
			return nil, fmt.Errorf("a refund names no payment: %w", notify.ErrDrop)
		}
		p, err := e.s.rdb.HMGet(ctx, e.s.keys.Payment(pb, rec["payment"]), "store", "currency", "order_ref").Result()
		if err != nil {
			return nil, wrap("reading a refunded payment", err)
		}
		if s, _ := p[0].(string); s != m.To {
			return nil, fmt.Errorf("a refund of another store's payment: %w", notify.ErrDrop)
		}
		typ = notify.EventPaymentRefunded
		data["refund_id"], data["payment_id"] = id, rec["payment"]
		data["currency"], _ = p[1].(string)
		data["order_ref"], _ = p[2].(string)
	default:
		if rec["store"] != m.To {
			return nil, fmt.Errorf("a payment of another store: %w", notify.ErrDrop)
		}
		if Kind(rec["kind"]) == KindTopup {
			typ = notify.EventTopupApproved
		}
		data["payment_id"], data["currency"], data["order_ref"] = id, rec["currency"], rec["order_ref"]
	}
	body, err := json.Marshal(map[string]any{"type": typ, "timestamp": at.Format(time.RFC3339Nano), "data": data})
	if err != nil {
		return nil, fmt.Errorf("encoding a merchant event: %w", err)
	}
	return body, nil
}
