package bff

import (
	"context"
	"os"
	"testing"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/tokens"
)

// BenchmarkRedisMemory reports what one account and one live code cost in
// Redis (MEMORY USAGE, real Redis only). Each account signs up through
// HTTP (account, device, passkey, counter, recovery codes, one session)
// and then makes three movements at a terminal (a top-up and two
// payments: wallet and three ledger entries). B/account sums every key of
// the account's slot that the account owns for good, in the current and
// the old (pre issue 12) forms: a form that is not there costs nothing.
// Per-payment records (pay:, idempotency outcomes, settlement entries),
// the events stream (an hour after the last event) and the issuance
// limits (a minute) are not the account's. B/livecode is a live code's
// record and the live pointer; B/usedcode the record a used code leaves
// for ten minutes. Run with
// PAYCODE_TEST_REDIS=redis://127.0.0.1:6379/0 go test -run '^$' -bench RedisMemory ./bff
func BenchmarkRedisMemory(b *testing.B) {
	if os.Getenv("PAYCODE_TEST_REDIS") == "" {
		b.Skip("MEMORY USAGE needs real Redis: set PAYCODE_TEST_REDIS")
	}
	ctx := context.Background()
	var account, code, used float64
	var e *env
	var term *terminal
	usage := func(keys ...string) float64 {
		var sum float64
		for _, key := range keys {
			n, err := e.st.Client().MemoryUsage(ctx, key).Result()
			if err == nil {
				sum += float64(n)
			}
		}
		return sum
	}
	for i := range b.N {
		if i%8 == 0 {
			e = newEnv(b, nil) // a fresh prefix: sign-ups are rate limited per client IP
			term = e.registerTerminal("store-1")
		}
		d := e.newDevice()
		d.signup("mem" + string(rune('a'+i%26)) + randomSuffix(b) + "@example.com")
		bucket, _ := store.BucketOf(d.account)
		k := e.st.Keys()
		mustStatus(b, "top-up", term.topup(d.code(), 10000), 201)
		mustStatus(b, "payment", term.pay(d.code(), 100), 201)
		spent := d.code()
		mustStatus(b, "payment", term.pay(spent, 100), 201)
		parsed, err := tokens.ParseCode(spent, e.s.cfg.CodePrefix)
		if err != nil {
			b.Fatal(err)
		}
		spentName := parsed.KeyedName(e.s.cfg.Secret)
		sid := ""
		if _, s, ok := parseRefresh(d.refresh); ok {
			sid = s
		}
		keys := memoryAccountKeys(k, bucket, d.account, sid)
		if i == 0 { // the breakdown, with -v
			for _, key := range keys {
				if n := usage(key); n > 0 {
					b.Logf("%6.0f B  %s", n, key)
				}
			}
		}
		account += usage(keys...)
		mustStatus(b, "code", d.newCode(), 201)
		name, err := e.st.LiveCodeName(ctx, d.account)
		if err != nil {
			b.Fatal(err)
		}
		code += usage(k.Code(bucket, name), k.LiveCode(bucket, d.account))
		used += usage(k.Code(bucket, spentName))
	}
	b.ReportMetric(account/float64(b.N), "B/account")
	b.ReportMetric(code/float64(b.N), "B/livecode")
	b.ReportMetric(used/float64(b.N), "B/usedcode")
}

// memoryAccountKeys is every key an account keeps for good (and its one
// session), in today's and the old forms.
func memoryAccountKeys(k store.Keys, b store.Bucket, acct, sid string) []string {
	return []string{k.Account(b, acct), k.Passkey(b, acct), k.Devices(b, acct), k.Credentials(b, acct), k.Counters(b, acct), k.Recovery(b, acct),
		k.Sessions(b, acct), k.Session(b, sid), k.Wallet(b, acct), k.Ledger(b, acct), k.LedgerStream(b, acct)}
}

func randomSuffix(tb testing.TB) string {
	id, err := store.RandomID()
	if err != nil {
		tb.Fatal(err)
	}
	return id[:8]
}
