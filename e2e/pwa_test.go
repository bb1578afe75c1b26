// Package e2e drives the customer PWA in a real browser (Debian's headless
// Chromium through the Chrome DevTools Protocol, with virtual WebAuthn
// authenticators) against a real paycode server and store terminals: the
// shopper's whole journey (journey_test.go: sign-up in Japanese, paying,
// a decline at the register, a new phone approved by the old one, a lost
// phone recovered after a cool-down on the server's clock, offline), with
// axe-core on every screen, and the passkey step-up before a code.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"github.com/paycode/paycode/bff"
	"github.com/paycode/paycode/config"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
	"github.com/paycode/paycode/tokens"
)

const (
	chromiumPath = "/usr/bin/chromium"
	adminToken   = "e2e-admin-token-0123456789abcdef0123456789"
)

// syncBuffer collects the server's log lines, shown when the test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// server is a paycode server listening on 127.0.0.1 and addressed by the
// browser as http://localhost:<port> (the WebAuthn RP id is "localhost").
type server struct {
	origin string
	srv    *bff.Server
	st     *store.Store
	logs   *syncBuffer
	read   map[string]bool // outbox messages message has returned
}

// clock is the server's injectable clock: real time plus an offset the
// test moves forward (a cool-down passes without waiting for it).
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func startServer(t *testing.T, extra map[string]string) *server {
	t.Helper()
	return startServerWithClock(t, extra, nil)
}

func startServerWithClock(t *testing.T, extra map[string]string, now func() time.Time) *server {
	t.Helper()
	st := storetest.Open(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	env := map[string]string{
		"PAYCODE_ENV":         "dev",
		"PAYCODE_ADDR":        "127.0.0.1:0",
		"PAYCODE_ADMIN_ADDR":  "127.0.0.1:0",
		"PAYCODE_PUBLIC_URL":  origin,
		"PAYCODE_ADMIN_TOKEN": adminToken,
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	keys, err := bff.LoadSigningKeys(t.Context(), cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv, err := bff.New(cfg, st, slog.New(slog.NewJSONHandler(logs, nil)), bff.Deps{Keys: keys, Notifier: bff.NewNotifier(cfg, st), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Logf("shutdown: %v", err)
		}
		<-served
		if t.Failed() || os.Getenv("PAYCODE_E2E_VERBOSE") != "" {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &server{origin: origin, srv: srv, st: st, logs: logs, read: map[string]bool{}}
}

var otpText = regexp.MustCompile(`code is ([0-9]{6})`)

// otp waits for the sign-up code sent to contact (the dev outbox).
func (s *server) otp(ctx context.Context, t *testing.T, contact string) string {
	t.Helper()
	for {
		msgs, err := s.st.Outbox(ctx, 50)
		if err != nil {
			t.Fatalf("reading the outbox: %v", err)
		}
		for _, m := range msgs {
			if m.To == contact {
				if g := otpText.FindStringSubmatch(m.Text); g != nil {
					return g[1]
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no OTP for %s in the outbox", contact)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// terminal is a store scanner registered through the admin API, holding a
// bearer token obtained with an RFC 7523 client assertion.
type terminal struct {
	s     *server
	id    string
	token string
}

func (s *server) registerTerminal(t *testing.T, storeID string) *terminal {
	t.Helper()
	key, err := tokens.GenerateSigningKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Private.Public())
	if err != nil {
		t.Fatal(err)
	}
	pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	body, _ := json.Marshal(map[string]string{"operator": "e2e", "reason": "browser test", "store_id": storeID,
		"label": "lane 1", "public_key_pem": pub})
	req := httptest.NewRequest("POST", "/v1/terminals", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := s.srv.Admin().Test(req, 10_000)
	if err != nil {
		t.Fatalf("registering a terminal: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 {
		t.Fatalf("registering a terminal: %d %s", resp.StatusCode, raw)
	}
	var out struct {
		TerminalID string `json:"terminal_id"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.TerminalID == "" {
		t.Fatalf("registering a terminal: %s", raw)
	}
	now := time.Now()
	claims := jwt.MapClaims{"iss": out.TerminalID, "sub": out.TerminalID, "aud": s.origin + "/v1/terminal/token",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": randomHex(16)}
	assertion, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(key.Private)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	r, err := http.PostForm(s.origin+"/v1/terminal/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	raw, _ = io.ReadAll(r.Body)
	if r.StatusCode != 200 || json.Unmarshal(raw, &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("terminal token: %d %s", r.StatusCode, raw)
	}
	return &terminal{s: s, id: out.TerminalID, token: tok.AccessToken}
}

// call sends a terminal request (with a fresh Idempotency-Key) and wants 201.
func (tm *terminal) call(t *testing.T, path string, body map[string]any) {
	t.Helper()
	if status, raw := tm.try(t, path, body); status != 201 {
		t.Fatalf("POST %s: %d %s", path, status, raw)
	}
}

// try sends a terminal request and returns the status and the body.
func (tm *terminal) try(t *testing.T, path string, body map[string]any) (int, string) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", tm.s.origin+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tm.token)
	req.Header.Set("Idempotency-Key", randomHex(12))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// browser starts headless Chromium with a fresh profile, opens a tab with
// a virtual authenticator (see tab), and collects the page's console
// messages.
func browser(t *testing.T) (context.Context, webauthn.AuthenticatorID, *consoleLog) {
	t.Helper()
	return browserWith(t)
}

// browserWith is browser with more command-line flags (the scanner test's
// fake camera).
func browserWith(t *testing.T, flags ...chromedp.ExecAllocatorOption) (context.Context, webauthn.AuthenticatorID, *consoleLog) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("PAYCODE_TEST_REQUIRE_REDIS") != "" {
			t.Fatalf("%s is required here (apt-get install chromium): %v", chromiumPath, err)
		}
		t.Skipf("%s is not installed: skipping the browser test", chromiumPath)
	}
	profile := t.TempDir() // removed after the browser has exited (cleanups run last-in first-out)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(profile),
	)
	opts = append(opts, flags...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		if err := chromedp.Cancel(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("closing the browser: %v", err)
		}
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser, with no deadline on its context.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	cl := &consoleLog{}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			cl.add(fmt.Sprintf("%s:%d %s", m.URL, m.Line+1, m))
		}
	}()
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("PAYCODE_E2E_VERBOSE") != "" {
			t.Logf("browser console:\n%s", cl.String())
		}
	})
	return ctx, authenticator(t, ctx, false, false), cl
}

// authenticator adds a virtual platform authenticator to the tab of ctx:
// CTAP2.1, internal transport, resident keys, user verification that
// always succeeds, presence simulated.
//
// cmtg turns on the cmtgKey extension: cdproto always sends the member
// generateCmtgKeyOnNextOperation in WebAuthn.addCredential, and Chromium
// refuses it for an authenticator without the extension.
//
// synced makes its passkeys backup-eligible and backed up (BE=1, BS=1), as
// a phone's passkey manager does: such a passkey appears on the owner's
// other phones, with sign counters that do not move together.
func authenticator(t *testing.T, ctx context.Context, cmtg, synced bool) webauthn.AuthenticatorID {
	t.Helper()
	enableUI := false
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{EnableUI: &enableUI}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
			HasCmtgKey:                  cmtg,
			DefaultBackupEligibility:    synced,
			DefaultBackupState:          synced,
		},
	})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

type consoleLog struct {
	mu    sync.Mutex
	lines []string
}

func (c *consoleLog) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, s)
}

func (c *consoleLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

// wait polls a JavaScript expression until it is truthy and returns its
// value.
func wait[T any](ctx context.Context, t *testing.T, what, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(20*time.Second),
		chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		t.Fatalf("waiting for %s: %v (error on the page: %q)", what, err, pageError(ctx))
	}
	return v
}

func pageError(ctx context.Context) string {
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('error').textContent`))
	return s
}

func step(ctx context.Context, t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v (error on the page: %q)", what, err, pageError(ctx))
	}
}

// codeExpr is the 24 digits on the pay screen, or false; the digits are
// shown in groups of four.
const eventsOpen = `document.body.dataset.events === 'open'`

const codeExpr = `(() => { const d = document.getElementById('code-digits').textContent.replace(/\s/g, '');
  return /^[0-9]{24}$/.test(d) && !document.getElementById('code-qr').hidden ? d : false; })()`

// signUp walks the sign-up screens (contact, OTP from the outbox, passkey
// on the virtual authenticator, recovery codes) up to the pay screen.
func signUp(ctx context.Context, t *testing.T, s *server) {
	t.Helper()
	contact := "e2e-" + randomHex(4) + "@example.com"

	step(ctx, t, "open the app", chromedp.Navigate(s.origin+"/"), chromedp.WaitVisible(chromedp.CSS("#go-signup")))
	step(ctx, t, "enter the contact",
		chromedp.Click(chromedp.CSS("#go-signup")),
		chromedp.WaitVisible(chromedp.CSS("#contact")),
		chromedp.SendKeys(chromedp.CSS("#contact"), contact),
		chromedp.Click(chromedp.CSS("#form-contact button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#otp")),
	)
	otp := s.otp(ctx, t, contact)
	step(ctx, t, "enter the OTP and create the passkey",
		chromedp.SendKeys(chromedp.CSS("#otp"), otp),
		chromedp.Click(chromedp.CSS("#form-otp button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#recovery-codes li")),
	)
	codes := wait[[]string](ctx, t, "the recovery codes",
		`(() => { const l = [...document.querySelectorAll('#recovery-codes li')].map((li) => li.textContent); return l.length ? l : false; })()`)
	if len(codes) < 5 {
		t.Errorf("recovery codes shown: %q", codes)
	}
	step(ctx, t, "confirm the recovery codes",
		chromedp.Click(chromedp.CSS("#recovery-saved")),
		chromedp.Click(chromedp.CSS("#recovery-done")),
		chromedp.WaitVisible(chromedp.CSS("#screen-pay")),
	)
}

// A code needs a passkey verification within PAYCODE_PAYMENT_WINDOW; past
// it the server answers 401 insufficient_user_authentication and the page
// runs /v1/session/reauth with the passkey, then shows the code.
func TestPWAStepUpBeforeACode(t *testing.T) {
	s := startServer(t, map[string]string{"PAYCODE_PAYMENT_WINDOW": "1s"})
	bctx, _, _ := browser(t)
	ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
	defer cancel()
	signUp(ctx, t, s)
	wait[string](ctx, t, "a payment code", codeExpr)
	reauthed := `"route":"/v1/session/reauth/finish","status":200`
	for !strings.Contains(s.logs.String(), reauthed) {
		// Ask for new codes until the window has passed and the page has
		// verified again.
		step(ctx, t, "ask for a new code", chromedp.Click(chromedp.CSS("#code-new")))
		wait[string](ctx, t, "a code", codeExpr)
		select {
		case <-ctx.Done():
			t.Fatal("the page never ran the step-up")
		case <-time.After(250 * time.Millisecond):
		}
	}
	wait[string](ctx, t, "a code after the step-up", codeExpr)
	if e := pageError(ctx); e != "" {
		t.Errorf("the page shows an error: %q", e)
	}
}

// nameStore gives a store its display names through the admin API.
func (s *server) nameStore(t *testing.T, storeID, en, ja string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"operator": "e2e", "reason": "browser test", "name_en": en, "name_ja": ja})
	req := httptest.NewRequest("PUT", "/v1/stores/"+storeID, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := s.srv.Admin().Test(req, 10_000)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("naming a store: %v %v", resp.StatusCode, err)
	}
}

// message waits for the newest message to contact that matches re (the
// dev outbox) and returns its text.
func (s *server) message(ctx context.Context, t *testing.T, contact string, re *regexp.Regexp) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	seen := map[string]bool{}
	for {
		msgs, err := s.st.Outbox(ctx, 50)
		if err != nil {
			t.Fatalf("reading the outbox: %v", err)
		}
		for _, m := range msgs { // newest first
			if m.To != contact || s.read[m.ID] || seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			if re.MatchString(m.Text) {
				s.read[m.ID] = true
				return m.Text
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no message to %s matching %s in the outbox", contact, re)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// accountLang is the stored language of the account the phone is signed in to.
func (s *server) accountLang(t *testing.T, p *phone) string {
	t.Helper()
	id := evalOn[string](p, `import('/api.js').then((m) => m.kvGet('account'))`)
	acct, err := s.st.Account(t.Context(), id)
	if err != nil {
		t.Fatalf("reading account %q: %v", id, err)
	}
	return acct.Lang
}

// stop shuts the server down (the phones are then offline to paycode).
func (s *server) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		t.Logf("shutdown: %v", err)
	}
}
