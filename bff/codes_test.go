package bff

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/tokens"
)

func (d *device) newCode() response {
	d.e.t.Helper()
	return d.do("POST", "/v1/codes", map[string]any{}, true)
}

func TestIssueCode(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("codes@example.com")
	r := d.newCode()
	mustStatus(t, "issue", r, 201)
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", r.header.Get("Cache-Control"))
	}
	digits := r.str("code")
	code, err := tokens.ParseCode(digits, e.s.cfg.CodePrefix)
	if err != nil {
		t.Fatalf("issued code %q does not parse: %v", digits, err)
	}
	b, _ := store.BucketOf(d.account)
	if code.Bucket() != uint16(b) {
		t.Errorf("code bucket = %d; want the account's %d", code.Bucket(), b)
	}
	now := e.clock.Now()
	exp, _ := time.Parse(time.RFC3339Nano, r.str("expires_at"))
	ref, _ := time.Parse(time.RFC3339Nano, r.str("refresh_at"))
	if !exp.Equal(now.Add(60*time.Second)) || !ref.Equal(now.Add(30*time.Second)) {
		t.Errorf("expires_at %v refresh_at %v; want now+60s and now+30s", exp, ref)
	}
	// Stored under its keyed hash, with a TTL, and never by its digits.
	rec, err := e.st.Code(t.Context(), b, code.KeyedName(e.s.cfg.Secret))
	if err != nil || rec.DeviceID != r0DeviceID(t, e, d) || rec.Status != "live" {
		t.Fatalf("code record = %+v, %v", rec, err)
	}
	keys, _ := e.st.Client().Keys(t.Context(), "*"+digits[6:]+"*").Result()
	if len(keys) != 0 {
		t.Errorf("a key name carries the code's digits: %v", keys)
	}
	// Both barcodes (SVG by default) decode back to the same digits with an
	// independent renderer and decoder.
	for _, field := range []string{"code128_png", "qr_png"} {
		uri := r.str(field)
		svg, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(uri, "data:image/svg+xml;base64,"))
		if !strings.HasPrefix(uri, "data:image/svg+xml;base64,") || err != nil {
			t.Fatalf("%s is not an SVG data URI: %v", field, err)
		}
		if got := zbar(t, svgToPNG(t, svg)); got != digits {
			t.Errorf("%s decodes to %q; want %q", field, got, digits)
		}
	}
	// PNG on request; none for apps that draw their own; nothing else.
	r = d.do("POST", "/v1/codes?images=png", map[string]any{}, true)
	mustStatus(t, "issue with PNGs", r, 201)
	for _, field := range []string{"code128_png", "qr_png"} {
		uri := r.str(field)
		png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(uri, "data:image/png;base64,"))
		if !strings.HasPrefix(uri, "data:image/png;base64,") || err != nil {
			t.Fatalf("%s is not a PNG data URI: %v", field, err)
		}
		if got := zbar(t, png); got != r.str("code") {
			t.Errorf("%s decodes to %q; want %q", field, got, r.str("code"))
		}
	}
	r = d.do("POST", "/v1/codes?images=none", map[string]any{}, true)
	mustStatus(t, "issue without images", r, 201)
	if _, ok := r.body["qr_png"]; ok || r.str("code") == "" {
		t.Errorf("images=none answered %s", r.raw)
	}
	r = d.do("POST", "/v1/codes?images=gif", map[string]any{}, true)
	if r.status != 400 || r.str("code") != codeMalformed {
		t.Errorf("images=gif: %d %s; want 400 %s", r.status, r.raw, codeMalformed)
	}
}

// svgToPNG renders an SVG with rsvg-convert (librsvg2-bin), an SVG renderer
// that shares nothing with ours. CI installs it and must not skip this.
func svgToPNG(t *testing.T, svg []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("rsvg-convert"); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("PAYCODE_TEST_REQUIRE_REDIS") != "" {
			t.Fatal("rsvg-convert is not installed, and CI requires it")
		}
		t.Skip("rsvg-convert (librsvg2-bin) is not installed")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "code.svg"), filepath.Join(dir, "code.png")
	if err := os.WriteFile(in, svg, 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command("rsvg-convert", "-o", out, in).CombinedOutput(); err != nil {
		t.Fatalf("rsvg-convert: %v: %s", err, msg)
	}
	png, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return png
}

func r0DeviceID(t *testing.T, e *env, d *device) string {
	t.Helper()
	a, err := e.st.Account(t.Context(), d.account)
	if err != nil {
		t.Fatal(err)
	}
	return a.DeviceID
}

// zbar decodes a barcode image with zbarimg (zbar-tools). CI installs it
// and must not skip this check.
func zbar(t *testing.T, png []byte) string {
	t.Helper()
	if _, err := exec.LookPath("zbarimg"); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("PAYCODE_TEST_REQUIRE_REDIS") != "" {
			t.Fatal("zbarimg is not installed, and CI requires it")
		}
		t.Skip("zbarimg (zbar-tools) is not installed")
	}
	f := filepath.Join(t.TempDir(), "code.png")
	if err := os.WriteFile(f, png, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("zbarimg", "--raw", "-q", f).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// RFC 9470: a session whose last passkey verification is older than the
// payment window gets a step-up challenge, not a code; after reauth it
// gets one.
func TestCodeNeedsRecentVerification(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("stepup@example.com")
	e.clock.Advance(5*time.Minute + time.Second)
	// The access token has expired too: the app refreshes, which keeps the
	// session's auth_time (a refresh is not a user verification).
	r := d.do("POST", "/v1/session/refresh", map[string]string{"refresh_token": d.refresh}, true)
	mustStatus(t, "refresh", r, 200)
	d.take(r)
	r = d.newCode()
	mustStatus(t, "code with a stale auth_time", r, 401)
	www := r.header.Get("WWW-Authenticate")
	if !strings.Contains(www, `error="insufficient_user_authentication"`) || !strings.Contains(www, "max_age=300") {
		t.Errorf("WWW-Authenticate = %q", www)
	}
	if r.str("code") != codeInsufficientAuth {
		t.Errorf("problem code = %q", r.str("code"))
	}
	r = d.do("POST", "/v1/session/reauth/start", map[string]any{}, true)
	mustStatus(t, "reauth/start", r, 200)
	opts, _ := json.Marshal(r.body["options"])
	cred, err := d.auth.Assert(opts)
	if err != nil {
		t.Fatal(err)
	}
	r = d.do("POST", "/v1/session/reauth/finish", map[string]any{"reauth_id": r.str("reauth_id"), "credential": json.RawMessage(cred)}, true)
	mustStatus(t, "reauth/finish", r, 200)
	d.take(r)
	mustStatus(t, "code after reauth", d.newCode(), 201)
}

// A device has one live code: issuing the next shortens the previous one
// to the grace period, after which it is expired.
func TestCodeRotation(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("rotate@example.com")
	b, _ := store.BucketOf(d.account)
	name := func(r response) string {
		c, err := tokens.ParseCode(r.str("code"), e.s.cfg.CodePrefix)
		if err != nil {
			t.Fatal(err)
		}
		return c.KeyedName(e.s.cfg.Secret)
	}
	first := d.newCode()
	mustStatus(t, "first", first, 201)
	t0 := e.clock.Now()
	e.clock.Advance(30 * time.Second)
	second := d.newCode()
	mustStatus(t, "second", second, 201)
	t1 := e.clock.Now()

	old, err := e.st.Code(t.Context(), b, name(first))
	if err != nil {
		t.Fatal(err)
	}
	if !old.ExpiresAt.Equal(t1.Add(5*time.Second)) || !old.ExpiresAt.Before(t0.Add(60*time.Second)) {
		t.Errorf("previous code expires at %v; want the 5 s grace after the new issue (%v)", old.ExpiresAt, t1.Add(5*time.Second))
	}
	cur, err := e.st.Code(t.Context(), b, name(second))
	if err != nil || !cur.ExpiresAt.Equal(t1.Add(60*time.Second)) {
		t.Fatalf("current code = %+v, %v; want expiry %v", cur, err, t1.Add(60*time.Second))
	}
	live, err := e.st.LiveCodeName(t.Context(), d.account)
	if err != nil || live != name(second) {
		t.Errorf("live code = %q, %v; want the second", live, err)
	}
	// Expiry is enforced by Redis too: the record has a TTL (lifetime plus
	// the retention that lets a late scan be told code_expired).
	ttl, err := e.st.Client().PTTL(t.Context(), e.st.Keys().Code(b, name(second))).Result()
	if err != nil || ttl <= 0 || ttl > 60*time.Second+10*time.Minute {
		t.Errorf("code PTTL = %v, %v", ttl, err)
	}
}

// Frozen accounts and revoked devices get no code.
func TestNoCodeForFrozenOrRevoked(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("frozen@example.com")
	if ok, err := e.st.SetAccountStatus(t.Context(), d.account, store.AccountFrozen); err != nil || !ok {
		t.Fatal(ok, err)
	}
	r := d.newCode()
	mustStatus(t, "frozen", r, 403)
	if r.str("code") != codeAccountFrozen {
		t.Errorf("code = %q", r.str("code"))
	}
	if _, err := e.st.SetAccountStatus(t.Context(), d.account, store.AccountActive); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, "unfrozen", d.newCode(), 201)
	acct, _ := e.st.Account(t.Context(), d.account)
	if _, err := e.st.SetDeviceStatus(t.Context(), d.account, acct.DeviceID, store.DeviceRevoked); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, "revoked device", d.newCode(), 401)
	// The store refuses too, whatever the caller.
	err := e.st.IssueCode(t.Context(), store.CodeRecord{Name: "x", AccountID: d.account, DeviceID: acct.DeviceID,
		IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute)}, time.Minute, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), store.ErrDeviceRevoked.Error()) {
		t.Errorf("IssueCode for a revoked device = %v", err)
	}
}

func TestCodeBadScale(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("scale@example.com")
	for _, scale := range []int{0, 17, -1} {
		r := d.do("POST", "/v1/codes", map[string]any{"scale": scale}, true)
		mustStatus(t, "bad scale", r, 400)
		if r.str("code") != codeBadScale {
			t.Errorf("code = %q", r.str("code"))
		}
	}
}

// sseClient reads an event stream from a real listener.
type sseClient struct {
	resp *http.Response
	rd   *bufio.Reader
}

func openStream(t *testing.T, s *Server, d *device, lastID string) *sseClient {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/v1/events", nil)
	req.Header.Set("Authorization", "DPoP "+d.access)
	req.Header.Set("DPoP", d.key.Proof("GET", s.requestURL0("/v1/events"), d.access, "", d.e.clock.Now()))
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return &sseClient{resp: resp, rd: bufio.NewReader(resp.Body)}
}

// next returns the next event (id, type, data), skipping comments. The
// read fails the test if nothing arrives within the deadline.
func (c *sseClient) next(t *testing.T, within time.Duration) (id, typ string, data map[string]any) {
	t.Helper()
	done := make(chan struct{})
	timer := time.AfterFunc(within, func() { c.resp.Body.Close() })
	defer timer.Stop()
	defer close(done)
	for {
		line, err := c.rd.ReadString('\n')
		if err != nil {
			t.Fatalf("no event within %v: %v", within, err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "event: "):
			typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(line[6:]), &data); err != nil {
				t.Fatalf("event data is not JSON: %v", err)
			}
		case line == "" && typ != "":
			return id, typ, data
		}
	}
}

// Replicas share nothing but Redis: a stream opened on one server instance
// receives the event of a code issued through another.
func TestEventsAcrossInstances(t *testing.T) {
	e := newEnv(t, nil)
	d := e.newDevice()
	d.signup("sse@example.com")
	other := newTestServerWith(t, e.st, nil, e.clock.Now) // a second replica on the same Redis
	stream := openStream(t, other, d, "")

	r := d.newCode() // through the first instance
	mustStatus(t, "issue", r, 201)
	id, typ, data := stream.next(t, 10*time.Second)
	if typ != "code.issued" || id == "" {
		t.Fatalf("event = %q %q %v; want code.issued with an id", id, typ, data)
	}
	if strings.Contains(string(mustJSON(t, data)), r.str("code")) {
		t.Error("an event carries the code's digits")
	}

	// A client reconnecting with Last-Event-ID gets what it missed.
	mustStatus(t, "second issue", d.newCode(), 201)
	replay := openStream(t, newTestServerWith(t, e.st, nil, e.clock.Now), d, id)
	id2, typ2, _ := replay.next(t, 10*time.Second)
	if typ2 != "code.issued" || !afterID(id2, id) {
		t.Errorf("replayed event = %q %q; want a code.issued after %q", id2, typ2, id)
	}
}

// An unused code's lapse is told to the device as code.expired.
func TestEventCodeExpired(t *testing.T) {
	e := newEnv(t, map[string]string{"PAYCODE_CODE_TTL": "2s", "PAYCODE_CODE_ROTATE": "1s", "PAYCODE_CODE_GRACE": "1s"})
	d := e.newDevice()
	d.signup("expire@example.com")
	stream := openStream(t, e.s, d, "")
	mustStatus(t, "issue", d.newCode(), 201)
	if _, typ, _ := stream.next(t, 10*time.Second); typ != "code.issued" {
		t.Fatalf("first event %q; want code.issued", typ)
	}
	_, typ, data := stream.next(t, 15*time.Second)
	if typ != "code.expired" || data["data"] == nil {
		t.Fatalf("event %q %v; want code.expired", typ, data)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BenchmarkIssueCode measures the issuance path through the handler:
// DPoP and token checks, the session script, the code draw, the issuance
// script, an event, and two barcodes (scale 4).
func BenchmarkIssueCode(b *testing.B) {
	e := newEnv(b, map[string]string{"PAYCODE_CODES_PER_MINUTE": "1000000"})
	d := e.newDevice()
	d.signup("bench@example.com")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if r := d.newCode(); r.status != 201 {
			b.Fatalf("status %d: %s", r.status, r.raw)
		}
	}
}
