package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Merchant webhooks tell a store's own systems about its sales: each
// approved payment, refund and top-up is posted to the endpoint the
// operator configured for the store, signed as the Standard Webhooks
// specification (https://www.standardwebhooks.com, v1) says:
//
//	webhook-id         the event's id: the same on every attempt and on a replay, so a receiver deduplicates by it
//	webhook-timestamp  Unix seconds of this attempt
//	webhook-signature  "v1,<base64 HMAC-SHA256 of id.timestamp.body>", one per valid secret, space-separated
//
// The HMAC key is the base64 part of the endpoint's "whsec_..." secret.
// While a rotated secret is still accepted (a day after the rotation) a
// request carries a signature under each, so a receiver can switch at its
// own pace. The body is {"type", "timestamp", "data"}; data has the ids,
// amount, currency and order reference of the movement, never anything of
// the shopper's.
//
// Merchant events travel through the same outbox as notifications (the
// store's NotifyQueue) as a Message of TypeMerchantEvent whose To is the
// store id and whose Data names the movement ("kind", "id"). The message
// is queued next to the sale, before the movement's outcome is known (so
// the payment takes no round trip of its own for it); the body is read at
// delivery from the movement's record, the truth: a movement that was
// declined has no record and its message is dropped (ErrDrop).
// MerchantWebhook makes one attempt; the outbox retries with backoff and
// dead-letters.

// TypeMerchantEvent is the Message type of a merchant event in the outbox.
const TypeMerchantEvent = "merchant.event"

// Merchant event types (the body's "type").
const (
	EventPaymentApproved = "payment.approved"
	EventPaymentRefunded = "payment.refunded"
	EventTopupApproved   = "topup.approved"
)

// The Standard Webhooks headers.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// SecretPrefix begins every merchant webhook secret.
const SecretPrefix = "whsec_"

// secretBytes is the HMAC key size of a new secret (the specification
// asks for 24 to 64 bytes).
const secretBytes = 32

// ErrDrop marks a message that has nowhere to go: the outbox removes it
// instead of retrying.
var ErrDrop = errors.New("notify: nowhere to deliver the message")

// ErrLater marks a message that cannot be delivered yet but may be soon
// (what it announces is not recorded yet): the outbox tries it again
// after its backoff without counting a failed delivery.
var ErrLater = errors.New("notify: not deliverable yet")

// ErrNoEndpoint is returned by an Endpoints lookup for a store without a
// webhook endpoint. It matches ErrDrop.
var ErrNoEndpoint = fmt.Errorf("the store has no webhook endpoint: %w", ErrDrop)

// NewWebhookSecret returns a fresh "whsec_<base64>" secret.
func NewWebhookSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a webhook secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// ParseWebhookSecret returns the HMAC key of a "whsec_<base64>" secret.
func ParseWebhookSecret(s string) ([]byte, error) {
	raw, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, errors.New("a webhook secret begins with " + SecretPrefix)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(b) < 24 || len(b) > 64 {
		return nil, errors.New("a webhook secret is whsec_ and 24 to 64 base64-encoded bytes")
	}
	return b, nil
}

// SignStandard returns the webhook-signature header value for one
// delivery: a "v1,<base64>" signature of id.timestamp.body under each key.
func SignStandard(keys [][]byte, id string, timestamp int64, body []byte) string {
	ts := strconv.FormatInt(timestamp, 10)
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		h := hmac.New(sha256.New, k)
		h.Write([]byte(id))
		h.Write([]byte{'.'})
		h.Write([]byte(ts))
		h.Write([]byte{'.'})
		h.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(h.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}

// Endpoint is where a store's events go, with the keys to sign them
// (the current secret's first).
type Endpoint struct {
	URL  string
	Keys [][]byte
}

// Endpoints is what MerchantWebhook reads at delivery time (so a changed
// URL or a rotated secret applies to events still queued).
type Endpoints interface {
	// MerchantEndpoint returns the store's endpoint, or ErrNoEndpoint.
	MerchantEndpoint(ctx context.Context, storeID string) (*Endpoint, error)
	// MerchantBody returns the body of the event m announces, the same
	// bytes on every attempt; an error matching ErrDrop when its movement
	// never happened.
	MerchantBody(ctx context.Context, m Message) ([]byte, error)
}

// MerchantWebhook delivers merchant events: one signed POST per call.
type MerchantWebhook struct {
	Endpoints Endpoints
	Client    *http.Client // nil: 10 s timeout, no redirects
	Now       func() time.Time
}

var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Notify posts a merchant event once; any answer but 2xx is an error (the
// outbox retries it). A store without an endpoint is ErrNoEndpoint.
func (w *MerchantWebhook) Notify(ctx context.Context, m Message) error {
	if m.Type != TypeMerchantEvent {
		return fmt.Errorf("delivering a merchant event: a %q message: %w", m.Type, ErrDrop)
	}
	body, err := w.Endpoints.MerchantBody(ctx, m)
	if err != nil {
		return err
	}
	ep, err := w.Endpoints.MerchantEndpoint(ctx, m.To)
	if err != nil {
		return err
	}
	client := w.Client
	if client == nil {
		client = noRedirects
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("delivering a merchant event: %w", err)
	}
	ts := now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "paycode-webhooks/1")
	req.Header.Set(HeaderWebhookID, m.ID)
	req.Header.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderWebhookSignature, SignStandard(ep.Keys, m.ID, ts, body))
	resp, err := client.Do(req)
	if err != nil {
		// The error names the URL, which may carry a credential: keep
		// only the cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("delivering a merchant event: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("delivering a merchant event: the store's endpoint answered %d", resp.StatusCode)
	}
	return nil
}

// Router sends merchant events to Merchant and every other message to
// Notifications; a nil side drops its messages (ErrDrop).
type Router struct {
	Notifications Notifier
	Merchant      Notifier
}

// Notify delivers m through the notifier for its type.
func (r Router) Notify(ctx context.Context, m Message) error {
	n := r.Notifications
	if m.Type == TypeMerchantEvent {
		n = r.Merchant
	}
	if n == nil {
		return fmt.Errorf("a %q message: %w", m.Type, ErrDrop)
	}
	return n.Notify(ctx, m)
}
