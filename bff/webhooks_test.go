package bff

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycode/paycode/config"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// verifyStandardWebhook checks a delivery as a store's receiver would,
// written from the Standard Webhooks specification (v1) and not from
// paycode's signer: the signed content is "<webhook-id>.<webhook-timestamp>.<body>",
// the key is the base64 after "whsec_", the header holds space-separated
// "v1,<base64 HMAC-SHA256>" entries of which one must match (compared in
// constant time), and the timestamp must be within five minutes of now.
// README's "Merchant webhooks" shows the same code.
func verifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return errors.New("missing or stale webhook headers")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(sigs) {
		if v, got, ok := strings.Cut(sig, ","); ok && v == "v1" && hmac.Equal([]byte(got), []byte(want)) {
			return nil
		}
	}
	return errors.New("no valid signature")
}

// delivery is one request a receiver got.
type delivery struct {
	header http.Header
	body   []byte
	status int // what the receiver answered
}

func (d delivery) event(t *testing.T) (typ string, data map[string]any) {
	t.Helper()
	var ev struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(d.body, &ev); err != nil {
		t.Fatalf("a delivery's body is not JSON: %s", d.body)
	}
	return ev.Type, ev.Data
}

// receiver is a store's real HTTP endpoint: it answers 500 while failing
// is positive (counting down) and records every request.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	failing int
	got     chan delivery
}

func newReceiver(t *testing.T, failing int) *receiver {
	r := &receiver{failing: failing, got: make(chan delivery, 256)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		status := http.StatusOK
		if r.failing != 0 {
			status = http.StatusInternalServerError
			if r.failing > 0 {
				r.failing--
			}
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		r.got <- delivery{header: req.Header.Clone(), body: body, status: status}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// next returns the next delivery, failing the test after 10 s.
func (r *receiver) next(t *testing.T) delivery {
	t.Helper()
	select {
	case d := <-r.got:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook delivery within 10 s")
		return delivery{}
	}
}

// nextOK returns the next delivery answered 200, and the failed ones
// before it.
func (r *receiver) nextOK(t *testing.T) (ok delivery, failed []delivery) {
	t.Helper()
	for {
		d := r.next(t)
		if d.status == http.StatusOK {
			return d, failed
		}
		failed = append(failed, d)
	}
}

// webhookEnv is a server whose outbox retries fast (20-50 ms) and which
// reports the merchant outcomes on a channel.
func webhookEnv(t *testing.T, attempts int) (*env, chan string) {
	t.Helper()
	outcomes := make(chan string, 1024)
	st := storetest.Open(t)
	clk := &clock{now: time.Now().Truncate(time.Second)}
	cfg, err := config.Load(func(k string) (string, bool) {
		if k == "PAYCODE_ADMIN_TOKEN" {
			return testAdminToken, true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := LoadSigningKeys(t.Context(), cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, st, slog.New(slog.DiscardHandler), Deps{Keys: keys, Notifier: NewNotifier(cfg, st), Now: clk.Now,
		Outbox: store.NotifyWorkerOptions{Attempts: attempts, Backoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
		OutboxObserved: func(channel, outcome string) {
			if channel == store.ChannelMerchant {
				outcomes <- outcome
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &env{t: t, s: s, st: st, clock: clk}, outcomes
}

func waitOutcome(t *testing.T, outcomes chan string, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case o := <-outcomes:
			if o == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q outcome of the merchant outbox within 10 s", want)
		}
	}
}

func opBody(extra map[string]any) map[string]any {
	b := map[string]any{"operator": "ops", "reason": "store onboarding"}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// A store's systems hear of its top-ups, payments and refunds, signed as
// Standard Webhooks; a 500 is retried with the same webhook-id and body;
// the secret is shown once, never stored in clear; a rotation signs with
// both secrets; a declined payment sends nothing.
func TestMerchantWebhooks(t *testing.T) {
	e, outcomes := webhookEnv(t, 8)
	rcv := newReceiver(t, 1) // the first delivery answers 500
	term := e.registerTerminal("store-wh")
	other := e.registerTerminal("store-quiet") // no endpoint: hears nothing

	r := enrAdmin(t, e, "PUT", "/v1/stores/store-wh/webhook", opBody(map[string]any{"url": rcv.srv.URL + "/hook?token=receiver-own"}))
	mustStatus(t, "set the endpoint", r, 201)
	secret := r.str("secret")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the new endpoint's secret = %q; want whsec_...", secret)
	}
	r = enrAdmin(t, e, "GET", "/v1/stores/store-wh/webhook", nil)
	mustStatus(t, "get the endpoint", r, 200)
	if _, shown := r.body["secret"]; shown || r.str("url") != rcv.srv.URL+"/hook?token=receiver-own" {
		t.Fatalf("GET shows %s; want the URL and no secret", r.raw)
	}
	r = enrAdmin(t, e, "PUT", "/v1/stores/store-wh/webhook", opBody(map[string]any{"url": rcv.srv.URL + "/hook?token=receiver-own"}))
	mustStatus(t, "set the endpoint again", r, 200)
	if _, shown := r.body["secret"]; shown {
		t.Fatal("changing the URL showed the secret again")
	}
	// The secret is sealed in Redis: its key's fields hold no copy of it.
	raw, err := e.st.Client().HGetAll(t.Context(), e.st.Keys().WebhookEndpoint("store-wh")).Result()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range raw {
		if strings.Contains(v, strings.TrimPrefix(secret, "whsec_")) {
			t.Fatalf("the endpoint's field %s holds the secret in clear", k)
		}
	}

	d := e.customer("wh-shopper@example.com")
	topup := term.topup(d.code(), 1000)
	mustStatus(t, "top-up", topup, 201)
	mustStatus(t, "payment at a store without an endpoint", other.topup(d.code(), 10), 201)
	h := countRoundTrips(e)
	code := d.code()
	var paid response
	// The event adds no round trip of its own: it goes in one pipeline
	// with the store's sales-log entry, in parallel with the money script,
	// as at a store without an endpoint (TestRedemptionRoundTrips).
	if n := h.count(func() { paid = term.pay(code, 300); mustStatus(t, "payment", paid, 201) }); n != 2 {
		t.Errorf("a payment at a store with an endpoint took %d round trips (%s); want 2 (the script; the sales log with the event)", n, h.last())
	}
	refund := term.call("POST", "/v1/terminal/payments/"+paid.str("payment_id")+"/refunds", newIdem(), map[string]any{"amount": 100})
	mustStatus(t, "refund", refund, 201)

	want := []struct{ typ, id, idField string }{
		{"topup.approved", topup.str("payment_id"), "payment_id"},
		{"payment.approved", paid.str("payment_id"), "payment_id"},
		{"payment.refunded", refund.str("refund_id"), "refund_id"},
	}
	seen := map[string]delivery{}
	var failed []delivery
	for range want {
		ok, f := rcv.nextOK(t)
		failed = append(failed, f...)
		if err := verifyStandardWebhook(secret, ok.header, ok.body, time.Now()); err != nil {
			t.Fatalf("a delivery does not verify: %v (%v)", err, ok.header)
		}
		seen[ok.header.Get("webhook-id")] = ok
	}
	if len(failed) != 1 {
		t.Fatalf("%d deliveries failed; want the one the receiver refused", len(failed))
	}
	for _, w := range want {
		got, ok := seen["evt_"+w.id]
		if !ok {
			t.Fatalf("no delivery with webhook-id evt_%s (got %d deliveries)", w.id, len(seen))
		}
		typ, data := got.event(t)
		if typ != w.typ || data[w.idField] != w.id || data["store_id"] != "store-wh" || data["terminal_id"] != term.id || data["currency"] != "JPY" {
			t.Errorf("%s: got %s", w.typ, got.body)
		}
		if strings.Contains(string(got.body), d.account) {
			t.Errorf("%s carries the shopper's account id: %s", w.typ, got.body)
		}
	}
	if typ, data := seen["evt_"+paid.str("payment_id")].event(t); typ != "payment.approved" || data["amount"] != float64(300) || data["order_ref"] != "o-1" {
		t.Errorf("payment.approved: %v %v", typ, data)
	}
	if _, data := seen["evt_"+refund.str("refund_id")].event(t); data["payment_id"] != paid.str("payment_id") || data["amount"] != float64(100) {
		t.Errorf("payment.refunded: %v", data)
	}
	// The retry of the refused delivery carried the same id and body.
	retried := seen[failed[0].header.Get("webhook-id")]
	if string(retried.body) != string(failed[0].body) {
		t.Errorf("the retry's body differs from the first attempt's:\n%s\n%s", failed[0].body, retried.body)
	}

	// Rotation: the answer shows the new secret once; deliveries are
	// signed under both until the old one lapses.
	r = enrAdmin(t, e, "POST", "/v1/stores/store-wh/webhook/rotate", opBody(nil))
	mustStatus(t, "rotate", r, 200)
	rotated := r.str("secret")
	if !strings.HasPrefix(rotated, "whsec_") || rotated == secret || r.body["previous_secret_valid_until"] == nil {
		t.Fatalf("rotation answered %s", r.raw)
	}
	mustStatus(t, "payment after the rotation", term.pay(d.code(), 50), 201)
	ok, _ := rcv.nextOK(t)
	for _, s := range []string{rotated, secret} {
		if err := verifyStandardWebhook(s, ok.header, ok.body, time.Now()); err != nil {
			t.Errorf("a delivery after the rotation does not verify under one of the secrets: %v", err)
		}
	}
	if err := verifyStandardWebhook("whsec_"+base64.StdEncoding.EncodeToString(make([]byte, 32)), ok.header, ok.body, time.Now()); err == nil {
		t.Error("the verifier accepts any secret: it proves nothing")
	}

	// A declined payment sends nothing: its message finds no movement and
	// is dropped once the grace has passed.
	mustStatus(t, "declined payment", term.pay(d.code(), 9_000_000), 402)
	e.clock.Advance(time.Minute)
	waitOutcome(t, outcomes, "dropped")
	select {
	case got := <-rcv.got:
		t.Fatalf("a delivery after a decline: %s", got.body)
	default:
	}

	// Replay: the store's sales in a time range, read from its sales log,
	// are sent again under their own webhook-ids (the declined payment is
	// not among them); a range the log cannot serve is refused.
	from, to := e.clock.Now().Add(-time.Hour).Format(time.RFC3339), e.clock.Now().Add(time.Hour).Format(time.RFC3339)
	r = enrAdmin(t, e, "POST", "/v1/stores/store-wh/webhook/replay", opBody(map[string]any{"from": from, "to": to}))
	mustStatus(t, "replay", r, 202)
	if r.body["queued"] != float64(4) {
		t.Fatalf("replay queued %v; want 4 (top-up, two payments, refund)", r.body["queued"])
	}
	replayed := map[string]bool{}
	for range 4 {
		ok, _ := rcv.nextOK(t)
		if err := verifyStandardWebhook(rotated, ok.header, ok.body, time.Now()); err != nil {
			t.Fatalf("a replayed delivery does not verify: %v", err)
		}
		replayed[ok.header.Get("webhook-id")] = true
	}
	for _, w := range want {
		if !replayed["evt_"+w.id] {
			t.Errorf("the replay did not resend evt_%s: %v", w.id, replayed)
		}
	}
	mustStatus(t, "replay backwards", enrAdmin(t, e, "POST", "/v1/stores/store-wh/webhook/replay", opBody(map[string]any{"from": to, "to": from})), 400)
	mustStatus(t, "replay of 40 days", enrAdmin(t, e, "POST", "/v1/stores/store-wh/webhook/replay",
		opBody(map[string]any{"from": e.clock.Now().Add(-40 * 24 * time.Hour).Format(time.RFC3339), "to": to})), 400)
	mustStatus(t, "replay without a reason", enrAdmin(t, e, "POST", "/v1/stores/store-wh/webhook/replay", map[string]any{"operator": "ops", "from": from, "to": to}), 400)

	// The audit names the endpoint's host, never its query or a secret.
	events, err := e.st.AuditEvents(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, ev := range events {
		types[ev.Type] = true
		b, _ := json.Marshal(ev)
		if strings.Contains(string(b), "receiver-own") || strings.Contains(string(b), strings.TrimPrefix(secret, "whsec_")) ||
			strings.Contains(string(b), strings.TrimPrefix(rotated, "whsec_")) {
			t.Errorf("an audit event carries the URL's query or a secret: %s", b)
		}
	}
	if !types["webhook.endpoint_set"] || !types["webhook.secret_rotated"] || !types["webhook.replayed"] {
		t.Errorf("audit types %v; want webhook.endpoint_set, webhook.secret_rotated and webhook.replayed", types)
	}

	// Removal: the store hears nothing more.
	mustStatus(t, "remove", enrAdmin(t, e, "DELETE", "/v1/stores/store-wh/webhook", opBody(nil)), 200)
	mustStatus(t, "get after removal", enrAdmin(t, e, "GET", "/v1/stores/store-wh/webhook", nil), 404)
	mustStatus(t, "rotate after removal", enrAdmin(t, e, "POST", "/v1/stores/store-wh/webhook/rotate", opBody(nil)), 404)
	mustStatus(t, "replay after removal", enrAdmin(t, e, "POST", "/v1/stores/store-wh/webhook/replay", opBody(map[string]any{"from": from, "to": to})), 404)
}

// An endpoint that keeps failing: the event is retried, then moved to the
// dead-letter list and counted, never retried forever.
func TestMerchantWebhookDeadLetter(t *testing.T) {
	e, outcomes := webhookEnv(t, 3)
	rcv := newReceiver(t, -1) // always 500
	term := e.registerTerminal("store-down")
	mustStatus(t, "set the endpoint", enrAdmin(t, e, "PUT", "/v1/stores/store-down/webhook", opBody(map[string]any{"url": rcv.srv.URL})), 201)
	d := e.customer("wh-dead@example.com")
	mustStatus(t, "top-up", term.topup(d.code(), 100), 201)
	seen := map[string]int{}
	deadline := time.After(10 * time.Second)
	for seen["dead"] == 0 {
		select {
		case o := <-outcomes:
			seen[o]++
		case <-deadline:
			t.Fatalf("not dead-lettered within 10 s: %v", seen)
		}
	}
	n, err := e.s.outbox.DeadNotifications(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("dead letters = %d, %v; want 1", n, err)
	}
	attempts := 0
	for len(rcv.got) > 0 {
		<-rcv.got
		attempts++
	}
	// An attempt that found the payment not yet recorded (the worker can
	// be faster than the money script) is one of the three.
	if attempts != seen["retry"] || seen["retry"]+seen["later"] != 3 || attempts == 0 {
		t.Errorf("the endpoint was tried %d times, outcomes %v; want 3 attempts in all", attempts, seen)
	}
	metrics := adminMetrics(t, e)
	if !strings.Contains(metrics, `paycode_merchant_webhooks_total{outcome="dead"} 1`) {
		t.Errorf("the dead letter is not counted:\n%s", grepLines(metrics, "paycode_merchant_webhooks_total"))
	}
}

// The operator's input: URLs, store ids, https in production.
func TestMerchantWebhookEndpointInput(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name, path string
		body       map[string]any
		status     int
	}{
		{"no operator", "/v1/stores/s1/webhook", map[string]any{"url": "https://pos.example/hook", "reason": "x"}, 400},
		{"not a URL", "/v1/stores/s1/webhook", opBody(map[string]any{"url": "pos.example/hook"}), 400},
		{"credentials", "/v1/stores/s1/webhook", opBody(map[string]any{"url": "https://u:p@pos.example/hook"}), 400},
		{"ftp", "/v1/stores/s1/webhook", opBody(map[string]any{"url": "ftp://pos.example/hook"}), 400},
		{"unknown member", "/v1/stores/s1/webhook", opBody(map[string]any{"url": "https://pos.example/hook", "secret": "whsec_x"}), 400},
		{"store id too long", "/v1/stores/" + strings.Repeat("s", 65) + "/webhook", opBody(map[string]any{"url": "https://pos.example/hook"}), 400},
		{"good", "/v1/stores/s1/webhook", opBody(map[string]any{"url": "https://pos.example/hook"}), 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := enrAdmin(t, e, "PUT", tc.path, tc.body)
			mustStatus(t, tc.name, r, tc.status)
		})
	}
	if _, err := checkWebhookURL("http://pos.example/hook", config.Dev); err != nil {
		t.Errorf("dev refuses http: %v", err)
	}
	if _, err := checkWebhookURL("http://pos.example/hook", config.Production); err == nil {
		t.Error("production accepts an http webhook URL")
	}
	if _, err := checkWebhookURL("https://pos.example/hook", config.Production); err != nil {
		t.Errorf("production refuses https: %v", err)
	}
}

func adminMetrics(t *testing.T, e *env) string {
	t.Helper()
	resp, err := e.s.admin.Test(httptest.NewRequest("GET", "/metrics", nil), 10_000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
