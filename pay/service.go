package pay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/tokens"
)

// Store is the part of the store the service calls.
type Store interface {
	// Move runs one movement in one atomic script, exactly once per
	// idempotency key (store.Store.Move).
	Move(ctx context.Context, m store.Movement) (*store.Outcome, error)
	// Guesses reads the terminal's guesses in the window current at now.
	// It may answer from a copy of the terminal record at most a second
	// old (bff's per-replica cache): CountGuess decides atomically anyway.
	Guesses(ctx context.Context, terminalID string, now time.Time) (int64, error)
	// CountGuess counts one more guess and, in the same atomic step,
	// suspends the terminal when the count reaches suspendAt (Suspended is
	// true for exactly one call).
	CountGuess(ctx context.Context, terminalID string, now time.Time, window time.Duration, suspendAt int64) (store.GuessCount, error)
}

// Auditor appends an event to the audit stream. The event records what has
// already happened, so Audit returns nothing: an implementation reports its
// own failure (bff logs it for the operator) and the answer stands.
type Auditor interface {
	Audit(ctx context.Context, ev store.AuditEvent)
}

// AuditorFunc adapts a function to Auditor.
type AuditorFunc func(ctx context.Context, ev store.AuditEvent)

// Audit calls f.
func (f AuditorFunc) Audit(ctx context.Context, ev store.AuditEvent) { f(ctx, ev) }

// Config is the policy the service enforces. New checks it.
type Config struct {
	// Currency is the wallet currency (PAYCODE_CURRENCY, JPY): a code
	// movement in another is declined currency_mismatch.
	Currency string
	// Location is where a business day starts, for the daily limits
	// (PAYCODE_TIMEZONE, Asia/Tokyo).
	Location *time.Location
	// CodePrefix is this issuer's two-digit code prefix (PAYCODE_CODE_PREFIX).
	CodePrefix string
	// Secret keys the hashes of codes, Idempotency-Keys and request bodies
	// (PAYCODE_SECRET): none of them is stored as sent.
	Secret []byte
	// Limits bound what a hijacked account can lose.
	Limits Limits
	// Guessing is the code-guessing policy for terminals.
	Guessing GuessPolicy
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service moves money for store terminals: payments and top-ups by code,
// and refunds. It is safe for concurrent use and keeps no state.
type Service struct {
	cfg   Config
	store Store
	audit Auditor
}

// New returns a Service enforcing cfg, or every problem of cfg at once.
func New(cfg Config, st Store, audit Auditor) (*Service, error) {
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf("pay: "+format, args...)) }
	if st == nil || audit == nil {
		bad("a store and an auditor are required")
	}
	if len(cfg.Currency) != 3 {
		bad("the currency must be an ISO 4217 code, not %q", cfg.Currency)
	}
	if cfg.Location == nil {
		bad("a time zone is required for the business day")
	}
	if _, err := tokens.NewCode(cfg.CodePrefix, 0); err != nil {
		bad("the code prefix: %w", err)
	}
	if len(cfg.Secret) == 0 {
		bad("a secret is required")
	}
	l := cfg.Limits
	if l.PerPayment <= 0 || l.PerDay <= 0 || l.PerTopup <= 0 || l.TopupsPerDay <= 0 || l.ProbationPerDay <= 0 {
		bad("every limit must be positive: %+v", l)
	}
	if g := cfg.Guessing; g.Throttle <= 0 || g.Suspend < g.Throttle {
		bad("guessing: the throttle must be positive and the suspension threshold not below it: %+v", g)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return &Service{cfg: cfg, store: st, audit: audit}, nil
}

// Terminal is the authenticated terminal that makes a call.
type Terminal struct {
	ID      string
	StoreID string
}

// Caller is where a request came from, for the audit stream.
type Caller struct {
	IP        string
	RequestID string
}

// CodeRequest is a payment or a top-up as a terminal sent it. The caller
// has checked its form: a present Idempotency-Key, an amount that is
// positive and bounded, a currency of three capital letters, a printable
// order reference and a code of 24 ASCII digits. Everything else (the code
// itself, the currency, limits, guessing) is the service's to check.
type CodeRequest struct {
	Terminal Terminal
	Caller   Caller
	// IdempotencyKey is the Idempotency-Key header as sent; only its keyed
	// hash is stored.
	IdempotencyKey string
	// Code is the code as scanned: a bearer secret, never logged or stored
	// (only its keyed hash is).
	Code     string
	Amount   int64 // minor units
	Currency string
	OrderRef string
	// VoidBefore is the operator's reauth_after as the caller read it
	// (zero: never set): a code issued before it is declined code_expired,
	// in the movement's own script (no extra round trip).
	VoidBefore time.Time
}

// RefundRequest is a refund as a terminal sent it; the caller has checked
// the Idempotency-Key and the amount as for a CodeRequest.
type RefundRequest struct {
	Terminal       Terminal
	IdempotencyKey string
	PaymentID      string
	Amount         int64
}

// Outcome is the answer to a movement: approved, or declined with its
// reason in Decline. A decline is an answer, not an error.
type Outcome struct {
	Kind store.Kind
	store.Outcome
	// Suspended reports that this request's unknown code suspended the
	// terminal (the suspension is audited already).
	Suspended bool
	// Local reports a decline decided in memory, before the store was
	// asked (a currency other than the configured one, a code that does
	// not parse): the money script, which tells the phone of the declines
	// it decides (code.declined), never saw it.
	Local bool
}

// Errors of the service besides the store's.
var (
	// ErrThrottled: the terminal sent too many unknown codes in the guess
	// window; it may scan again when the window ends.
	ErrThrottled = errors.New("pay: too many unknown codes from this terminal")
	// ErrIdempotencyMismatch: the Idempotency-Key was used with another body.
	ErrIdempotencyMismatch = store.ErrIdempotencyMismatch
)

// declined is the outcome of a decline decided before the store is asked.
func declined(kind store.Kind, amount int64, currency string, reason store.Decline) *Outcome {
	return &Outcome{Kind: kind, Local: true, Outcome: store.Outcome{Decline: reason, Amount: amount, Currency: currency}}
}

// keyHash is what is stored of an Idempotency-Key.
func (s *Service) keyHash(key string) string {
	return tokens.KeyedHash(s.cfg.Secret, "idempotency-key", key)
}

// bodyHash binds an Idempotency-Key to the request it was first used with.
// Its parts and their order are fixed: outcomes stored under the old hash
// must still replay.
func (s *Service) bodyHash(parts ...string) string {
	return tokens.KeyedHash(s.cfg.Secret, "idempotency-body", strings.Join(parts, "\x1f"))
}

// day is the business day of t for the daily limits.
func (s *Service) day(t time.Time) string { return t.In(s.cfg.Location).Format("20060102") }
