package moneycheck

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/tokens"
)

const (
	kindPayment = string(store.KindPayment)
	kindTopup   = string(store.KindTopup)
	kindRefund  = string(store.KindRefund)
)

// Config sizes the workload. Zero fields take the defaults.
type Config struct {
	// Customers (4) and Terminals (4; all in one store, so any of them may
	// refund any payment).
	Customers, Terminals int
	// Rate is how many requests each terminal starts per second at most
	// (20); a terminal sends one request at a time, retries included.
	Rate float64
	// Buckets, when set, are the customers' routing buckets (in turn):
	// a Cluster test puts them on the master it kills.
	Buckets []store.Bucket
	// Codes is the stock of payment codes per customer (400), issued
	// before the load so that they are on every replica; the workload
	// stops using a customer whose stock is spent.
	Codes int
	// Balance is each customer's opening top-up (10,000,000 yen).
	Balance int64
	// AttemptTimeout bounds one HTTP attempt (8 s); RequestDeadline is how
	// long a request is retried before the terminal gives up (15 s).
	AttemptTimeout, RequestDeadline time.Duration
}

func (c *Config) defaults() {
	if c.Customers == 0 {
		c.Customers = 4
	}
	if c.Terminals == 0 {
		c.Terminals = 4
	}
	if c.Rate == 0 {
		c.Rate = 20
	}
	if c.Codes == 0 {
		c.Codes = 400
	}
	if c.Balance == 0 {
		c.Balance = 10_000_000
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = 8 * time.Second
	}
	if c.RequestDeadline == 0 {
		c.RequestDeadline = 15 * time.Second
	}
}

// codeTTL is how long the stocked codes live: longer than any test.
const codeTTL = 15 * time.Minute

type customer struct {
	Account
	device string
	codes  []stockedCode // unused, taken from the end
}

type stockedCode struct{ digits, name string }

// Workload is the running workload and its history.
type Workload struct {
	cfg       Config
	p         *Paycode
	customers []*customer
	terminals []*terminal
	hist      *History

	mu       sync.Mutex // customers' code stocks
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	answered, acked atomic.Int64
	answersMu       sync.Mutex
	answers         map[string]int // every attempt's answer so far
}

// Setup creates the customers (with the store's methods), stocks their
// codes, registers the terminals (admin API) and tops every customer up
// (terminal API). It fails the test if any of that fails: it runs before
// the faults.
func Setup(t testing.TB, p *Paycode, cfg Config) *Workload {
	t.Helper()
	cfg.defaults()
	w := &Workload{cfg: cfg, p: p, hist: &History{}, stop: make(chan struct{}), answers: map[string]int{}}
	// A test that fails half-way still stops its workers (before paycode
	// and Redis, which were started earlier, are torn down).
	t.Cleanup(w.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range cfg.Customers {
		var b store.Bucket
		if len(cfg.Buckets) > 0 {
			b = cfg.Buckets[i%len(cfg.Buckets)]
		} else {
			var err error
			if b, err = store.RandomBucket(); err != nil {
				t.Fatal(err)
			}
		}
		// The set-up is not under test: on a machine busy enough to pass
		// the store's 500 ms timeout it tries again (creating an account and
		// issuing a code are resend-safe), up to five times.
		var c *customer
		var err error
		for try := 0; try < 5; try++ {
			if c, err = w.newCustomer(ctx, b); !errors.Is(err, store.ErrUnavailable) {
				break
			}
		}
		if err != nil {
			t.Fatalf("creating customer %d: %v", i+1, err)
		}
		w.customers = append(w.customers, c)
		w.hist.accounts = append(w.hist.accounts, c.Account)
	}
	hc := &http.Client{Timeout: cfg.AttemptTimeout, Transport: &http.Transport{
		MaxIdleConns: 4 * cfg.Terminals, MaxIdleConnsPerHost: 4 * cfg.Terminals, IdleConnTimeout: time.Minute}}
	for i := range cfg.Terminals {
		term, err := registerTerminal(ctx, p, "mc-store", hc)
		if err != nil {
			t.Fatalf("terminal %d: %v", i+1, err)
		}
		w.terminals = append(w.terminals, term)
	}
	for i, c := range w.customers {
		r := w.newCodeRequest(c, kindTopup, cfg.Balance, PhaseSetup, w.terminals[0])
		w.run(w.terminals[0], r)
		if !r.acked() {
			f, _ := r.final()
			t.Fatalf("opening top-up of customer %d: %s", i+1, f.Answer())
		}
	}
	return w
}

// newCustomer writes a verified sign-up, the account with its one device
// and a placeholder passkey record, and the customer's stock of codes, as
// sign-up and POST /v1/codes would.
func (w *Workload) newCustomer(ctx context.Context, b store.Bucket) (*customer, error) {
	st, cfg := w.p.Store, w.p.Config
	signupID, err := store.NewID("sgn", b)
	if err != nil {
		return nil, err
	}
	accountID, err := store.NewID("acct", b)
	if err != nil {
		return nil, err
	}
	deviceID, err := store.NewID("dev", b)
	if err != nil {
		return nil, err
	}
	rnd, err := store.RandomID()
	if err != nil {
		return nil, err
	}
	contact := "mc-" + rnd + "@example.com"
	contactHash := tokens.KeyedHash(cfg.Secret, "contact", contact)
	otpHash := tokens.KeyedHash(cfg.Secret, "otp:"+signupID, rnd)
	if err := st.PutSignup(ctx, store.Signup{ID: signupID, Contact: contact, ContactKind: "email", ContactHash: contactHash, TriesLeft: 5}, otpHash, time.Minute); err != nil {
		return nil, err
	}
	if err := st.VerifySignupOTP(ctx, signupID, otpHash); err != nil {
		return nil, err
	}
	now := time.Now()
	jkt := tokens.KeyedHash(cfg.Secret, "moneycheck-jkt", rnd)
	err = st.CreateAccount(ctx, store.NewAccount{
		SignupID: signupID, ContactHash: contactHash,
		Account: store.Account{ID: accountID, Contact: contact, ContactKind: "email", Status: store.AccountActive,
			CreatedAt: now, DeviceID: deviceID, DeviceJKT: jkt, DeviceStatus: store.DeviceActive},
		Device: store.Device{ID: deviceID, AccountID: accountID, JKT: jkt, Label: "moneycheck", CreatedAt: now},
		Credential: store.CredentialRecord{Credential: gowebauthn.Credential{ID: []byte(rnd)},
			AccountID: accountID, DeviceID: deviceID, CreatedAt: now},
	})
	if err != nil {
		return nil, err
	}
	c := &customer{Account: Account{ID: accountID, Bucket: b}, device: deviceID}
	for range w.cfg.Codes + 1 {
		code, err := tokens.NewCode(cfg.CodePrefix, uint16(b))
		if err != nil {
			return nil, err
		}
		name := code.KeyedName(cfg.Secret)
		// A grace as long as the lifetime keeps every stocked code live:
		// a phone has one live code, but the stock stands for many phones'
		// worth of scans.
		err = st.IssueCode(ctx, store.CodeRecord{Name: name, AccountID: accountID, DeviceID: deviceID,
			SessionID: "moneycheck", IssuedAt: now, ExpiresAt: now.Add(codeTTL)}, codeTTL, codeTTL)
		if err != nil {
			return nil, fmt.Errorf("issuing a code: %w", err)
		}
		c.codes = append(c.codes, stockedCode{digits: code.Digits(), name: name})
	}
	return c, nil
}

func (w *Workload) newCodeRequest(c *customer, kind string, amount int64, phase string, t *terminal) *Request {
	w.mu.Lock()
	code := c.codes[len(c.codes)-1]
	c.codes = c.codes[:len(c.codes)-1]
	w.mu.Unlock()
	return w.hist.add(&Request{Phase: phase, Kind: kind, Terminal: t.id, Account: c.ID, CodeName: code.name,
		code: code.digits, Amount: amount, Key: newKey()})
}

// History is the workload's record.
func (w *Workload) History() *History { return w.hist }

// Start starts one worker per terminal.
func (w *Workload) Start() {
	for i, t := range w.terminals {
		w.wg.Add(1)
		go w.worker(i, t)
	}
}

// Stop stops starting requests and waits until every request in flight
// has a definitive answer or reached its deadline. It may be called more
// than once.
func (w *Workload) Stop() {
	w.stopOnce.Do(func() { close(w.stop) })
	w.wg.Wait()
}

type paid struct {
	id, account string
	amount      int64
}

func (w *Workload) worker(i int, t *terminal) {
	defer w.wg.Done()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
	tick := time.NewTicker(time.Duration(float64(time.Second) / w.cfg.Rate))
	defer tick.Stop()
	var refundable []paid
	for {
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
		var r *Request
		switch x := rng.Float64(); {
		case x < 0.2 && len(refundable) > 0:
			j := rng.IntN(len(refundable))
			p := refundable[j]
			refundable = append(refundable[:j], refundable[j+1:]...)
			// One refund per payment: the checker attributes refunds by
			// the payment they refund.
			r = w.hist.add(&Request{Phase: PhaseLoad, Kind: kindRefund, Terminal: t.id, Account: p.account,
				Payment: p.id, Amount: 1 + rng.Int64N(p.amount), Key: newKey()})
		case x < 0.35:
			if c := w.pick(rng); c != nil {
				r = w.newCodeRequest(c, kindTopup, 100+rng.Int64N(5000), PhaseLoad, t)
			}
		default:
			if c := w.pick(rng); c != nil {
				r = w.newCodeRequest(c, kindPayment, 1+rng.Int64N(2000), PhaseLoad, t)
			}
		}
		if r == nil {
			continue
		}
		w.run(t, r)
		if r.Kind == kindPayment && r.acked() {
			f, _ := r.final()
			refundable = append(refundable, paid{id: f.ID, account: r.Account, amount: r.Amount})
		}
	}
}

// pick returns a random customer with codes left, or nil.
func (w *Workload) pick(rng *rand.Rand) *customer {
	w.mu.Lock()
	defer w.mu.Unlock()
	start := rng.IntN(len(w.customers))
	for k := range w.customers {
		c := w.customers[(start+k)%len(w.customers)]
		if len(c.codes) > 0 {
			return c
		}
	}
	return nil
}

// run sends r until a definitive answer or its deadline.
func (w *Workload) run(t *terminal, r *Request) {
	w.attempt(t, r, false)
}

func (w *Workload) attempt(t *terminal, r *Request, verify bool) {
	start := time.Now()
	for {
		a := t.send(r, verify)
		r.Attempts = append(r.Attempts, a)
		w.answersMu.Lock()
		w.answers[a.Answer()]++
		w.answersMu.Unlock()
		if a.Status != 0 {
			w.answered.Add(1)
		}
		if a.Definitive() {
			if a.Status == http.StatusCreated && !verify {
				w.acked.Add(1)
			}
			return
		}
		if time.Since(start) >= w.cfg.RequestDeadline {
			if !verify {
				r.GaveUp = true
			}
			return
		}
		time.Sleep(retryAfter(a))
	}
}

// Verify sends every request that was answered 201 once more with the
// same key and body (retrying until a definitive answer or the deadline),
// terminals in parallel: an idempotent replay must answer the same id.
// Call it after Stop, once the faults are healed.
func (w *Workload) Verify() {
	byTerm := map[string][]*Request{}
	for _, r := range w.hist.Requests() {
		if r.acked() {
			byTerm[r.Terminal] = append(byTerm[r.Terminal], r)
		}
	}
	var wg sync.WaitGroup
	for _, t := range w.terminals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range byTerm[t.id] {
				w.attempt(t, r, true)
			}
		}()
	}
	wg.Wait()
}

// Progress counts attempts that got an HTTP answer, and requests
// answered 201, so far; tests poll it to see the load move.
func (w *Workload) Progress() (answered, acked int64) {
	return w.answered.Load(), w.acked.Load()
}

func (w *Workload) answerCounts() map[string]int {
	w.answersMu.Lock()
	defer w.answersMu.Unlock()
	out := make(map[string]int, len(w.answers))
	for k, v := range w.answers {
		out[k] = v
	}
	return out
}

// FaultBegin records that a fault named name begins now.
func (w *Workload) FaultBegin(name string) {
	w.hist.mu.Lock()
	defer w.hist.mu.Unlock()
	w.hist.faults = append(w.hist.faults, Window{Name: name, Start: time.Now()})
}

// FaultEnd records that the fault begun last is healed now.
func (w *Workload) FaultEnd() {
	w.hist.mu.Lock()
	defer w.hist.mu.Unlock()
	if n := len(w.hist.faults); n > 0 && w.hist.faults[n-1].End.IsZero() {
		w.hist.faults[n-1].End = time.Now()
	}
}

// WaitProgress waits until at least answered more attempts were answered
// and acked more requests were answered 201 than when it was called, and
// at least minTime passed; it returns how long that took, and fails the
// test after timeout.
func (w *Workload) WaitProgress(t testing.TB, minTime time.Duration, answered, acked int64, timeout time.Duration) time.Duration {
	t.Helper()
	d, err := w.TryProgress(minTime, answered, acked, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TryProgress is WaitProgress returning an error (with the answers given
// meanwhile) instead of failing the test.
func (w *Workload) TryProgress(minTime time.Duration, answered, acked int64, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	a0, k0 := w.Progress()
	before := w.answerCounts()
	for {
		a, k := w.Progress()
		if a-a0 >= answered && k-k0 >= acked && time.Since(start) >= minTime {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			since := map[string]int{}
			for ans, n := range w.answerCounts() {
				if d := n - before[ans]; d > 0 {
					since[ans] = d
				}
			}
			return time.Since(start), fmt.Errorf("the workload made too little progress in %v: %d answers, %d acknowledged; want %d and %d; answers meanwhile: %v",
				timeout, a-a0, k-k0, answered, acked, since)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
