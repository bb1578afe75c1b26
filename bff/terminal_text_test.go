package bff

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// The terminal's problems keep their English details word for word (store
// integrators may have matched them) and come in Japanese to a terminal
// that asks for it; the code stays the same.
func TestTerminalProblemText(t *testing.T) {
	e := newEnv(t, nil)
	term := e.registerTerminal("store-1")
	d := e.customer("terminal-text@example.com")
	code := d.code()
	send := func(lang, idem string, body map[string]any) response {
		t.Helper()
		b, _ := json.Marshal(body)
		req := httptest.NewRequest("POST", "/v1/terminal/payments", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+term.token)
		if idem != "" {
			req.Header.Set("Idempotency-Key", idem)
		}
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		return e.send(req)
	}
	payment := map[string]any{"code": code, "amount": 100, "currency": "JPY"}
	for _, tc := range []struct {
		name, lang, idem string
		body             map[string]any
		status           int
		code, detail     string
	}{
		{"decline", "", newIdem(), payment, 402, "insufficient_funds", "The balance is too low for this amount."},
		{"decline in Japanese", "ja-JP", newIdem(), payment, 402, "insufficient_funds", "残高が不足しているため、この金額はお支払いいただけません。"},
		{"no key", "", "", payment, 400, "idempotency_key_required",
			"Money calls need an Idempotency-Key header (1-255 visible ASCII characters); retry with the same key."},
		{"amount", "", newIdem(), map[string]any{"code": code, "amount": -1}, 400, "invalid_amount",
			"The amount must be a positive whole number of minor units (yen)."},
		{"currency", "", newIdem(), map[string]any{"code": code, "amount": 1, "currency": "yen"}, 400, "malformed_request",
			`The member "currency" must be an ISO 4217 code such as JPY.`},
		{"code format", "ja", newIdem(), map[string]any{"code": "123", "amount": 1}, 400, "invalid_code_format",
			"コードはアプリに表示された24桁の数字を送信してください。"},
	} {
		r := send(tc.lang, tc.idem, tc.body)
		if r.status != tc.status || r.str("code") != tc.code || r.str("detail") != tc.detail {
			t.Errorf("%s: %d %q %q; want %d %q %q", tc.name, r.status, r.str("code"), r.str("detail"), tc.status, tc.code, tc.detail)
		}
		if tc.status == 402 && r.str("title") != "Declined" {
			t.Errorf("%s: title %q", tc.name, r.str("title"))
		}
	}
	r := term.call("GET", "/v1/terminal/payments/pay_0001aaaaaaaaaaaaaaaaaaaaaaaa", "", nil)
	if r.status != 404 || r.str("code") != "not_found" || r.str("detail") != "No such payment for this store." {
		t.Errorf("unknown payment: %d %s", r.status, r.raw)
	}
}
