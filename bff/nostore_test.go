package bff

import (
	"testing"
)

// Every API answer carries Cache-Control: no-store, successes included: a
// shared cache (a store's proxy, a CDN, the browser's disk) must never keep
// a payment, a balance or a token. Before the /v1 middleware, terminal
// payment responses had none.
func TestAPIResponsesAreNoStore(t *testing.T) {
	e := newEnv(t, nil)
	term := e.registerTerminal("store-ns")
	d := e.customer("nostore@example.com")
	answers := map[string]response{}
	answers["top-up 201"] = term.topup(d.code(), 5000)
	pay := term.pay(d.code(), 100)
	answers["payment 201"] = pay
	pid := pay.str("payment_id")
	answers["refund 201"] = term.call("POST", "/v1/terminal/payments/"+pid+"/refunds", newIdem(), map[string]any{"amount": 10})
	answers["payment 200"] = term.call("GET", "/v1/terminal/payments/"+pid, "", nil)
	answers["wallet 200"] = d.do("GET", "/v1/wallet", nil, true)
	answers["me 200"] = d.do("GET", "/v1/me", nil, true)
	answers["decline 402"] = term.pay(d.code(), 1_000_000)
	for name, r := range answers {
		if r.status >= 500 {
			t.Fatalf("%s: status %d: %s", name, r.status, r.raw)
		}
		if got := r.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s (%d): Cache-Control = %q, want no-store", name, r.status, got)
		}
	}
}
