package bff

import (
	"context"
	"os"
	"testing"

	"github.com/paycode/paycode/store"
)

// BenchmarkRedisMemory reports what one account and one live code cost in
// Redis (MEMORY USAGE, real Redis only): sign-up through HTTP, then the
// sum over every key of the account's slot that the account owns, and over
// the code's record and live pointer. Run with
// PAYCODE_TEST_REDIS=redis://127.0.0.1:6379/0 go test -run '^$' -bench RedisMemory ./bff
func BenchmarkRedisMemory(b *testing.B) {
	if os.Getenv("PAYCODE_TEST_REDIS") == "" {
		b.Skip("MEMORY USAGE needs real Redis: set PAYCODE_TEST_REDIS")
	}
	ctx := context.Background()
	var account, code float64
	var e *env
	for i := range b.N {
		if i%8 == 0 {
			e = newEnv(b, nil) // a fresh prefix: sign-ups are rate limited per client IP
		}
		d := e.newDevice()
		d.signup("mem" + string(rune('a'+i%26)) + randomSuffix(b) + "@example.com")
		bucket, _ := store.BucketOf(d.account)
		k := e.st.Keys()
		sid := ""
		if _, s, ok := parseRefresh(d.refresh); ok {
			sid = s
		}
		for _, key := range []string{k.Account(bucket, d.account), k.Devices(bucket, d.account), k.Credentials(bucket, d.account),
			k.Counters(bucket, d.account), k.Recovery(bucket, d.account), k.Sessions(bucket, d.account), k.Session(bucket, sid)} {
			n, _ := e.st.Client().MemoryUsage(ctx, key).Result()
			account += float64(n)
		}
		mustStatus(b, "code", d.newCode(), 201)
		name, err := e.st.LiveCodeName(ctx, d.account)
		if err != nil {
			b.Fatal(err)
		}
		for _, key := range []string{k.Code(bucket, name), k.LiveCode(bucket, d.account)} {
			n, _ := e.st.Client().MemoryUsage(ctx, key).Result()
			code += float64(n)
		}
	}
	b.ReportMetric(account/float64(b.N), "B/account")
	b.ReportMetric(code/float64(b.N), "B/livecode")
}

func randomSuffix(tb testing.TB) string {
	id, err := store.RandomID()
	if err != nil {
		tb.Fatal(err)
	}
	return id[:8]
}
