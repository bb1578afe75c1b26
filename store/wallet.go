package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Money moves only inside the scripts of this file, each on one hash slot
// (the account's), so every movement is one atomic step: every check comes
// before the first write, and the debit or credit, the ledger entry, the
// settlement entry, the spent code, the idempotent outcome and the event
// are written together or not at all.

// Movement kinds.
const (
	KindPayment = "payment"
	KindRefund  = "refund"
	KindTopup   = "topup"
)

// Decline reasons: the stable codes terminals branch on.
const (
	DeclineCodeUnknown       = "code_unknown"
	DeclineCodeExpired       = "code_expired"
	DeclineCodeUsed          = "code_used"
	DeclineInsufficientFunds = "insufficient_funds"
	DeclineLimitExceeded     = "limit_exceeded"
	DeclineAccountFrozen     = "account_frozen"
	DeclineDeviceRevoked     = "device_revoked"
	DeclineCurrencyMismatch  = "currency_mismatch"
	DeclineTopupsDisabled    = "topups_disabled"
	DeclineRefundExceeds     = "refund_exceeds_remaining"
)

// Errors of the money path.
var (
	// ErrIdempotencyMismatch: the Idempotency-Key was used with another body.
	ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")
	// ErrInFlight: a request with the same Idempotency-Key is being processed.
	ErrInFlight = errors.New("a request with this idempotency key is in flight")
)

// Limits are the wallet limits in force for one movement (minor units).
type Limits struct {
	PerPayment     int64
	PerDay         int64 // payments per day
	PerTopup       int64
	TopupsPerDay   int64
	TopupsDisabled bool // the operator's switch (probation turns them off by itself)
	// ProbationPerDay caps payments (each and per day) while the account is
	// in probation after a device change.
	ProbationPerDay int64
}

// Outcome is the result of a money movement, stored as the idempotent
// response: the same key and body always get the same outcome.
type Outcome struct {
	Approved  bool
	Decline   string // the reason when not approved
	PaymentID string // payment id (payments, top-ups) or refund id
	AccountID string
	Amount    int64
	Currency  string
	Balance   int64 // after the movement (approved only)
	Replayed  bool  // served from the idempotency record
}

// Movement is one request to move money.
type Movement struct {
	Kind       string
	TerminalID string
	StoreID    string
	Amount     int64
	Currency   string
	OrderRef   string
	// Code movements (payment, top-up): the code's bucket and keyed name.
	CodeBucket Bucket
	CodeName   string
	// Refunds: the payment refunded.
	PaymentID string
	// Idempotency: the keyed hash of the key and of the request body.
	IdemKey  string
	BodyHash string
	Now      time.Time
	Day      string // the business day, e.g. "20261126" in the operator's time zone
	Limits   Limits
	// Probation is when the account's probation ends (computed by the script
	// from the account; carried back for the response).
}

// idemLockTTL bounds how long a crashed request blocks its key; idemTTL is
// how long outcomes are kept for retries (24 h).
const (
	idemLockTTL = 30 * time.Second
	idemTTL     = 24 * time.Hour
)

// moneyLib is shared by the movement scripts.
const moneyLib = `
local function idem_check(idem, hash)
  local r = redis.call('HMGET', idem, 'hash', 'outcome')
  if r[1] then
    if r[1] ~= hash then return 'mismatch' end
    return r[2]
  end
  return nil
end
local function day_reset(wallet, day)
  local w = redis.call('HMGET', wallet, 'day', 'spent_day', 'topups_day', 'topup_count_day')
  if w[1] ~= day then return 0, 0, 0 end
  return tonumber(w[2] or '0'), tonumber(w[3] or '0'), tonumber(w[4] or '0')
end
`

// payScript: KEYS code, account, wallet, ledger, payment, idem, lock,
// settle, events. ARGV: 1 kind, 2 account, 3 payment id, 4 terminal, 5 store,
// 6 amount, 7 currency, 8 order ref, 9 now ms, 10 day, 11 per payment,
// 12 per day, 13 per top-up, 14 top-ups per day, 15 top-ups disabled,
// 16 body hash, 17 idem ttl ms, 18 code id, 19 event channel, 20 now
// (RFC 3339), 21 the per-day limit during probation.
var payScript = redis.NewScript(moneyLib + `
local prev = idem_check(KEYS[6], ARGV[16])
if prev then return {'replay', prev} end
local kind, amount, now = ARGV[1], tonumber(ARGV[6]), tonumber(ARGV[9])
local function finish(outcome)
  redis.call('HSET', KEYS[6], 'hash', ARGV[16], 'outcome', outcome)
  redis.call('PEXPIRE', KEYS[6], ARGV[17])
  redis.call('DEL', KEYS[7])
  return {'done', outcome}
end
local function decline(reason) return finish('declined:' .. reason) end

local c = redis.call('HMGET', KEYS[1], 'account', 'device', 'status', 'expires_at')
if not c[1] or c[1] ~= ARGV[2] then return decline('code_unknown') end
if c[3] == 'used' then return decline('code_used') end
if now >= tonumber(c[4]) then return decline('code_expired') end
local a = redis.call('HMGET', KEYS[2], 'status', 'device_id', 'device_status', 'probation_until')
if a[1] == 'frozen' then return decline('account_frozen') end
if a[2] ~= c[2] or a[3] ~= 'active' then return decline('device_revoked') end
local probation = a[4] and tonumber(a[4]) > now
local w = redis.call('HMGET', KEYS[3], 'balance', 'currency')
local balance = tonumber(w[1] or '0')
local currency = w[2] or ARGV[7]
if currency ~= ARGV[7] then return decline('currency_mismatch') end
local spent, topups, topup_count = day_reset(KEYS[3], ARGV[10])
local delta
if kind == 'payment' then
  local per_payment, per_day = tonumber(ARGV[11]), tonumber(ARGV[12])
  if probation then
    per_payment = math.min(per_payment, tonumber(ARGV[21]))
    per_day = math.min(per_day, tonumber(ARGV[21]))
  end
  if amount > per_payment or spent + amount > per_day then return decline('limit_exceeded') end
  if balance < amount then return decline('insufficient_funds') end
  delta = -amount
  spent = spent + amount
else
  if ARGV[15] == '1' or probation then return decline('topups_disabled') end
  if amount > tonumber(ARGV[13]) or topup_count + 1 > tonumber(ARGV[14]) then return decline('limit_exceeded') end
  delta = amount
  topups = topups + amount
  topup_count = topup_count + 1
end
balance = balance + delta
redis.call('HSET', KEYS[3], 'balance', balance, 'currency', currency, 'day', ARGV[10],
  'spent_day', spent, 'topups_day', topups, 'topup_count_day', topup_count)
local entry = redis.call('XADD', KEYS[4], '*', 'kind', kind, 'amount', delta, 'balance', balance,
  'payment', ARGV[3], 'terminal', ARGV[4], 'store', ARGV[5], 'order_ref', ARGV[8], 'currency', currency, 'at', ARGV[9])
redis.call('HSET', KEYS[5], 'id', ARGV[3], 'kind', kind, 'account', ARGV[2], 'terminal', ARGV[4], 'store', ARGV[5],
  'amount', amount, 'currency', currency, 'refunded', 0, 'order_ref', ARGV[8], 'created_at', ARGV[9], 'ledger', entry, 'code', ARGV[18])
redis.call('HSET', KEYS[1], 'status', 'used', 'used_at', ARGV[9], 'payment', ARGV[3])
redis.call('XADD', KEYS[8], '*', 'ledger', entry, 'account', ARGV[2], 'kind', kind, 'amount', delta, 'currency', currency,
  'payment', ARGV[3], 'terminal', ARGV[4], 'store', ARGV[5], 'at', ARGV[9])
local data = {code_id = ARGV[18], kind = kind, amount = amount, currency = currency, store = ARGV[5],
  payment_id = ARGV[3], balance = balance}
local ev = cjson.encode({type = 'code.redeemed', data = data, time = ARGV[20]})
local evid = redis.call('XADD', KEYS[9], 'MAXLEN', '~', 100, '*', 'e', ev)
redis.call('PEXPIRE', KEYS[9], 3600000)
redis.call('PUBLISH', ARGV[19], evid .. '\n' .. ev)
return finish('approved:' .. ARGV[3] .. ':' .. balance)
`)

// refundScript: KEYS payment, wallet, ledger, idem, lock, settle, refund,
// refunds list.
// ARGV: 1 refund id, 2 store, 3 amount, 4 now ms, 5 body hash, 6 idem ttl,
// 7 terminal.
var refundScript = redis.NewScript(moneyLib + `
local prev = idem_check(KEYS[4], ARGV[5])
if prev then return {'replay', prev} end
local function finish(outcome)
  redis.call('HSET', KEYS[4], 'hash', ARGV[5], 'outcome', outcome)
  redis.call('PEXPIRE', KEYS[4], ARGV[6])
  redis.call('DEL', KEYS[5])
  return {'done', outcome}
end
local p = redis.call('HMGET', KEYS[1], 'store', 'amount', 'refunded', 'account', 'currency', 'kind', 'id')
if not p[1] or p[1] ~= ARGV[2] or p[6] ~= 'payment' then return finish('declined:not_found') end
local amount = tonumber(ARGV[3])
local remaining = tonumber(p[2]) - tonumber(p[3])
if amount > remaining then return finish('declined:refund_exceeds_remaining') end
local balance = tonumber(redis.call('HGET', KEYS[2], 'balance') or '0') + amount
redis.call('HSET', KEYS[2], 'balance', balance)
redis.call('HINCRBY', KEYS[1], 'refunded', amount)
local entry = redis.call('XADD', KEYS[3], '*', 'kind', 'refund', 'amount', amount, 'balance', balance,
  'payment', p[7], 'refund', ARGV[1], 'terminal', ARGV[7], 'store', ARGV[2], 'currency', p[5], 'at', ARGV[4])
redis.call('HSET', KEYS[7], 'id', ARGV[1], 'payment', p[7], 'amount', amount, 'created_at', ARGV[4], 'ledger', entry, 'terminal', ARGV[7])
redis.call('RPUSH', KEYS[8], ARGV[1])
redis.call('XADD', KEYS[6], '*', 'ledger', entry, 'account', p[4], 'kind', 'refund', 'amount', amount, 'currency', p[5],
  'payment', p[7], 'refund', ARGV[1], 'terminal', ARGV[7], 'store', ARGV[2], 'at', ARGV[4])
return finish('approved:' .. ARGV[1] .. ':' .. balance)
`)

// Move runs one money movement exactly once per idempotency key. It
// returns the outcome (approved or a decline reason), ErrIdempotencyMismatch
// when the key was used with another body, ErrInFlight while another
// request with the key is running, and ErrUnavailable (wrapped) when Redis
// fails, in which case nothing moved.
func (s *Store) Move(ctx context.Context, m Movement) (*Outcome, error) {
	var b Bucket
	var err error
	if m.Kind == KindRefund {
		if b, err = BucketOfKind("pay", m.PaymentID); err != nil {
			return &Outcome{Decline: "not_found"}, nil
		}
	} else {
		b = m.CodeBucket
	}
	k := s.keys
	idem, lock := k.Idem(b, m.TerminalID, m.IdemKey), k.IdemLock(b, m.TerminalID, m.IdemKey)
	got, err := s.rdb.SetNX(ctx, lock, "1", idemLockTTL).Result()
	if err != nil {
		return nil, wrap("locking the idempotency key", err)
	}
	if !got {
		r, err := s.rdb.HMGet(ctx, idem, "hash", "outcome").Result()
		if err != nil {
			return nil, wrap("reading the idempotency record", err)
		}
		if h, _ := r[0].(string); h != "" {
			if h != m.BodyHash {
				return nil, ErrIdempotencyMismatch
			}
			out, _ := r[1].(string)
			return parseOutcome(out, m, true)
		}
		return nil, ErrInFlight
	}
	var res []any
	if m.Kind == KindRefund {
		res, err = s.runRefund(ctx, b, m, idem, lock)
	} else {
		res, err = s.runPay(ctx, b, m, idem, lock)
	}
	if err != nil {
		// Nothing moved (the script is atomic); free the key for a retry.
		s.rdb.Del(context.WithoutCancel(ctx), lock)
		return nil, wrap("moving money", err)
	}
	tag, _ := res[0].(string)
	out, _ := res[1].(string)
	if tag == "replay" {
		s.rdb.Del(ctx, lock)
		if out == "mismatch" {
			return nil, ErrIdempotencyMismatch
		}
		return parseOutcome(out, m, true)
	}
	return parseOutcome(out, m, false)
}

func (s *Store) runPay(ctx context.Context, b Bucket, m Movement, idem, lock string) ([]any, error) {
	k := s.keys
	account, err := s.rdb.HGet(ctx, k.Code(b, m.CodeName), "account").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	// An unknown code still runs the script (with keys of no account in the
	// same slot): the decline is recorded for the idempotency key like any
	// other outcome.
	payID, err := NewID("pay", b)
	if err != nil {
		return nil, err
	}
	disabled := "0"
	if m.Limits.TopupsDisabled {
		disabled = "1"
	}
	keys := []string{k.Code(b, m.CodeName), k.Account(b, account), k.Wallet(b, account), k.Ledger(b, account),
		k.Payment(b, payID), idem, lock, k.Settlement(b), k.Events(b, account)}
	return payScript.Run(ctx, s.rdb, keys, m.Kind, account, payID, m.TerminalID, m.StoreID, m.Amount, m.Currency,
		m.OrderRef, m.Now.UnixMilli(), m.Day, m.Limits.PerPayment, m.Limits.PerDay, m.Limits.PerTopup,
		m.Limits.TopupsPerDay, disabled, m.BodyHash, idemTTL.Milliseconds(), codeIDOf(m.CodeName),
		k.EventChannel(b, account), m.Now.UTC().Format(time.RFC3339Nano), m.Limits.ProbationPerDay).Slice()
}

func (s *Store) runRefund(ctx context.Context, b Bucket, m Movement, idem, lock string) ([]any, error) {
	k := s.keys
	account, err := s.rdb.HGet(ctx, k.Payment(b, m.PaymentID), "account").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	refundID, err := NewID("rfd", b)
	if err != nil {
		return nil, err
	}
	keys := []string{k.Payment(b, m.PaymentID), k.Wallet(b, account), k.Ledger(b, account), idem, lock,
		k.Settlement(b), k.Refund(b, refundID), k.Refunds(b, m.PaymentID)}
	return refundScript.Run(ctx, s.rdb, keys, refundID, m.StoreID, m.Amount, m.Now.UnixMilli(), m.BodyHash,
		idemTTL.Milliseconds(), m.TerminalID).Slice()
}

// codeIDOf is the short, non-secret handle of a code used in events.
func codeIDOf(name string) string {
	if len(name) < 16 {
		return name
	}
	return name[:16]
}

func parseOutcome(s string, m Movement, replayed bool) (*Outcome, error) {
	o := &Outcome{Amount: m.Amount, Currency: m.Currency, Replayed: replayed}
	kind, rest, _ := cut(s, ':')
	switch kind {
	case "approved":
		id, bal, _ := cut(rest, ':')
		n, err := strconv.ParseInt(bal, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("reading an outcome: %q", s)
		}
		o.Approved, o.PaymentID, o.Balance = true, id, n
	case "declined":
		o.Decline = rest
	default:
		return nil, fmt.Errorf("reading an outcome: %q", s)
	}
	return o, nil
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
