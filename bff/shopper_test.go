package bff

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The server-side pieces of the shopper's app: the account's language,
// stores' display names, the history and the decline at the register told
// to the phone.

var jaOTP = regexp.MustCompile(`コードは ([0-9]{6}) です`)

// newestTo is the newest outbox message to contact.
func newestTo(t *testing.T, e *env, contact string) string {
	t.Helper()
	for _, m := range enrOutbox(t, e) {
		if m.To == contact {
			return m.Text
		}
	}
	t.Fatalf("nothing went to %s", contact)
	return ""
}

// A sign-up in Japanese (the app's "lang", or only Accept-Language) gets
// its code in Japanese, the account keeps the language, and every later
// notification (here the recovery warning, with its cancel link) is in
// it; PUT /v1/me/language changes it.
func TestAccountLanguage(t *testing.T) {
	e := newEnv(t, map[string]string{"PAYCODE_RECOVERY_COOLDOWN": "1h"})
	for _, tc := range []struct {
		name, contact string
		body          map[string]any
		accept        string
		want          string
	}{
		{"member", "lang-member@example.com", map[string]any{"lang": "ja"}, "en", "ja"},
		{"header", "lang-header@example.com", map[string]any{}, "ja-JP,ja;q=0.9,en;q=0.5", "ja"},
		{"default", "lang-default@example.com", map[string]any{}, "fr-FR", "en"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := e.newDevice()
			tc.body["contact"] = tc.contact
			r := d.doWith("POST", "/v1/signup/contact", tc.body, func(req *http.Request) { req.Header.Set("Accept-Language", tc.accept) })
			mustStatus(t, "signup/contact", r, 202)
			msg := newestTo(t, e, tc.contact)
			var otp string
			if tc.want == "ja" {
				g := jaOTP.FindStringSubmatch(msg)
				if g == nil {
					t.Fatalf("the code's message is not Japanese: %q", msg)
				}
				otp = g[1]
			} else {
				g := otpText.FindStringSubmatch(msg)
				if g == nil {
					t.Fatalf("the code's message is not English: %q", msg)
				}
				otp = g[1]
			}
			id := r.str("signup_id")
			r = d.do("POST", "/v1/signup/verify", map[string]string{"signup_id": id, "otp": otp}, true)
			mustStatus(t, "signup/verify", r, 200)
			cred, err := d.auth.Register(mustJSON(t, r.body["options"]))
			if err != nil {
				t.Fatal(err)
			}
			r = d.do("POST", "/v1/signup/finish", map[string]any{"signup_id": id, "credential": json.RawMessage(cred), "device_label": "phone"}, true)
			mustStatus(t, "signup/finish", r, 201)
			d.take(r)
			me := d.do("GET", "/v1/me", nil, true)
			if got := me.body["account"].(map[string]any)["lang"]; got != tc.want {
				t.Errorf("/v1/me lang = %v, want %s", got, tc.want)
			}
		})
	}

	// A recovery warning goes out in the account's language, with the link
	// to the app's cancel page.
	owner := e.newDevice()
	r := owner.doWith("POST", "/v1/signup/contact", map[string]any{"contact": "lang-recover@example.com", "lang": "ja"}, func(*http.Request) {})
	mustStatus(t, "signup/contact", r, 202)
	otp := jaOTP.FindStringSubmatch(newestTo(t, e, "lang-recover@example.com"))[1]
	id := r.str("signup_id")
	r = owner.do("POST", "/v1/signup/verify", map[string]string{"signup_id": id, "otp": otp}, true)
	mustStatus(t, "signup/verify", r, 200)
	cred, _ := owner.auth.Register(mustJSON(t, r.body["options"]))
	r = owner.do("POST", "/v1/signup/finish", map[string]any{"signup_id": id, "credential": json.RawMessage(cred)}, true)
	mustStatus(t, "signup/finish", r, 201)
	owner.take(r)
	codes := enrCodes(r)

	nu := e.newDevice()
	// The requester's Accept-Language does not choose the owner's language.
	r = nu.doWith("POST", "/v1/enrollments", map[string]any{"contact": "lang-recover@example.com", "device_label": "new phone"}, func(req *http.Request) {
		req.Header.Set("DPoP", nu.key.Proof("POST", e.s.requestURL0("/v1/enrollments"), "", "", e.clock.Now()))
		req.Header.Set("Accept-Language", "en")
	})
	mustStatus(t, "enroll by contact", r, 202)
	enr := r.str("enrollment_id")
	g := jaOTP.FindStringSubmatch(newestTo(t, e, "lang-recover@example.com"))
	if g == nil {
		t.Fatalf("the enrollment code is not in Japanese: %q", newestTo(t, e, "lang-recover@example.com"))
	}
	mustStatus(t, "recover", enrRecover(nu, enr, g[1], codes[0]), 202)
	warning := newestTo(t, e, "lang-recover@example.com")
	token := enrCancelToken(t, e, "lang-recover@example.com")
	link := e.s.cfg.PublicURL.String() + "/#cancel=" + token
	if !strings.Contains(warning, "復旧") || !strings.Contains(warning, link) {
		t.Errorf("recovery warning: want Japanese with the link %s, got %q", link, warning)
	}

	// The owner switches to English: the next notice is English.
	r = owner.do("PUT", "/v1/me/language", map[string]any{"lang": "en"}, true)
	mustStatus(t, "PUT /v1/me/language", r, 200)
	if acct, err := e.st.Account(t.Context(), owner.account); err != nil || acct.Lang != "en" {
		t.Fatalf("stored language = %+v %v", acct, err)
	}
	mustStatus(t, "cancel", owner.do("POST", "/v1/enrollments/"+enr+"/cancel", map[string]any{}, true), 200)
	r = nu.doToken("POST", "/v1/enrollments/"+enr+"/otp", map[string]any{}, "", true)
	if r.status == 202 {
		t.Fatalf("a cancelled enrollment sent a code: %s", r.raw)
	}
	for _, bad := range []map[string]any{{"lang": "fr"}, {}, {"lang": "en", "other": 1}} {
		if r := owner.do("PUT", "/v1/me/language", bad, true); r.status != 400 {
			t.Errorf("PUT /v1/me/language %v = %d, want 400", bad, r.status)
		}
	}
}

// The operator names a store in both languages; history and events carry
// the names, the history pages with a cursor, and a decline at the
// register reaches the phone as code.declined (never for an unknown code).
func TestStoreNamesHistoryAndDeclines(t *testing.T) {
	e := newEnv(t, nil)
	r := enrAdmin(t, e, "PUT", "/v1/stores/store-0042", map[string]any{"operator": "ops", "reason": "new store",
		"name_en": "FamilyMart Shibuya", "name_ja": "ファミリーマート 渋谷店"})
	mustStatus(t, "name a store", r, 200)
	for _, bad := range []map[string]any{
		{"operator": "ops", "reason": "x", "name_en": "", "name_ja": "店"},
		{"operator": "ops", "reason": "x", "name_en": " padded", "name_ja": "店"},
		{"operator": "ops", "name_en": "A", "name_ja": "店"},
		{"operator": "ops", "reason": "x", "name_en": "A", "name_ja": "店", "name_fr": "B"},
	} {
		if r := enrAdmin(t, e, "PUT", "/v1/stores/store-0042", bad); r.status != 400 {
			t.Errorf("naming with %v = %d, want 400", bad, r.status)
		}
	}
	if r := enrAdmin(t, e, "GET", "/v1/stores/store-0042", nil); r.status != 200 || r.body["name"].(map[string]any)["ja"] != "ファミリーマート 渋谷店" {
		t.Errorf("GET store = %d %s", r.status, r.raw)
	}
	if r := enrAdmin(t, e, "GET", "/v1/stores/store-none", nil); r.status != 404 {
		t.Errorf("GET unnamed store = %d", r.status)
	}
	enrAudited(t, e, "store.named", "")

	d := e.customer("history@example.com")
	named := e.registerTerminal("store-0042")
	unnamed := e.registerTerminal("store-0099")
	stream := openStream(t, e.s, d, "")

	mustStatus(t, "top-up", named.topup(d.code(), 5000), 201)
	waitEvent(t, stream, "code.redeemed", func(data map[string]any) bool {
		n, _ := data["store_name"].(map[string]any)
		return n != nil && n["en"] == "FamilyMart Shibuya" && n["ja"] == "ファミリーマート 渋谷店"
	})

	// A decline of a known code: the phone hears the reason, once (a
	// retry of the same request is a replay and is not told again).
	code := d.code()
	idem := newIdem()
	body := map[string]any{"code": code, "amount": 9000, "currency": "JPY", "order_ref": "o-2"}
	mustStatus(t, "decline", named.call("POST", "/v1/terminal/payments", idem, body), 402)
	ev := waitEvent(t, stream, "code.declined", func(data map[string]any) bool { return data["reason"] == "insufficient_funds" })
	if ev["amount"] != float64(9000) || ev["store"] != "store-0042" || ev["code_id"] == "" || ev["store_name"] == nil {
		t.Errorf("code.declined = %v", ev)
	}
	mustStatus(t, "replayed decline", named.call("POST", "/v1/terminal/payments", idem, body), 402)
	// An unknown code (right form, no such code) tells nobody anything.
	unknown := []byte(code)
	unknown[10] = '0' + (unknown[10]-'0'+1)%10
	r = named.pay(fixLuhn(string(unknown)), 100)
	if r.status != 402 || r.str("code") != "code_unknown" {
		t.Fatalf("unknown code: %d %s", r.status, r.raw)
	}
	mustStatus(t, "pay", unnamed.pay(code, 1200), 201)
	waitEvent(t, stream, "code.redeemed", func(data map[string]any) bool { return data["store"] == "store-0099" && data["store_name"] == nil })
	declined := 0
	events, err := e.st.EventsSince(t.Context(), d.account, "0-0")
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		if ev.Type == "code.declined" {
			declined++
		}
	}
	if declined != 1 {
		t.Errorf("code.declined published %d times, want once (no replay, no code_unknown)", declined)
	}

	// History: newest first, store names, paged.
	for range 3 {
		mustStatus(t, "pay", named.pay(d.code(), 100), 201)
	}
	w := d.do("GET", "/v1/wallet", nil, true)
	recent := w.body["recent"].([]any)
	if len(recent) != 5 {
		t.Fatalf("recent = %d entries", len(recent))
	}
	first := recent[0].(map[string]any)
	if first["kind"] != "payment" || first["amount"] != float64(-100) || first["store_name"].(map[string]any)["en"] != "FamilyMart Shibuya" {
		t.Errorf("newest movement = %v", first)
	}
	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		path := "/v1/wallet/history?limit=2"
		if cursor != "" {
			path += "&before=" + cursor
		}
		r := d.do("GET", path, nil, true)
		mustStatus(t, "history", r, 200)
		for _, x := range r.body["entries"].([]any) {
			seen = append(seen, x.(map[string]any)["kind"].(string))
		}
		next, _ := r.body["next"].(string)
		if next == "" {
			break
		}
		cursor = next
		if page > 5 {
			t.Fatal("history does not end")
		}
	}
	if strings.Join(seen, ",") != "payment,payment,payment,payment,topup" {
		t.Errorf("history = %v", seen)
	}
	for _, q := range []string{"?before=x", "?limit=0", "?limit=101"} {
		if r := d.do("GET", "/v1/wallet/history"+q, nil, true); r.status != 400 {
			t.Errorf("history%s = %d, want 400", q, r.status)
		}
	}
}

// waitEvent reads the stream until an event of typ satisfies ok.
func waitEvent(t *testing.T, c *sseClient, typ string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, got, data := c.next(t, time.Until(deadline))
		if got == typ && ok(data["data"].(map[string]any)) {
			return data["data"].(map[string]any)
		}
	}
	t.Fatalf("no matching %s event", typ)
	return nil
}

// fixLuhn replaces the last digit with the Luhn check digit of the others.
func fixLuhn(code string) string {
	body := code[:len(code)-1]
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		n := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return body + string(rune('0'+(10-sum%10)%10))
}

// The catalogue is also a file of the app (kept offline by the service
// worker), the same document as /v1/text/{lang}.
func TestTextFiles(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	for _, l := range []string{"en", "ja"} {
		a := d.doToken("GET", "/text/"+l+".json", nil, "", false)
		b := d.doToken("GET", "/v1/text/"+l, nil, "", false)
		if a.status != 200 || string(a.raw) != string(b.raw) || a.header.Get("Cache-Control") != "no-cache" {
			t.Errorf("/text/%s.json = %d %q, want the catalogue", l, a.status, a.header.Get("Cache-Control"))
		}
	}
	if r := d.doToken("GET", "/text/fr.json", nil, "", false); r.status != 404 {
		t.Errorf("/text/fr.json = %d", r.status)
	}
	// The app's offline probe: HEAD of the API's catalogue, which the
	// service worker never answers.
	if r := d.doToken("HEAD", "/v1/text/en", nil, "", false); r.status != 200 {
		t.Errorf("HEAD /v1/text/en = %d", r.status)
	}
}
