package bff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// salesList reads one page of the terminal's list of today's sales.
func (t *terminal) salesList(query url.Values) response {
	return t.call("GET", "/v1/terminal/payments?"+query.Encode(), "", nil)
}

func pageIDs(t *testing.T, r response) []string {
	t.Helper()
	items, _ := r.body["payments"].([]any)
	var ids []string
	for _, it := range items {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	return ids
}

// The scanner page's list (issue 14): today's payments and top-ups of this
// terminal, newest first, paged, with what was refunded; another
// terminal's, declines and yesterday's are not in it.
func TestTerminalSalesToday(t *testing.T) {
	e := newEnv(t, map[string]string{"PAYCODE_CODES_PER_MINUTE": "1000"})
	term := e.registerTerminal("store-list")
	other := e.registerTerminal("store-list")
	d := e.customer("list@example.com")
	top := term.topup(d.code(), 5000)
	mustStatus(t, "top-up", top, 201)
	var paid []string
	for i := range 3 {
		e.clock.Advance(time.Second)
		r := term.pay(d.code(), int64(100*(i+1)))
		mustStatus(t, "payment", r, 201)
		paid = append(paid, r.str("payment_id"))
	}
	mustStatus(t, "a declined payment", term.pay(d.code(), 9_000_000), 402)
	mustStatus(t, "another terminal's payment", other.pay(d.code(), 50), 201)
	mustStatus(t, "refund", term.call("POST", "/v1/terminal/payments/"+paid[1]+"/refunds", newIdem(), map[string]any{"amount": 80}), 201)

	r := term.salesList(nil)
	mustStatus(t, "today's sales", r, 200)
	want := []string{paid[2], paid[1], paid[0], top.str("payment_id")}
	if got := pageIDs(t, r); strings.Join(got, " ") != strings.Join(want, " ") || r.body["next_cursor"] != nil {
		t.Fatalf("today's sales: %v (next %v); want %v and no next page", got, r.body["next_cursor"], want)
	}
	second := r.body["payments"].([]any)[1].(map[string]any)
	if second["amount"] != 200.0 || second["refunded_amount"] != 80.0 || second["status"] != "partially_refunded" ||
		second["kind"] != "payment" || second["currency"] != "JPY" || second["order_ref"] != "o-1" || second["created_at"] == "" {
		t.Errorf("the refunded payment as listed: %v", second)
	}

	var walked []string
	q := url.Values{"limit": {"1"}}
	for range 10 {
		r := term.salesList(q)
		mustStatus(t, "a page of one", r, 200)
		walked = append(walked, pageIDs(t, r)...)
		next, _ := r.body["next_cursor"].(string)
		if next == "" {
			break
		}
		q.Set("cursor", next)
	}
	if strings.Join(walked, " ") != strings.Join(want, " ") {
		t.Errorf("pages of one: %v; want %v", walked, want)
	}

	for _, bad := range []url.Values{{"limit": {"0"}}, {"limit": {"201"}}, {"limit": {"x"}}, {"cursor": {"nope"}}} {
		if r := term.salesList(bad); r.status != 400 || r.str("code") != codeMalformed {
			t.Errorf("%v: %d %s; want 400 malformed_request", bad, r.status, r.raw)
		}
	}

	e.clock.Advance(24 * time.Hour)
	if r := term.salesList(nil); len(pageIDs(t, r)) != 0 {
		t.Errorf("tomorrow the list still shows %v", pageIDs(t, r))
	}
}

// failSales makes the store's sales-log writes fail while it is on, as a
// connection lost on that slot would; everything else reaches Redis.
type failSales struct{ on atomic.Bool }

func (h *failSales) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *failSales) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.on.Load() && len(cmd.Args()) > 3 && strings.Contains(fmt.Sprint(cmd.Args()[3]), "sales:{st:") {
			err := &net.OpError{Op: "write", Net: "tcp", Err: errors.New("connection reset by the test")}
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (h *failSales) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// Attack on the log's promise (issue 14): the money moves but the store's
// sales-log write fails. The terminal must not get 201 for a payment its
// store cannot see: it gets 503 unconfirmed, retries with the same key, is
// charged once, and the payment is then in the list.
func TestPaymentNotAnsweredWithoutItsSalesEntry(t *testing.T) {
	e := newEnv(t, nil)
	h := &failSales{}
	e.st.Client().AddHook(h)
	term := e.registerTerminal("store-fail")
	d := e.customer("fail-log@example.com")
	mustStatus(t, "top-up", term.topup(d.code(), 1000), 201)
	e.clock.Advance(time.Second)

	code, key := d.code(), newIdem()
	body := map[string]any{"code": code, "amount": 300, "currency": "JPY", "order_ref": "o-1"}
	h.on.Store(true)
	r := term.call("POST", "/v1/terminal/payments", key, body)
	h.on.Store(false)
	if r.status != 503 || r.str("code") != codeUnconfirmed {
		t.Fatalf("a payment whose sales entry failed: %d %s; want 503 unconfirmed", r.status, r.raw)
	}
	if b := d.balance(); b != 700 {
		t.Fatalf("balance %d; want 700 (the money moved)", b)
	}
	retry := term.call("POST", "/v1/terminal/payments", key, body)
	mustStatus(t, "the retry", retry, 201)
	if retry.header.Get("Idempotent-Replayed") != "true" || d.balance() != 700 {
		t.Errorf("the retry: replayed %q, balance %d; want the first payment's answer, charged once", retry.header.Get("Idempotent-Replayed"), d.balance())
	}
	if got := pageIDs(t, term.salesList(nil)); len(got) != 2 || got[0] != retry.str("payment_id") {
		t.Errorf("the list after the retry: %v; want the payment first, then the top-up", got)
	}
}

// Issue 15's support tools: a store's payments for the operator (paged,
// counted) and the operator's refund: once per Idempotency-Key, at the
// payment's store, audited with the operator and the reason.
func TestOperatorStorePaymentsAndRefund(t *testing.T) {
	e := newEnv(t, nil)
	term := e.registerTerminal("store-ops")
	d := e.customer("ops-refund@example.com")
	mustStatus(t, "top-up", term.topup(d.code(), 2000), 201)
	e.clock.Advance(time.Second)
	paid := term.pay(d.code(), 1200)
	mustStatus(t, "payment", paid, 201)
	id := paid.str("payment_id")
	e.clock.Advance(time.Second)

	refund := func(key string, amount int64) response {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"operator": "alice", "reason": "ticket 42", "amount": amount})
		req := httptest.NewRequest("POST", "/v1/payments/"+id+"/refunds", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := e.s.admin.Test(req, 30_000)
		if err != nil {
			t.Fatal(err)
		}
		r := response{status: resp.StatusCode, header: resp.Header}
		_ = json.NewDecoder(resp.Body).Decode(&r.body)
		r.raw, _ = json.Marshal(r.body)
		return r
	}
	mustStatus(t, "without an Idempotency-Key", refund("", 100), 400)
	first := refund("support-1", 500)
	mustStatus(t, "the operator's refund", first, 201)
	again := refund("support-1", 500)
	mustStatus(t, "its retry", again, 201)
	if again.str("refund_id") != first.str("refund_id") || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the retry: %s; want the first refund again", again.raw)
	}
	if b := d.balance(); b != 800+500 {
		t.Errorf("balance %d; want %d (refunded once)", b, 800+500)
	}
	if r := refund("support-2", 800); r.status != 402 || r.str("code") != "refund_exceeds_remaining" {
		t.Errorf("more than remains: %d %s", r.status, r.raw)
	}
	if r := refund("support-3", 0); r.status != 400 {
		t.Errorf("amount 0: %d", r.status)
	}
	n := 0
	events, err := e.st.AuditEvents(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Type == "payment.refunded_by_operator" {
			n++
			if ev.Actor != "operator:alice" || ev.Fields["reason"] != "ticket 42" || ev.Fields["payment"] != id ||
				ev.Fields["refund"] != first.str("refund_id") || ev.Fields["amount"] != "500" || ev.Fields["store"] != "store-ops" {
				t.Errorf("the audit event: %+v", ev)
			}
		}
	}
	if n != 1 {
		t.Errorf("the operator's refund was audited %d times; want once (a replay is not a second refund)", n)
	}

	r := enrAdmin(t, e, "GET", "/v1/stores/store-ops/payments?limit=2", nil)
	mustStatus(t, "the store's payments", r, 200)
	items := r.body["payments"].([]any)
	if len(items) != 2 || r.body["next_cursor"] == nil {
		t.Fatalf("a page of two: %s", r.raw)
	}
	latest := items[0].(map[string]any)
	if latest["kind"] != "refund" || latest["payment_id"] != id || latest["terminal_id"] != operatorTerminal || latest["amount"] != 500.0 {
		t.Errorf("the newest entry: %v; want the operator's refund", latest)
	}
	if p := items[1].(map[string]any); p["id"] != id || p["refunded_amount"] != 500.0 || p["status"] != "partially_refunded" || p["account_id"] != d.account {
		t.Errorf("the payment: %v", p)
	}
	r = enrAdmin(t, e, "GET", "/v1/stores/store-ops/payments?limit=2&cursor="+url.QueryEscape(r.body["next_cursor"].(string)), nil)
	if ids := pageIDs(t, r); len(ids) != 1 || r.body["next_cursor"] != nil {
		t.Errorf("the last page: %s; want the top-up alone", r.raw)
	}
	future := url.QueryEscape(e.clock.Now().Add(time.Hour).Format(time.RFC3339))
	if ids := pageIDs(t, enrAdmin(t, e, "GET", "/v1/stores/store-ops/payments?from="+future, nil)); len(ids) != 0 {
		t.Errorf("from an hour ahead: %v", ids)
	}
	if r := enrAdmin(t, e, "GET", "/v1/stores/store-ops/payments?from=yesterday", nil); r.status != 400 {
		t.Errorf("from=yesterday: %d", r.status)
	}
	if got := metricLine(t, e.s, `paycode_sales_reads_total{caller="operator"}`); got != "3" {
		t.Errorf("operator reads counted %q; want 3 (the refused one is not a read)", got)
	}
}
