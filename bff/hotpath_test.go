package bff

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/tokens"
)

// roundTrips counts the Redis round trips a client makes while it is on: a
// command is one, a pipeline (or MULTI) is one. While meet is armed it
// also checks that the first two commands are in flight together: the
// first waits for the second (a sequential design never sends the second,
// and the wait ends at its bound as a failure). The replica's background
// work (store.Background: the outbox worker, cache refreshes) is not a
// request's and is left out.
type roundTrips struct {
	on    atomic.Bool
	n     atomic.Int64
	mu    sync.Mutex
	names []string // the commands of the last count, for failure messages

	meet     atomic.Bool
	arrivals atomic.Int64
	met      chan struct{}
	together atomic.Bool
}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		// A connection the pool dials meanwhile says HELLO (and CLIENT
		// SETINFO) once: its set-up, not a command of the path.
		if h.on.Load() && !store.IsBackground(ctx) && cmd.Name() != "hello" && cmd.Name() != "client" {
			h.n.Add(1)
			h.mu.Lock()
			h.names = append(h.names, cmd.Name())
			h.mu.Unlock()
		}
		if h.meet.Load() && !store.IsBackground(ctx) && cmd.Name() != "hello" && cmd.Name() != "client" {
			switch h.arrivals.Add(1) {
			case 1:
				select {
				case <-h.met:
					h.together.Store(true)
				case <-time.After(10 * time.Second): // only a sequential path gets here
				}
			case 2:
				close(h.met)
			}
		}
		return next(ctx, cmd)
	}
}

// concurrently runs f and reports whether its first two commands were in
// flight at the same time.
func (h *roundTrips) concurrently(f func()) bool {
	h.met, h.together = make(chan struct{}), atomic.Bool{}
	h.arrivals.Store(0)
	h.meet.Store(true)
	f()
	h.meet.Store(false)
	return h.together.Load()
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.on.Load() && !store.IsBackground(ctx) && !connSetup(cmds) {
			h.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// count runs f and returns the round trips it made.
func (h *roundTrips) count(f func()) int64 {
	h.mu.Lock()
	h.names = nil
	h.mu.Unlock()
	h.n.Store(0)
	h.on.Store(true)
	f()
	h.on.Store(false)
	return h.n.Load()
}

// last names the commands of the last count.
func (h *roundTrips) last() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.names, " ")
}

var _ redis.Hook = (*roundTrips)(nil)

func countRoundTrips(e *env) *roundTrips {
	h := &roundTrips{}
	e.st.Client().AddHook(h)
	return h
}

// Regression (issue 12): redemption took five round trips (terminal,
// guess count, idempotency lock, the code's account, the script). A
// payment by a known terminal is now the money script and, sent at the
// same time (issue 14), the store's sales-log entry (store/sales.go): two
// commands, one round trip's wait. An unknown code costs one more (the
// guess, counted and decided in one step). This test fails when a read
// creeps back onto the path, and when the sales-log write stops running
// concurrently with the script.
func TestRedemptionRoundTrips(t *testing.T) {
	e := newEnv(t, map[string]string{"PAYCODE_CODES_PER_MINUTE": "1000"})
	h := countRoundTrips(e)
	term := e.registerTerminal("store-1")
	d := e.customer("rt-redeem@example.com")
	mustStatus(t, "top-up (warms the terminal's record and the scripts)", term.topup(d.code(), 1000), 201)
	// Warm the guess script too: on a Redis that has not cached a script
	// yet, its first use costs NOSCRIPT + EVAL, which is not the path.
	warm, _ := tokens.NewCode(e.s.cfg.CodePrefix, 7)
	mustStatus(t, "unknown code (warms the guess script)", term.pay(warm.Digits(), 10), 402)
	code := d.code()
	if n := h.count(func() { mustStatus(t, "payment", term.pay(code, 10), 201) }); n != 2 {
		t.Errorf("a payment took %d commands; want 2 (the money script and the sales-log entry (%s)", n, h.last())
	}
	code = d.code()
	if !h.concurrently(func() { mustStatus(t, "payment", term.pay(code, 10), 201) }) {
		t.Error("the money script and the sales-log entry were sent one after the other; want them in flight together (one round trip's wait)")
	}
	// A decline of a known code is the same two commands: the script tells
	// the phone (code.declined) in the same step, no read or publish after.
	code = d.code()
	if n := h.count(func() { mustStatus(t, "declined payment", term.pay(code, 9_000_000), 402) }); n != 2 {
		t.Errorf("a declined payment took %d commands; want 2 (sent together (%s)", n, h.last())
	}
	fake, _ := tokens.NewCode(e.s.cfg.CodePrefix, 7)
	if n := h.count(func() { mustStatus(t, "unknown code", term.pay(fake.Digits(), 10), 402) }); n != 3 {
		t.Errorf("an unknown code took %d commands; want 3 (the script with the sales-log entry, then the guess (%s)", n, h.last())
	}
	code = d.code()
	var paid response
	if n := h.count(func() { paid = term.pay(code, 30); mustStatus(t, "payment after a guess", paid, 201) }); n != 2 {
		t.Errorf("a payment after a guess took %d commands; want 2 (the guess updated the cached record (%s)", n, h.last())
	}
	refund := func() {
		mustStatus(t, "refund", term.call("POST", "/v1/terminal/payments/"+paid.str("payment_id")+"/refunds", newIdem(),
			map[string]any{"amount": 5}), 201)
	}
	refund() // loads the refund script
	if n := h.count(refund); n != 2 {
		t.Errorf("a refund took %d commands; want 2 (the refund script and the sales-log entry, sent together (%s)", n, h.last())
	}
	if !h.concurrently(refund) {
		t.Error("a refund's script and sales-log entry were sent one after the other")
	}
}

// Attack: a terminal suspended on another replica keeps paying on this
// one from the cached record. The copy is trusted for at most a second (an
// injected clock, no sleep): at one second the suspension holds here too.
// A suspension or reactivation through this replica holds at once.
func TestSuspensionReachesTheCacheWithinASecond(t *testing.T) {
	e := newEnv(t, map[string]string{"PAYCODE_CODES_PER_MINUTE": "1000"})
	term := e.registerTerminal("store-1")
	d := e.customer("rt-suspend@example.com")
	mustStatus(t, "top-up", term.topup(d.code(), 1000), 201)

	// Another replica suspends it (the store, as its handler would).
	if ok, err := e.st.SetTerminalStatus(t.Context(), term.id, store.TerminalSuspended); err != nil || !ok {
		t.Fatalf("suspending: %v %v", ok, err)
	}
	e.clock.Advance(terminalCacheTTL)
	r := term.pay(d.code(), 10)
	if r.status != 403 || r.str("code") != codeTerminalSuspended {
		t.Fatalf("a second after another replica's suspension: %d %s; want 403 terminal_suspended", r.status, r.raw)
	}

	// This replica's operator reactivates and suspends: at once.
	body := map[string]string{"operator": "ops", "reason": "test"}
	mustStatus(t, "activate", enrAdmin(t, e, "POST", "/v1/terminals/"+term.id+"/activate", body), 200)
	mustStatus(t, "pay after activation", term.pay(d.code(), 10), 201)
	mustStatus(t, "suspend", enrAdmin(t, e, "POST", "/v1/terminals/"+term.id+"/suspend", body), 200)
	mustStatus(t, "pay right after this replica's suspension", term.pay(d.code(), 10), 403)
}

// Attack (issue 13): a scanner guessing one code at a time and going on
// after the 429. Throttled calls count, so it is suspended, audited once,
// and its token stops working at once on this replica.
func TestSteadyGuesserSuspendedOnce(t *testing.T) {
	e := newEnv(t, map[string]string{"PAYCODE_GUESS_THROTTLE": "3", "PAYCODE_GUESS_SUSPEND": "6"})
	term := e.registerTerminal("store-1")
	for i := range 6 {
		fake, _ := tokens.NewCode(e.s.cfg.CodePrefix, uint16(i))
		r := term.pay(fake.Digits(), 10)
		want := 402
		if i >= 3 {
			want = 429
		}
		mustStatus(t, "guess", r, want)
	}
	fake, _ := tokens.NewCode(e.s.cfg.CodePrefix, 99)
	mustStatus(t, "after the suspension", term.pay(fake.Digits(), 10), 403)
	events, err := e.st.AuditEvents(t.Context(), 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if ev.Type == "terminal.suspended" && ev.Fields["terminal"] == term.id {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the suspension was audited %d times; want once", n)
	}
}

// A terminal token's signature is verified once and then remembered, by
// the token's hash, until the token expires; a failure is never
// remembered.
func TestTerminalTokenVerifiedOnce(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newTerminalTokenCache(func() time.Time { return now })
	calls := 0
	fail := false
	verify := func(tok string) (*tokens.TerminalClaims, error) {
		calls++
		if fail {
			return nil, tokens.ErrInvalidToken
		}
		return &tokens.TerminalClaims{TerminalID: "term_x", Expiry: now.Add(time.Minute)}, nil
	}
	for range 3 {
		if cl, err := c.verify("tok-a", verify); err != nil || cl.TerminalID != "term_x" {
			t.Fatalf("verify = %+v, %v", cl, err)
		}
	}
	if calls != 1 {
		t.Errorf("verified %d times for three uses; want 1", calls)
	}
	now = now.Add(time.Minute)
	fail = true
	if _, err := c.verify("tok-a", verify); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Errorf("an expired token was served from the cache: %v", err)
	}
	if _, err := c.verify("tok-b", verify); err == nil {
		t.Error("a failing token verified")
	}
	fail = false
	if _, err := c.verify("tok-b", verify); err != nil || calls != 4 {
		t.Errorf("a failure was remembered: %v, %d calls", err, calls)
	}
}

// A customer's access token is verified once per replica and then
// remembered until it expires, so a call costs one ES256 verification
// (its DPoP proof); what the token grants is still checked in Redis on
// every call: a logged-out session stops the remembered token at once.
func TestAccessTokenVerifiedOnce(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("once@example.com")
	calls := 0
	verify := func(tok string) (*tokens.AccessClaims, error) {
		calls++
		return e.s.access.Verify(tok)
	}
	for range 3 {
		if _, err := e.s.accessTokens.verify(d.access, verify); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Errorf("verified %d times for three uses; want 1", calls)
	}
	if _, err := e.s.accessTokens.verify(d.access+"x", verify); err == nil || calls != 2 {
		t.Errorf("a forged token: %v after %d verifications; want refused by a verification", err, calls)
	}
	mustStatus(t, "code with the remembered token", d.newCode(), 201)
	mustStatus(t, "logout", d.do("POST", "/v1/session/logout", nil, true), 204)
	mustStatus(t, "code after logout", d.newCode(), 401)
}

// Regression (issue 12): issuance took six round trips (DPoP jti, session,
// rate limit, live-code pointer, the issuance script, the event). Now two:
// the DPoP jti claimed with the session check, then the limits, the
// pointer, the code and its event in one script.
func TestIssuanceRoundTrips(t *testing.T) {
	e := newEnv(t, map[string]string{"PAYCODE_CODES_PER_MINUTE": "1000"})
	h := countRoundTrips(e)
	d := e.newDevice()
	d.signup("rt-issue@example.com")
	mustStatus(t, "first code (loads the scripts)", d.newCode(), 201)
	if n := h.count(func() { mustStatus(t, "code", d.newCode(), 201) }); n != 2 {
		t.Errorf("issuing a code took %d round trips; want 2 (DPoP jti with the session, issuance (%s)", n, h.last())
	}
}

// Attack (issue 13): codes requested faster than the limit. The limit is
// the account's and the device key's, in the issuance step itself, never
// the IP's (shoppers behind one carrier NAT do not share it): past it the
// answer is 429 with Retry-After and nothing is issued.
func TestIssuanceLimitedPerAccountAndDeviceKey(t *testing.T) {
	e := newEnv(t, map[string]string{"PAYCODE_CODES_PER_MINUTE": "3"})
	d := e.newDevice()
	d.signup("rt-limit@example.com")
	other := e.newDevice()
	other.signup("rt-limit-other@example.com")
	for range 3 {
		mustStatus(t, "code within the limit", d.newCode(), 201)
	}
	live, err := e.st.LiveCodeName(t.Context(), d.account)
	if err != nil {
		t.Fatal(err)
	}
	r := d.newCode()
	mustStatus(t, "past the limit", r, 429)
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q; want the seconds until the next code", ra)
	}
	if now, _ := e.st.LiveCodeName(t.Context(), d.account); now != live {
		t.Error("a refused issuance replaced the live code")
	}
	mustStatus(t, "another account from the same IP", other.newCode(), 201)
	e.clock.Advance(20 * time.Second)
	mustStatus(t, "a third of a minute later", d.newCode(), 201)
}

// Regression (issue 12): a passkey login (start + finish) took ten round
// trips (start: the DPoP jti, the address's limit, the challenge; finish:
// the jti, the challenge, the account, its passkeys, the write-back, the
// session, the audit). Now four: beginning is one step (limit, jti and
// challenge in the address's bucket); finishing reads the challenge and
// the account in one pipeline, writes the assertion back and creates the
// session in one step, and audits the new session.
func TestLoginRoundTrips(t *testing.T) {
	e := newEnv(t, nil)
	h := countRoundTrips(e)
	d := e.customer("rt-login@example.com")
	mustStatus(t, "first login (loads the scripts)", d.login(), 200)
	var r response
	n := h.count(func() { r = d.login() })
	t.Logf("login: %d round trips", n)
	if n > 4 {
		t.Errorf("a login took %d round trips; want at most 4", n)
	}
	mustStatus(t, "login", r, 200)
	mustStatus(t, "the new session works", d.do("GET", "/v1/me", nil, true), 200)
}

// connSetup reports whether a pipeline is only a new connection's set-up
// (go-redis sends HELLO and CLIENT SETINFO as one pipeline when the pool
// dials): not a round trip of the path, as in ProcessHook.
func connSetup(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if c.Name() != "hello" && c.Name() != "client" {
			return false
		}
	}
	return len(cmds) > 0
}
