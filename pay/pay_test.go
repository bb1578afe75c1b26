package pay_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/paycode/paycode/pay"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
	"github.com/paycode/paycode/tokens"
)

// The policy tests call pay directly against a real store (real Redis when
// PAYCODE_TEST_REDIS is set), without HTTP: bff's tests cover the wire.

const prefix = "99"

var (
	secret = []byte("pay-test-secret-pay-test-secret-0123456789")
	jst    = time.FixedZone("JST", 9*3600)
	limits = pay.Limits{PerPayment: 50000, PerDay: 100000, PerTopup: 50000, TopupsPerDay: 3, ProbationPerDay: 10000}
)

// fixture is a money service on a fresh store, with its own clock and one
// registered terminal.
type fixture struct {
	t    *testing.T
	st   *store.Store
	svc  *pay.Service
	term pay.Terminal

	mu  sync.Mutex
	now time.Time
}

func newFixture(t *testing.T, guessing pay.GuessPolicy) *fixture {
	t.Helper()
	f := &fixture{t: t, st: storetest.Open(t), now: time.Date(2026, 11, 26, 7, 0, 0, 0, jst)}
	audit := pay.AuditorFunc(func(ctx context.Context, ev store.AuditEvent) {
		if err := f.st.Audit(ctx, ev); err != nil {
			t.Errorf("audit: %v", err)
		}
	})
	svc, err := pay.New(pay.Config{Currency: "JPY", Location: jst, CodePrefix: prefix, Secret: secret,
		Limits: limits, Guessing: guessing, Now: f.clock}, f.st, audit)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	f.term = f.terminal("store-1")
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// terminal registers an active terminal of a store.
func (f *fixture) terminal(storeID string) pay.Terminal {
	f.t.Helper()
	id, err := store.NewTerminalID()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.st.PutTerminal(f.t.Context(), store.Terminal{ID: id, StoreID: storeID, Label: "lane 1",
		PublicKeyPEM: "unused", Status: store.TerminalActive, CreatedAt: f.clock()}); err != nil {
		f.t.Fatal(err)
	}
	return pay.Terminal{ID: id, StoreID: storeID}
}

// customer is an account with its one active device, made through the
// store's sign-up methods.
type customer struct {
	f       *fixture
	account string
	device  string
	bucket  store.Bucket
}

func (f *fixture) customer() *customer {
	f.t.Helper()
	ctx := f.t.Context()
	sid, b, err := store.NewSignupID()
	if err != nil {
		f.t.Fatal(err)
	}
	contact, _ := store.RandomID()
	if err := f.st.PutSignup(ctx, store.Signup{ID: sid, Contact: contact + "@example.com", ContactKind: "email",
		ContactHash: contact, TriesLeft: 5}, "otphash", time.Minute); err != nil {
		f.t.Fatal(err)
	}
	if err := f.st.VerifySignupOTP(ctx, sid, "otphash"); err != nil {
		f.t.Fatal(err)
	}
	acct, _ := store.NewID("acct", b)
	dev, _ := store.NewID("dev", b)
	err = f.st.CreateAccount(ctx, store.NewAccount{
		SignupID: sid,
		Account: store.Account{ID: acct, Contact: contact + "@example.com", ContactKind: "email", CreatedAt: f.clock(),
			DeviceID: dev, DeviceJKT: "jkt-" + dev},
		Device:         store.Device{ID: dev, AccountID: acct, JKT: "jkt-" + dev, Label: "phone"},
		Credential:     store.CredentialRecord{AccountID: acct, DeviceID: dev, Credential: gowebauthn.Credential{ID: []byte("cred-" + dev)}},
		RecoveryHashes: []string{"r1"},
		ContactHash:    contact,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return &customer{f: f, account: acct, device: dev, bucket: b}
}

// code issues a live code to the customer's device and returns its digits.
func (c *customer) code() string {
	c.f.t.Helper()
	code, err := tokens.NewCode(prefix, uint16(c.bucket))
	if err != nil {
		c.f.t.Fatal(err)
	}
	now := c.f.clock()
	if err := c.f.st.IssueCode(c.f.t.Context(), store.CodeRecord{Name: code.KeyedName(secret), AccountID: c.account,
		DeviceID: c.device, SessionID: "sess", IssuedAt: now, ExpiresAt: now.Add(time.Minute)}, time.Minute, 5*time.Second); err != nil {
		c.f.t.Fatal(err)
	}
	return code.Digits()
}

func (c *customer) balance() int64 {
	c.f.t.Helper()
	w, err := c.f.st.Wallet(c.f.t.Context(), c.account, 1)
	if err != nil {
		c.f.t.Fatal(err)
	}
	return w.Balance
}

// unknownCode is a well-formed code (right prefix, valid check digit) that
// was never issued.
func unknownCode(t *testing.T) string {
	t.Helper()
	c, err := tokens.NewCode(prefix, 42)
	if err != nil {
		t.Fatal(err)
	}
	return c.Digits()
}

func newIdem() string {
	k, err := store.RandomID()
	if err != nil {
		panic(err)
	}
	return k
}

func (f *fixture) request(term pay.Terminal, code string, amount int64) pay.CodeRequest {
	return pay.CodeRequest{Terminal: term, Caller: pay.Caller{IP: "192.0.2.1", RequestID: "req-test"},
		IdempotencyKey: newIdem(), Code: code, Amount: amount, Currency: "JPY", OrderRef: "o-1"}
}

func (f *fixture) redeem(code string, amount int64) (*pay.Outcome, error) {
	return f.svc.Redeem(f.t.Context(), f.request(f.term, code, amount))
}

func (f *fixture) topup(code string, amount int64, on bool) (*pay.Outcome, error) {
	return f.svc.Topup(f.t.Context(), f.request(f.term, code, amount), on)
}

// approved and declined check what a call answered (they take the call's
// two results: approved(t, "payment")(f.redeem(code, 10))).
func approved(t *testing.T, what string) func(*pay.Outcome, error) *pay.Outcome {
	return func(out *pay.Outcome, err error) *pay.Outcome {
		t.Helper()
		if err != nil || !out.Approved {
			t.Fatalf("%s = %+v, %v; want approved", what, out, err)
		}
		return out
	}
}

func declined(t *testing.T, what string, want store.Decline) func(*pay.Outcome, error) *pay.Outcome {
	return func(out *pay.Outcome, err error) *pay.Outcome {
		t.Helper()
		if err != nil || out.Approved || out.Decline != want {
			t.Fatalf("%s = %+v, %v; want declined %s", what, out, err, want)
		}
		return out
	}
}

func (f *fixture) guesses(term pay.Terminal) int64 {
	f.t.Helper()
	n, err := f.st.Guesses(f.t.Context(), term.ID, f.clock())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *fixture) status(term pay.Terminal) string {
	f.t.Helper()
	got, err := f.st.Terminal(f.t.Context(), term.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return got.Status
}

// suspensions counts the audited suspensions of a terminal.
func (f *fixture) suspensions(term pay.Terminal) int {
	f.t.Helper()
	events, err := f.st.AuditEvents(f.t.Context(), 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if ev.Type == pay.EventTerminalSuspended && ev.Fields["terminal"] == term.ID {
			n++
			if ev.Actor != "system" || ev.Fields["reason"] != "code_guessing" || ev.Fields["store"] != term.StoreID ||
				ev.RequestID != "req-test" || ev.IP != "192.0.2.1" {
				f.t.Errorf("suspension event = %+v", ev)
			}
		}
	}
	return n
}

// Attack: a compromised scanner trying codes one after another. Every
// unknown code is counted; the one that reaches the threshold suspends the
// terminal (audited once); after that the terminal is throttled without
// any code being tried, not even a real one, and each refused call counts.
func TestUnknownCodesThrottleAndSuspend(t *testing.T) {
	f := newFixture(t, pay.GuessPolicy{Throttle: 3, Suspend: 3})
	d := f.customer()
	approved(t, "top-up")(f.topup(d.code(), 1000, true))
	for i := range 3 {
		out := declined(t, "guess", store.DeclineCodeUnknown)(f.redeem(unknownCode(t), 10))
		if out.Suspended != (i == 2) {
			t.Errorf("guess %d: Suspended = %v", i+1, out.Suspended)
		}
	}
	if got := f.status(f.term); got != store.TerminalSuspended {
		t.Errorf("terminal status = %q; want suspended", got)
	}
	live := d.code()
	if _, err := f.redeem(live, 10); !errors.Is(err, pay.ErrThrottled) {
		t.Errorf("a real code past the threshold = %v; want ErrThrottled", err)
	}
	if _, err := f.redeem(unknownCode(t), 10); !errors.Is(err, pay.ErrThrottled) {
		t.Errorf("another guess past the threshold = %v; want ErrThrottled", err)
	}
	if n := f.guesses(f.term); n != 5 {
		t.Errorf("guesses = %d; want 5 (throttled calls are counted)", n)
	}
	if n := f.suspensions(f.term); n != 1 {
		t.Errorf("suspension audited %d times; want once", n)
	}
	if b := d.balance(); b != 1000 {
		t.Errorf("balance = %d; want 1000 (the throttled real code was not tried)", b)
	}
}

// Attack: a scanner guessing one code at a time, and going on after the
// 429 (issue 13: with throttled calls not counted, the suspension never
// fired for it). From the throttle on it gets 429 and nothing else, no
// code is tried, and each refused call still counts, so it reaches the
// suspension (audited once). An honest scanner that waits for the window's
// end scans again.
func TestSteadyGuesserIsSuspended(t *testing.T) {
	f := newFixture(t, pay.GuessPolicy{Throttle: 2, Suspend: 5})
	d := f.customer()
	approved(t, "top-up")(f.topup(d.code(), 1000, true))
	for range 2 {
		declined(t, "guess", store.DeclineCodeUnknown)(f.redeem(unknownCode(t), 10))
	}
	live := d.code()
	for i := range 3 {
		code := unknownCode(t)
		if i == 0 {
			code = live
		}
		out, err := f.redeem(code, 10)
		if !errors.Is(err, pay.ErrThrottled) {
			t.Fatalf("past the throttle = %v; want ErrThrottled", err)
		}
		if out == nil || out.Suspended != (i == 2) {
			t.Errorf("throttled call %d: outcome %+v; want Suspended only on the fifth guess", i+1, out)
		}
	}
	if b := d.balance(); b != 1000 {
		t.Errorf("balance = %d; want 1000 (the throttled real code was not tried)", b)
	}
	if n := f.guesses(f.term); n != 5 {
		t.Errorf("guesses = %d; want 5", n)
	}
	if got := f.status(f.term); got != store.TerminalSuspended {
		t.Errorf("terminal status = %q; want suspended", got)
	}
	if n := f.suspensions(f.term); n != 1 {
		t.Errorf("suspension audited %d times; want once", n)
	}
	// Another terminal is not affected by this one's count.
	other := f.terminal("store-2")
	declined(t, "a guess from another terminal", store.DeclineCodeUnknown)(f.svc.Redeem(t.Context(), f.request(other, unknownCode(t), 10)))
}

// An honest scanner with a bad day: throttled, it waits out the window and
// scans again; its count starts afresh.
func TestThrottleEndsWithTheWindow(t *testing.T) {
	f := newFixture(t, pay.GuessPolicy{Throttle: 2, Suspend: 5})
	d := f.customer()
	approved(t, "top-up")(f.topup(d.code(), 1000, true))
	for range 2 {
		declined(t, "guess", store.DeclineCodeUnknown)(f.redeem(unknownCode(t), 10))
	}
	if _, err := f.redeem(d.code(), 10); !errors.Is(err, pay.ErrThrottled) {
		t.Fatalf("past the throttle = %v; want ErrThrottled", err)
	}
	f.advance(pay.GuessWindow)
	approved(t, "after the window")(f.redeem(d.code(), 10))
	declined(t, "a guess in the new window", store.DeclineCodeUnknown)(f.redeem(unknownCode(t), 10))
	if n := f.guesses(f.term); n != 1 {
		t.Errorf("guesses = %d; want 1 (a new window)", n)
	}
	if got := f.status(f.term); got != store.TerminalActive {
		t.Errorf("terminal status = %q; want active", got)
	}
}

// Attack: a scanner firing guesses in parallel so that many pass the
// throttle read before any is counted. The count still reaches the
// threshold, the terminal is suspended, and the suspension is audited
// exactly once however many requests cross it together.
func TestParallelGuessesSuspendOnce(t *testing.T) {
	f := newFixture(t, pay.GuessPolicy{Throttle: 3, Suspend: 3})
	const n = 30
	var wg sync.WaitGroup
	type answer struct {
		out *pay.Outcome
		err error
	}
	answers := make(chan answer, n)
	reqs := make([]pay.CodeRequest, n)
	for i := range reqs {
		reqs[i] = f.request(f.term, unknownCode(t), 10)
	}
	for _, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := f.svc.Redeem(context.Background(), req)
			answers <- answer{out, err}
		}()
	}
	wg.Wait()
	close(answers)
	suspended := 0
	for a := range answers {
		switch {
		case errors.Is(a.err, pay.ErrThrottled), a.err == nil && a.out.Decline == store.DeclineCodeUnknown:
			if a.out != nil && a.out.Suspended {
				suspended++
			}
		default:
			t.Errorf("unexpected answer %+v, %v", a.out, a.err)
		}
	}
	if suspended != 1 {
		t.Errorf("%d answers report the suspension; want exactly 1", suspended)
	}
	if got := f.status(f.term); got != store.TerminalSuspended {
		t.Errorf("terminal status = %q; want suspended", got)
	}
	if c := f.suspensions(f.term); c != 1 {
		t.Errorf("suspension audited %d times; want once", c)
	}
}

// Attack: guessing with codes that fail the check digit or carry another
// issuer's prefix, hoping such codes are cheaper to try or not counted.
// They are answered and counted exactly like unknown codes, and never reach
// the money path: their Idempotency-Key is not spent, so the cashier's
// rescan under the same key goes through.
func TestMisreadCodeIsAGuess(t *testing.T) {
	f := newFixture(t, pay.GuessPolicy{Throttle: 10, Suspend: 30})
	d := f.customer()
	approved(t, "top-up")(f.topup(d.code(), 1000, true))
	good := d.code()
	wrongCheck := good[:23] + strconv.Itoa((int(good[23]-'0')+1)%10)
	otherIssuer := "98" + good[2:]
	for i, code := range []string{wrongCheck, otherIssuer} {
		declined(t, "misread "+code[:2]+"…", store.DeclineCodeUnknown)(f.redeem(code, 10))
		if n := f.guesses(f.term); n != int64(i+1) {
			t.Errorf("guesses after misread %d = %d; want %d", i+1, n, i+1)
		}
	}
	req := f.request(f.term, wrongCheck, 10)
	declined(t, "misread", store.DeclineCodeUnknown)(f.svc.Redeem(t.Context(), req))
	req.Code = good
	approved(t, "the rescan under the same Idempotency-Key")(f.svc.Redeem(t.Context(), req))
	if b := d.balance(); b != 990 {
		t.Errorf("balance = %d; want 990", b)
	}
}

// Attack: probing codes with a request in another currency. The decline is
// currency_mismatch whether the code exists or not, the code is not spent,
// and nothing is counted: no code was tried.
func TestCurrencyMismatchTriesNoCode(t *testing.T) {
	f := newFixture(t, pay.GuessPolicy{Throttle: 10, Suspend: 30})
	d := f.customer()
	approved(t, "top-up")(f.topup(d.code(), 1000, true))
	live := d.code()
	for _, code := range []string{live, unknownCode(t)} {
		req := f.request(f.term, code, 10)
		req.Currency = "USD"
		declined(t, "USD", store.DeclineCurrencyMismatch)(f.svc.Redeem(t.Context(), req))
	}
	if n := f.guesses(f.term); n != 0 {
		t.Errorf("guesses = %d; want 0", n)
	}
	approved(t, "the real code in JPY")(f.redeem(live, 10))
}

// Attack: draining a hijacked account at the register. Each payment and
// the day's payments are capped; the cap restarts with the business day in
// the operator's time zone, not UTC's. Top-ups are capped in size and
// number (the 7pay hole was unthrottled top-ups).
func TestLimits(t *testing.T) {
	f := newFixture(t, pay.GuessPolicy{Throttle: 10, Suspend: 30})
	d := f.customer()
	approved(t, "top-up")(f.topup(d.code(), 50000, true))
	approved(t, "top-up")(f.topup(d.code(), 50000, true))
	approved(t, "top-up")(f.topup(d.code(), 50000, true))
	declined(t, "a fourth top-up in a day", store.DeclineLimitExceeded)(f.topup(d.code(), 1, true))

	declined(t, "over the per-payment limit", store.DeclineLimitExceeded)(f.redeem(d.code(), 50001))
	approved(t, "at the per-payment limit")(f.redeem(d.code(), 50000))
	approved(t, "up to the day's limit")(f.redeem(d.code(), 50000))
	declined(t, "over the day's limit", store.DeclineLimitExceeded)(f.redeem(d.code(), 1))

	// 07:00 JST (22:00 UTC) + 3 h is 10:00 JST: the same business day in
	// Tokyo, the next day in UTC.
	f.advance(3 * time.Hour)
	declined(t, "later the same business day", store.DeclineLimitExceeded)(f.redeem(d.code(), 1))
	f.advance(15 * time.Hour) // 01:00 JST the next day
	approved(t, "the next business day")(f.redeem(d.code(), 100))
	approved(t, "a top-up the next business day")(f.topup(d.code(), 100, true))

	// A fresh account: a top-up above the per-top-up limit.
	e := f.customer()
	declined(t, "over the per-top-up limit", store.DeclineLimitExceeded)(f.topup(e.code(), 50001, true))
	if b := e.balance(); b != 0 {
		t.Errorf("balance = %d after a declined top-up", b)
	}
}

// Attack: a thief who just moved the account to a new device (a recovery
// or a stolen approval) tries to cash out at once. During probation each
// payment and the day's payments are capped lower and top-ups are off;
// when it ends the configured limits apply again.
func TestProbation(t *testing.T) {
	f := newFixture(t, pay.GuessPolicy{Throttle: 10, Suspend: 30})
	d := f.customer()
	approved(t, "top-up")(f.topup(d.code(), 50000, true))
	// Probation is set by a device change (store.ActivateEnrollment); the
	// test writes the account's field as that script does.
	until := f.clock().Add(24 * time.Hour)
	if err := f.st.Client().HSet(t.Context(), f.st.Keys().Account(d.bucket, d.account), "probation_until", until.UnixMilli()).Err(); err != nil {
		t.Fatal(err)
	}
	a := f.svc.Allowance(until)
	if !a.InProbation() || a.PerPayment != 10000 || a.PerDay != 10000 || a.TopupsPerDay != 0 || a.PerTopup != limits.PerTopup {
		t.Errorf("allowance in probation = %+v", a)
	}
	declined(t, "over the probation cap", store.DeclineLimitExceeded)(f.redeem(d.code(), 10001))
	approved(t, "within the cap")(f.redeem(d.code(), 6000))
	declined(t, "the day's payments over the cap", store.DeclineLimitExceeded)(f.redeem(d.code(), 4001))
	declined(t, "a top-up in probation, switch on", store.DeclineTopupsDisabled)(f.topup(d.code(), 100, true))

	f.advance(24 * time.Hour)
	if a := f.svc.Allowance(until); a.InProbation() || a.PerPayment != limits.PerPayment || a.TopupsPerDay != limits.TopupsPerDay {
		t.Errorf("allowance after probation = %+v", a)
	}
	approved(t, "a payment above the cap after probation")(f.redeem(d.code(), 20000))
	approved(t, "a top-up after probation")(f.topup(d.code(), 100, true))
}

// Attack (7pay): loading cash while the operator has switched top-ups off.
// A known code is declined topups_disabled and not spent; the switch hides
// nothing from the guessing policy: an unknown code is still code_unknown
// and counted.
func TestTopupSwitchOff(t *testing.T) {
	f := newFixture(t, pay.GuessPolicy{Throttle: 10, Suspend: 30})
	d := f.customer()
	code := d.code()
	declined(t, "a top-up with the switch off", store.DeclineTopupsDisabled)(f.topup(code, 1000, false))
	declined(t, "an unknown code with the switch off", store.DeclineCodeUnknown)(f.topup(unknownCode(t), 1000, false))
	if n := f.guesses(f.term); n != 1 {
		t.Errorf("guesses = %d; want 1", n)
	}
	if b := d.balance(); b != 0 {
		t.Errorf("balance = %d; want 0", b)
	}
	approved(t, "the same code with the switch on")(f.topup(code, 1000, true))
	approved(t, "payments do not depend on the switch")(f.redeem(d.code(), 10))
}

// Attack: a store refunding more than was paid, to move money into a
// wallet, or refunding another store's payment or a top-up. Refunds stop
// at what remains; the rest is not_found, all alike.
func TestRefunds(t *testing.T) {
	f := newFixture(t, pay.GuessPolicy{Throttle: 10, Suspend: 30})
	d := f.customer()
	top := approved(t, "top-up")(f.topup(d.code(), 5000, true))
	paid := approved(t, "payment")(f.redeem(d.code(), 1200))
	refund := func(term pay.Terminal, id string, amount int64) (*pay.Outcome, error) {
		return f.svc.Refund(t.Context(), pay.RefundRequest{Terminal: term, IdempotencyKey: newIdem(), PaymentID: id, Amount: amount})
	}
	r := approved(t, "a partial refund")(refund(f.term, paid.PaymentID, 200))
	if r.Kind != store.KindRefund || r.Balance != 4000 || r.PaymentID == paid.PaymentID {
		t.Errorf("refund = %+v", r)
	}
	declined(t, "above what remains", store.DeclineRefundExceeds)(refund(f.term, paid.PaymentID, 1001))
	declined(t, "another store's payment", store.DeclineNotFound)(refund(f.terminal("store-2"), paid.PaymentID, 1))
	declined(t, "a top-up", store.DeclineNotFound)(refund(f.term, top.PaymentID, 1))
	declined(t, "a malformed id", store.DeclineNotFound)(refund(f.term, "pay_not-an-id", 1))
	approved(t, "the rest")(refund(f.term, paid.PaymentID, 1000))
	if b := d.balance(); b != 5000 {
		t.Errorf("balance = %d; want 5000", b)
	}
	if n := f.guesses(f.term); n != 0 {
		t.Errorf("guesses = %d; refunds are not guesses", n)
	}
}

// Attack: a flaky network, or a replaying attacker, retrying a request
// with its Idempotency-Key. The retry gets the first outcome and moves
// nothing; a retried unknown code is not counted again, so retries cannot
// suspend an honest terminal; another body under the key is refused.
func TestIdempotentRetries(t *testing.T) {
	f := newFixture(t, pay.GuessPolicy{Throttle: 10, Suspend: 30})
	d := f.customer()
	approved(t, "top-up")(f.topup(d.code(), 1000, true))
	req := f.request(f.term, d.code(), 300)
	first := approved(t, "payment")(f.svc.Redeem(t.Context(), req))
	again := approved(t, "retry")(f.svc.Redeem(t.Context(), req))
	if !again.Replayed || again.PaymentID != first.PaymentID || d.balance() != 700 {
		t.Errorf("retry = %+v, balance %d; want the first outcome, debited once", again, d.balance())
	}
	other := req
	other.Amount = 301
	if _, err := f.svc.Redeem(t.Context(), other); !errors.Is(err, pay.ErrIdempotencyMismatch) {
		t.Errorf("same key, other amount = %v; want ErrIdempotencyMismatch", err)
	}

	guess := f.request(f.term, unknownCode(t), 10)
	for i := range 3 {
		out := declined(t, fmt.Sprintf("unknown code, try %d", i+1), store.DeclineCodeUnknown)(f.svc.Redeem(t.Context(), guess))
		if out.Replayed != (i > 0) {
			t.Errorf("try %d: Replayed = %v", i+1, out.Replayed)
		}
	}
	if n := f.guesses(f.term); n != 1 {
		t.Errorf("guesses = %d; want 1 (a retried decline is not a new guess)", n)
	}
}

// Attack: paying with a code shown by a device that is no longer the
// account's device (a stolen phone after the customer moved to a new one).
func TestCodeOfAnotherDevice(t *testing.T) {
	f := newFixture(t, pay.GuessPolicy{Throttle: 10, Suspend: 30})
	d := f.customer()
	approved(t, "top-up")(f.topup(d.code(), 1000, true))
	code := d.code()
	if _, err := f.st.SetDeviceStatus(t.Context(), d.account, d.device, store.DeviceRevoked); err != nil {
		t.Fatal(err)
	}
	declined(t, "a revoked device's code", store.DeclineDeviceRevoked)(f.redeem(code, 10))
	if b := d.balance(); b != 1000 {
		t.Errorf("balance = %d; want 1000", b)
	}
}

// New refuses a configuration it cannot enforce, naming every problem.
func TestNewChecksTheConfig(t *testing.T) {
	st := storetest.Open(t)
	audit := pay.AuditorFunc(func(context.Context, store.AuditEvent) {})
	good := pay.Config{Currency: "JPY", Location: jst, CodePrefix: prefix, Secret: secret, Limits: limits,
		Guessing: pay.GuessPolicy{Throttle: 10, Suspend: 30}}
	if _, err := pay.New(good, st, audit); err != nil {
		t.Fatalf("a good config: %v", err)
	}
	for name, mutate := range map[string]func(*pay.Config){
		"no currency":              func(c *pay.Config) { c.Currency = "" },
		"no time zone":             func(c *pay.Config) { c.Location = nil },
		"bad prefix":               func(c *pay.Config) { c.CodePrefix = "9" },
		"no secret":                func(c *pay.Config) { c.Secret = nil },
		"zero limit":               func(c *pay.Config) { c.Limits.PerDay = 0 },
		"no throttle":              func(c *pay.Config) { c.Guessing.Throttle = 0 },
		"suspend below throttle":   func(c *pay.Config) { c.Guessing.Suspend = 5 },
		"several problems at once": func(c *pay.Config) { c.Currency, c.Secret = "", nil },
	} {
		c := good
		mutate(&c)
		if _, err := pay.New(c, st, audit); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
