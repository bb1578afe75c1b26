package bff

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// Fault: Redis crashes (SIGKILL) between sales and comes back from its AOF
// (appendfsync always, as the README recommends). While it is down every
// call answers 503 unavailable and nothing moves; retries with the same
// Idempotency-Keys afterwards charge each sale exactly once; nothing that
// was acknowledged is lost; the ledger still sums to the balance.
func TestRedisCrashBetweenPayments(t *testing.T) {
	srv := storetest.StartDurableServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: srv.URL, Prefix: "fault:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := newEnvOn(t, st, map[string]string{"PAYCODE_CODES_PER_MINUTE": "1000000"})
	term := e.registerTerminal("store-1")
	d := e.customer("fault@example.com")
	mustStatus(t, "top-up", term.topup(d.code(), 10000), 201)
	const sales = 15
	codes, keys := make([]string, sales), make([]string, sales)
	for i := range sales {
		codes[i], keys[i] = d.code(), newIdem()
	}
	pay := func(i int) response {
		return term.call("POST", "/v1/terminal/payments", keys[i], map[string]any{"code": codes[i], "amount": 100, "currency": "JPY"})
	}
	ids := make([]string, sales)
	for i := range 5 {
		r := pay(i)
		mustStatus(t, "before the crash", r, 201)
		ids[i] = r.str("payment_id")
	}

	srv.Stop()
	for i := 5; i < 10; i++ {
		r := pay(i)
		if r.status != 503 || r.str("code") != codeUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("sale %d while Redis is down = %d %s; want 503 unavailable with Retry-After", i, r.status, r.raw)
		}
	}
	srv.Start()
	// A load balancer sends traffic again once /readyz answers 200 (the
	// client backs off dialling for up to a second after failures).
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := e.s.admin.Test(httptest.NewRequest("GET", "/readyz", nil), 5_000)
		if err == nil && resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("readyz did not recover within 15 s of the restart")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Retry everything with the same keys, as a terminal that lost answers
	// would.
	for i := range sales {
		r := pay(i)
		mustStatus(t, "after the restart", r, 201)
		if ids[i] != "" && r.str("payment_id") != ids[i] {
			t.Errorf("sale %d was charged again: %s, first %s", i, r.str("payment_id"), ids[i])
		}
		ids[i] = r.str("payment_id")
	}
	if b := d.balance(); b != 10000-sales*100 {
		t.Errorf("balance = %d; want %d (each sale once)", b, 10000-sales*100)
	}
	entries, err := st.Ledger(t.Context(), d.account)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, en := range entries {
		sum += en.Amount
	}
	if len(entries) != sales+1 || sum != d.balance() {
		t.Errorf("ledger: %d entries summing to %d; want %d entries summing to the balance", len(entries), sum, sales+1)
	}
}

// Fault: the master refuses writes (min-replicas-to-write 1 and its
// replica gone: NOREPLICAS). Every sale answers 503 unavailable with
// Retry-After, never a 500, and nothing moves; /readyz says why; paycode
// still starts against such a Redis (it recovers by itself when the
// replica is back); once it accepts writes, the same keys charge once.
func TestRedisRefusesWrites(t *testing.T) {
	srv := storetest.StartServer(t)
	if !srv.Real {
		t.Skip("needs a real redis-server (min-replicas-to-write)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: srv.URL, Prefix: "norepl:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := newEnvOn(t, st, nil)
	term := e.registerTerminal("store-1")
	d := e.customer("norepl@example.com")
	mustStatus(t, "top-up", term.topup(d.code(), 1000), 201)
	code, key := d.code(), newIdem()
	sale := func() response {
		return term.call("POST", "/v1/terminal/payments", key, map[string]any{"code": code, "amount": 100, "currency": "JPY"})
	}
	if err := st.Client().ConfigSet(ctx, "min-replicas-to-write", "1").Err(); err != nil {
		t.Fatal(err)
	}
	r := sale()
	if r.status != 503 || r.str("code") != codeUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("sale while Redis refuses writes = %d %s; want 503 unavailable with Retry-After", r.status, r.raw)
	}
	resp, body := do(t, e.s.admin, httptest.NewRequest("GET", "/readyz", nil))
	if resp.StatusCode != 503 || !strings.Contains(string(body), `"reason":"refuses_writes: NOREPLICAS"`) {
		t.Errorf("readyz = %d %s; want 503 with the reason", resp.StatusCode, body)
	}
	// A replica of paycode started now comes up and waits for Redis.
	again, err := store.Open(ctx, store.Options{URL: srv.URL, Prefix: "norepl:"})
	if err != nil {
		t.Fatalf("paycode must start while Redis refuses writes: %v", err)
	}
	again.Close()
	if err := st.Client().ConfigSet(ctx, "min-replicas-to-write", "0").Err(); err != nil {
		t.Fatal(err)
	}
	first := sale()
	mustStatus(t, "sale once Redis accepts writes", first, 201)
	replay := sale()
	if replay.status != 201 || replay.str("payment_id") != first.str("payment_id") {
		t.Errorf("retry = %d %s; want the same payment", replay.status, replay.raw)
	}
	if b := d.balance(); b != 900 {
		t.Errorf("balance = %d; want 900 (charged once)", b)
	}
}
