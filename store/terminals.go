package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Terminal states.
const (
	TerminalActive    = "active"
	TerminalSuspended = "suspended"
)

// Terminal is a registered store scanner.
type Terminal struct {
	ID           string
	StoreID      string
	Label        string
	PublicKeyPEM string
	Status       string
	CreatedAt    time.Time
	// Guesses is the count of unknown codes in the window that ends at
	// GuessesUntil (see CountGuess and GuessesAt).
	Guesses      int64
	GuessesUntil time.Time
}

// NewTerminalID returns a fresh terminal id.
func NewTerminalID() (string, error) {
	r, err := RandomID()
	if err != nil {
		return "", err
	}
	return "term_" + r, nil
}

// PutTerminal registers a terminal; it refuses to overwrite one.
func (s *Store) PutTerminal(ctx context.Context, t Terminal) error {
	key := s.keys.Terminal(t.ID)
	ok, err := putTerminal.Run(ctx, s.rdb, []string{key}, t.ID, t.StoreID, t.Label, t.PublicKeyPEM, t.Status, t.CreatedAt.UnixMilli()).Int()
	if err != nil {
		return wrap("registering a terminal", err)
	}
	if ok != 1 {
		return fmt.Errorf("registering a terminal: %w", ErrExists)
	}
	return nil
}

var putTerminal = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'store', ARGV[2], 'label', ARGV[3], 'public_key', ARGV[4], 'status', ARGV[5], 'created_at', ARGV[6])
return 1
`)

// Terminal reads a terminal; ErrNotFound when there is none.
func (s *Store) Terminal(ctx context.Context, id string) (*Terminal, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.Terminal(id)).Result()
	if err != nil {
		return nil, wrap("reading a terminal", err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("reading a terminal: %w", ErrNotFound)
	}
	t := &Terminal{ID: m["id"], StoreID: m["store"], Label: m["label"], PublicKeyPEM: m["public_key"],
		Status: m["status"], CreatedAt: millis(m["created_at"])}
	t.setGuesses(m["guesses"], m["guess_until"])
	return t, nil
}

// SetTerminalStatus suspends or reactivates a terminal; it reports whether
// the terminal exists.
func (s *Store) SetTerminalStatus(ctx context.Context, id, status string) (bool, error) {
	n, err := setTerminalStatus.Run(ctx, s.rdb, []string{s.keys.Terminal(id)}, status).Int()
	if err != nil {
		return false, wrap("setting a terminal status", err)
	}
	return n == 1, nil
}

var setTerminalStatus = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
return 1
`)

// GuessCount is a terminal's unknown codes after CountGuess counted one.
type GuessCount struct {
	N         int64     // the count in the current window, this one included
	Until     time.Time // the window's end
	Suspended bool      // this call suspended the terminal
	Known     bool      // the terminal exists (nothing is counted otherwise)
}

// CountGuess counts one guess of a terminal (an unknown code, or a code
// movement refused by the throttle) and, in the same atomic step, suspends
// the terminal when the count reaches suspendAt. The count lives in the
// terminal's own hash (fields guesses and guess_until: one slot, one key),
// and its window starts at the first guess after the last one ended. Of
// several calls racing past suspendAt exactly one reports Suspended, so a
// suspension is audited once.
func (s *Store) CountGuess(ctx context.Context, terminalID string, now time.Time, window time.Duration, suspendAt int64) (GuessCount, error) {
	r, err := countGuess.Run(ctx, s.rdb, []string{s.keys.Terminal(terminalID)},
		now.UnixMilli(), window.Milliseconds(), suspendAt, TerminalSuspended).Int64Slice()
	if err != nil {
		return GuessCount{}, wrap("counting a guess", err)
	}
	if len(r) != 4 {
		return GuessCount{}, fmt.Errorf("counting a guess: unexpected answer %v", r)
	}
	return GuessCount{N: r[0], Until: time.UnixMilli(r[1]), Suspended: r[2] == 1, Known: r[3] == 1}, nil
}

var countGuess = redis.NewScript(`
local t = redis.call('HMGET', KEYS[1], 'status', 'guesses', 'guess_until')
if not t[1] then return {0, 0, 0, 0} end
local now = tonumber(ARGV[1])
local n, untl = tonumber(t[2] or '0'), tonumber(t[3] or '0')
if now >= untl then n, untl = 0, now + tonumber(ARGV[2]) end
n = n + 1
redis.call('HSET', KEYS[1], 'guesses', n, 'guess_until', untl)
local suspended = 0
if n >= tonumber(ARGV[3]) and t[1] ~= ARGV[4] then
  redis.call('HSET', KEYS[1], 'status', ARGV[4])
  suspended = 1
end
return {n, untl, suspended, 1}
`)

// Guesses returns the terminal's guesses in the window current at now (0
// when the window has ended or there is no terminal).
func (s *Store) Guesses(ctx context.Context, terminalID string, now time.Time) (int64, error) {
	r, err := s.rdb.HMGet(ctx, s.keys.Terminal(terminalID), "guesses", "guess_until").Result()
	if err != nil {
		return 0, wrap("reading guesses", err)
	}
	n, _ := r[0].(string)
	u, _ := r[1].(string)
	t := Terminal{}
	t.setGuesses(n, u)
	return t.GuessesAt(now), nil
}

func (t *Terminal) setGuesses(n, until string) {
	t.Guesses, _ = strconv.ParseInt(n, 10, 64)
	t.GuessesUntil = millis(until)
}

// GuessesAt is the terminal's guess count in the window current at now.
func (t *Terminal) GuessesAt(now time.Time) int64 {
	if !now.Before(t.GuessesUntil) {
		return 0
	}
	return t.Guesses
}

// Payment is a payment or top-up with its refunds.
type Payment struct {
	ID        string
	Kind      string
	AccountID string
	Terminal  string
	Store     string
	Amount    int64
	Currency  string
	Refunded  int64
	OrderRef  string
	CreatedAt time.Time
	Refunds   []Refund
}

// Refund is one refund of a payment.
type Refund struct {
	ID        string
	Amount    int64
	CreatedAt time.Time
}

// Payment reads a payment and its refunds; ErrNotFound when there is none.
func (s *Store) Payment(ctx context.Context, id string) (*Payment, error) {
	b, err := BucketOfKind("pay", id)
	if err != nil {
		return nil, fmt.Errorf("reading a payment: %w", ErrNotFound)
	}
	pipe := s.rdb.Pipeline()
	rec := pipe.HGetAll(ctx, s.keys.Payment(b, id))
	ids := pipe.LRange(ctx, s.keys.Refunds(b, id), 0, -1)
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, wrap("reading a payment", err)
	}
	m := rec.Val()
	if len(m) == 0 {
		return nil, fmt.Errorf("reading a payment: %w", ErrNotFound)
	}
	p := &Payment{ID: id, Kind: m["kind"], AccountID: m["account"], Terminal: m["terminal"], Store: m["store"],
		Currency: m["currency"], OrderRef: m["order_ref"], CreatedAt: millis(m["created_at"])}
	p.Amount, _ = strconv.ParseInt(m["amount"], 10, 64)
	p.Refunded, _ = strconv.ParseInt(m["refunded"], 10, 64)
	for _, rid := range ids.Val() {
		r, err := s.rdb.HGetAll(ctx, s.keys.Refund(b, rid)).Result()
		if err != nil {
			return nil, wrap("reading a refund", err)
		}
		amt, _ := strconv.ParseInt(r["amount"], 10, 64)
		p.Refunds = append(p.Refunds, Refund{ID: rid, Amount: amt, CreatedAt: millis(r["created_at"])})
	}
	return p, nil
}

// LedgerEntry is one movement of an account.
type LedgerEntry struct {
	ID       string
	Kind     string
	Amount   int64 // signed: debits are negative
	Balance  int64
	Payment  string
	Refund   string // refunds: the refund id
	Store    string
	Currency string
	At       time.Time
	// Terminal and OrderRef (payments and top-ups): what the operator's
	// support view shows besides the shopper's history. The compact ledger
	// (ledger.go) does not repeat them: Store.LedgerDetails reads them from
	// the movement's record.
	Terminal string
	OrderRef string
}

// WalletState is an account's balance and recent movements.
type WalletState struct {
	Balance  int64
	Currency string
	Recent   []LedgerEntry
}

// Wallet reads the account's balance and its newest n ledger entries.
func (s *Store) Wallet(ctx context.Context, accountID string, n int64) (*WalletState, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return nil, fmt.Errorf("reading a wallet: %w", ErrNotFound)
	}
	pipe := s.rdb.Pipeline()
	w := pipe.HMGet(ctx, s.keys.Wallet(b, accountID), "balance", "currency")
	l := s.ledgerIn(ctx, pipe, b, accountID, "", n)
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, wrap("reading a wallet", err)
	}
	st := &WalletState{}
	if v, _ := w.Val()[0].(string); v != "" {
		st.Balance, _ = strconv.ParseInt(v, 10, 64)
	}
	st.Currency, _ = w.Val()[1].(string)
	if st.Recent, err = readLedger(l.Val()); err != nil {
		return nil, err
	}
	return st, nil
}

// Ledger reads the account's whole ledger, oldest first.
func (s *Store) Ledger(ctx context.Context, accountID string) ([]LedgerEntry, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return nil, fmt.Errorf("reading a ledger: %w", ErrNotFound)
	}
	res, err := s.ledger(ctx, b, accountID, "", -1).Result()
	if err != nil {
		return nil, wrap("reading a ledger", err)
	}
	out, err := readLedger(res)
	slices.Reverse(out)
	return out, err
}
