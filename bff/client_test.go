package bff

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
	"github.com/paycode/paycode/tokens/dpoptest"
	"github.com/paycode/paycode/webauthn/softauthn"
)

// clock is the injectable clock of a test server.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a server on the best store this machine offers, with a clock.
type env struct {
	t     testing.TB
	s     *Server
	st    *store.Store
	clock *clock
}

func newEnv(t testing.TB, vars map[string]string) *env {
	t.Helper()
	return newEnvOn(t, storetest.Open(t), vars)
}

// newEnvOn is newEnv on a given store (a Cluster, say).
func newEnvOn(t testing.TB, st *store.Store, vars map[string]string) *env {
	t.Helper()
	clk := &clock{now: time.Now().Truncate(time.Second)}
	s := newTestServerWith(t, st, vars, clk.Now)
	return &env{t: t, s: s, st: st, clock: clk}
}

// device is a client: a DPoP key and a passkey authenticator, and the
// tokens it holds.
type device struct {
	e       *env
	key     *dpoptest.Key
	auth    *softauthn.Authenticator
	origin  string // sent as Origin (browser) when set
	access  string
	refresh string
	account string
}

func (e *env) newDevice() *device {
	return &device{e: e, key: dpoptest.NewES256(e.t), auth: softauthn.New(e.s.cfg.RPOrigins[0])}
}

// response is a decoded JSON response.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (r response) str(k string) string { s, _ := r.body[k].(string); return s }

// do sends a request; proof says whether to add a fresh DPoP proof; the
// access token, when set, goes in Authorization: DPoP.
func (d *device) do(method, path string, body any, proof bool) response {
	d.e.t.Helper()
	return d.doToken(method, path, body, d.access, proof)
}

// doToken is do with an explicit access token ("" for none).
func (d *device) doToken(method, path string, body any, token string, proof bool) response {
	d.e.t.Helper()
	return d.doWith(method, path, body, func(req *http.Request) {
		if proof {
			req.Header.Set("DPoP", d.key.Proof(method, d.e.s.requestURL0(path), token, "", d.e.clock.Now()))
		}
		if token != "" {
			req.Header.Set("Authorization", "DPoP "+token)
		}
	})
}

func (d *device) doWith(method, path string, body any, mutate func(*http.Request)) response {
	d.e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			d.e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if d.origin != "" {
		req.Header.Set("Origin", d.origin)
	}
	mutate(req)
	return d.e.send(req)
}

func (e *env) send(req *http.Request) response {
	e.t.Helper()
	resp, err := e.s.app.Test(req, 30_000)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		_ = json.Unmarshal(raw, &r.body)
	}
	return r
}

// requestURL0 is the URL a client addresses for path.
func (s *Server) requestURL0(path string) string {
	return s.cfg.PublicURL.Scheme + "://" + s.cfg.PublicURL.Host + path
}

var otpText = regexp.MustCompile(`code is ([0-9]{6})`)

// lastOTP reads the OTP sent to contact from the dev outbox.
func (e *env) lastOTP(contact string) string {
	e.t.Helper()
	msgs, err := e.st.Outbox(context.Background(), 50)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range msgs {
		if m.To == contact {
			if g := otpText.FindStringSubmatch(m.Text); g != nil {
				return g[1]
			}
			return ""
		}
	}
	return ""
}

func mustStatus(t testing.TB, what string, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, want, r.raw)
	}
}

// startSignup runs contact and verify and returns the sign-up id and the
// creation options.
func (d *device) startSignup(contact string) (string, json.RawMessage) {
	t := d.e.t
	t.Helper()
	r := d.do("POST", "/v1/signup/contact", map[string]string{"contact": contact}, false)
	mustStatus(t, "signup/contact", r, 202)
	id := r.str("signup_id")
	otp := d.e.lastOTP(contact)
	if otp == "" {
		t.Fatalf("no OTP in the outbox for %s", contact)
	}
	r = d.do("POST", "/v1/signup/verify", map[string]string{"signup_id": id, "otp": otp}, true)
	mustStatus(t, "signup/verify", r, 200)
	opts, _ := json.Marshal(r.body["options"])
	return id, opts
}

// signup creates an account bound to this device.
func (d *device) signup(contact string) response {
	t := d.e.t
	t.Helper()
	id, opts := d.startSignup(contact)
	cred, err := d.auth.Register(opts)
	if err != nil {
		t.Fatalf("authenticator: %v", err)
	}
	r := d.do("POST", "/v1/signup/finish", map[string]any{"signup_id": id, "credential": json.RawMessage(cred), "device_label": "test phone"}, true)
	mustStatus(t, "signup/finish", r, 201)
	d.take(r)
	return r
}

func (d *device) take(r response) {
	if v := r.str("access_token"); v != "" {
		d.access = v
	}
	if v := r.str("refresh_token"); v != "" {
		d.refresh = v
	}
	if v := r.str("account_id"); v != "" {
		d.account = v
	}
}

// loginStart returns the login id and request options.
func (d *device) loginStart() (string, json.RawMessage) {
	d.e.t.Helper()
	r := d.doToken("POST", "/v1/login/start", map[string]any{}, "", true)
	mustStatus(d.e.t, "login/start", r, 200)
	opts, _ := json.Marshal(r.body["options"])
	return r.str("login_id"), opts
}

func (d *device) loginFinish(id string, cred []byte) response {
	d.e.t.Helper()
	return d.doToken("POST", "/v1/login/finish", map[string]any{"login_id": id, "credential": json.RawMessage(cred)}, "", true)
}

// login runs a whole login and keeps the tokens.
func (d *device) login() response {
	d.e.t.Helper()
	id, opts := d.loginStart()
	cred, err := d.auth.Assert(opts)
	if err != nil {
		d.e.t.Fatalf("authenticator: %v", err)
	}
	r := d.loginFinish(id, cred)
	if r.status == 200 {
		d.take(r)
	}
	return r
}

// sessions counts the live sessions of an account: those of its bucket
// that name it, are of its current generation (sg) and of its active
// device.
func (e *env) sessions(accountID string) int64 {
	e.t.Helper()
	ctx := context.Background()
	b, err := store.BucketOf(accountID)
	if err != nil {
		e.t.Fatal(err)
	}
	rdb, k := e.st.Client(), e.st.Keys()
	acct, err := rdb.HMGet(ctx, k.Account(b, accountID), "sg", "device_id", "device_status").Result()
	if err != nil {
		e.t.Fatal(err)
	}
	gen, _ := acct[0].(string)
	if gen == "" {
		gen = "0"
	}
	var n int64
	iter := rdb.Scan(ctx, 0, k.Session(b, "sess_"+b.String()+"*"), 1000).Iterator()
	for iter.Next(ctx) {
		f, err := rdb.HMGet(ctx, iter.Val(), "account", "g", "device").Result()
		if err != nil {
			e.t.Fatal(err)
		}
		g, _ := f[1].(string)
		if g == "" {
			g = "0"
		}
		if f[0] == accountID && g == gen && f[2] == acct[1] && acct[2] == store.DeviceActive {
			n++
		}
	}
	if err := iter.Err(); err != nil {
		e.t.Fatal(err)
	}
	return n
}
