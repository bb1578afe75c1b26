package moneycheck

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/internal/redistest"
)

// Without faults the workload's every request is approved once, and the
// checker finds nothing; then each kind of damage done to Redis or to the
// history behind its back is found.
func TestCheckerSeesDamage(t *testing.T) {
	node := redistest.StartNode(t, "redis")
	target := Redis{URL: "redis://" + node.Addr}
	p := StartPaycode(t, target, nil)
	w := Setup(t, p, Config{Customers: 2, Terminals: 2, Rate: 40, Codes: 100})
	w.Start()
	w.WaitProgress(t, 0, 0, 40, 20*time.Second)
	w.Stop()
	w.Verify()
	ctx := context.Background()
	st := p.Inspect(t, target)

	rep, err := Check(ctx, w.History(), st)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep.Summary())
	if rep.Lost+rep.Doubled+rep.Wrong+rep.TwoIDs+rep.UnackedApplied != 0 || len(rep.Broken()) != 0 {
		t.Fatalf("a run without faults: %s\n%v", rep.Summary(), rep.Details)
	}
	if rep.Acked != rep.Requests || rep.Movements != rep.Requests {
		t.Fatalf("a run without faults: %d requests, %d acknowledged, %d movements; want all equal", rep.Requests, rep.Acked, rep.Movements)
	}
	if rep.VerifyAnswers["201"] != rep.Acked {
		t.Fatalf("verification answers %v; want %d × 201", rep.VerifyAnswers, rep.Acked)
	}

	// Pick an acknowledged payment and its account.
	var pay *Request
	for _, r := range w.History().Requests() {
		if r.Kind == kindPayment && r.acked() {
			pay = r
			break
		}
	}
	if pay == nil {
		t.Fatal("no payment was acknowledged")
	}
	f, _ := pay.final()
	var acct Account
	for _, a := range w.History().Accounts() {
		if a.ID == pay.Account {
			acct = a
		}
	}
	rdb, k := st.Client(), st.Keys()
	entries, _, err := readLedger(ctx, st, acct)
	if err != nil {
		t.Fatal(err)
	}
	var ledgerID string
	for _, e := range entries {
		if e.payment == f.ID && e.kind == kindPayment {
			ledgerID = e.id
		}
	}

	// A second attempt of the payment told another id.
	pay.Attempts = append(pay.Attempts, Attempt{Start: time.Now(), Status: 201, ID: "pay_0000aaaaaaaaaaaaaaaaaaaaaaaa", Verify: true})
	// The ledger entry of the payment vanishes (a failover lost it) and
	// the balance drifts.
	raw, err := rdb.LRange(ctx, k.Ledger(acct.Bucket, acct.ID), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range raw {
		if strings.HasPrefix(r, ledgerID+" ") {
			if err := rdb.LRem(ctx, k.Ledger(acct.Bucket, acct.ID), 1, r).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := rdb.HIncrBy(ctx, k.Wallet(acct.Bucket, acct.ID), "balance", 1).Err(); err != nil {
		t.Fatal(err)
	}
	rep, err = Check(ctx, w.History(), st)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep.Summary())
	if rep.Lost != 1 || rep.TwoIDs != 1 || rep.BalanceMismatch == 0 || rep.SettleMismatch == 0 || rep.RecordMismatch == 0 {
		t.Errorf("after damage: %s; want lost=1 two_ids=1 and balance, settlement and record mismatches\n%v", rep.Summary(), rep.Details)
	}
	if rep.Doubled != 0 || rep.CodeReused != 0 {
		t.Errorf("after damage: %s; nothing moved twice", rep.Summary())
	}

	// The payment recorded twice in the ledger (the deleted entry was
	// one): its code redeemed twice, the request's money moved twice.
	for i := range 2 {
		// A ledger entry in the list's form (store/ledger.go).
		entry := fmt.Sprintf("%d-%d p %d 0 %d JPY %s - store-1", time.Now().UnixMilli(), 100+i, -pay.Amount, time.Now().UnixMilli(), f.ID)
		if err := rdb.RPush(ctx, k.Ledger(acct.Bucket, acct.ID), entry).Err(); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = Check(ctx, w.History(), st)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(rep.Summary())
	if rep.Doubled != 1 || rep.CodeReused != 1 {
		t.Errorf("after a second ledger entry: %s; want doubled=1 code_reused=1\n%v", rep.Summary(), rep.Details)
	}

	// A decline of a valid request, a stale 409, a 500 and a 503 without
	// Retry-After are wrong answers.
	h := w.History()
	for _, a := range []Attempt{{Status: 402, Code: "code_used"}, {Status: 409, Code: "idempotency_in_flight"},
		{Status: 500, Code: "internal"}, {Status: 503, Code: "unavailable"}} {
		a.Start = time.Now()
		h.add(&Request{Phase: PhaseLoad, Kind: kindRefund, Payment: "pay_none", Amount: 1, Key: newKey(), Attempts: []Attempt{a}})
	}
	rep, err = Check(ctx, h, st)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Wrong < 4 || rep.StaleConflicts != 1 || rep.Internal != 1 || rep.NoRetryAfter != 1 {
		t.Errorf("after wrong answers: %s; want wrong≥4 stale_409=1 internal_5xx=1 no_retry_after=1\n%v", rep.Summary(), rep.Details)
	}
	if rep.WrongExceptStale != rep.Wrong-1 {
		t.Errorf("wrong=%d, wrong except stale 409s=%d; want one less", rep.Wrong, rep.WrongExceptStale)
	}
}
