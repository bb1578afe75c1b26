package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The sales log: every approved payment, top-up and refund of a store,
// indexed in the store's own slot ({st:<store_id>}), for the store's
// systems (the terminal's list of today's sales, the operator's list of a
// store's payments, merchant webhooks and support tools).
//
// The money scripts run on the account's slot, so the log is a second
// write. Move issues it concurrently with the money script (an intent
// naming the id the movement will get), so an approved payment is answered
// after one round trip's latency, and answers 201 only once both are
// written: a payment answered approved is never missing from the log. An
// intent whose movement was declined (or never ran) names a record that
// does not exist: readers resolve each id against its record (the truth,
// in the account's slot) and skip it, so the log never shows a movement
// that did not happen, and prune such an intent once it is older than
// orphanAge. The log holds ids only; what a reader returns is read from
// the payment and refund records, so a refund shows on its payment's
// refunded amount at once.

// orphanAge is how old an intent without its record must be before a
// reader removes it from the log: far beyond any script's run, so a
// movement in flight is never taken for an orphan.
const orphanAge = time.Minute

// SaleRef is one entry of a store's sales log: the movement's id (pay_ or
// rfd_), when it was made, and where.
type SaleRef struct {
	StoreID    string
	TerminalID string
	Kind       Kind
	ID         string
	At         time.Time
}

// Sale is an entry of the sales log as a reader sees it, read from the
// movement's record.
type Sale struct {
	// ID is the payment's, top-up's or refund's id.
	ID   string
	Kind Kind
	// PaymentID is the payment a refund refunds (for payments and top-ups,
	// the ID itself).
	PaymentID  string
	StoreID    string
	TerminalID string
	AccountID  string
	Amount     int64 // positive, minor units
	// Refunded is what has been refunded of a payment so far (payments
	// only).
	Refunded  int64
	Currency  string
	OrderRef  string
	CreatedAt time.Time
}

// appendSale adds an entry (saleMember) to the store's log and, for a
// payment or a top-up, to its terminal's part, in one step on the store's
// slot: writing an entry twice (a retried request) changes nothing.
var appendSale = redis.NewScript(`
redis.call('ZADD', KEYS[1], 0, ARGV[1])
if KEYS[2] then redis.call('ZADD', KEYS[2], 0, ARGV[1]) end
return 1
`)

// AppendSale writes r to the store's sales log; writing it again changes
// nothing. It is durable as the money scripts are (WAIT when
// PAYCODE_REDIS_WAIT_REPLICAS is set). Errors: ErrUnavailable (wrapped),
// ErrUnconfirmed (wrapped: written, but not acknowledged by the replicas).
// Move calls it for every movement; it is exported for tools that repair a
// log.
func (s *Store) AppendSale(ctx context.Context, r SaleRef) error {
	keys := []string{s.keys.Sales(r.StoreID)}
	if r.Kind != KindRefund && r.TerminalID != "" {
		keys = append(keys, s.keys.TerminalSales(r.StoreID, r.TerminalID))
	}
	if _, err := s.evalDurable(ctx, appendSale, keys, saleMember(r.At, r.ID)); err != nil {
		return fmt.Errorf("logging a sale: %w", err)
	}
	return nil
}

// logReplayed makes sure the movement a replayed approval names is in the
// log (its first answer may have been lost before the log was written), at
// the time its record says.
func (s *Store) logReplayed(ctx context.Context, b Bucket, m *Movement, id string) error {
	key := s.keys.Payment(b, id)
	if m.Kind == KindRefund {
		key = s.keys.Refund(b, id)
	}
	at, err := s.rdb.HGet(ctx, key, "created_at").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return wrap("reading a replayed movement", err)
	}
	ref := SaleRef{StoreID: m.StoreID, TerminalID: m.TerminalID, Kind: m.Kind, ID: id, At: m.Now}
	if t := millis(at); !t.IsZero() {
		ref.At = t
	}
	return s.AppendSale(ctx, ref)
}

// SalesQuery selects a page of a store's sales log.
type SalesQuery struct {
	StoreID string
	// TerminalID narrows the log to one terminal's payments and top-ups
	// (its refunds are in the store's log only).
	TerminalID string
	// From and To bound the sales' times: From <= t < To. Zero means
	// unbounded.
	From, To time.Time
	// Cursor is SalesPage.Next of the page before ("" for the first).
	Cursor string
	// Limit is the page's size, 1 to MaxSalesPage.
	Limit int
	// Oldest lists oldest first (a consumer following the log); the
	// default is newest first (a person looking at it).
	Oldest bool
	// Now is the reader's clock, to tell an intent that never became a
	// movement (older than orphanAge) from one in flight; zero: no pruning.
	Now time.Time
}

// MaxSalesPage is the largest page Sales returns.
const MaxSalesPage = 200

// SalesPage is a page of a store's sales log.
type SalesPage struct {
	Sales []Sale
	// Next is the cursor of the next page; "" when this one is the last.
	Next string
}

// ErrBadCursor: a cursor that Sales did not write.
var ErrBadCursor = errors.New("malformed cursor")

// A log entry is the member "<ms>:<id>" (ms zero-padded to 13 digits, all
// scores 0), so the set's lexical order is time order with the id breaking
// ties, an entry written twice is one member (a movement's time is fixed
// by its record), and a cursor is the last member returned.
func saleMember(at time.Time, id string) string { return fmt.Sprintf("%013d:%s", at.UnixMilli(), id) }

// parseSaleMember reads a log entry or a cursor.
func parseSaleMember(m string) (ms int64, id string, ok bool) {
	t, id, found := strings.Cut(m, ":")
	n, err := strconv.ParseInt(t, 10, 64)
	if !found || len(t) != 13 || err != nil || n < 0 || len(id) != 32 ||
		(!strings.HasPrefix(id, "pay_") && !strings.HasPrefix(id, "rfd_")) {
		return 0, "", false
	}
	return n, id, true
}

// Sales reads a page of a store's sales log (or of one terminal's part),
// newest first unless q.Oldest, within [q.From, q.To), after q.Cursor.
// Entries whose movement never happened (declined intents) are skipped.
// An entry written late (the retry of a payment whose first answer was
// lost) appears at its movement's time, which may be before a cursor a
// follower already holds: a consumer that must see every entry re-reads a
// short window behind its cursor (the idempotency window bounds how late:
// 24 h, in practice the terminal's retry, seconds). Errors: ErrBadCursor,
// ErrUnavailable (wrapped).
func (s *Store) Sales(ctx context.Context, q SalesQuery) (*SalesPage, error) {
	if q.Limit < 1 || q.Limit > MaxSalesPage {
		return nil, fmt.Errorf("reading sales: limit %d out of 1-%d", q.Limit, MaxSalesPage)
	}
	key := s.keys.Sales(q.StoreID)
	if q.TerminalID != "" {
		key = s.keys.TerminalSales(q.StoreID, q.TerminalID)
	}
	lo, hi := "-", "+"
	if !q.From.IsZero() {
		lo = fmt.Sprintf("[%013d", q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		hi = fmt.Sprintf("(%013d", q.To.UnixMilli())
	}
	if q.Cursor != "" {
		if _, _, ok := parseSaleMember(q.Cursor); !ok {
			return nil, ErrBadCursor
		}
		// The cursor narrows the range (a cursor outside it, from another
		// query, cannot widen it).
		if q.Oldest && (lo == "-" || q.Cursor >= lo[1:]) {
			lo = "(" + q.Cursor
		} else if !q.Oldest && (hi == "+" || q.Cursor < hi[1:]) {
			hi = "(" + q.Cursor
		}
	}
	page := &SalesPage{}
	batch := int64(q.Limit) + 1
	for {
		by := &redis.ZRangeBy{Min: lo, Max: hi, Count: batch}
		cmd := s.rdb.ZRangeByLex
		if !q.Oldest {
			cmd = s.rdb.ZRevRangeByLex
		}
		members, err := cmd(ctx, key, by).Result()
		if err != nil {
			return nil, wrap("reading sales", err)
		}
		sales, err := s.resolveSales(ctx, key, members, q.Now)
		if err != nil {
			return nil, err
		}
		for i, sale := range sales {
			if sale == nil {
				continue
			}
			if len(page.Sales) == q.Limit {
				return page, nil
			}
			page.Sales = append(page.Sales, *sale)
			page.Next = members[i]
		}
		if int64(len(members)) < batch {
			page.Next = ""
			return page, nil
		}
		// Orphans took places in this batch: go on after its last entry.
		if q.Oldest {
			lo = "(" + members[len(members)-1]
		} else {
			hi = "(" + members[len(members)-1]
		}
	}
}

// resolveSales reads the record of each entry, in one pipeline: the
// answer has a Sale for each ref whose movement happened and nil for the
// others. Entries without a record older than orphanAge at now are
// removed from key (best effort: a failure leaves them to the next read).
func (s *Store) resolveSales(ctx context.Context, key string, members []string, now time.Time) ([]*Sale, error) {
	out := make([]*Sale, len(members))
	if len(members) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(members))
	for i, member := range members {
		_, id, ok := parseSaleMember(member)
		if !ok {
			continue // not an entry AppendSale writes: never resolved
		}
		kind, _, _ := strings.Cut(id, "_")
		b, err := BucketOfKind(kind, id)
		if err != nil {
			continue
		}
		if kind == "rfd" {
			cmds[i] = pipe.HGetAll(ctx, s.keys.Refund(b, id))
		} else {
			cmds[i] = pipe.HGetAll(ctx, s.keys.Payment(b, id))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap("reading sales records", err)
	}
	var orphans []any
	for i, member := range members {
		ms, id, _ := parseSaleMember(member)
		var m map[string]string
		if cmds[i] != nil {
			m = cmds[i].Val()
		}
		if len(m) == 0 {
			if !now.IsZero() && now.Sub(time.UnixMilli(ms)) > orphanAge {
				orphans = append(orphans, member)
			}
			continue
		}
		out[i] = saleOf(id, m)
	}
	if len(orphans) > 0 {
		s.rdb.ZRem(ctx, key, orphans...) // best effort (see above)
	}
	return out, nil
}

// saleOf reads a payment or refund record as a Sale.
func saleOf(id string, m map[string]string) *Sale {
	n := func(k string) int64 { v, _ := strconv.ParseInt(m[k], 10, 64); return v }
	sale := &Sale{ID: id, StoreID: m["store"], TerminalID: m["terminal"], AccountID: m["account"], Amount: n("amount"),
		Currency: m["currency"], CreatedAt: millis(m["created_at"])}
	if strings.HasPrefix(id, "rfd_") {
		sale.Kind, sale.PaymentID = KindRefund, m["payment"]
		return sale
	}
	sale.Kind, sale.PaymentID, sale.Refunded, sale.OrderRef = Kind(m["kind"]), id, n("refunded"), m["order_ref"]
	return sale
}
