package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/paycode/paycode/text"
)

// The store's register without a POS (/scanner), as the issue walks it: a
// shopper's PWA in one browser context, the scanner page in another, one
// Chromium whose camera is a video the test writes from the shopper's
// real codes (Code 128, then QR). BarcodeDetector is removed from the
// register's pages, so the vendored decoder (zxing) is the one that reads.
// The register pairs by its key (registered through the admin API, as
// paycodectl does) and by a pairing code that works once and never again; it tops up, sells (a double tap and a
// dropped answer each charge once), declines in a clerk's words, refunds
// part and all of a sale, and stops when the operator suspends it.
// axe-core checks every screen of the register.
func TestScannerRegister(t *testing.T) {
	started := time.Now()
	s := startServer(t, map[string]string{"PAYCODE_CODE_TTL": "5m", "PAYCODE_CODE_ROTATE": "4m"})
	s.nameStore(t, "store-scan", "Lawson Ebisu", "ローソン 恵比寿店")
	cam := filepath.Join(t.TempDir(), "camera.y4m")
	writeY4M(t, cam, blankImage())
	root, _, _ := browserWith(t,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-video-capture", cam),
	)

	// ---- The shopper: signed up in English, a code on the screen. ----
	a := newPhone(t, root, "shopper", phoneOpts{lang: text.En})
	signUp(a.ctx, t, s)
	a.screen("pay")
	code1 := a.code()
	waitFor[bool](a, "the event stream", eventsOpen)

	// ---- The register: a tablet, in Japanese, no BarcodeDetector. ----
	r := newRegister(t, root)
	r.open(s.origin + "/scanner")
	r.screen("pair")
	r.says("#pair-h", "scanner.pair.title")
	pem := waitFor[string](r.phone, "the public key", `(() => { const p = document.getElementById('key-pem').textContent; return p.includes('BEGIN PUBLIC KEY') ? p : false; })()`)
	waitFor[bool](r.phone, "the key's QR code", `document.querySelectorAll('#key-qr rect').length > 100`)
	if n := evalOn[bool](r.phone, `(async () => { const d = await new Promise((ok) => { const q = indexedDB.open('paycode-scanner'); q.onsuccess = () => ok(q.result); });
		const k = await new Promise((ok) => { const g = d.transaction('kv').objectStore('kv').get('key'); g.onsuccess = () => ok(g.result); });
		return k.privateKey.extractable === false && k.privateKey.algorithm.namedCurve === 'P-256'; })()`); !n {
		t.Error("the register's private key is extractable or not P-256")
	}
	r.audit("scanner-pair")
	r.shots("scanner-pair")

	// Pair by key: the operator registers the PEM, the clerk types the id.
	termID := s.registerTerminalPEM(t, "store-scan", "lane 2", pem)
	r.fill("#terminal-id", termID)
	r.click("#form-terminal-id button[type=submit]")
	r.screen("sell")
	r.says("#notice", "scanner.pair.done")
	r.says("#paired-as", "scanner.paired_as", "store", "ローソン 恵比寿店", "label", "lane 2")

	// ---- Top-up ¥5,000 in cash: Code 128 from the camera. ----
	r.click("#mode-topup")
	r.says("#sell-h", "scanner.topup.title")
	r.keys("5000")
	writeY4M(t, cam, codeImage(t, code1, false))
	r.scan(code1)
	r.click("#pay")
	r.approved("scanner.sale.topped_up", "￥5,000")
	a.says("#paid", "pwa.pay.topped_up", "amount", "¥5,000", "store", "Lawson Ebisu")
	r.audit("scanner-topup")

	// ---- A sale of ¥1,200, QR from the camera, Pay tapped twice. ----
	code2 := a.nextCode(code1)
	r.click("#next")
	r.click("#mode-sale")
	r.keys("1200")
	r.fill("#order-ref", "R-1001")
	writeY4M(t, cam, codeImage(t, code2, true))
	r.scan(code2)
	r.do("double tap on Pay", chromedp.DoubleClick(chromedp.CSS("#pay")))
	r.approved("scanner.sale.approved", "￥1,200")
	sale := evalOn[string](r.phone, `document.getElementById('result-id').dataset.paymentId`)
	a.says("#paid", "pwa.pay.paid", "amount", "¥1,200", "store", "Lawson Ebisu")
	a.shows("#balance", "¥3,800")
	r.audit("scanner-approved")
	r.shots("scanner-approved")

	// ---- A sale of ¥300 whose first answer is lost on the way back. ----
	code3 := a.nextCode(code2)
	r.click("#next")
	r.keys("300")
	writeY4M(t, cam, codeImage(t, code3, false))
	r.scan(code3)
	dropped := r.dropFirstAnswer("*/v1/terminal/payments")
	r.click("#pay")
	r.approved("scanner.sale.approved", "￥300")
	r.says("#result-note", "scanner.sale.once")
	if n := dropped.Load(); n != 1 {
		t.Errorf("%d answers were dropped, want 1", n)
	}
	r.stopDropping()
	a.says("#paid", "pwa.pay.paid", "amount", "¥300", "store", "Lawson Ebisu")
	a.shows("#balance", "¥3,500")

	// ---- Typed: a wrong check digit is caught; a decline in words. ----
	code4 := a.nextCode(code3)
	r.click("#next")
	r.keys("9000")
	r.fill("#code", group4(code4[:23]+string('0'+(code4[23]-'0'+1)%10)))
	r.says("#code-state", "scanner.code.check")
	r.fill("#code", group4(code4))
	r.says("#code-state", "scanner.code.ok")
	r.click("#pay")
	waitFor[bool](r.phone, "the decline", `document.body.dataset.sale === 'declined'`)
	r.says("#result-head", "scanner.sale.declined")
	r.says("#result-text", "scanner.problem.insufficient_funds")
	r.audit("scanner-declined")
	r.shots("scanner-declined")
	a.says("#declined", "pwa.decline.insufficient_funds", "amount", "¥9,000", "store", "Lawson Ebisu")

	// ---- Refunds: part, then the rest, of the ¥1,200 sale. ----
	r.click("#go-refunds")
	r.screen("refunds")
	r.says("#refunds-h", "scanner.refunds.title")
	// Today's sales at this register: the two sales (top-ups are not
	// refunded at the register), newest first.
	waitFor[bool](r.phone, "today's two sales", `document.querySelectorAll('#sales li').length === 2`)
	r.click(fmt.Sprintf(`#sales button[data-id=%q]`, sale))
	waitFor[bool](r.phone, "the refund form", `!document.getElementById('refund-panel').hidden`)
	r.shows("#refund-remaining", "￥1,200")
	r.fill("#refund-amount", "200")
	r.says("#refund-submit", "scanner.refund.part_button", "amount", "￥200")
	r.click("#refund-submit")
	r.says("#refund-result-head", "scanner.refund.done", "amount", "￥200")
	r.shows("#refund-remaining", "￥1,000")
	r.audit("scanner-refund")
	r.shots("scanner-refund")
	// The same sale found by its number (from the receipt).
	r.fill("#payment-id", sale)
	r.click("#form-find button[type=submit]")
	r.shows("#refund-remaining", "￥1,000")
	r.says("#refund-submit", "scanner.refund.all_button", "amount", "￥1,000")
	r.click("#refund-submit")
	r.says("#refund-result-head", "scanner.refund.done", "amount", "￥1,000")
	r.shows("#refund-remaining", "￥0")

	// ---- The shopper's history: one top-up, two payments, two refunds;
	// the balance, read again, has the refunds back. ----
	a.click("#go-history")
	a.screen("history")
	waitFor[bool](a, "five movements", `document.querySelectorAll('#history-list li').length === 5`)
	a.do("reload the shopper's app", chromedp.Reload())
	a.screen("pay")
	a.shows("#balance", "¥4,700")

	// ---- The operator suspends the register: it says so, and what to do. ----
	s.admin(t, "POST", "/v1/terminals/"+termID+"/suspend", map[string]string{"operator": "e2e", "reason": "browser test"}, 200)
	r.click("#go-sell")
	r.screen("sell")
	r.keys("100")
	r.fill("#code", group4(code4))
	r.click("#pay")
	r.screen("blocked")
	r.says("#blocked-text", "scanner.blocked.suspended")
	r.audit("scanner-blocked")
	s.admin(t, "POST", "/v1/terminals/"+termID+"/activate", map[string]string{"operator": "e2e", "reason": "browser test"}, 200)
	r.click("#blocked-retry")
	r.screen("sell")

	// ---- A pairing code: works once, and never again. ----
	r.click("#go-refunds")
	r.screen("refunds")
	r.click("#unpair")
	r.screen("pair")
	pairing := s.pairingCode(t, "store-scan", "lane 3")
	r.fill("#pairing-code", pairing)
	r.click("#form-pairing button[type=submit]")
	r.screen("sell")
	r.says("#paired-as", "scanner.paired_as", "store", "ローソン 恵比寿店", "label", "lane 3")
	// The same code on another register: refused, in words.
	r2 := newRegister(t, root)
	r2.open(s.origin + "/scanner")
	r2.screen("pair")
	r2.fill("#pairing-code", pairing)
	r2.click("#form-pairing button[type=submit]")
	r2.says("#error", "scanner.problem.invalid_pairing_code")
	r2.screen("pair")
	r2.audit("scanner-pair-refused")

	for _, p := range []*phone{a, r.phone} {
		p.checkConsole()
	}
	if leak := evalOn[string](r.phone, `(document.body.innerText.match(/scanner\.[a-z_.]+/) || [''])[0]`); leak != "" {
		t.Errorf("the register shows the untranslated id %s", leak)
	}
	t.Logf("register walk: %v", time.Since(started).Round(time.Millisecond))
}

// register is the scanner page on a tablet (800x1280 CSS px), in Japanese.
type register struct {
	*phone
	stop func()
}

func newRegister(t *testing.T, root context.Context) *register {
	t.Helper()
	p := newPhone(t, root, "register", phoneOpts{lang: text.Ja, dpr: 1})
	must(t, "register: a tablet",
		cdpCall(p.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 800, Height: 1280, DeviceScaleFactor: 1, Mobile: true}),
		// The vendored decoder is what this test checks, whatever the
		// browser has.
		cdpCall(p.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `delete window.BarcodeDetector;`}),
		// The clerk allowed the camera (a context of its own does not
		// inherit --use-fake-ui-for-media-stream's answer).
		cdpBrowser(p.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{Permission: &cdpbrowser.PermissionDescriptor{Name: "camera"},
			Setting: cdpbrowser.PermissionSettingGranted, BrowserContextID: chromedp.FromContext(p.ctx).BrowserContextID}),
	)
	return &register{phone: p}
}

// keys types an amount on the register's keypad.
func (r *register) keys(digits string) {
	r.t.Helper()
	r.click(`#keypad button[data-key="clear"]`)
	for _, d := range digits {
		r.click(fmt.Sprintf(`#keypad button[data-key="%c"]`, d))
	}
}

// scan starts the camera and waits until the page has read want with the
// vendored decoder.
func (r *register) scan(want string) {
	r.t.Helper()
	r.do("clear the decoder mark", chromedp.Evaluate[chromedp.Void](`delete document.body.dataset.decoder`))
	r.click("#scan")
	got := waitFor[string](r.phone, "the code from the camera",
		`(() => { const d = document.getElementById('code').value.replace(/\s/g, ''); return d.length === 24 && document.body.dataset.decoder ? d : false; })()`)
	if got != want {
		r.t.Fatalf("the camera read %s, the shopper shows %s", got, want)
	}
	if dec := evalOn[string](r.phone, `document.body.dataset.decoder`); dec != "zxing" {
		r.t.Errorf("the code was read by %q, want the vendored zxing", dec)
	}
	r.says("#code-state", "scanner.code.ok")
}

// approved waits for the big green answer.
func (r *register) approved(head text.ID, amount string) {
	r.t.Helper()
	waitFor[bool](r.phone, "the approval", `document.body.dataset.sale === 'approved'`)
	r.says("#result-head", head)
	r.shows("#result-amount", amount)
	if cls := evalOn[string](r.phone, `document.getElementById('result').className`); cls != "result approved" {
		r.t.Errorf("the result box is %q", cls)
	}
}

// dropFirstAnswer lets the first request to pattern reach the server and
// fails its answer on the way back (a connection reset), as a flaky
// network does; the requests after it pass. It returns the number dropped.
func (r *register) dropFirstAnswer(pattern string) *atomic.Int32 {
	r.t.Helper()
	var dropped atomic.Int32
	ctx, cancel := context.WithCancel(r.ctx)
	r.stop = cancel
	events := chromedp.Events(ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			if ev.ResponseStatusCode != 0 && dropped.CompareAndSwap(0, 1) {
				_ = cdpCall(r.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
				continue
			}
			_ = cdpCall(r.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()
	must(r.t, "intercept "+pattern, cdpCall(r.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: pattern, RequestStage: fetch.RequestStageResponse}}}))
	return &dropped
}

func (r *register) stopDropping() {
	r.t.Helper()
	must(r.t, "stop intercepting", cdpCall(r.ctx, fetch.Disable, cdp.Empty{}))
	if r.stop != nil {
		r.stop()
	}
}

func group4(digits string) string {
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// registerTerminalPEM registers a public key as the admin API (and
// paycodectl terminal register --public-key-file) does, and returns the
// terminal id.
func (s *server) registerTerminalPEM(t *testing.T, storeID, label, pem string) string {
	t.Helper()
	raw := s.admin(t, "POST", "/v1/terminals", map[string]string{"operator": "e2e", "reason": "browser test", "store_id": storeID,
		"label": label, "public_key_pem": pem}, 201)
	var out struct {
		TerminalID string `json:"terminal_id"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.TerminalID == "" {
		t.Fatalf("registering the register's key: %s", raw)
	}
	return out.TerminalID
}

// pairingCode asks the admin API (as paycodectl terminal pair does) for a
// one-time pairing code.
func (s *server) pairingCode(t *testing.T, storeID, label string) string {
	t.Helper()
	raw := s.admin(t, "POST", "/v1/terminal-pairings",
		map[string]string{"operator": "e2e", "reason": "browser test", "store_id": storeID, "label": label}, 201)
	var out struct {
		PairingCode string `json:"pairing_code"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.PairingCode == "" {
		t.Fatalf("pairing code: %s", raw)
	}
	return out.PairingCode
}

func (s *server) adminDo(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req := httptest.NewRequest(method, path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := s.srv.Admin().Test(req, 10_000)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// admin calls the admin API and wants the status want.
func (s *server) admin(t *testing.T, method, path string, body any, want int) []byte {
	t.Helper()
	status, raw := s.adminDo(t, method, path, body)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, raw, want)
	}
	return raw
}
