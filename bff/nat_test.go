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

// Shoppers behind one carrier NAT log in from one address; the per-IP
// ceremony limit (30/min) refused the 31st of them (issue 13). A login is
// now limited per DPoP key: 60 devices begin a login from one address in
// the same minute and none is refused, while one key past its own limit
// is.
func TestLoginLimitFitsNAT(t *testing.T) {
	e := newEnv(t, nil)
	for i := range 60 {
		r := e.newDevice().doToken("POST", "/v1/login/start", map[string]any{}, "", true)
		if r.status == 429 {
			t.Fatalf("device %d behind the shared address got 429", i+1)
		}
		mustStatus(t, "login start", r, 200)
	}
	one := e.newDevice()
	limited := false
	for range 20 {
		if r := one.doToken("POST", "/v1/login/start", map[string]any{}, "", true); r.status == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("one device key began 20 logins in a minute without a 429")
	}
}
