package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The ledger is a list (Keys.Ledger) of compact entries, oldest first,
// appended by the money scripts (ledger_add in moneyLib) and never trimmed:
//
//	<id> <kind> <amount> <balance> <at> <currency> <payment> <refund> <store>
//
// id is "<ms>-<seq>" like a stream id and grows within an account; kind is
// one letter (ledgerKind); amount is signed (debits negative); at is Unix
// ms; refund is "-" for payments and top-ups; store is last, so it may hold
// anything. The terminal and the order reference are not repeated here:
// they are in the payment (or refund) record and the settlement entry the
// entry's payment id leads to. A list of a few entries costs a few hundred
// bytes; the stream it replaces cost ~4.8 KB from its first entry (a
// stream preallocates its node).
//
// Ledgers written before this change are streams (Keys.LedgerStream).
// They are read, never written: every reader returns the stream's entries
// as older than the list's (ledger_add continues the stream's ids), so an
// account keeps one history across the change with no migration.

// ledgerKind is the letter of each movement kind in a ledger entry.
var ledgerKind = map[Kind]string{KindPayment: "p", KindTopup: "t", KindRefund: "r"}

// parseLedgerEntry reads one list entry.
func parseLedgerEntry(s string) (LedgerEntry, error) {
	f := strings.SplitN(s, " ", 9)
	if len(f) != 9 {
		return LedgerEntry{}, fmt.Errorf("reading a ledger entry: %d fields", len(f))
	}
	e := LedgerEntry{ID: f[0], Currency: f[5], Payment: f[6], Store: f[8]}
	for k, l := range ledgerKind {
		if l == f[1] {
			e.Kind = string(k)
		}
	}
	if f[7] != "-" {
		e.Refund = f[7]
	}
	var err1, err2 error
	e.Amount, err1 = strconv.ParseInt(f[2], 10, 64)
	e.Balance, err2 = strconv.ParseInt(f[3], 10, 64)
	e.At = millis(f[4])
	if e.Kind == "" || err1 != nil || err2 != nil {
		return LedgerEntry{}, fmt.Errorf("reading a ledger entry %s: malformed", f[0])
	}
	return e, nil
}

// ledgerEntry reads one entry of an old ledger stream.
func ledgerEntry(x redis.XMessage) LedgerEntry {
	str := func(k string) string { v, _ := x.Values[k].(string); return v }
	e := LedgerEntry{ID: x.ID, Kind: str("kind"), Payment: str("payment"), Refund: str("refund"), Store: str("store"),
		Currency: str("currency"), At: millis(str("at"))}
	e.Amount, _ = strconv.ParseInt(str("amount"), 10, 64)
	e.Balance, _ = strconv.ParseInt(str("balance"), 10, 64)
	return e
}

// ledgerPage returns up to ARGV[2] entries, newest first, older than the
// id ARGV[1] ("" for the newest; a negative count for all of them): first
// from the list KEYS[1] (a binary search finds the cursor: the list is in
// id order), then, when the list ran out, from the old stream KEYS[2]. It
// answers {list entries, stream entries}.
var ledgerPage = redis.NewScript(`
local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
local n = tonumber(ARGV[2])
local len = redis.call('LLEN', KEYS[1])
local hi = len
if ARGV[1] ~= '' then
  local lo = 0
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local id = string.match(redis.call('LINDEX', KEYS[1], mid), '^(%S+)')
    if before(id, ARGV[1]) then lo = mid + 1 else hi = mid end
  end
end
local out = {}
if hi > 0 then
  local from = 0
  if n >= 0 then from = math.max(0, hi - n) end
  local got = redis.call('LRANGE', KEYS[1], from, hi - 1)
  for i = #got, 1, -1 do table.insert(out, got[i]) end
end
local old = {}
if (n < 0 or #out < n) and redis.call('EXISTS', KEYS[2]) == 1 then
  local stop = '+'
  if ARGV[1] ~= '' then stop = '(' .. ARGV[1] end
  if n < 0 then old = redis.call('XREVRANGE', KEYS[2], stop, '-')
  else old = redis.call('XREVRANGE', KEYS[2], stop, '-', 'COUNT', n - #out) end
end
return {out, old}
`)

// ledger reads up to n entries (n < 0: all), newest first, older than the
// entry id before ("": from the newest), from both forms of the ledger.
func (s *Store) ledger(ctx context.Context, b Bucket, accountID, before string, n int64) *redis.Cmd {
	return ledgerPage.Run(ctx, s.rdb, []string{s.keys.Ledger(b, accountID), s.keys.LedgerStream(b, accountID)}, before, n)
}

// ledgerIn queues the same read in a pipeline (EVAL: a pipeline cannot
// fall back from EVALSHA).
func (s *Store) ledgerIn(ctx context.Context, pipe redis.Pipeliner, b Bucket, accountID, before string, n int64) *redis.Cmd {
	return ledgerPage.Eval(ctx, pipe, []string{s.keys.Ledger(b, accountID), s.keys.LedgerStream(b, accountID)}, before, n)
}

// readLedger decodes ledgerPage's answer.
func readLedger(res any) ([]LedgerEntry, error) {
	parts, ok := res.([]any)
	if !ok || len(parts) != 2 {
		return nil, fmt.Errorf("reading a ledger: unexpected answer %T", res)
	}
	list, _ := parts[0].([]any)
	old, _ := parts[1].([]any)
	out := make([]LedgerEntry, 0, len(list)+len(old))
	for _, v := range list {
		str, _ := v.(string)
		e, err := parseLedgerEntry(str)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	for _, v := range old {
		x, ok := v.([]any)
		if !ok || len(x) != 2 {
			return nil, fmt.Errorf("reading a ledger: unexpected stream entry %v", v)
		}
		id, _ := x[0].(string)
		kv, _ := x[1].([]any)
		m := redis.XMessage{ID: id, Values: map[string]any{}}
		for i := 0; i+1 < len(kv); i += 2 {
			k, _ := kv[i].(string)
			m.Values[k] = kv[i+1]
		}
		out = append(out, ledgerEntry(m))
	}
	return out, nil
}

// LedgerDetails fills in each entry's terminal and order reference from
// its movement's record (one pipeline for the page), which the compact
// ledger does not repeat. The operator's support view needs them; the
// shopper's history does not.
func (s *Store) LedgerDetails(ctx context.Context, entries []LedgerEntry) error {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(entries))
	for i, e := range entries {
		b, err := BucketOfKind("pay", e.Payment)
		if err != nil {
			continue
		}
		if e.Refund != "" {
			cmds[i] = pipe.HMGet(ctx, s.keys.Refund(b, e.Refund), "terminal", "order_ref")
		} else {
			cmds[i] = pipe.HMGet(ctx, s.keys.Payment(b, e.Payment), "terminal", "order_ref")
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return wrap("reading a ledger's movements", err)
	}
	for i, cmd := range cmds {
		if cmd == nil {
			continue
		}
		v := cmd.Val()
		if t, ok := v[0].(string); ok && entries[i].Terminal == "" {
			entries[i].Terminal = t
		}
		if r, ok := v[1].(string); ok && entries[i].OrderRef == "" {
			entries[i].OrderRef = r
		}
	}
	return nil
}
