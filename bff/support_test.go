package bff

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/store/storetest"
)

// Support finds an account by its contact (through the product's keyed
// hash, in a POST body) or by an enrollment id, and reads its wallet and a
// paged ledger; every call needs the admin token, names operator and
// reason, is audited and counted, and the contact appears in no log line,
// audit event or answer (only masked).
func TestSupportTools(t *testing.T) {
	st := storetest.Open(t)
	clk := &clock{now: time.Now().Truncate(time.Second)}
	s, logs := newTestServerNow(t, st, nil, clk.Now)
	e := &env{t: t, s: s, st: st, clock: clk}
	const contact = "support.shopper@example.com"
	owner, phone := enrSyncedOwner(t, e, contact)
	term := e.registerTerminal("store-support")
	mustStatus(t, "top-up", term.topup(owner.code(), 1000), 201)
	for _, amount := range []int64{100, 200, 300} {
		mustStatus(t, "payment", term.pay(owner.code(), amount), 201)
	}

	lookup := func(body map[string]any) response { return enrAdmin(t, e, "POST", "/v1/support/accounts/lookup", body) }
	r := lookup(opBody(map[string]any{"contact": "Support.Shopper@Example.com"}))
	mustStatus(t, "lookup by contact", r, 200)
	acct, _ := r.body["account"].(map[string]any)
	if acct["account_id"] != owner.account || acct["contact_masked"] != "s***@example.com" || acct["status"] != "active" {
		t.Fatalf("lookup answered %s", r.raw)
	}
	if strings.Contains(string(r.raw), contact) {
		t.Errorf("the answer shows the contact in clear: %s", r.raw)
	}
	mustStatus(t, "unknown contact", lookup(opBody(map[string]any{"contact": "nobody@example.com"})), 404)
	mustStatus(t, "not a contact", lookup(opBody(map[string]any{"contact": "nobody"})), 400)
	mustStatus(t, "neither", lookup(opBody(nil)), 400)
	mustStatus(t, "both", lookup(opBody(map[string]any{"contact": contact, "enrollment_id": "enr_x"})), 400)
	mustStatus(t, "no reason", lookup(map[string]any{"operator": "ops", "contact": contact}), 400)

	enr := enrLoginNewDevice(t, phone)
	r = lookup(opBody(map[string]any{"enrollment_id": enr}))
	mustStatus(t, "lookup by enrollment", r, 200)
	acct, _ = r.body["account"].(map[string]any)
	en, _ := r.body["enrollment"].(map[string]any)
	if acct["account_id"] != owner.account || en["enrollment_id"] != enr || en["state"] == "" {
		t.Fatalf("lookup by enrollment answered %s", r.raw)
	}
	mustStatus(t, "unknown enrollment", lookup(opBody(map[string]any{"enrollment_id": "enr_0000aaaaaaaaaaaaaaaaaaaaaaaa"})), 404)

	q := url.Values{"operator": {"ops"}, "reason": {"ticket 42"}}
	r = enrAdmin(t, e, "GET", "/v1/accounts/"+owner.account+"/wallet?"+q.Encode(), nil)
	mustStatus(t, "wallet", r, 200)
	if w, _ := r.body["wallet"].(map[string]any); w["balance"] != float64(400) || w["currency"] != "JPY" {
		t.Fatalf("wallet answered %s", r.raw)
	}
	mustStatus(t, "wallet without operator", enrAdmin(t, e, "GET", "/v1/accounts/"+owner.account+"/wallet", nil), 400)
	mustStatus(t, "wallet of no account", enrAdmin(t, e, "GET", "/v1/accounts/acct_0000aaaaaaaaaaaaaaaaaaaaaaaa/wallet?"+q.Encode(), nil), 404)

	// The ledger, two entries a page: 3 payments and a top-up, newest first.
	var kinds []string
	var amounts []float64
	cursor, pages := "", 0
	for {
		qq := url.Values{"operator": {"ops"}, "reason": {"ticket 42"}, "limit": {"2"}}
		if cursor != "" {
			qq.Set("cursor", cursor)
		}
		r = enrAdmin(t, e, "GET", "/v1/accounts/"+owner.account+"/ledger?"+qq.Encode(), nil)
		mustStatus(t, "ledger page", r, 200)
		pages++
		entries, _ := r.body["entries"].([]any)
		for _, x := range entries {
			m := x.(map[string]any)
			kinds = append(kinds, m["kind"].(string))
			amounts = append(amounts, m["amount"].(float64))
			if m["terminal_id"] != term.id || m["store_id"] != "store-support" {
				t.Errorf("a ledger entry lacks its terminal or store: %v", m)
			}
		}
		next, _ := r.body["next"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if pages != 2 || strings.Join(kinds, ",") != "payment,payment,payment,topup" || amounts[0] != -300 || amounts[3] != 1000 {
		t.Errorf("ledger pages = %d, kinds %v, amounts %v; want 2 pages, newest first", pages, kinds, amounts)
	}
	mustStatus(t, "bad cursor", enrAdmin(t, e, "GET", "/v1/accounts/"+owner.account+"/ledger?cursor=x&"+q.Encode(), nil), 400)
	mustStatus(t, "bad limit", enrAdmin(t, e, "GET", "/v1/accounts/"+owner.account+"/ledger?limit=201&"+q.Encode(), nil), 400)

	// Without the admin token, nothing.
	for _, path := range []string{"/v1/accounts/" + owner.account + "/wallet?" + q.Encode(), "/v1/accounts/" + owner.account + "/ledger?" + q.Encode()} {
		resp, body := do(t, e.s.admin, httptest.NewRequest("GET", path, nil))
		if resp.StatusCode != 401 {
			t.Errorf("GET %s without the token: %d %s", path, resp.StatusCode, body)
		}
	}

	// Audited with operator and reason, the contact nowhere.
	events, err := st.AuditEvents(t.Context(), 200)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, ev := range events {
		if !strings.HasPrefix(ev.Type, "support.") {
			continue
		}
		n[ev.Type]++
		if ev.Actor != "operator:ops" || ev.Fields["reason"] == "" {
			t.Errorf("support event without operator or reason: %+v", ev)
		}
		b, _ := json.Marshal(ev)
		if strings.Contains(strings.ToLower(string(b)), "shopper@example.com") || strings.Contains(string(b), "nobody@") {
			t.Errorf("an audit event carries a contact: %s", b)
		}
	}
	if n["support.account_lookup"] != 4 || n["support.wallet_viewed"] != 1 || n["support.ledger_viewed"] != 2 {
		t.Errorf("support audit events %v; want 4 lookups (2 found, 2 not), 1 wallet, 2 ledger pages", n)
	}
	if l := strings.ToLower(logs.String()); strings.Contains(l, "shopper@example.com") || strings.Contains(l, "nobody@example.com") {
		t.Error("a log line carries a looked-up contact")
	}
	m := adminMetrics(t, e)
	for _, want := range []string{`paycode_support_reads_total{call="account_lookup",result="found"} 2`,
		`paycode_support_reads_total{call="account_lookup",result="not_found"} 2`,
		`paycode_support_reads_total{call="ledger",result="found"} 2`, `paycode_support_reads_total{call="wallet",result="not_found"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(m, "paycode_support_reads_total"))
		}
	}
}
