package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Money moves only inside the scripts of this file, each on one hash slot
// (the account's), so every movement is one atomic step: every check comes
// before the first write, and the debit or credit, the ledger entry, the
// settlement entry, the spent code, the idempotent outcome and the event
// are written together or not at all. The policy around them (who may ask,
// the guessing threshold, which limits are in force) is package pay's.
//
// A script's KEYS and ARGV are declared once, as ordered lists of named
// parameters (moneyScript): the Lua body reads them as locals k_<name> and
// a_<name>, and Go builds them from one call value, so an index cannot drift
// between the two. The decline reasons, the movement kinds and the words of
// the stored outcome reach the Lua body from the Go constants below, and the
// script's answer is read back in one place (readResult, parseOutcome).

// Kind is the kind of a money movement. The values are on the wire: the
// API's "kind", the payment record, ledger and settlement entries, events
// and metric labels.
type Kind string

// Movement kinds.
const (
	KindPayment Kind = "payment"
	KindRefund  Kind = "refund"
	KindTopup   Kind = "topup"
)

var kinds = []Kind{KindPayment, KindRefund, KindTopup}

// Valid reports whether k is one of the movement kinds.
func (k Kind) Valid() bool { return slices.Contains(kinds, k) }

// Decline is the machine-readable reason a movement was declined: the
// problem code terminals branch on, and what the idempotency record keeps.
type Decline string

// Decline reasons: the stable codes terminals branch on. The constants are
// untyped so that they compare as they are with a problem document's code
// (a string); every field and parameter that holds one is a Decline.
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
	// DeclineNotFound: the refunded payment does not exist, is not a
	// payment, or was made at another store. The API answers it 404
	// not_found rather than 402.
	DeclineNotFound = "not_found"
)

var declines = []Decline{DeclineCodeUnknown, DeclineCodeExpired, DeclineCodeUsed, DeclineInsufficientFunds,
	DeclineLimitExceeded, DeclineAccountFrozen, DeclineDeviceRevoked, DeclineCurrencyMismatch,
	DeclineTopupsDisabled, DeclineRefundExceeds, DeclineNotFound}

// Declines lists every decline reason.
func Declines() []Decline { return slices.Clone(declines) }

// Valid reports whether d is one of the decline reasons.
func (d Decline) Valid() bool { return slices.Contains(declines, d) }

// Errors of the money path.
var (
	// ErrIdempotencyMismatch: the Idempotency-Key was used with another body.
	ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")
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
	Decline   Decline // the reason when not approved
	PaymentID string  // payment id (payments, top-ups) or refund id
	Amount    int64
	Currency  string
	Balance   int64 // after the movement (approved only)
	Replayed  bool  // served from the idempotency record
	// MerchantErr is why the merchant event of an approved movement could
	// not be queued (the movement stands; an operator's replay sends it).
	MerchantErr error
}

// Movement is one request to move money.
type Movement struct {
	Kind       Kind
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
	// VoidBefore (code movements) declines, as code_expired, a code issued
	// before it: the operator's reauth_after, so that forcing everyone to
	// re-authenticate also voids the codes already on screens. Zero: none.
	VoidBefore time.Time
	// Merchant, when set, is the outbox the store's merchant event goes to
	// (the store has a webhook endpoint): Move queues it with the movement,
	// in parallel, before the outcome is known (see MerchantBody).
	Merchant *NotifyQueue
}

// idemTTL is how long outcomes are kept for retries (24 h after the last
// try).
const idemTTL = 24 * time.Hour

// The words of a script's answer and of the stored outcome. A script
// returns {done, outcome} after it ran, or {replay, outcome} when the
// idempotency record already held one (outcome is then mismatch for
// another body). An outcome is "approved:<id>:<balance>" or
// "declined:<reason>"; idempotency records keep it for 24 hours, so the
// format never changes.
const (
	resultDone     = "done"
	resultReplay   = "replay"
	resultMismatch = "mismatch"
	outcomeApprove = "approved"
	outcomeDecline = "declined"
)

// luaConstants gives the scripts the Go constants above as strict tables:
// reading a name that is not there is a script error (so nothing is
// written), never a silent nil.
func luaConstants() string {
	var b strings.Builder
	b.WriteString(`local function strict(what, t)
  return setmetatable(t, {__index = function(_, k) error('paycode: no ' .. what .. ' ' .. tostring(k)) end})
end
`)
	table := func(name string, values []string) {
		fmt.Fprintf(&b, "local %s = strict(%q, {", name, strings.ToLower(name))
		for i, v := range values {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s = '%s'", v, v)
		}
		b.WriteString("})\n")
	}
	var ds, ks []string
	for _, d := range declines {
		ds = append(ds, string(d))
	}
	for _, k := range kinds {
		ks = append(ks, string(k))
	}
	table("DECLINE", ds)
	table("KIND", ks)
	table("RESULT", []string{resultDone, resultReplay, resultMismatch, outcomeApprove, outcomeDecline})
	b.WriteString(`local LEDGER_KIND = strict("ledger kind", {`)
	for i, k := range kinds {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = '%s'", k, ledgerKind[k])
	}
	b.WriteString("})\n")
	return b.String()
}

// moneyLib is shared by the movement scripts. Every movement script has the
// key idem and the arguments body_hash and idem_ttl (checked by
// newMoneyScript). idem_check comes first in every script: the
// idempotency record and the movement are one atomic step, so there is no
// lock between them that a crash could leave behind, and concurrent
// requests with one key are serialised by Redis (the first moves, the
// others replay its outcome). A replay refreshes the record's TTL: that
// write makes the WAIT after the script cover the record (WAIT counts the
// writes of its own connection), so a replayed outcome is as replicated
// as a fresh one before it is answered. finish stores the outcome for the
// key; decline and approve are the two ways to finish.
const moneyLib = `
local function idem_check(idem, hash)
  local r = redis.call('HMGET', idem, 'hash', 'outcome')
  if r[1] then
    if r[1] ~= hash then return RESULT.mismatch end
    redis.call('PEXPIRE', idem, a_idem_ttl)
    return r[2]
  end
  return nil
end
local function day_reset(wallet, day)
  local w = redis.call('HMGET', wallet, 'day', 'spent_day', 'topups_day', 'topup_count_day')
  if w[1] ~= day then return 0, 0, 0 end
  return tonumber(w[2] or '0'), tonumber(w[3] or '0'), tonumber(w[4] or '0')
end
local function finish(outcome)
  redis.call('HSET', k_idem, 'hash', a_body_hash, 'outcome', outcome)
  redis.call('PEXPIRE', k_idem, a_idem_ttl)
  return {RESULT.done, outcome}
end
-- ledger_add appends a compact entry to the account's ledger list (see
-- ledger.go: "<id> <kind> <amount> <balance> <at> <currency> <payment>
-- <refund or -> <store>") and returns its id, "<ms>-<seq>" like a stream
-- id: now_ms, or one more sequence number when the wallet's last id
-- ('l') is not older (or, for an account whose ledger began as a stream,
-- the stream's last id), so ids only grow within an account.
local function ledger_add(wallet, list, stream, now_ms, kind, amount, balance, currency, payment, refund, store)
  local last = redis.call('HGET', wallet, 'l')
  if not last and redis.call('EXISTS', stream) == 1 then
    local x = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
    if x[1] then last = x[1][1] end
  end
  local ms, seq = tonumber(now_ms), 0
  if last then
    local lm, ls = string.match(last, '^(%d+)-(%d+)$')
    lm, ls = tonumber(lm), tonumber(ls)
    if lm >= ms then ms, seq = lm, ls + 1 end
  end
  local id = string.format('%.0f-%.0f', ms, seq)
  if refund == '' then refund = '-' end
  redis.call('RPUSH', list, table.concat({id, LEDGER_KIND[kind], string.format('%.0f', amount), string.format('%.0f', balance),
    now_ms, currency, payment, refund, store}, ' '))
  redis.call('HSET', wallet, 'l', id)
  return id
end
local function decline(reason) return finish(RESULT.declined .. ':' .. reason) end
local function approve(id, balance) return finish(RESULT.approved .. ':' .. id .. ':' .. balance) end
`

// scriptKey and scriptArg are one entry of a script's KEYS and ARGV: the
// name the Lua body reads it by (k_<name>, a_<name>) and how a call of type
// T computes it.
type scriptKey[T any] struct {
	name string
	of   func(*T) string
}

type scriptArg[T any] struct {
	name string
	of   func(*T) any
}

// moneyScript is a movement script with its KEYS and ARGV declared once.
type moneyScript[T any] struct {
	keys   []scriptKey[T]
	args   []scriptArg[T]
	src    string
	script *redis.Script
}

// luaParam matches the parameters a Lua body reads.
var luaParam = regexp.MustCompile(`\b([ka])_([a-z0-9_]+)`)

// newMoneyScript builds a script from its parameters and body: a prelude
// binds every KEYS and ARGV entry to its local, then come the constants and
// moneyLib. It panics (at start-up, and in every test) when the body reads
// a parameter that is not declared or a declared one is never read.
func newMoneyScript[T any](keys []scriptKey[T], args []scriptArg[T], body string) *moneyScript[T] {
	var b strings.Builder
	declared := map[string]bool{}
	for i, k := range keys {
		fmt.Fprintf(&b, "local k_%s = KEYS[%d]\n", k.name, i+1)
		declared["k_"+k.name] = false
	}
	for i, a := range args {
		fmt.Fprintf(&b, "local a_%s = ARGV[%d]\n", a.name, i+1)
		declared["a_"+a.name] = false
	}
	for _, m := range luaParam.FindAllStringSubmatch(moneyLib+body, -1) {
		if _, ok := declared[m[0]]; !ok {
			panic("store: a money script reads " + m[0] + ", which it does not declare")
		}
		declared[m[0]] = true
	}
	for name, read := range declared {
		if !read {
			panic("store: a money script declares " + name + " but never reads it")
		}
	}
	b.WriteString(luaConstants())
	b.WriteString(moneyLib)
	b.WriteString(body)
	src := b.String()
	return &moneyScript[T]{keys: keys, args: args, src: src, script: redis.NewScript(src)}
}

// keysAndArgs builds KEYS and ARGV of a call, in the declared order.
func (s *moneyScript[T]) keysAndArgs(c *T) ([]string, []any) {
	keys := make([]string, len(s.keys))
	for i, k := range s.keys {
		keys[i] = k.of(c)
	}
	args := make([]any, len(s.args))
	for i, a := range s.args {
		args[i] = a.of(c)
	}
	return keys, args
}

// run runs the script durably (evalDurable: on the slot's master, and with
// WAIT when replicas are required) and returns its answer.
func (s *moneyScript[T]) run(ctx context.Context, st *Store, c *T) ([]any, error) {
	keys, args := s.keysAndArgs(c)
	res, err := st.evalDurable(ctx, s.script, keys, args...)
	if err != nil {
		return nil, err
	}
	out, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("moving money: unexpected script answer %v", res)
	}
	return out, nil
}

// payCall is one run of payScript: a payment or a top-up by code.
type payCall struct {
	k         Keys
	b         Bucket
	m         *Movement
	paymentID string // the id the movement gets if approved
	idem      string
}

// payScript redeems a code for a payment or a top-up, in one round trip:
// it reads the code's account from the code record and names the
// account's keys itself, by appending the account id to the key names
// Keys gives for an empty id (ARGV acct_key, wallet_key, ledger_key,
// events_key, event_channel). This is safe in a Redis Cluster: the code
// and every account key carry the same bucket tag ({b1234}, from the
// code's digits), so they are in the slot of KEYS (the node that runs the
// script holds them, and Redis 7 checks each key a script touches against
// that slot), and the names are built from the configured prefix passed
// in, never from anything the terminal sent. An unknown code still runs
// it: the decline is recorded for the idempotency key like any other
// outcome.
var payScript = newMoneyScript([]scriptKey[payCall]{
	{"code", func(c *payCall) string { return c.k.Code(c.b, c.m.CodeName) }},
	{"payment", func(c *payCall) string { return c.k.Payment(c.b, c.paymentID) }},
	{"idem", func(c *payCall) string { return c.idem }},
	{"settle", func(c *payCall) string { return c.k.Settlement(c.b) }},
}, []scriptArg[payCall]{
	{"kind", func(c *payCall) any { return string(c.m.Kind) }},
	{"acct_key", func(c *payCall) any { return c.k.Account(c.b, "") }},
	{"wallet_key", func(c *payCall) any { return c.k.Wallet(c.b, "") }},
	{"ledger_key", func(c *payCall) any { return c.k.Ledger(c.b, "") }},
	{"events_key", func(c *payCall) any { return c.k.Events(c.b, "") }},
	{"event_channel", func(c *payCall) any { return c.k.EventChannel(c.b, "") }},
	{"payment_id", func(c *payCall) any { return c.paymentID }},
	{"terminal", func(c *payCall) any { return c.m.TerminalID }},
	{"store", func(c *payCall) any { return c.m.StoreID }},
	{"amount", func(c *payCall) any { return c.m.Amount }},
	{"currency", func(c *payCall) any { return c.m.Currency }},
	{"order_ref", func(c *payCall) any { return c.m.OrderRef }},
	{"now_ms", func(c *payCall) any { return c.m.Now.UnixMilli() }},
	{"day", func(c *payCall) any { return c.m.Day }},
	{"per_payment", func(c *payCall) any { return c.m.Limits.PerPayment }},
	{"per_day", func(c *payCall) any { return c.m.Limits.PerDay }},
	{"per_topup", func(c *payCall) any { return c.m.Limits.PerTopup }},
	{"topups_per_day", func(c *payCall) any { return c.m.Limits.TopupsPerDay }},
	{"topups_disabled", func(c *payCall) any { return luaBool(c.m.Limits.TopupsDisabled) }},
	{"body_hash", func(c *payCall) any { return c.m.BodyHash }},
	{"idem_ttl", func(c *payCall) any { return idemTTL.Milliseconds() }},
	{"code_id", func(c *payCall) any { return CodeID(c.m.CodeName) }},
	{"now", func(c *payCall) any { return c.m.Now.UTC().Format(time.RFC3339Nano) }},
	{"probation_per_day", func(c *payCall) any { return c.m.Limits.ProbationPerDay }},
	{"events_kept", func(*payCall) any { return eventsKept }},
	{"events_ttl", func(*payCall) any { return eventsTTL.Milliseconds() }},
	{"void_before", func(c *payCall) any { return unixMilliOrZero(c.m.VoidBefore) }},
	{"old_ledger_key", func(c *payCall) any { return c.k.LedgerStream(c.b, "") }},
}, `
local prev = idem_check(k_idem, a_body_hash)
if prev then return {RESULT.replay, prev} end
local kind, amount, now = a_kind, tonumber(a_amount), tonumber(a_now_ms)

local c = redis.call('HMGET', k_code, 'account', 'device', 'status', 'expires_at', 'issued_at')
if not c[1] then return decline(DECLINE.code_unknown) end
-- The account's keys, named here (see payScript): same tag, same slot.
local account = c[1]
local acct_key, wallet_key, ledger_key, events_key = a_acct_key .. account, a_wallet_key .. account,
  a_ledger_key .. account, a_events_key .. account
-- emit records an event for the account's phone and publishes it, in
-- this same atomic step (a replay returned above, so it is never told
-- twice).
local function emit(etype, data)
  local ev = cjson.encode({type = etype, data = data, time = a_now})
  local evid = redis.call('XADD', events_key, 'MAXLEN', '~', a_events_kept, '*', 'e', ev)
  redis.call('PEXPIRE', events_key, a_events_ttl)
  redis.call('PUBLISH', a_event_channel .. account, evid .. '\n' .. ev)
end
-- told declines and tells the phone that showed the code why
-- (code.declined). Not for device_revoked: the account's current phone
-- never showed that code.
local function told(reason)
  emit('code.declined', {code_id = a_code_id, reason = reason, kind = kind, amount = amount,
    currency = a_currency, store = a_store})
  return decline(reason)
end
if c[3] == 'used' then return told(DECLINE.code_used) end
-- A code issued before the operator's reauth_after is void (a record
-- without issued_at counts as issued at 0: void, fail closed).
if now >= tonumber(c[4]) or tonumber(c[5] or '0') < tonumber(a_void_before) then return told(DECLINE.code_expired) end
local a = redis.call('HMGET', acct_key, 'status', 'device_id', 'device_status', 'probation_until')
if a[1] == 'frozen' then return told(DECLINE.account_frozen) end
if a[2] ~= c[2] or a[3] ~= 'active' then return decline(DECLINE.device_revoked) end
local probation = a[4] and tonumber(a[4]) > now
local w = redis.call('HMGET', wallet_key, 'balance', 'currency')
local balance = tonumber(w[1] or '0')
local currency = w[2] or a_currency
if currency ~= a_currency then return told(DECLINE.currency_mismatch) end
local spent, topups, topup_count = day_reset(wallet_key, a_day)
local delta
if kind == KIND.payment then
  local per_payment, per_day = tonumber(a_per_payment), tonumber(a_per_day)
  if probation then
    per_payment = math.min(per_payment, tonumber(a_probation_per_day))
    per_day = math.min(per_day, tonumber(a_probation_per_day))
  end
  if amount > per_payment or spent + amount > per_day then return told(DECLINE.limit_exceeded) end
  if balance < amount then return told(DECLINE.insufficient_funds) end
  delta = -amount
  spent = spent + amount
else
  if a_topups_disabled == '1' or probation then return told(DECLINE.topups_disabled) end
  if amount > tonumber(a_per_topup) or topup_count + 1 > tonumber(a_topups_per_day) then return told(DECLINE.limit_exceeded) end
  delta = amount
  topups = topups + amount
  topup_count = topup_count + 1
end
balance = balance + delta
redis.call('HSET', wallet_key, 'balance', balance, 'currency', currency, 'day', a_day,
  'spent_day', spent, 'topups_day', topups, 'topup_count_day', topup_count)
local entry = ledger_add(wallet_key, ledger_key, a_old_ledger_key .. account, a_now_ms, kind, delta, balance, currency, a_payment_id, '', a_store)
redis.call('HSET', k_payment, 'id', a_payment_id, 'kind', kind, 'account', account, 'terminal', a_terminal, 'store', a_store,
  'amount', amount, 'currency', currency, 'refunded', 0, 'order_ref', a_order_ref, 'created_at', a_now_ms, 'ledger', entry, 'code', a_code_id)
-- The used code's record becomes a tombstone for its ten minutes: what a
-- late scan needs (code_used, told to the account's phone) and the payment.
redis.call('HDEL', k_code, 'device', 'session', 'issued_at')
redis.call('HSET', k_code, 'status', 'used', 'payment', a_payment_id)
redis.call('XADD', k_settle, '*', 'ledger', entry, 'account', account, 'kind', kind, 'amount', delta, 'currency', currency,
  'payment', a_payment_id, 'terminal', a_terminal, 'store', a_store, 'at', a_now_ms)
local data = {code_id = a_code_id, kind = kind, amount = amount, currency = currency, store = a_store,
  payment_id = a_payment_id, balance = balance}
emit('code.redeemed', data)
return approve(a_payment_id, balance)
`)

// refundCall is one run of refundScript.
type refundCall struct {
	k        Keys
	b        Bucket
	m        *Movement
	refundID string // the id the refund gets if approved
	idem     string
}

// refundScript refunds (part of) a payment made at the same store, in one
// round trip: like payScript it names the account's wallet and ledger
// itself, from the payment record's account (same bucket tag, same slot).
var refundScript = newMoneyScript([]scriptKey[refundCall]{
	{"payment", func(c *refundCall) string { return c.k.Payment(c.b, c.m.PaymentID) }},
	{"idem", func(c *refundCall) string { return c.idem }},
	{"settle", func(c *refundCall) string { return c.k.Settlement(c.b) }},
	{"refund", func(c *refundCall) string { return c.k.Refund(c.b, c.refundID) }},
	{"refunds", func(c *refundCall) string { return c.k.Refunds(c.b, c.m.PaymentID) }},
}, []scriptArg[refundCall]{
	{"wallet_key", func(c *refundCall) any { return c.k.Wallet(c.b, "") }},
	{"ledger_key", func(c *refundCall) any { return c.k.Ledger(c.b, "") }},
	{"refund_id", func(c *refundCall) any { return c.refundID }},
	{"store", func(c *refundCall) any { return c.m.StoreID }},
	{"amount", func(c *refundCall) any { return c.m.Amount }},
	{"now_ms", func(c *refundCall) any { return c.m.Now.UnixMilli() }},
	{"body_hash", func(c *refundCall) any { return c.m.BodyHash }},
	{"idem_ttl", func(c *refundCall) any { return idemTTL.Milliseconds() }},
	{"terminal", func(c *refundCall) any { return c.m.TerminalID }},
	{"old_ledger_key", func(c *refundCall) any { return c.k.LedgerStream(c.b, "") }},
}, `
local prev = idem_check(k_idem, a_body_hash)
if prev then return {RESULT.replay, prev} end
local p = redis.call('HMGET', k_payment, 'store', 'amount', 'refunded', 'account', 'currency', 'kind', 'id')
if not p[1] or p[1] ~= a_store or p[6] ~= KIND.payment then return decline(DECLINE.not_found) end
local wallet_key, ledger_key = a_wallet_key .. p[4], a_ledger_key .. p[4]
local amount = tonumber(a_amount)
local remaining = tonumber(p[2]) - tonumber(p[3])
if amount > remaining then return decline(DECLINE.refund_exceeds_remaining) end
local balance = tonumber(redis.call('HGET', wallet_key, 'balance') or '0') + amount
redis.call('HSET', wallet_key, 'balance', balance)
redis.call('HINCRBY', k_payment, 'refunded', amount)
local entry = ledger_add(wallet_key, ledger_key, a_old_ledger_key .. p[4], a_now_ms, KIND.refund, amount, balance, p[5], p[7], a_refund_id, a_store)
redis.call('HSET', k_refund, 'id', a_refund_id, 'payment', p[7], 'amount', amount, 'created_at', a_now_ms, 'ledger', entry, 'terminal', a_terminal,
  'store', a_store, 'account', p[4], 'currency', p[5])
redis.call('RPUSH', k_refunds, a_refund_id)
redis.call('XADD', k_settle, '*', 'ledger', entry, 'account', p[4], 'kind', KIND.refund, 'amount', amount, 'currency', p[5],
  'payment', p[7], 'refund', a_refund_id, 'terminal', a_terminal, 'store', a_store, 'at', a_now_ms)
return approve(a_refund_id, balance)
`)

// unixMilliOrZero is t in Unix milliseconds, 0 for the zero time.
func unixMilliOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func luaBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Move runs one money movement exactly once per idempotency key. It
// returns the outcome (approved or a decline reason; Replayed when the key
// had one already), or:
//
//   - ErrIdempotencyMismatch when the key was used with another body;
//   - ErrUnavailable (wrapped) when Redis could not be reached before the
//     movement was sent: nothing moved;
//   - ErrUnconfirmed (wrapped; it matches ErrUnavailable too) when the
//     movement was sent but its reply was lost or fewer replicas than
//     configured acknowledged it: it may have happened. A retry with the
//     same key and body returns the stored outcome if it survived, or
//     moves the money once if it did not; never twice, never under two ids.
//
// A refund of a payment id that is not one is declined DeclineNotFound
// without touching Redis.
func (s *Store) Move(ctx context.Context, m Movement) (*Outcome, error) {
	if !m.Kind.Valid() {
		return nil, fmt.Errorf("moving money: unknown kind %q", m.Kind)
	}
	b := m.CodeBucket
	if m.Kind == KindRefund {
		var err error
		if b, err = BucketOfKind("pay", m.PaymentID); err != nil {
			return &Outcome{Decline: DeclineNotFound}, nil
		}
	}
	idem := s.keys.Idem(b, m.TerminalID, m.IdemKey)
	kind := "pay"
	if m.Kind == KindRefund {
		kind = "rfd"
	}
	id, err := NewID(kind, b) // the id the movement gets if approved
	if err != nil {
		return nil, err
	}
	// The store's sales-log entry (sales.go) and, when the store has a
	// webhook endpoint, its merchant event (webhooks.go) go out with the
	// script, not after it: one round trip's latency. Both name the id the
	// movement gets if approved; readers skip an entry whose movement was
	// declined, and MerchantBody drops its event.
	ref := SaleRef{StoreID: m.StoreID, TerminalID: m.TerminalID, Kind: m.Kind, ID: id, At: m.Now}
	logged, queued := make(chan error, 1), make(chan error, 1)
	go func() {
		logErr, eventErr := s.appendSaleWith(ctx, ref, m.Merchant)
		logged <- logErr
		queued <- eventErr
	}()
	var res []any
	if m.Kind == KindRefund {
		res, err = refundScript.run(ctx, s, &refundCall{k: s.keys, b: b, m: &m, refundID: id, idem: idem})
	} else {
		res, err = payScript.run(ctx, s, &payCall{k: s.keys, b: b, m: &m, paymentID: id, idem: idem})
	}
	logErr, eventErr := <-logged, <-queued
	if err != nil {
		return nil, err
	}
	replayed, outcome, err := readResult(res)
	if err != nil {
		return nil, err
	}
	if replayed && outcome == resultMismatch {
		return nil, ErrIdempotencyMismatch
	}
	out, err := parseOutcome(outcome, &m, replayed)
	if err != nil || !out.Approved {
		return out, err
	}
	// An approval is answered only once the store's log has it.
	switch {
	case out.Replayed: // its first answer may have been lost before its entry was written
		logErr = s.logReplayed(ctx, b, &m, out.PaymentID)
	case logErr != nil: // once more, now that the movement is known to have happened
		logErr = s.AppendSale(ctx, ref)
	}
	if logErr != nil {
		return nil, fmt.Errorf("%w: the movement is done but not in the store's sales log yet (%v)", ErrUnconfirmed, logErr)
	}
	if m.Merchant != nil && (out.Replayed || eventErr != nil) {
		// A replay names the first run's movement, whose event may have
		// been lost with its answer (the receiver deduplicates by
		// webhook-id); a failed enqueue gets a second try.
		eventErr = m.Merchant.EnqueueMerchantEvents(ctx, MerchantRef{StoreID: m.StoreID, Kind: m.Kind, ID: out.PaymentID, At: m.Now})
	}
	out.MerchantErr = eventErr
	return out, nil
}

// CodeID is the short, non-secret handle of a code in events and payment
// records (the first 16 characters of its keyed name): the one definition.
func CodeID(name string) string {
	if len(name) < 16 {
		return name
	}
	return name[:16]
}

// readResult reads a movement script's answer: whether it was a replay,
// and the outcome (or resultMismatch).
func readResult(res []any) (replayed bool, outcome string, err error) {
	if len(res) == 2 {
		tag, _ := res[0].(string)
		outcome, _ = res[1].(string)
		switch tag {
		case resultDone:
			return false, outcome, nil
		case resultReplay:
			return true, outcome, nil
		}
	}
	return false, "", fmt.Errorf("moving money: unexpected script answer %v", res)
}

// parseOutcome reads a stored outcome ("approved:<id>:<balance>" or
// "declined:<reason>"); a reason that is not a Decline is an error.
func parseOutcome(s string, m *Movement, replayed bool) (*Outcome, error) {
	o := &Outcome{Amount: m.Amount, Currency: m.Currency, Replayed: replayed}
	word, rest, _ := strings.Cut(s, ":")
	switch word {
	case outcomeApprove:
		id, bal, _ := strings.Cut(rest, ":")
		n, err := strconv.ParseInt(bal, 10, 64)
		if err != nil || id == "" {
			return nil, fmt.Errorf("reading an outcome: %q", s)
		}
		o.Approved, o.PaymentID, o.Balance = true, id, n
		return o, nil
	case outcomeDecline:
		if d := Decline(rest); d.Valid() {
			o.Decline = d
			return o, nil
		}
	}
	return nil, fmt.Errorf("reading an outcome: %q", s)
}
