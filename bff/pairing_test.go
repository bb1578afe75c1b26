package bff

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
	"github.com/paycode/paycode/tokens"
)

// pairingKey makes a page's key pair and its public key PEM.
func pairingKey(t *testing.T) (tokens.SigningKey, string) {
	t.Helper()
	key, err := tokens.GenerateSigningKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Private.Public())
	if err != nil {
		t.Fatal(err)
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func (e *env) createPairing(t *testing.T, storeID string) response {
	t.Helper()
	r := enrAdmin(t, e, "POST", "/v1/terminal-pairings", map[string]string{"operator": "ops", "reason": "new tablet",
		"store_id": storeID, "label": "tablet 1"})
	mustStatus(t, "creating a pairing code", r, 201)
	return r
}

// redeemPairing sends the page's redemption from ip.
func (e *env) redeemPairing(body any, ip string) response {
	b, _ := json.Marshal(body)
	req := httptest.NewRequest("POST", "/v1/terminal/pairings", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	if ip != "" { // the env trusts the test's peer as a proxy
		req.Header.Set("X-Forwarded-For", ip)
	}
	return e.send(req)
}

// dumpRedis is every key of the test's prefix with its value, as text.
func dumpRedis(t *testing.T, st *store.Store) string {
	t.Helper()
	ctx := context.Background()
	prefix := strings.TrimSuffix(st.Keys().Switches(), "switches")
	rdb := st.Client()
	var b strings.Builder
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		var v any
		switch rdb.Type(ctx, k).Val() {
		case "string":
			v = rdb.Get(ctx, k).Val()
		case "hash":
			v = rdb.HGetAll(ctx, k).Val()
		case "zset":
			v = rdb.ZRange(ctx, k, 0, -1).Val()
		case "stream":
			v = rdb.XRange(ctx, k, "-", "+").Val()
		case "list":
			v = rdb.LRange(ctx, k, 0, -1).Val()
		case "set":
			v = rdb.SMembers(ctx, k).Val()
		}
		fmt.Fprintf(&b, "%s = %v\n", k, v)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Attack (issue 14): a pairing code used twice, late, for another store,
// or by two pages at once. It registers one terminal of the operator's
// store, once, within its ten minutes; the page can name no store; and the
// code is nowhere in Redis, the audit stream or the log.
func TestPairingCodeOnce(t *testing.T) {
	st := storetest.Open(t)
	clk := &clock{now: time.Now().Truncate(time.Second)}
	s, logs := newTestServerNow(t, st, map[string]string{"PAYCODE_TRUSTED_PROXIES": "0.0.0.0"}, clk.Now)
	e := &env{t: t, s: s, st: st, clock: clk}
	mustStatus(t, "naming the store", enrAdmin(t, e, "PUT", "/v1/stores/store-pair", map[string]string{"operator": "ops",
		"reason": "r", "name_en": "Corner Shop", "name_ja": "角の店"}), 200)

	created := e.createPairing(t, "store-pair")
	code := created.str("pairing_code")
	if !regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`).MatchString(code) ||
		created.str("store_id") != "store-pair" || created.str("label") != "tablet 1" {
		t.Fatalf("the pairing answer: %s", created.raw)
	}
	if exp, _ := time.Parse(time.RFC3339, created.str("expires_at")); !exp.Equal(clk.Now().Add(10 * time.Minute)) {
		t.Errorf("expires_at = %s; want ten minutes from now", created.str("expires_at"))
	}

	key, pub := pairingKey(t)
	// The page cannot choose the store: an unknown member is refused, and
	// the code is not spent by it.
	mustStatus(t, "a redemption naming a store", e.redeemPairing(map[string]string{"pairing_code": code, "public_key_pem": pub,
		"store_id": "store-other"}, ""), 400)
	mustStatus(t, "a redemption with a bad key", e.redeemPairing(map[string]string{"pairing_code": code, "public_key_pem": "nope"}, ""), 400)

	typed := strings.ToLower(strings.ReplaceAll(code, "-", " ")) // as a person might type it
	r := e.redeemPairing(map[string]string{"pairing_code": typed, "public_key_pem": pub}, "")
	mustStatus(t, "redeeming", r, 201)
	if r.str("store_id") != "store-pair" || r.str("label") != "tablet 1" || r.str("store_name") != "Corner Shop" ||
		!strings.HasPrefix(r.str("terminal_id"), "term_") {
		t.Fatalf("the redemption's answer: %s", r.raw)
	}
	term := &terminal{e: e, id: r.str("terminal_id"), store: "store-pair", key: key}
	tok := term.tokenRequest(term.assertion(nil))
	mustStatus(t, "the paired page's token", tok, 200)
	if tok.str("store_name") != "Corner Shop" || tok.str("store_id") != "store-pair" {
		t.Errorf("the token answer: %s", tok.raw)
	}
	term.token = tok.str("access_token")
	d := e.customer("paired@example.com")
	mustStatus(t, "a top-up by the paired page", term.topup(d.code(), 500), 201)

	_, otherPub := pairingKey(t)
	again := e.redeemPairing(map[string]string{"pairing_code": code, "public_key_pem": otherPub}, "")
	if again.status != 400 || again.str("code") != codeInvalidPairingCode {
		t.Errorf("the code's second use: %d %s; want 400 invalid_pairing_code", again.status, again.raw)
	}
	if got, _ := e.st.Terminal(t.Context(), term.id); got.PublicKeyPEM != pub {
		t.Error("the second use replaced the terminal's key")
	}

	late := e.createPairing(t, "store-pair").str("pairing_code")
	clk.Advance(10 * time.Minute)
	r = e.redeemPairing(map[string]string{"pairing_code": late, "public_key_pem": otherPub}, "")
	if r.status != 400 || r.str("code") != codeInvalidPairingCode {
		t.Errorf("an expired code: %d %s; want 400 invalid_pairing_code", r.status, r.raw)
	}
	unknown := e.redeemPairing(map[string]string{"pairing_code": "0000-0000-0000", "public_key_pem": otherPub}, "")
	if unknown.status != 400 || unknown.str("code") != codeInvalidPairingCode || unknown.str("detail") != r.str("detail") {
		t.Errorf("an unknown code: %d %s; want the expired code's answer", unknown.status, unknown.raw)
	}

	// Two pages race with one code: one terminal.
	race := e.createPairing(t, "store-pair").str("pairing_code")
	var wg sync.WaitGroup
	statuses := make([]int, 6)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, p := pairingKey(t)
			statuses[i] = e.redeemPairing(map[string]string{"pairing_code": race, "public_key_pem": p}, fmt.Sprintf("10.0.0.%d", i+1)).status
		}()
	}
	wg.Wait()
	won := 0
	for _, st := range statuses {
		if st == 201 {
			won++
		} else if st != 400 {
			t.Errorf("a racing redemption answered %d", st)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d racing redemptions registered a terminal (%v); want 1", won, len(statuses), statuses)
	}

	events, err := e.st.AuditEvents(t.Context(), 200)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, ev := range events {
		count[ev.Type]++
	}
	if count["terminal_pairing.created"] != 3 || count["terminal_pairing.redeemed"] != 2 || count["terminal_pairing.failed"] < 3 {
		t.Errorf("audited: %v; want 3 created, 2 redeemed, at least 3 failed", count)
	}

	secrets := []string{code, strings.ReplaceAll(code, "-", ""), late, strings.ReplaceAll(late, "-", ""), race, strings.ReplaceAll(race, "-", "")}
	dump, audit := dumpRedis(t, e.st), fmt.Sprint(events)
	for _, c := range secrets {
		for where, text := range map[string]string{"Redis (keys and values)": dump, "the audit stream": audit, "the log": logs.String()} {
			if strings.Contains(strings.ToUpper(text), c) {
				t.Errorf("the pairing code %s is in %s", c, where)
			}
		}
	}
}

// Attack: guessing pairing codes. Attempts are limited per IP before a
// code is looked at (then 429), and another IP still gets its answer.
func TestPairingAttemptsLimited(t *testing.T) {
	e := newEnv(t, map[string]string{"PAYCODE_TRUSTED_PROXIES": "0.0.0.0"})
	_, pub := pairingKey(t)
	for i := range 10 {
		r := e.redeemPairing(map[string]string{"pairing_code": fmt.Sprintf("0000-0000-%04d", i), "public_key_pem": pub}, "192.0.2.7")
		mustStatus(t, "a wrong code", r, 400)
	}
	code := e.createPairing(t, "store-guess").str("pairing_code")
	r := e.redeemPairing(map[string]string{"pairing_code": code, "public_key_pem": pub}, "192.0.2.7")
	if r.status != 429 || r.str("code") != codeRateLimited || r.header.Get("Retry-After") == "" {
		t.Fatalf("the 11th attempt from one IP: %d %s; want 429 with Retry-After", r.status, r.raw)
	}
	mustStatus(t, "the right code from another IP", e.redeemPairing(map[string]string{"pairing_code": code, "public_key_pem": pub}, "192.0.2.8"), 201)
}

func TestPairingCodeForm(t *testing.T) {
	for range 100 {
		c, err := newPairingCode()
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := normalizePairingCode(showPairingCode(c)); !ok || n != c {
			t.Fatalf("%q reads back as %q, %v", showPairingCode(c), n, ok)
		}
	}
	for in, want := range map[string]string{"abcd-efgh-jkmn": "ABCDEFGHJKMN", "O0IL-1111-2222": "001111112222", " 7kq2 m9xd 4wtb ": "7KQ2M9XD4WTB"} {
		if got, ok := normalizePairingCode(in); !ok || got != want {
			t.Errorf("normalizePairingCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "ABCD-EFGH-JKL", "ABCD-EFGH-JKLMN", "ABCD-EFGH-JKLU", "ABCD_EFGH_JKLM"} {
		if got, ok := normalizePairingCode(in); ok {
			t.Errorf("normalizePairingCode(%q) = %q; want refused", in, got)
		}
	}
}
