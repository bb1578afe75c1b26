package bff

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// A problem about one request member names it in "param" (Stripe's
// convention), so an integrator's form can mark the field; a problem that
// is not about one member has none.
func TestProblemParam(t *testing.T) {
	s, _ := newTestServer(t, nil, nil)
	for _, tc := range []struct {
		name         string
		app          *fiber.App
		method, path string
		body         string
		code, param  string
	}{
		{"wrong type", s.app, "POST", "/v1/signup/contact", `{"contact": 5}`, codeMalformed, "contact"},
		{"missing member", s.app, "POST", "/v1/enrollments/cancel", `{}`, codeMalformed, "cancel_token"},
		{"invalid contact", s.app, "POST", "/v1/signup/contact", `{"contact": "not an address"}`, "invalid_contact", "contact"},
		{"unknown member", s.app, "POST", "/v1/enrollments/cancel", `{"cancel_token": "x", "surprise": 1}`, codeMalformed, "surprise"},
		{"not JSON", s.app, "POST", "/v1/signup/contact", `{`, codeMalformed, ""},
		{"admin query", s.admin, "GET", "/v1/audit?limit=0", ``, codeMalformed, "limit"},
		{"admin path", s.admin, "PUT", "/v1/switches/bogus", `{"value": "on", "operator": "alice", "reason": "test"}`, "unknown_switch", "name"},
		{"admin key", s.admin, "POST", "/v1/terminals", `{"operator": "alice", "reason": "test", "store_id": "store-1", "label": "lane 1", "public_key_pem": "nope"}`, "invalid_public_key", "public_key_pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+testAdminToken)
			resp, body := do(t, tc.app, req)
			var p map[string]any
			if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != 400 {
				t.Fatalf("%s %s = %d %s; want a 400 problem", tc.method, tc.path, resp.StatusCode, body)
			}
			if p["code"] != tc.code {
				t.Errorf("code = %v; want %s", p["code"], tc.code)
			}
			param, has := p["param"]
			if tc.param == "" && has || tc.param != "" && param != tc.param {
				t.Errorf("param = %v (present %v); want %q: %s", param, has, tc.param, body)
			}
		})
	}
}
