// Package e2e drives the customer PWA in a real browser (Debian's headless
// Chromium through the Chrome DevTools Protocol, with a virtual WebAuthn
// authenticator) against a real paycode server: sign-up, the payment code
// on screen, a top-up and a payment by a store terminal, and the page
// seeing both through its event stream.
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
}

func startServer(t *testing.T, extra map[string]string) *server {
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
	srv, err := bff.New(cfg, st, slog.New(slog.NewJSONHandler(logs, nil)), bff.Deps{Keys: keys, Notifier: bff.NewNotifier(cfg, st)})
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
	return &server{origin: origin, srv: srv, st: st, logs: logs}
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
	if resp.StatusCode != 201 {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
	}
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
	return ctx, authenticator(t, ctx, false), cl
}

// authenticator adds a virtual platform authenticator to the tab of ctx:
// CTAP2.1, internal transport, resident keys, user verification that
// always succeeds, presence simulated.
//
// cmtg turns on the cmtgKey extension: cdproto always sends the member
// generateCmtgKeyOnNextOperation in WebAuthn.addCredential, and Chromium
// refuses it for an authenticator without the extension.
func authenticator(t *testing.T, ctx context.Context, cmtg bool) webauthn.AuthenticatorID {
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

func TestPWASignUpShowCodeAndSeeItPaid(t *testing.T) {
	started := time.Now()
	s := startServer(t, nil)
	bctx, auth, console := browser(t)
	ctx, cancel := context.WithTimeout(bctx, 45*time.Second)
	defer cancel()
	signUp(ctx, t, s)
	first := wait[string](ctx, t, "a payment code", codeExpr)
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#recovery-codes li').length`)); err != nil || n != 0 {
		t.Errorf("the recovery codes are still in the page after Continue: %d %v", n, err)
	}
	wait[string](ctx, t, "the balance", `(() => { const b = document.getElementById('balance').textContent; return /¥0/.test(b) ? b : false; })()`)
	t.Logf("signed up and showing code %s…%s after %v", first[:6], first[20:], time.Since(started).Round(time.Millisecond))

	// The page learns about redemptions from its event stream: pay only
	// once it listens.
	wait[bool](ctx, t, "the event stream", eventsOpen)
	term := s.registerTerminal(t, "store-e2e")
	term.call(t, "/v1/terminal/topups", map[string]any{"code": first, "amount": 5000, "currency": "JPY"})
	msg := wait[string](ctx, t, "the top-up message",
		`(() => { const p = document.getElementById('paid'); return !p.hidden && p.textContent.includes('Topped up') ? p.textContent : false; })()`)
	if msg != "Topped up ¥5,000 at store-e2e" {
		t.Errorf("top-up message = %q", msg)
	}
	// A used code is replaced at once.
	second := wait[string](ctx, t, "a fresh code after the top-up",
		strings.Replace(codeExpr, `? d : false`, fmt.Sprintf(`&& d !== %q ? d : false`, first), 1))

	term.call(t, "/v1/terminal/payments", map[string]any{"code": second, "amount": 1200, "currency": "JPY", "order_ref": "e2e-1"})
	msg = wait[string](ctx, t, "the paid message",
		`(() => { const p = document.getElementById('paid'); return !p.hidden && p.textContent.startsWith('Paid') ? p.textContent : false; })()`)
	if msg != "Paid ¥1,200 at store-e2e" {
		t.Errorf("paid message = %q", msg)
	}
	bal := wait[string](ctx, t, "the balance after paying",
		`(() => { const b = document.getElementById('balance').textContent; return b === '¥3,800' ? b : false; })()`)
	if bal != "¥3,800" {
		t.Errorf("balance = %q", bal)
	}
	if e := pageError(ctx); e != "" {
		t.Errorf("the page shows an error: %q", e)
	}

	// A reload keeps the device: the key is in IndexedDB and the session
	// comes back through the refresh cookie (the access token was only in
	// memory).
	step(ctx, t, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#screen-pay")))
	wait[string](ctx, t, "a code after the reload", codeExpr)
	// Log out, then log in again with the passkey on the same device.
	step(ctx, t, "log out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#go-login")))
	step(ctx, t, "log in",
		chromedp.Click(chromedp.CSS("#go-login")),
		chromedp.WaitVisible(chromedp.CSS("#do-login")),
		chromedp.Click(chromedp.CSS("#do-login")),
		chromedp.WaitVisible(chromedp.CSS("#screen-pay")),
	)
	wait[string](ctx, t, "a code after logging in", codeExpr)
	wait[string](ctx, t, "the balance after logging in",
		`(() => { const b = document.getElementById('balance').textContent; return b === '¥3,800' ? b : false; })()`)

	// Another device with the same passkey (as a synced passkey would be:
	// copied into a second authenticator) but its own device key, in a
	// separate browser context (empty IndexedDB, no cookie), gets no
	// session and is told why: the last login never wins.
	creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth})
	if err != nil || len(creds.Credentials) != 1 {
		t.Fatalf("reading the passkey from the authenticator: %v %d", err, len(creds.Credentials))
	}
	other, cancelOther := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	defer cancelOther()
	if err := chromedp.Do(other); err != nil {
		t.Fatalf("opening a second browser context: %v", err)
	}
	otherAuth := authenticator(t, other, true)
	c := creds.Credentials[0]
	if _, err := chromedp.Call(other, webauthn.AddCredential, webauthn.AddCredentialParams{AuthenticatorID: otherAuth,
		Credential: &webauthn.Credential{CredentialID: c.CredentialID, IsResidentCredential: c.IsResidentCredential, RpID: c.RpID,
			PrivateKey: c.PrivateKey, UserHandle: c.UserHandle, SignCount: c.SignCount, BackupEligibility: c.BackupEligibility,
			BackupState: c.BackupState, UserName: c.UserName, UserDisplayName: c.UserDisplayName}}); err != nil {
		t.Fatalf("copying the passkey: %v", err)
	}
	octx, cancelO := context.WithTimeout(other, 20*time.Second)
	defer cancelO()
	step(octx, t, "log in on another device",
		chromedp.Navigate(s.origin+"/"),
		chromedp.WaitVisible(chromedp.CSS("#go-login")),
		chromedp.Click(chromedp.CSS("#go-login")),
		chromedp.WaitVisible(chromedp.CSS("#do-login")),
		chromedp.Click(chromedp.CSS("#do-login")),
	)
	refused := wait[string](octx, t, "the new-device message",
		`(() => { const e = document.getElementById('error'); return !e.hidden && e.textContent; })()`)
	if !strings.Contains(refused, "bound to another device") {
		t.Errorf("second device: %q", refused)
	}
	if vis, _ := chromedp.Run(octx, chromedp.Evaluate[bool](`!document.getElementById('screen-pay').hidden`)); vis {
		t.Error("the second device reached the pay screen")
	}
	// The first device still has its session and codes.
	step(ctx, t, "new code on the first device", chromedp.Click(chromedp.CSS("#code-new")))
	wait[string](ctx, t, "a code on the first device", codeExpr)

	if c := console.String(); strings.Contains(c, "Content Security Policy") {
		t.Errorf("CSP violations in the console:\n%s", c)
	}
	t.Logf("whole walk: %v", time.Since(started).Round(time.Millisecond))
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
