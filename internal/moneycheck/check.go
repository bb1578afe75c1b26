package moneycheck

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paycode/paycode/store"
)

// StaleConflictAfter is how long after the last fault healed a 409
// (idempotency key in flight) may still be answered: by then every request
// that was running during the fault has ended, so a 409 is a lock that
// outlived its request.
const StaleConflictAfter = 3 * time.Second

// Report is what the checker found.
type Report struct {
	// Requests, of which Acked were answered 201, Declined got another
	// definitive answer, and Unresolved got none before their deadline
	// (all before verification). Movements is the ledger entries of the
	// workload's accounts.
	Requests, Acked, Declined, Unresolved, Movements int

	// Lost, Doubled, Wrong, TwoIDs, UnackedApplied count requests (see the
	// package documentation).
	Lost, Doubled, Wrong, TwoIDs, UnackedApplied int
	// AckedInFault requests were answered 201 by an attempt under way
	// while a fault was active; LostInFault of them are lost.
	AckedInFault, LostInFault int

	// Invariants that no fault may break: codes redeemed more than once,
	// accounts whose balance is not the sum of their ledger (or whose
	// ledger's running balance skips), accounts whose ledger and
	// settlement entries differ, payment/refund/code records that
	// contradict the ledger, movements no request explains.
	CodeReused, BalanceMismatch, SettleMismatch, RecordMismatch, Orphans int

	// Wrong answers by kind (attempts): 409 after the faults healed, 5xx
	// other than 503, 503 without Retry-After.
	StaleConflicts, Internal, NoRetryAfter int
	// WrongExceptStale counts the Wrong requests that were told something
	// wrong other than a stale 409 (so that a fix of replication can be
	// judged apart from a fix of idempotency locks).
	WrongExceptStale int

	// Answers counts every attempt's answer ("201", "503 unavailable",
	// "no answer"), before verification; VerifyAnswers those of
	// verification.
	Answers, VerifyAnswers map[string]int
	// FaultAttempts are the attempts under way while a fault was active.
	FaultAttempts []Attempt

	// Details explain the counts, a few examples per kind.
	Details []string
	shown   map[string]int
}

// Summary is the one line tests print.
func (r *Report) Summary() string {
	return fmt.Sprintf("lost=%d doubled=%d wrong=%d two_ids=%d unacked_applied=%d | requests=%d acked=%d declined=%d unresolved=%d movements=%d"+
		" acked_in_fault=%d lost_in_fault=%d"+
		" | code_reused=%d balance_mismatch=%d settle_mismatch=%d record_mismatch=%d orphans=%d | stale_409=%d internal_5xx=%d no_retry_after=%d",
		r.Lost, r.Doubled, r.Wrong, r.TwoIDs, r.UnackedApplied, r.Requests, r.Acked, r.Declined, r.Unresolved, r.Movements,
		r.AckedInFault, r.LostInFault,
		r.CodeReused, r.BalanceMismatch, r.SettleMismatch, r.RecordMismatch, r.Orphans, r.StaleConflicts, r.Internal, r.NoRetryAfter)
}

// Broken lists the invariants that no fault may break and that the run
// broke (empty: all hold).
func (r *Report) Broken() []string {
	var out []string
	for _, c := range []struct {
		name string
		n    int
	}{{"code redeemed twice", r.CodeReused}, {"balance != ledger", r.BalanceMismatch}, {"ledger != settlement", r.SettleMismatch},
		{"records contradict the ledger", r.RecordMismatch}, {"movements no request explains", r.Orphans}} {
		if c.n > 0 {
			out = append(out, fmt.Sprintf("%s: %d", c.name, c.n))
		}
	}
	return out
}

// AnswerTable is Answers (and VerifyAnswers) as one sorted line each.
func (r *Report) AnswerTable() string {
	line := func(m map[string]int) string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%q=%d", k, m[k])
		}
		return strings.Join(parts, " ")
	}
	return "answers: " + line(r.Answers) + "\nverification answers: " + line(r.VerifyAnswers)
}

// detailsPerKind bounds the examples kept per kind of finding.
const detailsPerKind = 8

func (r *Report) note(kind, format string, args ...any) {
	if r.shown == nil {
		r.shown = map[string]int{}
	}
	r.shown[kind]++
	if r.shown[kind] <= detailsPerKind {
		r.Details = append(r.Details, kind+": "+fmt.Sprintf(format, args...))
	}
}

type ledgerEntry struct {
	id, kind, payment, refund string
	amount, balance           int64
}

type movement struct {
	id      string // payment id (payments, top-ups) or refund id
	ledger  string
	account string
	amount  int64
}

// Check compares the history with what Redis holds under st's keys. Call
// it after the workload stopped, the faults were healed, and Redis has
// settled (a failover finished); st must reach the topology directly.
func Check(ctx context.Context, h *History, st *store.Store) (*Report, error) {
	rdb, k := st.Client(), st.Keys()
	reqs := h.Requests()
	rep := &Report{Requests: len(reqs), Answers: map[string]int{}, VerifyAnswers: map[string]int{}}

	byCode := map[string]*Request{}   // code id (16 characters of its keyed name) → request
	refundOf := map[string]*Request{} // payment id → its refund request
	for _, r := range reqs {
		if r.CodeName != "" {
			byCode[store.CodeID(r.CodeName)] = r
		}
		if r.Kind == kindRefund {
			refundOf[r.Payment] = r
		}
	}

	// Ledgers and balances.
	accounts := h.Accounts()
	ledgers := map[string][]ledgerEntry{}
	buckets := map[store.Bucket]bool{}
	for _, a := range accounts {
		buckets[a.Bucket] = true
		entries, balance, err := readLedger(ctx, st, a)
		if err != nil {
			return nil, err
		}
		ledgers[a.ID] = entries
		rep.Movements += len(entries)
		var sum int64
		for _, e := range entries {
			sum += e.amount
			if e.balance != sum {
				rep.BalanceMismatch++
				rep.note("balance", "account %s: ledger entry %s says balance %d, the entries before it sum to %d", a.ID, e.id, e.balance, sum)
				break
			}
		}
		if balance != sum {
			rep.BalanceMismatch++
			rep.note("balance", "account %s: balance %d, ledger sums to %d", a.ID, balance, sum)
		}
	}

	// Settlement streams.
	// Stream ids are times, so two ledgers can have the same entry id:
	// settlement entries are keyed by account and ledger id.
	settled := map[string]map[string]string{}
	accountSet := map[string]bool{}
	for _, a := range accounts {
		accountSet[a.ID] = true
	}
	for b := range buckets {
		msgs, err := rdb.XRange(ctx, k.Settlement(b), "-", "+").Result()
		if err != nil {
			return nil, fmt.Errorf("reading settlement %s: %w", b, err)
		}
		for _, m := range msgs {
			f := fields(m)
			if accountSet[f["account"]] {
				settled[f["account"]+"/"+f["ledger"]] = f
			}
		}
	}
	seen := map[string]bool{}
	for _, a := range accounts {
		bad := false
		for _, e := range ledgers[a.ID] {
			seen[a.ID+"/"+e.id] = true
			s, ok := settled[a.ID+"/"+e.id]
			if !ok || s["account"] != a.ID || s["kind"] != e.kind || s["amount"] != strconv.FormatInt(e.amount, 10) {
				bad = true
				rep.note("settlement", "account %s: ledger entry %s (%s %d) has settlement %v", a.ID, e.id, e.kind, e.amount, s)
			}
		}
		if bad {
			rep.SettleMismatch++
		}
	}
	for id := range settled {
		if !seen[id] {
			rep.SettleMismatch++
			rep.note("settlement", "settlement entry %s has no ledger entry", id)
		}
	}

	// Movements → requests, and the records they wrote.
	moves := map[*Request][]movement{}
	codeUses := map[string]int{}
	refunded := map[string]int64{}
	payRecs := map[string]map[string]string{}
	for _, a := range accounts {
		for _, e := range ledgers[a.ID] {
			mv := movement{ledger: e.id, account: a.ID, amount: e.amount}
			switch e.kind {
			case kindPayment, kindTopup:
				mv.id = e.payment
				rec, err := readHash(ctx, rdb, k.Payment(a.Bucket, e.payment))
				if err != nil {
					return nil, err
				}
				payRecs[e.payment] = rec
				if len(rec) == 0 {
					rep.RecordMismatch++
					rep.note("records", "ledger entry %s: payment %s has no record", e.id, e.payment)
					rep.Orphans++
					continue
				}
				if rec["ledger"] != e.id || rec["kind"] != e.kind || rec["account"] != a.ID || abs(e.amount) != atoi(rec["amount"]) {
					rep.RecordMismatch++
					rep.note("records", "payment %s: record %v does not match ledger entry %s (%s %d)", e.payment, rec, e.id, e.kind, e.amount)
				}
				code := rec["code"]
				codeUses[code]++
				if codeUses[code] == 2 {
					rep.CodeReused++
					rep.note("code reused", "code %s… redeemed again by %s", code[:min(8, len(code))], e.payment)
				}
				r := byCode[code]
				if r == nil {
					rep.Orphans++
					rep.note("orphan", "%s %s (ledger %s) used a code no request sent", e.kind, e.payment, e.id)
					continue
				}
				moves[r] = append(moves[r], mv)
			case kindRefund:
				mv.id = e.refund
				refunded[e.payment] += e.amount
				rec, err := readHash(ctx, rdb, k.Refund(a.Bucket, e.refund))
				if err != nil {
					return nil, err
				}
				if rec["ledger"] != e.id || rec["payment"] != e.payment || atoi(rec["amount"]) != e.amount {
					rep.RecordMismatch++
					rep.note("records", "refund %s: record %v does not match ledger entry %s", e.refund, rec, e.id)
				}
				r := refundOf[e.payment]
				if r == nil {
					rep.Orphans++
					rep.note("orphan", "refund %s of %s (ledger %s) that no request asked for", e.refund, e.payment, e.id)
					continue
				}
				moves[r] = append(moves[r], mv)
			default:
				rep.Orphans++
				rep.note("orphan", "ledger entry %s of unknown kind %q", e.id, e.kind)
			}
		}
	}
	for id, rec := range payRecs {
		if len(rec) == 0 || rec["kind"] != kindPayment {
			continue
		}
		if got := atoi(rec["refunded"]); got != refunded[id] || got > atoi(rec["amount"]) {
			rep.RecordMismatch++
			rep.note("records", "payment %s of %s: record says %s refunded, the ledger %d", id, rec["amount"], rec["refunded"], refunded[id])
		}
	}
	for _, r := range reqs {
		if r.CodeName == "" {
			continue
		}
		b, err := store.BucketOf(r.Account)
		if err != nil {
			return nil, err
		}
		rec, err := readHash(ctx, rdb, k.Code(b, r.CodeName))
		if err != nil {
			return nil, err
		}
		ms := moves[r]
		used := rec["status"] == "used"
		switch {
		case len(rec) == 0:
			rep.RecordMismatch++
			rep.note("records", "request %d: its code's record is gone", r.Seq)
		case used && !hasID(ms, rec["payment"]):
			rep.RecordMismatch++
			rep.note("records", "request %d: code used by %s, which has no ledger entry", r.Seq, rec["payment"])
		case !used && len(ms) > 0:
			rep.RecordMismatch++
			rep.note("records", "request %d: code %s although %s moved the money", r.Seq, rec["status"], ms[0].id)
		}
	}

	// Requests: what each client was told against what moved.
	var healed time.Time
	faults := h.Faults()
	for _, f := range faults {
		end := f.End
		if end.IsZero() {
			end = time.Now()
		}
		if end.After(healed) {
			healed = end
		}
	}
	for _, r := range reqs {
		ms := moves[r]
		final, answered := r.final()
		switch {
		case r.acked():
			rep.Acked++
		case answered && final.Definitive():
			rep.Declined++
		default:
			rep.Unresolved++
		}
		told := map[string]bool{}
		var toldOrder []string
		ackedInFault := false
		for _, a := range r.Attempts {
			if a.Status == 201 && !a.Verify && inFault(a, faults) {
				ackedInFault = true
			}
			if a.Verify {
				rep.VerifyAnswers[a.Answer()]++
			} else {
				rep.Answers[a.Answer()]++
			}
			if inFault(a, faults) && !a.Verify {
				rep.FaultAttempts = append(rep.FaultAttempts, a)
			}
			if a.Status == 201 && !told[a.ID] {
				told[a.ID] = true
				toldOrder = append(toldOrder, a.ID)
			}
		}
		if ackedInFault {
			rep.AckedInFault++
		}
		for _, id := range toldOrder {
			if !hasID(ms, id) {
				rep.Lost++
				if ackedInFault {
					rep.LostInFault++
				}
				rep.note("lost", "request %d (%s %d at %s): answered 201 %s, which Redis does not hold (%s)", r.Seq, r.Kind, r.Amount, r.Terminal, id, r.story())
				break
			}
		}
		if len(toldOrder) > 1 {
			rep.TwoIDs++
			rep.note("two ids", "request %d (%s): one key answered %s", r.Seq, r.Kind, strings.Join(toldOrder, " and "))
		}
		if len(ms) > 1 {
			rep.Doubled++
			rep.note("doubled", "request %d (%s %d): moved %d times: %v", r.Seq, r.Kind, r.Amount, len(ms), ms)
		}
		if !r.acked() && len(ms) > 0 && (!answered || !final.Definitive()) {
			rep.UnackedApplied++
			rep.note("unacked applied", "request %d (%s %d): moved as %s; the client was last told %s", r.Seq, r.Kind, r.Amount, ms[0].id, final.Answer())
		}

		var why []string
		if answered && final.Definitive() && final.Status != 201 {
			if len(ms) > 0 {
				why = append(why, "told "+final.Answer()+" although the money moved")
			} else {
				why = append(why, "told "+final.Answer()+" for a valid request")
			}
		}
		for _, a := range r.Attempts {
			switch {
			case a.Verify && a.Definitive() && a.Status != 201:
				why = append(why, "verification told "+a.Answer())
			case a.Status == 409 && a.End().After(healed.Add(StaleConflictAfter)):
				rep.StaleConflicts++
				why = append(why, fmt.Sprintf("409 %v after the faults healed", a.End().Sub(healed).Round(100*time.Millisecond)))
			case a.Status >= 500 && a.Status != 503:
				rep.Internal++
				why = append(why, "answered "+a.Answer())
			case a.Status == 503 && a.RetryAfter == "":
				rep.NoRetryAfter++
				why = append(why, "503 without Retry-After")
			}
		}
		if len(why) > 0 {
			rep.Wrong++
			if len(withoutStale(why)) > 0 {
				rep.WrongExceptStale++
			}
			rep.note("wrong", "request %d (%s %d): %s", r.Seq, r.Kind, r.Amount, strings.Join(dedupe(why), "; "))
		}
	}
	return rep, nil
}

// story is a request's attempts in short: "503 unavailable, 201 pay_… (replayed)".
func (r *Request) story() string {
	parts := make([]string, 0, len(r.Attempts))
	for _, a := range r.Attempts {
		s := a.Answer()
		if a.ID != "" {
			s += " " + a.ID
		}
		if a.Replayed {
			s += " (replayed)"
		}
		if a.Verify {
			s = "verify: " + s
		}
		parts = append(parts, s)
	}
	if len(parts) > 6 {
		parts = append(parts[:3], fmt.Sprintf("… %d more …", len(parts)-5), parts[len(parts)-2], parts[len(parts)-1])
	}
	return strings.Join(parts, ", ")
}

func readLedger(ctx context.Context, st *store.Store, a Account) ([]ledgerEntry, int64, error) {
	bal, err := st.Client().HGet(ctx, st.Keys().Wallet(a.Bucket, a.ID), "balance").Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, fmt.Errorf("reading the balance of %s: %w", a.ID, err)
	}
	entries, err := st.Ledger(ctx, a.ID)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the ledger of %s: %w", a.ID, err)
	}
	out := make([]ledgerEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, ledgerEntry{id: e.ID, kind: e.Kind, payment: e.Payment, refund: e.Refund,
			amount: e.Amount, balance: e.Balance})
	}
	return out, bal, nil
}

func readHash(ctx context.Context, rdb redis.UniversalClient, key string) (map[string]string, error) {
	m, err := rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("reading a record: %w", err)
	}
	return m, nil
}

func fields(m redis.XMessage) map[string]string {
	out := make(map[string]string, len(m.Values))
	for k, v := range m.Values {
		s, _ := v.(string)
		out[k] = s
	}
	return out
}

func hasID(ms []movement, id string) bool {
	for _, m := range ms {
		if m.id == id {
			return true
		}
	}
	return false
}

// inFault reports whether the attempt was under way while a fault was
// active.
func inFault(a Attempt, faults []Window) bool {
	for _, f := range faults {
		if a.End().After(f.Start) && (f.End.IsZero() || a.Start.Before(f.End)) {
			return true
		}
	}
	return false
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// withoutStale drops the stale-409 reasons.
func withoutStale(why []string) []string {
	var out []string
	for _, w := range why {
		if !strings.HasPrefix(w, "409 ") {
			out = append(out, w)
		}
	}
	return out
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
