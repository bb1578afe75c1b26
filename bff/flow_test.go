package bff

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycode/paycode/tokens/dpoptest"
	"github.com/paycode/paycode/webauthn/softauthn"
)

// The whole happy path through HTTP: sign-up, login on the bound device,
// refresh, step-up, /v1/me, logout.
func TestSignupLoginRefreshReauth(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	r := d.signup("alice@example.com")
	if codes, _ := r.body["recovery_codes"].([]any); len(codes) != 10 {
		t.Errorf("sign-up returned %d recovery codes; want 10", len(codes))
	}
	if r.str("token_type") != "DPoP" || d.refresh == "" || d.account == "" || r.str("device_id") == "" {
		t.Fatalf("sign-up tokens = %s", r.raw)
	}

	me := d.do("GET", "/v1/me", nil, true)
	mustStatus(t, "me", me, 200)
	if acct, _ := me.body["account"].(map[string]any); acct["id"] != d.account || acct["contact"] != "alice@example.com" || acct["recovery_codes_left"] != float64(10) {
		t.Errorf("me.account = %v", me.body["account"])
	}

	firstRefresh := d.refresh
	r = d.login()
	mustStatus(t, "login", r, 200)
	if d.refresh == firstRefresh {
		t.Error("login reused the sign-up refresh token")
	}
	if n := e.sessions(d.account); n != 2 {
		t.Errorf("sessions after sign-up and login = %d; want 2", n)
	}

	old := d.refresh
	r = d.do("POST", "/v1/session/refresh", map[string]string{"refresh_token": d.refresh}, true)
	mustStatus(t, "refresh", r, 200)
	d.take(r)
	if d.refresh == old {
		t.Error("refresh did not rotate the refresh token")
	}

	e.clock.Advance(4 * time.Minute)
	r = d.do("POST", "/v1/session/reauth/start", map[string]any{}, true)
	mustStatus(t, "reauth/start", r, 200)
	opts, _ := json.Marshal(r.body["options"])
	cred, err := d.auth.Assert(opts)
	if err != nil {
		t.Fatal(err)
	}
	before := e.clock.Now().Unix()
	r = d.do("POST", "/v1/session/reauth/finish", map[string]any{"reauth_id": r.str("reauth_id"), "credential": json.RawMessage(cred)}, true)
	mustStatus(t, "reauth/finish", r, 200)
	if at, _ := r.body["auth_time"].(float64); int64(at) < before {
		t.Errorf("reauth auth_time = %v; want >= %d", at, before)
	}
	d.take(r)
	claims, err := e.s.access.Verify(d.access)
	if err != nil || claims.AuthTime.Unix() < before {
		t.Errorf("reauth access token auth_time = %v, %v", claims, err)
	}

	mustStatus(t, "logout", d.do("POST", "/v1/session/logout", nil, true), 204)
	mustStatus(t, "me after logout", d.do("GET", "/v1/me", nil, true), 401)
	r = d.do("POST", "/v1/session/refresh", map[string]string{"refresh_token": d.refresh}, true)
	mustStatus(t, "refresh after logout", r, 401)
}

// The PWA gets its refresh token only in a __Host- cookie that script
// cannot read, and can refresh with the cookie.
func TestBrowserRefreshCookie(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.origin = e.s.cfg.RPOrigins[0]
	id, opts := d.startSignup("pwa@example.com")
	cred, err := d.auth.Register(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := d.do("POST", "/v1/signup/finish", map[string]any{"signup_id": id, "credential": json.RawMessage(cred)}, true)
	mustStatus(t, "signup/finish", r, 201)
	if r.str("refresh_token") != "" {
		t.Fatal("a browser received the refresh token in JSON")
	}
	cookie := r.header.Get("Set-Cookie")
	for _, want := range []string{refreshCookie + "=", "HttpOnly", "secure", "SameSite=Strict", "path=/"} {
		if !strings.Contains(strings.ToLower(cookie), strings.ToLower(want)) {
			t.Errorf("Set-Cookie %q lacks %q", cookie, want)
		}
	}
	if strings.Contains(strings.ToLower(cookie), "domain=") {
		t.Errorf("__Host- cookie with a Domain: %q", cookie)
	}
	value := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], refreshCookie+"=")
	d.take(r)
	r = d.doWith("POST", "/v1/session/refresh", nil, func(req *http.Request) {
		req.Header.Set("DPoP", d.key.Proof("POST", e.s.requestURL0("/v1/session/refresh"), "", "", e.clock.Now()))
		req.AddCookie(&http.Cookie{Name: refreshCookie, Value: value})
	})
	mustStatus(t, "refresh with cookie", r, 200)
}

// Attack: a stolen refresh token used after the owner rotated it. Reuse of
// a spent token revokes the whole session family, so neither the thief
// nor the owner's current token works any more.
func TestRefreshReuseRevokesFamily(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("reuse@example.com")
	stolen := d.refresh
	r := d.do("POST", "/v1/session/refresh", map[string]string{"refresh_token": stolen}, true)
	mustStatus(t, "first refresh", r, 200)
	d.take(r)
	current := d.refresh

	r = d.do("POST", "/v1/session/refresh", map[string]string{"refresh_token": stolen}, true)
	mustStatus(t, "reuse of the spent token", r, 401)
	if r.str("code") != codeRefreshInvalid {
		t.Errorf("reuse code = %q", r.str("code"))
	}
	r = d.do("POST", "/v1/session/refresh", map[string]string{"refresh_token": current}, true)
	mustStatus(t, "current token after reuse", r, 401)
	mustStatus(t, "access token after reuse", d.do("GET", "/v1/me", nil, true), 401)
	if n := e.sessions(d.account); n != 0 {
		t.Errorf("sessions after reuse = %d; want 0", n)
	}
	events, err := e.st.AuditEvents(t.Context(), 50)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range events {
		found = found || ev.Type == "session.refresh_reuse" && ev.AccountID == d.account
	}
	if !found {
		t.Error("refresh reuse was not audited")
	}
}

// Attack: a stolen refresh token presented from another device (without
// the bound key). It is refused and the session survives for its owner.
func TestRefreshWithoutDeviceKey(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("thief@example.com")
	thief := e.newDevice()
	r := thief.do("POST", "/v1/session/refresh", map[string]string{"refresh_token": d.refresh}, true)
	mustStatus(t, "refresh by another key", r, 401)
	r = d.do("POST", "/v1/session/refresh", map[string]string{"refresh_token": d.refresh}, true)
	mustStatus(t, "owner's refresh afterwards", r, 200)
}

// Attacks on the access token: each is refused with 401 and the right
// WWW-Authenticate error.
func TestAccessTokenAttacks(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("tokens@example.com")
	url := e.s.requestURL0("/v1/me")
	other := dpoptest.NewES256(t)
	now := e.clock.Now

	for _, tc := range []struct {
		name    string
		mutate  func(*http.Request)
		wantErr string
	}{
		// A token without a proof is a bearer token: whoever copied it
		// could use it.
		{"no proof", func(r *http.Request) { r.Header.Set("Authorization", "DPoP "+d.access) }, codeInvalidDPoP},
		// Downgrade: the DPoP-bound token presented as Bearer.
		{"as bearer", func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+d.access)
			r.Header.Set("DPoP", d.key.Proof("GET", url, d.access, "", now()))
		}, codeInvalidToken},
		// A thief with the token but not the device key signs with his own.
		{"another key's proof", func(r *http.Request) {
			r.Header.Set("Authorization", "DPoP "+d.access)
			r.Header.Set("DPoP", other.Proof("GET", url, d.access, "", now()))
		}, codeInvalidToken},
		// A proof made for another call (htm).
		{"wrong htm", func(r *http.Request) {
			r.Header.Set("Authorization", "DPoP "+d.access)
			r.Header.Set("DPoP", d.key.Proof("POST", url, d.access, "", now()))
		}, codeInvalidDPoP},
		// A proof made for another resource (htu).
		{"wrong htu", func(r *http.Request) {
			r.Header.Set("Authorization", "DPoP "+d.access)
			r.Header.Set("DPoP", d.key.Proof("GET", e.s.requestURL0("/v1/wallet"), d.access, "", now()))
		}, codeInvalidDPoP},
		// A proof made long ago (pre-computed or captured).
		{"stale iat", func(r *http.Request) {
			r.Header.Set("Authorization", "DPoP "+d.access)
			r.Header.Set("DPoP", d.key.Proof("GET", url, d.access, "", now().Add(-2*time.Minute)))
		}, codeInvalidDPoP},
		// A proof without the token hash could be paired with any token.
		{"proof without ath", func(r *http.Request) {
			r.Header.Set("Authorization", "DPoP "+d.access)
			r.Header.Set("DPoP", d.key.Proof("GET", url, "", "", now()))
		}, codeInvalidDPoP},
		// An unsigned proof.
		{"alg none proof", func(r *http.Request) {
			r.Header.Set("Authorization", "DPoP "+d.access)
			p := d.key.Proof("GET", url, d.access, "", now())
			parts := strings.Split(p, ".")
			r.Header.Set("DPoP", noneHeader(t, parts[0])+"."+parts[1]+".")
		}, codeInvalidDPoP},
		// A forged access token: HS256 keyed with the server's public key.
		{"hs256 token", func(r *http.Request) {
			forged := hs256WithPublicKey(t, e.s, d.access)
			r.Header.Set("Authorization", "DPoP "+forged)
			r.Header.Set("DPoP", d.key.Proof("GET", url, forged, "", now()))
		}, codeInvalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := d.doWith("GET", "/v1/me", nil, tc.mutate)
			mustStatus(t, tc.name, r, 401)
			if www := r.header.Get("WWW-Authenticate"); !strings.Contains(www, `error="`+tc.wantErr+`"`) || !strings.Contains(www, "algs=") {
				t.Errorf("WWW-Authenticate = %q; want error=%q with algs", www, tc.wantErr)
			}
		})
	}

	// Replay: the very same request twice.
	proof := d.key.Proof("GET", url, d.access, "", now())
	send := func() response {
		return d.doWith("GET", "/v1/me", nil, func(r *http.Request) {
			r.Header.Set("Authorization", "DPoP "+d.access)
			r.Header.Set("DPoP", proof)
		})
	}
	mustStatus(t, "first use of a proof", send(), 200)
	r := send()
	mustStatus(t, "replayed proof", r, 401)
	if !strings.Contains(r.header.Get("WWW-Authenticate"), codeInvalidDPoP) {
		t.Errorf("replay WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
	}
	// The same proof with its ECDSA signature turned s -> n-s: still a
	// valid signature, but the jti was spent.
	r = d.doWith("GET", "/v1/me", nil, func(req *http.Request) {
		req.Header.Set("Authorization", "DPoP "+d.access)
		req.Header.Set("DPoP", malleate(t, proof))
	})
	mustStatus(t, "malleated replay", r, 401)
}

// Attack: the passkey of an account used from another device (a synced
// passkey on the attacker's phone, or a stolen one). The last login does
// not win: 403 new_device and no session.
func TestPasskeyOnAnotherDevice(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.auth.BE, d.auth.BS = true, true // a synced passkey
	d.signup("synced@example.com")
	before := e.sessions(d.account)

	attacker := e.newDevice()
	attacker.auth = d.auth.Clone() // the same passkey, synced to another phone
	r := attacker.login()
	mustStatus(t, "login from another device key", r, 403)
	if r.str("code") != codeNewDevice || r.str("access_token") != "" {
		t.Errorf("answer = %s; want new_device and no tokens", r.raw)
	}
	if n := e.sessions(d.account); n != before {
		t.Errorf("sessions = %d; want %d (none created)", n, before)
	}
	// The owner is not displaced.
	mustStatus(t, "owner still works", d.do("GET", "/v1/me", nil, true), 200)
}

// Passkey ceremonies refused, each with 401 passkey_rejected and no session.
func TestPasskeyRejections(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("ceremony@example.com")
	base := e.sessions(d.account)

	for _, tc := range []struct {
		name  string
		knobs func(a *softauthn.Authenticator)
	}{
		// Possession alone (UV=0): a stolen unlocked phone must not pass.
		{"uv=0", func(a *softauthn.Authenticator) { a.UV = false }},
		// Phishing: an assertion made for another origin.
		{"wrong origin", func(a *softauthn.Authenticator) { a.Origin = "https://paycode.evil.example" }},
		// An assertion made for another relying party.
		{"wrong rpId hash", func(a *softauthn.Authenticator) { a.RPIDHash = make([]byte, 32) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth := d.auth.Clone()
			tc.knobs(auth)
			id, opts := d.loginStart()
			cred, err := auth.Assert(opts)
			if err != nil {
				t.Fatal(err)
			}
			r := d.loginFinish(id, cred)
			mustStatus(t, tc.name, r, 401)
			if r.str("code") != codePasskey {
				t.Errorf("code = %q; want %q", r.str("code"), codePasskey)
			}
		})
	}

	// Replayed challenge: a captured assertion sent again.
	t.Run("replayed challenge", func(t *testing.T) {
		id, opts := d.loginStart()
		cred, err := d.auth.Assert(opts)
		if err != nil {
			t.Fatal(err)
		}
		mustStatus(t, "first finish", d.loginFinish(id, cred), 200)
		mustStatus(t, "replayed finish", d.loginFinish(id, cred), 401)
		base++
	})

	// Two finishes of one challenge at the same time: exactly one wins.
	t.Run("concurrent finishes", func(t *testing.T) {
		id, opts := d.loginStart()
		cred, err := d.auth.Assert(opts)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		statuses := make(chan int, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses <- d.loginFinish(id, cred).status
			}()
		}
		wg.Wait()
		close(statuses)
		ok := 0
		for st := range statuses {
			if st == 200 {
				ok++
			} else if st != 401 {
				t.Errorf("a concurrent finish answered %d", st)
			}
		}
		if ok != 1 {
			t.Fatalf("%d concurrent finishes succeeded; want exactly 1", ok)
		}
		base++
	})

	// A challenge finished after its 5 minutes.
	t.Run("expired challenge", func(t *testing.T) {
		id, opts := d.loginStart()
		cred, err := d.auth.Assert(opts)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(5*time.Minute + time.Second)
		mustStatus(t, "expired finish", d.loginFinish(id, cred), 401)
	})

	// A challenge begun by one device key and finished with another.
	t.Run("challenge of another key", func(t *testing.T) {
		id, opts := d.loginStart()
		cred, err := d.auth.Assert(opts)
		if err != nil {
			t.Fatal(err)
		}
		other := e.newDevice()
		mustStatus(t, "finish with another key", other.loginFinish(id, cred), 401)
	})

	if n := e.sessions(d.account); n != base {
		t.Errorf("sessions = %d; want %d (no rejected ceremony created one)", n, base)
	}
}

// Attack: a cloned device-bound authenticator. Its counter falls behind
// the original's; the device is locked, audited, and gets no session.
func TestCounterRegressionLocksDevice(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("clone@example.com")
	clone := d.auth.Clone()
	mustStatus(t, "login", d.login(), 200) // the original moves to counter 1
	before := e.sessions(d.account)

	saved := d.auth
	d.auth = clone
	clone.SetCounter(clone.CredentialIDs()[0], 0) // the clone answers with 1 again
	r := d.login()
	d.auth = saved
	mustStatus(t, "login with regressed counter", r, 401)
	if e.sessions(d.account) != 0 {
		t.Errorf("sessions after lock = %d; want 0 (before %d)", e.sessions(d.account), before)
	}
	mustStatus(t, "the original's access token after the lock", d.do("GET", "/v1/me", nil, true), 401)
	acct, err := e.st.Account(t.Context(), d.account)
	if err != nil || acct.DeviceStatus != "locked" {
		t.Fatalf("device status = %v, %v; want locked", acct, err)
	}
	// Even the original now gets no session.
	r = d.login()
	mustStatus(t, "login on a locked device", r, 403)
	if r.str("code") != codeDeviceLocked {
		t.Errorf("code = %q; want device_locked", r.str("code"))
	}
}

// Sign-up and login reveal nothing about which contacts have accounts:
// the answers for a registered and a fresh contact look alike, and no
// OTP exists for the registered one.
func TestNoAccountEnumeration(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("known@example.com")

	probe := e.newDevice()
	known := probe.do("POST", "/v1/signup/contact", map[string]string{"contact": "known@example.com"}, false)
	fresh := probe.do("POST", "/v1/signup/contact", map[string]string{"contact": "fresh@example.com"}, false)
	if known.status != fresh.status || len(known.body) != len(fresh.body) {
		t.Fatalf("answers differ: known %d %s, fresh %d %s", known.status, known.raw, fresh.status, fresh.raw)
	}
	for k := range fresh.body {
		if _, ok := known.body[k]; !ok {
			t.Errorf("member %q only for a fresh contact", k)
		}
	}
	if otp := e.lastOTP("known@example.com"); otp != "" {
		t.Error("an OTP was sent for a contact that has an account")
	}
	// Guessing codes for the known contact's sign-up never verifies.
	for _, guess := range []string{"000000", "123456"} {
		r := probe.do("POST", "/v1/signup/verify", map[string]string{"signup_id": known.str("signup_id"), "otp": guess}, true)
		mustStatus(t, "verify for a known contact", r, 400)
	}
	// Login start takes no identifier at all.
	id, _ := probe.loginStart()
	if id == "" {
		t.Fatal("no login id")
	}
}

// OTP brute force: five wrong guesses end the sign-up; the right code is
// useless afterwards.
func TestOTPTriesExhausted(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	r := d.do("POST", "/v1/signup/contact", map[string]string{"contact": "+819012345678"}, false)
	mustStatus(t, "contact", r, 202)
	id := r.str("signup_id")
	right := e.lastOTP("+819012345678")
	for i := range 5 {
		wrong := "000000"
		if right == wrong {
			wrong = "111111"
		}
		r = d.do("POST", "/v1/signup/verify", map[string]string{"signup_id": id, "otp": wrong}, true)
		mustStatus(t, "wrong guess", r, 400)
		_ = i
	}
	r = d.do("POST", "/v1/signup/verify", map[string]string{"signup_id": id, "otp": right}, true)
	mustStatus(t, "right code after 5 wrong", r, 400)
}

// OTP sends are rate limited per contact.
func TestOTPSendRateLimit(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	var last response
	for range 4 {
		last = d.do("POST", "/v1/signup/contact", map[string]string{"contact": "spam@example.com"}, false)
	}
	mustStatus(t, "fourth send in 10 minutes", last, 429)
	if last.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

// Bad input gets a clear 400/415, never a 500.
func TestSignupBadInput(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	for _, tc := range []struct {
		name, path, body, ct string
		want                 int
		code                 string
	}{
		{"not json", "/v1/signup/contact", "{", "application/json", 400, codeMalformed},
		{"wrong type", "/v1/signup/contact", `{"contact": 5}`, "application/json", 400, codeMalformed},
		{"bad contact", "/v1/signup/contact", `{"contact":"not an address"}`, "application/json", 400, codeInvalidContact},
		{"form body", "/v1/signup/contact", `contact=a@b.c`, "application/x-www-form-urlencoded", 415, codeUnsupportedType},
		{"short otp", "/v1/signup/verify", `{"signup_id":"x","otp":"12"}`, "application/json", 400, codeMalformed},
		{"finish without credential", "/v1/signup/finish", `{"signup_id":"x"}`, "application/json", 400, codeMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := d.doWith("POST", tc.path, nil, func(req *http.Request) {
				req.Body = http.NoBody
				*req = *httptestRequest(t, "POST", tc.path, tc.body, tc.ct)
			})
			if r.status != tc.want || r.str("code") != tc.code {
				t.Errorf("status %d code %q; want %d %q: %s", r.status, r.str("code"), tc.want, tc.code, r.raw)
			}
		})
	}
}

// A registration without user verification (a passkey made by someone
// holding the phone without its owner's biometric) creates no account.
func TestSignupRejectsUV0(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.auth.UV = false
	id, opts := d.startSignup("nouv@example.com")
	cred, err := d.auth.Register(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := d.do("POST", "/v1/signup/finish", map[string]any{"signup_id": id, "credential": json.RawMessage(cred)}, true)
	mustStatus(t, "signup with UV=0", r, 401)
	if r.str("code") != codePasskey || r.str("access_token") != "" {
		t.Errorf("answer = %s", r.raw)
	}
	if _, err := e.st.AccountByContact(t.Context(), e.s.contactHash("nouv@example.com")); err == nil {
		t.Error("an account was created")
	}
}
