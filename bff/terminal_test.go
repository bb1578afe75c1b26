package bff

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paycode/paycode/internal/faultproxy"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
	"github.com/paycode/paycode/tokens"
)

// terminal is a registered store scanner with its key and token.
type terminal struct {
	e     *env
	id    string
	store string
	key   tokens.SigningKey
	token string
}

// registerTerminal registers a terminal through the admin API and gets a
// token with a real client assertion.
func (e *env) registerTerminal(storeID string) *terminal {
	e.t.Helper()
	key, err := tokens.GenerateSigningKey("ES256")
	if err != nil {
		e.t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Private.Public())
	if err != nil {
		e.t.Fatal(err)
	}
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	body, _ := json.Marshal(map[string]string{"operator": "tester", "reason": "test", "store_id": storeID, "label": "lane 1", "public_key_pem": pub})
	req := httptest.NewRequest("POST", "/v1/terminals", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := e.s.admin.Test(req, 10_000)
	if err != nil || resp.StatusCode != 201 {
		e.t.Fatalf("registering a terminal: %v %v", resp.StatusCode, err)
	}
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	t := &terminal{e: e, id: out["terminal_id"].(string), store: storeID, key: key}
	r := t.tokenRequest(t.assertion(nil))
	mustStatus(e.t, "terminal token", r, 200)
	t.token = r.str("access_token")
	return t
}

// assertion builds an RFC 7523 client assertion; mutate may change claims.
func (t *terminal) assertion(mutate func(jwt.MapClaims)) string {
	now := t.e.clock.Now()
	jti := make([]byte, 16)
	rand.Read(jti)
	claims := jwt.MapClaims{"iss": t.id, "sub": t.id, "aud": t.e.s.requestURL0("/v1/terminal/token"),
		"exp": now.Add(time.Minute).Unix(), "iat": now.Unix(), "jti": hex.EncodeToString(jti)}
	if mutate != nil {
		mutate(claims)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	s, err := tok.SignedString(t.key.Private)
	if err != nil {
		t.e.t.Fatal(err)
	}
	return s
}

func (t *terminal) tokenRequest(assertion string) response {
	form := url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	req := httptest.NewRequest("POST", "/v1/terminal/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return t.e.send(req)
}

// call sends a terminal request with an Idempotency-Key.
func (t *terminal) call(method, path, idem string, body any) response {
	var rd *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+t.token)
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	return t.e.send(req)
}

func newIdem() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (t *terminal) pay(code string, amount int64) response {
	return t.call("POST", "/v1/terminal/payments", newIdem(), map[string]any{"code": code, "amount": amount, "currency": "JPY", "order_ref": "o-1"})
}

func (t *terminal) topup(code string, amount int64) response {
	return t.call("POST", "/v1/terminal/topups", newIdem(), map[string]any{"code": code, "amount": amount, "currency": "JPY"})
}

// customer signs up and returns a device with a fresh code ready.
func (e *env) customer(contact string) *device {
	d := e.newDevice()
	d.signup(contact)
	return d
}

func (d *device) code() string {
	d.e.t.Helper()
	r := d.newCode()
	mustStatus(d.e.t, "code", r, 201)
	return r.str("code")
}

func (d *device) balance() int64 {
	d.e.t.Helper()
	r := d.do("GET", "/v1/wallet", nil, true)
	mustStatus(d.e.t, "wallet", r, 200)
	return int64(r.body["balance"].(float64))
}

func TestPayAndRefund(t *testing.T) {
	e := newEnv(t, nil)
	term := e.registerTerminal("store-1")
	d := e.customer("payer@example.com")
	mustStatus(t, "top-up", term.topup(d.code(), 5000), 201)
	if b := d.balance(); b != 5000 {
		t.Fatalf("balance after top-up = %d", b)
	}
	stream := openStream(t, newTestServerWith(t, e.st, nil, e.clock.Now), d, "")
	r := term.pay(d.code(), 1200)
	mustStatus(t, "pay", r, 201)
	if r.str("status") != "approved" || r.body["amount"] != float64(1200) || r.str("currency") != "JPY" {
		t.Fatalf("pay = %s", r.raw)
	}
	pid := r.str("payment_id")
	for {
		_, typ, data := stream.next(t, 10*time.Second)
		if typ == "code.redeemed" {
			inner, _ := data["data"].(map[string]any)
			if inner["amount"] != float64(1200) || inner["store"] != "store-1" {
				t.Errorf("code.redeemed = %v", data)
			}
			break
		}
	}
	if b := d.balance(); b != 3800 {
		t.Errorf("balance after paying 1200 = %d", b)
	}
	// Refunds: up to what remains, never more.
	mustStatus(t, "refund 200", term.call("POST", "/v1/terminal/payments/"+pid+"/refunds", newIdem(), map[string]any{"amount": 200}), 201)
	r = term.call("POST", "/v1/terminal/payments/"+pid+"/refunds", newIdem(), map[string]any{"amount": 1001})
	mustStatus(t, "refund above the remainder", r, 402)
	if r.str("code") != store.DeclineRefundExceeds {
		t.Errorf("code = %q", r.str("code"))
	}
	mustStatus(t, "refund the rest", term.call("POST", "/v1/terminal/payments/"+pid+"/refunds", newIdem(), map[string]any{"amount": 1000}), 201)
	if b := d.balance(); b != 5000 {
		t.Errorf("balance after full refund = %d", b)
	}
	r = term.call("GET", "/v1/terminal/payments/"+pid, "", nil)
	mustStatus(t, "get payment", r, 200)
	if r.body["refunded"] != float64(1200) || len(r.body["refunds"].([]any)) != 2 {
		t.Errorf("payment = %s", r.raw)
	}
	// Another store's terminal cannot see or refund it.
	other := e.registerTerminal("store-2")
	mustStatus(t, "other store reads", other.call("GET", "/v1/terminal/payments/"+pid, "", nil), 404)
	mustStatus(t, "other store refunds", other.call("POST", "/v1/terminal/payments/"+pid+"/refunds", newIdem(), map[string]any{"amount": 1}), 404)
}

// Each decline carries its machine-readable reason.
func TestDeclines(t *testing.T) {
	e := newEnv(t, nil)
	term := e.registerTerminal("store-1")
	d := e.customer("declines@example.com")
	mustStatus(t, "top-up", term.topup(d.code(), 1000), 201)

	check := func(name string, r response, want string) {
		t.Helper()
		if r.status != 402 || r.str("code") != want {
			t.Errorf("%s: %d %q; want 402 %q: %s", name, r.status, r.str("code"), want, r.raw)
		}
	}
	check("insufficient funds", term.pay(d.code(), 1001), store.DeclineInsufficientFunds)
	check("over the per-payment limit", term.pay(d.code(), 50001), store.DeclineLimitExceeded)
	r := term.call("POST", "/v1/terminal/payments", newIdem(), map[string]any{"code": d.code(), "amount": 10, "currency": "USD"})
	check("currency", r, store.DeclineCurrencyMismatch)
	used := d.code()
	mustStatus(t, "first use", term.pay(used, 10), 201)
	check("used", term.pay(used, 10), store.DeclineCodeUsed)
	expiring := d.code()
	e.clock.Advance(61 * time.Second)
	check("expired", term.pay(expiring, 10), store.DeclineCodeExpired)
	// A well-formed code that was never issued (valid Luhn).
	fake, _ := tokens.NewCode(e.s.cfg.CodePrefix, 1)
	check("unknown", term.pay(fake.Digits(), 10), store.DeclineCodeUnknown)

	e.clock.Advance(-61 * time.Second)
	fresh := d.code()
	if _, err := e.st.SetAccountStatus(t.Context(), d.account, store.AccountFrozen); err != nil {
		t.Fatal(err)
	}
	check("frozen", term.pay(fresh, 10), store.DeclineAccountFrozen)
	if _, err := e.st.SetAccountStatus(t.Context(), d.account, store.AccountActive); err != nil {
		t.Fatal(err)
	}
	live := d.code()
	acct, _ := e.st.Account(t.Context(), d.account)
	if _, err := e.st.SetDeviceStatus(t.Context(), d.account, acct.DeviceID, store.DeviceRevoked); err != nil {
		t.Fatal(err)
	}
	check("device revoked", term.pay(live, 10), store.DeclineDeviceRevoked)

	for _, tc := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"zero amount", map[string]any{"code": strings.Repeat("1", 24), "amount": 0}, codeInvalidAmount},
		{"fractional", map[string]any{"code": strings.Repeat("1", 24), "amount": 1.5}, codeMalformed},
		{"short code", map[string]any{"code": "1234", "amount": 5}, codeInvalidCodeFormat},
	} {
		r := term.call("POST", "/v1/terminal/payments", newIdem(), tc.body)
		if r.status != 400 || r.str("code") != tc.code {
			t.Errorf("%s: %d %q; want 400 %q", tc.name, r.status, r.str("code"), tc.code)
		}
	}
	mustStatus(t, "no idempotency key", term.call("POST", "/v1/terminal/payments", "", map[string]any{"code": live, "amount": 5}), 400)
}

// Idempotency: the same key and body get the same answer (also after the
// code is spent); the same key with another body is 422; concurrent
// retries move the money once.
func TestIdempotency(t *testing.T) {
	e := newEnv(t, nil)
	term := e.registerTerminal("store-1")
	d := e.customer("idem@example.com")
	mustStatus(t, "top-up", term.topup(d.code(), 1000), 201)
	code := d.code()
	key := newIdem()
	body := map[string]any{"code": code, "amount": 300, "currency": "JPY", "order_ref": "A-1"}
	first := term.call("POST", "/v1/terminal/payments", key, body)
	mustStatus(t, "first", first, 201)
	again := term.call("POST", "/v1/terminal/payments", key, body)
	mustStatus(t, "replay", again, 201)
	if again.str("payment_id") != first.str("payment_id") || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay = %s (replayed %q); want the first answer %s", again.raw, again.header.Get("Idempotent-Replayed"), first.raw)
	}
	if b := d.balance(); b != 700 {
		t.Errorf("balance = %d; want 700 (debited once)", b)
	}
	body["amount"] = 301
	r := term.call("POST", "/v1/terminal/payments", key, body)
	mustStatus(t, "same key, other body", r, 422)
	if r.str("code") != codeIdempotencyMismatch {
		t.Errorf("code = %q", r.str("code"))
	}
	// Concurrent retries of one sale (a terminal that resends before the
	// first answer arrives) are serialised by the script that checks the
	// key and moves the money in one step: one movement, one payment id,
	// every answer 201. (There is no in-flight lock any more: a lock
	// between two steps is what a crash left behind for 30 s.)
	code2 := d.code()
	key2 := newIdem()
	body2 := map[string]any{"code": code2, "amount": 100, "currency": "JPY", "order_ref": "A-2"}
	const n = 8
	answers := make(chan response, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); answers <- term.call("POST", "/v1/terminal/payments", key2, body2) }()
	}
	wg.Wait()
	close(answers)
	ids := map[string]int{}
	for r := range answers {
		mustStatus(t, "concurrent retry", r, 201)
		ids[r.str("payment_id")]++
	}
	if len(ids) != 1 {
		t.Errorf("%d concurrent requests with one key got payment ids %v; want one id", n, ids)
	}
	if b := d.balance(); b != 600 {
		t.Errorf("balance = %d; want 600 (the concurrent retries charged once)", b)
	}
}

// Attack: one code scanned at many registers at once. Exactly one payment
// is approved and the wallet is debited once: on the embedded store, real
// Redis and the real Redis Cluster.
func TestConcurrentRedemptionOfOneCode(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { concurrentRedemption(t, newEnvOn(t, b.Open(t), nil)) })
	}
}

func concurrentRedemption(t *testing.T, e *env) {
	term := e.registerTerminal("store-1")
	d := e.customer("double@example.com")
	mustStatus(t, "top-up", term.topup(d.code(), 10000), 201)
	code := d.code()
	const n = 200
	statuses := make(chan response, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- term.pay(code, 100)
		}()
	}
	wg.Wait()
	close(statuses)
	approved := 0
	for r := range statuses {
		switch {
		case r.status == 201:
			approved++
		case r.status == 402 && r.str("code") == store.DeclineCodeUsed:
		default:
			t.Errorf("unexpected answer %d %s", r.status, r.raw)
		}
	}
	if approved != 1 {
		t.Fatalf("%d of %d concurrent redemptions approved; want exactly 1", approved, n)
	}
	if b := d.balance(); b != 9900 {
		t.Errorf("balance = %d; want 9900", b)
	}
}

// Attack: several live codes of one wallet (the grace period) spent at
// once for more than the balance. The wallet never goes below zero.
func TestConcurrentCodesNeverOverdraw(t *testing.T) {
	e := newEnv(t, map[string]string{"PAYCODE_CODES_PER_MINUTE": "1000"})
	term := e.registerTerminal("store-1")
	d := e.customer("overdraw@example.com")
	mustStatus(t, "top-up", term.topup(d.code(), 1000), 201)
	var codes []string
	for range 15 {
		codes = append(codes, d.code()) // each earlier code keeps its grace: all live
	}
	results := make(chan response, len(codes))
	var wg sync.WaitGroup
	for _, c := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- term.pay(c, 300)
		}()
	}
	wg.Wait()
	close(results)
	approved := 0
	for r := range results {
		if r.status == 201 {
			approved++
		} else if r.str("code") != store.DeclineInsufficientFunds {
			t.Errorf("unexpected answer %d %s", r.status, r.raw)
		}
	}
	if approved != 3 {
		t.Errorf("approved %d payments of 300 from 1000; want 3", approved)
	}
	if b := d.balance(); b != 100 {
		t.Errorf("balance = %d; want 100", b)
	}
}

// Customer tokens are refused on terminal calls, terminal tokens on
// customer calls.
func TestTokenKindsDoNotCross(t *testing.T) {
	e := newEnv(t, nil)
	term := e.registerTerminal("store-1")
	d := e.customer("cross@example.com")
	code := d.code()
	req := httptest.NewRequest("POST", "/v1/terminal/payments", strings.NewReader(fmt.Sprintf(`{"code":%q,"amount":1}`, code)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+d.access)
	req.Header.Set("Idempotency-Key", newIdem())
	mustStatus(t, "customer token on a terminal call", e.send(req), 401)

	r := d.doWith("GET", "/v1/me", nil, func(req *http.Request) {
		req.Header.Set("Authorization", "DPoP "+term.token)
		req.Header.Set("DPoP", d.key.Proof("GET", e.s.requestURL0("/v1/me"), term.token, "", e.clock.Now()))
	})
	mustStatus(t, "terminal token on a customer call", r, 401)
}

// Terminal authentication attacks on the token endpoint.
func TestTerminalTokenAttacks(t *testing.T) {
	e := newEnv(t, nil)
	term := e.registerTerminal("store-1")
	for _, tc := range []struct {
		name   string
		mutate func(jwt.MapClaims)
	}{
		{"wrong audience", func(c jwt.MapClaims) { c["aud"] = "https://evil.example/token" }},
		{"iss differs from sub", func(c jwt.MapClaims) { c["sub"] = "term_other" }},
		{"expired", func(c jwt.MapClaims) { c["exp"] = e.clock.Now().Add(-time.Minute).Unix() }},
		{"unknown terminal", func(c jwt.MapClaims) { c["iss"], c["sub"] = "term_unknown", "term_unknown" }},
	} {
		r := term.tokenRequest(term.assertion(tc.mutate))
		if r.status != 401 || r.str("code") != codeInvalidClient {
			t.Errorf("%s: %d %q; want 401 invalid_client", tc.name, r.status, r.str("code"))
		}
	}
	a := term.assertion(nil)
	mustStatus(t, "first use", term.tokenRequest(a), 200)
	mustStatus(t, "replayed assertion", term.tokenRequest(a), 401)
}

// Attack: a compromised scanner trying codes. Past the threshold it is
// throttled, then suspended (audited), and its token stops working.
func TestCodeGuessingSuspends(t *testing.T) {
	e := newEnv(t, map[string]string{"PAYCODE_GUESS_THROTTLE": "3", "PAYCODE_GUESS_SUSPEND": "3"})
	term := e.registerTerminal("store-1")
	for i := range 3 {
		fake, _ := tokens.NewCode(e.s.cfg.CodePrefix, uint16(i))
		r := term.pay(fake.Digits(), 10)
		mustStatus(t, "guess", r, 402)
	}
	r := term.pay(strings.Repeat("1", 24), 10)
	if r.status != 403 && r.status != 429 {
		t.Fatalf("after the threshold: %d %s; want 403 (suspended) or 429", r.status, r.raw)
	}
	got, err := e.st.Terminal(t.Context(), term.id)
	if err != nil || got.Status != store.TerminalSuspended {
		t.Fatalf("terminal = %+v, %v; want suspended", got, err)
	}
	mustStatus(t, "token for a suspended terminal", term.tokenRequest(term.assertion(nil)), 401)
	events, _ := e.st.AuditEvents(t.Context(), 50)
	found := false
	for _, ev := range events {
		found = found || ev.Type == "terminal.suspended" && ev.Fields["terminal"] == term.id
	}
	if !found {
		t.Error("the suspension was not audited")
	}
}

// After a random run of payments, refunds and top-ups over several
// accounts, each account's ledger sums to its balance and never dips
// below zero.
func TestLedgerSumsToBalance(t *testing.T) {
	e := newEnv(t, map[string]string{"PAYCODE_CODES_PER_MINUTE": "1000"})
	term := e.registerTerminal("store-1")
	var devices []*device
	for i := range 3 {
		d := e.customer(fmt.Sprintf("ledger%d@example.com", i))
		mustStatus(t, "top-up", term.topup(d.code(), 20000), 201)
		devices = append(devices, d)
	}
	var payments []string
	rnd := func(n int64) int64 { v, _ := rand.Int(rand.Reader, big.NewInt(n)); return v.Int64() }
	for range 60 {
		d := devices[rnd(int64(len(devices)))]
		switch rnd(3) {
		case 0:
			if r := term.pay(d.code(), 1+rnd(3000)); r.status == 201 {
				payments = append(payments, r.str("payment_id"))
			}
		case 1:
			term.topup(d.code(), 1+rnd(2000))
		case 2:
			if len(payments) > 0 {
				p := payments[rnd(int64(len(payments)))]
				term.call("POST", "/v1/terminal/payments/"+p+"/refunds", newIdem(), map[string]any{"amount": 1 + rnd(1500)})
			}
		}
	}
	for _, d := range devices {
		entries, err := e.st.Ledger(t.Context(), d.account)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, en := range entries {
			sum += en.Amount
			if en.Balance != sum || en.Balance < 0 {
				t.Fatalf("ledger entry %s: balance %d, running sum %d", en.ID, en.Balance, sum)
			}
		}
		if b := d.balance(); b != sum {
			t.Errorf("account %s: balance %d, ledger sum %d", d.account, b, sum)
		}
	}
}

// Rotation: the previous code is still accepted within its grace (the
// customer rotated while the cashier scanned) and refused after it.
func TestRotationGraceAtTheRegister(t *testing.T) {
	e := newEnv(t, nil)
	term := e.registerTerminal("store-1")
	d := e.customer("grace@example.com")
	mustStatus(t, "top-up", term.topup(d.code(), 1000), 201)
	first := d.code()
	second := d.code() // first now has 5 s of grace
	e.clock.Advance(4 * time.Second)
	mustStatus(t, "previous code within the grace", term.pay(first, 10), 201)
	third := d.code()
	e.clock.Advance(6 * time.Second)
	r := term.pay(second, 10)
	if r.status != 402 || r.str("code") != store.DeclineCodeExpired {
		t.Errorf("previous code after the grace = %d %q; want 402 code_expired", r.status, r.str("code"))
	}
	mustStatus(t, "current code", term.pay(third, 10), 201)
}

// BenchmarkRedeem measures a payment through the terminal handler: token
// check, terminal lookup, the guess counter, code parse, the idempotency
// lock and the redemption script. Codes are issued outside the timer.
func BenchmarkRedeem(b *testing.B) {
	e := newEnv(b, map[string]string{"PAYCODE_CODES_PER_MINUTE": "1000000", "PAYCODE_LIMIT_DAY": "1000000000"})
	term := e.registerTerminal("store-1")
	d := e.customer("bench-redeem@example.com")
	mustStatus(b, "top-up", term.topup(d.code(), 50000), 201)
	codes := make([]string, b.N)
	for i := range codes {
		codes[i] = d.code() // a fixed clock keeps every earlier code within its grace
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if r := term.pay(codes[i], 1); r.status != 201 {
			b.Fatalf("status %d: %s", r.status, r.raw)
		}
	}
}

// BenchmarkRedeemRedisLatency is BenchmarkRedeem with every Redis reply
// delayed by PAYCODE_BENCH_REDIS_DELAY (default 2 ms) through a TCP proxy,
// as a Redis in another zone would be: what a payment's answer waits for
// is then the number of round trips it makes one after the other. The
// money script and the store's sales-log entry go out together, so a
// payment waits about one delay, not two (real Redis only).
func BenchmarkRedeemRedisLatency(b *testing.B) {
	delay := 2 * time.Millisecond
	if v := os.Getenv("PAYCODE_BENCH_REDIS_DELAY"); v != "" {
		var err error
		if delay, err = time.ParseDuration(v); err != nil {
			b.Fatal(err)
		}
	}
	var proxy *faultproxy.Proxy
	st := storetest.OpenRedis(b, func(o *store.Options) {
		u, err := url.Parse(o.URL)
		if err != nil {
			b.Fatal(err)
		}
		if proxy, err = faultproxy.Listen(u.Host); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { proxy.Close() }) // after the store's own cleanup, which goes through it
		u.Host = proxy.Addr()
		o.URL = u.String()
	})
	e := newEnvOn(b, st, map[string]string{"PAYCODE_CODES_PER_MINUTE": "1000000", "PAYCODE_LIMIT_DAY": "1000000000"})
	term := e.registerTerminal("store-1")
	d := e.customer("bench-latency@example.com")
	mustStatus(b, "top-up", term.topup(d.code(), 50000), 201)
	codes := make([]string, b.N)
	for i := range codes {
		codes[i] = d.code()
	}
	proxy.Delay(delay)
	b.ResetTimer()
	for i := range b.N {
		if r := term.pay(codes[i], 1); r.status != 201 {
			b.Fatalf("status %d: %s", r.status, r.raw)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(delay.Microseconds()), "delays/op")
}
