// Package notify delivers one-time codes and security notices to a
// customer's verified contact through the operator's systems.
//
// In production a Webhook posts each Message as JSON to the operator's
// endpoint (which sends the e-mail or SMS), signed with an HMAC header so
// the receiver can check it came from paycode and is fresh. In dev mode the
// Outbox keeps the same messages where a developer can read them
// (GET /dev/outbox). A message is only ever addressed to a contact that is
// being verified or is already verified on the account; the caller decides
// that, this package only delivers.
//
// Message texts may carry an OTP: they are never logged.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Message types.
const (
	TypeSignupOTP      = "signup.otp"      // the OTP of a sign-up
	TypeSignupExisting = "signup.existing" // someone tried to sign up with a contact that has an account
	TypeSecurity       = "security.notice" // a security event on the account
	// TypeDecoy is enqueued where an unknown contact gets nothing, so the
	// request costs what a real message costs; it is never delivered.
	TypeDecoy = "decoy"
)

// Message is one notification.
type Message struct {
	ID        string            `json:"id"`
	Type      string            `json:"type"`
	To        string            `json:"to"`
	Text      string            `json:"text"`
	Data      map[string]string `json:"data,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
}

// Notifier delivers a message. It returns an error when the message could
// not be handed over; the caller decides whether that fails the request.
type Notifier interface {
	Notify(ctx context.Context, m Message) error
}

// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>" of
// "<t>.<body>" under the shared secret.
const SignatureHeader = "X-Paycode-Signature"

// Webhook posts messages to an operator endpoint.
type Webhook struct {
	URL    string
	Secret []byte
	Client *http.Client // nil: 5 s timeout
	// Retries after the first attempt on network errors and 5xx (default 2).
	Retries int
	// Backoff before retry n is Backoff*n (default 200 ms).
	Backoff time.Duration
	Now     func() time.Time
}

// Notify posts m, retrying transient failures. A 4xx answer is final.
func (w *Webhook) Notify(ctx context.Context, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding a notification: %w", err)
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	retries, backoff := w.Retries, w.Backoff
	if retries == 0 {
		retries = 2
	}
	if backoff == 0 {
		backoff = 200 * time.Millisecond
	}
	var last error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("delivering a notification: %w", ctx.Err())
			case <-time.After(backoff * time.Duration(attempt)):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("delivering a notification: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", m.ID)
		req.Header.Set(SignatureHeader, Sign(w.Secret, now(), body))
		resp, err := client.Do(req)
		if err != nil {
			// The error names the URL, which may carry a credential: keep
			// only the cause.
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err
			}
			last = err
			continue
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return nil
		case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
			last = fmt.Errorf("webhook answered %d", resp.StatusCode)
		default:
			return fmt.Errorf("delivering a notification: webhook answered %d", resp.StatusCode)
		}
	}
	return fmt.Errorf("delivering a notification after %d attempts: %w", retries+1, last)
}

// Sign returns the signature header value for body at time t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// ErrBadSignature is returned by Verify for a missing, wrong or stale
// signature.
var ErrBadSignature = errors.New("bad webhook signature")

// Verify checks a signature header as a receiver should: the HMAC in
// constant time, and the timestamp within tolerance of now (replays of old
// deliveries are refused).
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrBadSignature
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, ts, body))) {
		return ErrBadSignature
	}
	return nil
}

// Outbox keeps dev-mode messages; the Redis layer implements it.
type Outbox interface {
	AppendOutbox(ctx context.Context, m Message) error
}

// OutboxNotifier delivers into an Outbox (dev mode only).
type OutboxNotifier struct{ Outbox Outbox }

// Notify appends m to the outbox.
func (o OutboxNotifier) Notify(ctx context.Context, m Message) error {
	if m.Type == TypeDecoy {
		return nil
	}
	return o.Outbox.AppendOutbox(ctx, m)
}

// Multi delivers to every notifier and returns the errors joined.
type Multi []Notifier

// Notify delivers m to each notifier in turn.
func (ms Multi) Notify(ctx context.Context, m Message) error {
	var errs []error
	for _, n := range ms {
		errs = append(errs, n.Notify(ctx, m))
	}
	return errors.Join(errs...)
}
