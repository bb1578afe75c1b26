package bff

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
)

// FuzzJSONBodies sends arbitrary bodies to every JSON endpoint that reads
// one before authentication: whatever arrives, the answer is a problem
// document or a success, never a 500 and never a panic.
func FuzzJSONBodies(f *testing.F) {
	e := newEnv(f, map[string]string{"PAYCODE_CODES_PER_MINUTE": "1000000"})
	paths := []string{"/v1/signup/contact", "/v1/signup/verify", "/v1/signup/finish", "/v1/login/start",
		"/v1/login/finish", "/v1/session/refresh", "/v1/enrollments", "/v1/enrollments/cancel", "/v1/terminal/token"}
	for i := range paths {
		f.Add(uint8(i), []byte(`{}`))
		f.Add(uint8(i), []byte(`{"contact":"a@example.com","otp":"123456","signup_id":"sgn_0001aaaaaaaaaaaaaaaaaaaaaaaa"}`))
		f.Add(uint8(i), []byte(`{"login_id":"cer_0001aaaaaaaaaaaaaaaaaaaaaaaa","credential":{"id":"x","response":{}}}`))
		f.Add(uint8(i), []byte(`{"refresh_token":"acct_0001aaaaaaaaaaaaaaaaaaaaaaaa.sess_0001aaaaaaaaaaaaaaaaaaaaaaaa.x"}`))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.s.app.Test(req, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode >= 500 && resp.StatusCode != 503 {
			t.Fatalf("POST %s %q = %d", path, body, resp.StatusCode)
		}
		if resp.StatusCode >= 400 {
			var p problemBody
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.Code == "" || p.Status != resp.StatusCode {
				t.Fatalf("POST %s: %d without a problem document (%v)", path, resp.StatusCode, err)
			}
		}
	})
}

// FuzzTerminalBodies does the same for the money calls of an authenticated
// terminal: arbitrary bodies are refused with a problem document, or
// declined, never a 500.
func FuzzTerminalBodies(f *testing.F) {
	e := newEnv(f, map[string]string{"PAYCODE_GUESS_THROTTLE": "1000000", "PAYCODE_GUESS_SUSPEND": "1000000"})
	term := e.registerTerminal("store-fuzz")
	paths := []string{"/v1/terminal/payments", "/v1/terminal/topups", "/v1/terminal/payments/pay_0001aaaaaaaaaaaaaaaaaaaaaaaa/refunds"}
	for i := range paths {
		f.Add(uint8(i), []byte(`{"code":"990001234567890123456789","amount":100,"currency":"JPY","order_ref":"x"}`))
		f.Add(uint8(i), []byte(`{"amount":-1}`))
		f.Add(uint8(i), []byte(`{"amount":1e30,"code":null}`))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+term.token)
		req.Header.Set("Idempotency-Key", newIdem())
		resp, err := e.s.app.Test(req, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode >= 500 && resp.StatusCode != 503 {
			t.Fatalf("POST %s %q = %d", path, body, resp.StatusCode)
		}
		if resp.StatusCode >= 400 {
			var p problemBody
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.Code == "" {
				t.Fatalf("POST %s: %d without a problem document (%v)", path, resp.StatusCode, err)
			}
		}
	})
}
