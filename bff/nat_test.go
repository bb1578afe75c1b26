package bff

import (
	"testing"
)

// Shoppers behind one carrier NAT share an address; the per-IP refresh
// limit (60/min) refused the 61st of them (issue 13 item 6, "limits that
// fit NAT"). Refresh is now limited per device key: 80 devices refresh
// from one address and none is rate-limited (their tokens are made up, so
// each gets invalid_grant, after the limits), while one key refreshing
// past its own limit is.
func TestRefreshLimitFitsNAT(t *testing.T) {
	e := newEnv(t, nil)
	body := map[string]any{"refresh_token": "rt_acct_0000aaaaaaaaaaaaaaaaaaaaaaaa.session.secret"}
	for i := range 80 {
		r := e.newDevice().doToken("POST", "/v1/session/refresh", body, "", true)
		if r.status == 429 {
			t.Fatalf("device %d behind the shared address got 429", i+1)
		}
		mustStatus(t, "refresh with a made-up token", r, 401)
	}
	one := e.newDevice()
	limited := false
	for range 20 {
		if r := one.doToken("POST", "/v1/session/refresh", body, "", true); r.status == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("one device key refreshed 20 times in a minute without a 429")
	}
}
