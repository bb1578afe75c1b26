package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// A real HTTP receiver checks what an operator's endpoint would: the body,
// and the signature over it.
func TestWebhookDeliversSigned(t *testing.T) {
	var got Message
	var sigErr error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sigErr = Verify(secret, r.Header.Get(SignatureHeader), body, time.Now(), time.Minute)
		_ = json.Unmarshal(body, &got)
		if r.Header.Get("Idempotency-Key") != "m1" {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	w := &Webhook{URL: srv.URL, Secret: secret}
	m := Message{ID: "m1", Type: TypeSignupOTP, To: "a@example.com", Text: "code 123456", CreatedAt: time.Now()}
	if err := w.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if sigErr != nil {
		t.Errorf("receiver could not verify the signature: %v", sigErr)
	}
	if got.Type != m.Type || got.To != m.To || got.Text != m.Text {
		t.Errorf("delivered %+v; want %+v", got, m)
	}
}

func TestWebhookRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(200)
	}))
	defer srv.Close()
	w := &Webhook{URL: srv.URL, Secret: secret, Retries: 2, Backoff: time.Millisecond}
	if err := w.Notify(context.Background(), Message{ID: "x"}); err != nil {
		t.Fatalf("after two 503s and a 200: %v", err)
	}
	if calls.Load() != 3 {
		t.Errorf("calls = %d; want 3", calls.Load())
	}
}

func TestWebhookClientErrorIsFinal(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(400)
	}))
	defer srv.Close()
	w := &Webhook{URL: srv.URL, Secret: secret, Retries: 3, Backoff: time.Millisecond}
	if err := w.Notify(context.Background(), Message{ID: "x"}); err == nil {
		t.Fatal("a 400 answer counted as delivered")
	}
	if calls.Load() != 1 {
		t.Errorf("calls = %d; want 1 (4xx is not retried)", calls.Load())
	}
}

// Attack: a forged or replayed delivery to the operator's endpoint.
func TestVerifyRefuses(t *testing.T) {
	body := []byte(`{"id":"1"}`)
	now := time.Now()
	good := Sign(secret, now, body)
	for _, tc := range []struct {
		name, header string
		body         []byte
		at           time.Time
	}{
		{"other secret", Sign([]byte("another secret another secret!!!"), now, body), body, now},
		{"tampered body", good, []byte(`{"id":"2"}`), now},
		{"replayed later", good, body, now.Add(10 * time.Minute)},
		{"missing", "", body, now},
		{"garbage", "t=x,v1=", body, now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(secret, tc.header, tc.body, tc.at, 5*time.Minute); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify = %v; want ErrBadSignature", err)
			}
		})
	}
	if err := Verify(secret, good, body, now, 5*time.Minute); err != nil {
		t.Errorf("good signature refused: %v", err)
	}
}

// A delivery failure never repeats the webhook URL, which may carry a
// credential (a token in the query, user:password in the authority).
func TestWebhookErrorHidesURL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	url := "http://user:s3cret@" + srv.Listener.Addr().String() + "/hook?token=t0ps3cret"
	srv.Close() // nothing listens any more: the delivery fails with a network error
	w := &Webhook{URL: url, Secret: secret, Retries: 1, Backoff: time.Millisecond}
	err := w.Notify(context.Background(), Message{ID: "x"})
	if err == nil {
		t.Fatal("delivery to a closed server succeeded")
	}
	for _, leak := range []string{"s3cret", "t0ps3cret"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q repeats the URL's credential", err)
		}
	}
}
