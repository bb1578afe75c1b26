package moneycheck

import (
	"strconv"
	"sync"
	"time"

	"github.com/paycode/paycode/store"
)

// History is what the terminals sent and were told, and when faults were
// injected. The workload writes it; the checker reads it after the
// workload stopped.
type History struct {
	mu       sync.Mutex
	requests []*Request
	faults   []Window
	accounts []Account
}

// Account is a customer's account as the checker needs it.
type Account struct {
	ID     string
	Bucket store.Bucket
}

// Window is one injected fault, from when it began to when it was healed
// (zero End: not healed).
type Window struct {
	Name       string
	Start, End time.Time
}

// Request phases.
const (
	PhaseSetup = "setup" // the opening top-ups
	PhaseLoad  = "load"
)

// Request is one money request with its own Idempotency-Key and every
// attempt made with it.
type Request struct {
	Seq      int
	Phase    string
	Kind     string // store.KindPayment, KindTopup or KindRefund
	Terminal string // terminal id
	Account  string
	// CodeName is the keyed name of the code (payments, top-ups); the
	// digits are kept unexported and never printed.
	CodeName string
	code     string
	// Payment is the payment a refund refunds.
	Payment  string
	Amount   int64
	Key      string
	Attempts []Attempt
	// GaveUp: the load phase ended at the request's deadline without a
	// definitive answer.
	GaveUp bool
}

// Attempt is one HTTP exchange of a request.
type Attempt struct {
	Start   time.Time
	Elapsed time.Duration
	// Status is the HTTP status; 0 when no answer came (Err says why).
	Status int
	// Code is the problem document's code member.
	Code string
	// ID is the payment_id (payments, top-ups) or refund_id of a 201.
	ID         string
	RetryAfter string
	Replayed   bool // Idempotent-Replayed: true
	Err        string
	// Verify marks attempts of the verification phase (Workload.Verify).
	Verify bool
}

// End is when the answer (or the failure) came.
func (a Attempt) End() time.Time { return a.Start.Add(a.Elapsed) }

// Answer names the outcome: "201", "402 code_used", "503 unavailable",
// "no answer".
func (a Attempt) Answer() string {
	if a.Status == 0 {
		return "no answer"
	}
	s := strconv.Itoa(a.Status)
	if a.Code != "" {
		s += " " + a.Code
	}
	return s
}

// Definitive reports whether the answer settles the request: an approval
// or a refusal. 409, 429, 5xx and no answer are retried with the same key.
func (a Attempt) Definitive() bool {
	switch {
	case a.Status == 0, a.Status == 409, a.Status == 429, a.Status >= 500:
		return false
	}
	return true
}

func (h *History) add(r *Request) *Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	r.Seq = len(h.requests) + 1
	h.requests = append(h.requests, r)
	return r
}

// Requests returns every request (call after the workload stopped).
func (h *History) Requests() []*Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Request(nil), h.requests...)
}

// Faults returns the fault windows.
func (h *History) Faults() []Window {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Window(nil), h.faults...)
}

// Accounts returns the customers' accounts.
func (h *History) Accounts() []Account {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Account(nil), h.accounts...)
}

// mainAttempts are the attempts before the verification phase.
func (r *Request) mainAttempts() []Attempt {
	var out []Attempt
	for _, a := range r.Attempts {
		if !a.Verify {
			out = append(out, a)
		}
	}
	return out
}

// final is the last attempt before the verification phase.
func (r *Request) final() (Attempt, bool) {
	m := r.mainAttempts()
	if len(m) == 0 {
		return Attempt{}, false
	}
	return m[len(m)-1], true
}

// acked reports whether the request was answered 201 before verification.
func (r *Request) acked() bool {
	f, ok := r.final()
	return ok && f.Status == 201
}
