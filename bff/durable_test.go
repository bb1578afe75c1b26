package bff

import (
	"testing"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// A payment is answered 201 only once it is on the replicas the operator
// asked for. On a Redis without a replica, PAYCODE_REDIS_WAIT_REPLICAS=1
// can never be met: the sale is answered 503 unconfirmed with Retry-After
// (never 201, never "nothing was changed"), and the terminal's retries with
// the same key never charge twice. This is the 7pay-grade failure the
// setting exists for: a 201 for a payment that a failover then loses.
func TestPaymentUnconfirmedWithoutReplicas(t *testing.T) {
	st := storetest.OpenRedis(t, func(o *store.Options) {
		o.WaitReplicas = 1
		o.WaitTimeout = 20 * time.Millisecond
	})
	e := newEnvOn(t, st, nil)
	term := e.registerTerminal("store-durable")
	d := e.customer("durable@example.com")
	topup := term.topup(d.code(), 1000)
	mustStatus(t, "top-up on a Redis without replicas", topup, 503)
	if topup.str("code") != codeUnconfirmed || topup.header.Get("Retry-After") == "" {
		t.Fatalf("top-up = %s (Retry-After %q); want 503 unconfirmed with Retry-After", topup.raw, topup.header.Get("Retry-After"))
	}
	key := newIdem()
	body := map[string]any{"code": d.code(), "amount": 300, "currency": "JPY", "order_ref": "D-1"}
	for i := range 3 {
		r := term.call("POST", "/v1/terminal/payments", key, body)
		mustStatus(t, "unconfirmed payment", r, 503)
		if r.str("code") != codeUnconfirmed {
			t.Fatalf("try %d: code = %q; want unconfirmed", i, r.str("code"))
		}
	}
	entries, err := st.Ledger(t.Context(), d.account)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[1].Balance != 700 {
		t.Fatalf("ledger = %+v; want the top-up and one payment of 300 (three tries, one movement)", entries)
	}
}
