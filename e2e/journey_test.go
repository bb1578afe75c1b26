package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/paycode/paycode/text"
	"github.com/paycode/paycode/tokens"
)

// The shopper's app, whole, as the issue walks it: sign-up in Japanese,
// pay, a decline at the register shown on the phone, a second phone with
// the copied passkey approved by the first through its screen, the first
// phone replaced (its old code refused at the register), and a third phone
// recovering with the code sent to the contact and a recovery code, its
// cool-down run on the server's injectable clock (cancelled once from the
// contact's link, then finished). axe-core checks every screen in light
// and dark mode. One browser, one context per phone.
func TestPWAShopperJourney(t *testing.T) {
	started := time.Now()
	clk := &clock{}
	// The cool-down is short and the clock jumps over it: the browsers'
	// DPoP proofs carry real time, which the server accepts up to 60 s old.
	const cooldown = 40 * time.Second
	s := startServerWithClock(t, map[string]string{"PAYCODE_RECOVERY_COOLDOWN": cooldown.String()}, clk.Now)
	root := browserRoot(t)
	ctx, cancel := context.WithTimeout(root, 150*time.Second)
	defer cancel()
	_ = ctx

	s.nameStore(t, "store-e2e", "FamilyMart Shibuya", "ファミリーマート 渋谷店")
	term := s.registerTerminal(t, "store-e2e")
	contact := "e2e-" + randomHex(4) + "@example.com"

	// ---- Phone A: sign-up in Japanese, at a real phone's density. ----
	a := newPhone(t, ctx, "phone A", phoneOpts{lang: text.Ja, dpr: 3})
	a.open(s.origin + "/")
	a.screen("welcome")
	a.says("#welcome-h", "pwa.welcome.title")
	a.audit("welcome")
	a.shots("welcome")
	a.click("#go-signup")
	a.screen("signup")
	a.says("#signup-h", "pwa.signup.title")
	a.audit("signup")
	a.fill("#contact", contact)
	a.click("#form-contact button[type=submit]")
	a.screen("otp")
	a.says("#otp-sent", "pwa.otp.sent", "contact", contact)
	a.audit("otp")
	msg := s.message(ctx, t, contact, jaCode)
	a.fill("#otp", jaCode.FindStringSubmatch(msg)[1])
	a.click("#form-otp button[type=submit]")
	a.screen("codes")
	a.says("#codes-h", "pwa.codes.title")
	codes := waitFor[[]string](a, "the recovery codes",
		`(() => { const l = [...document.querySelectorAll('#recovery-codes li')].map((li) => li.textContent); return l.length ? l : false; })()`)
	if len(codes) != 10 {
		t.Fatalf("recovery codes shown: %q", codes)
	}
	a.audit("codes")
	a.shots("codes")
	a.checkCodesKeepable(t, codes)
	a.click("#recovery-saved")
	a.click("#recovery-done")
	a.screen("pay")

	// ---- Pay: the code, crisp, a ¥0 hint, a top-up, a payment, a decline. ----
	first := a.code()
	a.says("#zero-hint", "pwa.pay.zero_hint")
	if n := evalOn[int](a, `document.querySelectorAll('#recovery-codes li').length`); n != 0 {
		t.Errorf("the recovery codes are still in the page after Continue")
	}
	a.checkBarcode(t, first)
	waitFor[bool](a, "the screen wake lock", `document.body.dataset.wakelock === 'held'`)
	a.audit("pay")
	waitFor[bool](a, "the event stream", eventsOpen)
	term.call(t, "/v1/terminal/topups", map[string]any{"code": first, "amount": 5000, "currency": "JPY"})
	a.says("#paid", "pwa.pay.topped_up", "amount", "￥5,000", "store", "ファミリーマート 渋谷店")
	second := a.nextCode(first)
	term.call(t, "/v1/terminal/payments", map[string]any{"code": second, "amount": 1200, "currency": "JPY", "order_ref": "e2e-1"})
	a.says("#paid", "pwa.pay.paid", "amount", "￥1,200", "store", "ファミリーマート 渋谷店")
	a.shows("#balance", "￥3,800")
	third := a.nextCode(second)
	// The register declines: the phone says why, in words.
	if status, body := term.try(t, "/v1/terminal/payments", map[string]any{"code": third, "amount": 9000, "currency": "JPY", "order_ref": "e2e-2"}); status != 402 || !strings.Contains(body, "insufficient_funds") {
		t.Fatalf("the register should decline: %d %s", status, body)
	}
	a.says("#declined", "pwa.decline.insufficient_funds", "amount", "￥9,000", "store", "ファミリーマート 渋谷店")
	a.audit("pay-declined")
	a.shots("pay")

	// History: store names, times, amounts; then the account screen.
	a.click("#go-history")
	a.screen("history")
	waitFor[bool](a, "two movements", `document.querySelectorAll('#history-list li').length === 2`)
	a.shows("#history-list li:first-child .h-store", "ファミリーマート 渋谷店")
	a.shows("#history-list li:first-child .h-amount", "−￥1,200")
	a.says("#history-list li:last-child .h-kind", "pwa.history.topup")
	a.audit("history")
	a.shots("history")
	a.click("#nav-account")
	a.screen("account")
	a.shows("#account-contact", contact)
	a.says("#account-lang", "pwa.lang.name.ja")
	a.audit("account")
	a.click("#screen-account button.to-pay")
	a.screen("pay")
	oldCode := a.code()

	// ---- Phone B: the same (synced) passkey, copied; English. ----
	creds, err := chromedp.Call(a.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: a.auth})
	if err != nil || len(creds.Credentials) != 1 {
		t.Fatalf("reading the passkey from phone A: %v", err)
	}
	b := newPhone(t, ctx, "phone B", phoneOpts{lang: text.En, cmtg: true})
	b.addCredential(t, creds.Credentials[0])
	b.open(s.origin + "/")
	b.screen("welcome")
	b.says("#welcome-h", "pwa.welcome.title")
	b.click("#go-login")
	b.screen("login")
	b.audit("login")
	b.click("#do-login")
	b.screen("newdevice")
	b.audit("newdevice")
	b.shots("newdevice")
	b.click("#newdevice-ask")
	b.screen("wait")
	b.audit("wait")
	b.shots("wait")

	// Phone A hears of it and approves through its screens.
	waitFor[bool](a, "the new-phone prompt", `!document.getElementById('prompt').hidden`)
	label := evalOn[string](b, `document.getElementById('wait-label').textContent`)
	a.shows("#prompt-text", pwaText(text.Ja, "pwa.prompt.text", "label", label))
	a.audit("pay-prompt")
	a.click("#prompt-review")
	a.screen("approve")
	a.shows("#approve-label", label)
	// The name is the new phone's own words: quoted, beside the note.
	if tag := evalOn[string](a, `document.getElementById('approve-label').tagName`); tag != "Q" {
		t.Errorf("the new phone's name is a %s, want a quotation (Q)", tag)
	}
	a.says("#approve-label-note", "pwa.approve.label_note")
	a.audit("approve")
	a.shots("approve")
	a.click("#approve-yes")
	waitFor[bool](a, "the approval", fmt.Sprintf(`document.body.dataset.screen === 'revoked' || document.getElementById('notice').textContent === %q`,
		pwaText(text.Ja, "pwa.approve.done")))

	// Phone B finishes by itself (its own passkey) and shows a code.
	b.screen("pay")
	b.code()

	// Phone A was replaced: it says so, and its old code is refused.
	a.screen("revoked")
	a.says("#revoked-h", "pwa.revoked.title")
	a.audit("revoked")
	a.shots("revoked")
	if status, body := term.try(t, "/v1/terminal/payments", map[string]any{"code": oldCode, "amount": 100, "currency": "JPY", "order_ref": "e2e-3"}); status != 402 || !strings.Contains(body, "device_revoked") {
		t.Errorf("the replaced phone's code at the register: %d %s, want 402 device_revoked", status, body)
	}

	// ---- Phone B's account screen: a new contact (its code goes there). ----
	// The change waits a cool-down: the account screen shows it, and the
	// old address's warning links to the app's cancel page.
	// (That it applies when the cool-down ends is bff's
	// TestEnrollContactChange: the server's 24 h cannot be jumped here
	// without leaving the browsers' DPoP clocks behind.)
	waitFor[bool](b, "the event stream", eventsOpen)
	b.click("#nav-account")
	b.screen("account")
	b.click("#go-contact")
	b.screen("contact")
	moved := "moved-" + randomHex(4) + "@example.com"
	b.fill("#new-contact", moved)
	b.click("#form-new-contact button[type=submit]")
	waitFor[bool](b, "the code field", `!document.getElementById('form-contact-otp').hidden`)
	b.audit("contact")
	b.fill("#contact-otp", jaCode.FindStringSubmatch(s.message(ctx, t, moved, jaCode))[1]) // the account speaks Japanese
	b.click("#form-contact-otp button[type=submit]")
	b.screen("account")
	b.shows("#account-contact", contact)
	waitFor[bool](b, "the pending change", `!document.getElementById('account-contact-change').hidden`)
	b.audit("account-contact-pending")

	// The old address cancels it from its warning's link, on another
	// device (phone F); the contact stays.
	f := newPhone(t, ctx, "phone F", phoneOpts{lang: text.En})
	f.open(s.origin + "/#contact-cancel=" + contactCancelLink.FindStringSubmatch(s.message(ctx, t, contact, contactCancelLink))[1])
	f.screen("cancel")
	f.says("#cancel-h", "pwa.contact_cancel.title")
	if h := evalOn[string](f, `location.hash`); h != "" {
		t.Errorf("the contact cancel code stays in the address bar: %q", h)
	}
	f.audit("contact-cancel")
	f.click("#cancel-do")
	waitFor[bool](f, "the contact change's cancellation", `!document.getElementById('cancel-done').hidden`)
	f.says("#cancel-done", "pwa.contact_cancel.done")
	b.click("#screen-account button.to-pay")
	b.screen("pay")
	b.click("#nav-account")
	b.screen("account")
	b.shows("#account-contact", contact)
	waitFor[bool](b, "no pending change", `document.getElementById('account-contact-change').hidden`)
	b.click("#screen-account button.to-pay")
	b.screen("pay")

	// A phone without the passkey asks by the account's contact, and the
	// account's phone refuses it ("Not me").
	f.open(s.origin + "/")
	f.click("#go-newphone")
	f.screen("newdevice")
	f.click("#newdevice-ask")
	f.screen("find")
	f.fill("#find-contact", contact)
	f.click("#form-find button[type=submit]")
	f.screen("verify")
	f.audit("verify")
	f.fill("#verify-otp", jaCode.FindStringSubmatch(s.message(ctx, t, contact, jaCode))[1]) // the account speaks Japanese
	f.click("#form-verify button[type=submit]")
	f.screen("wait")
	waitFor[bool](b, "the new-phone prompt", `!document.getElementById('prompt').hidden`)
	b.click("#prompt-review")
	b.screen("approve")
	b.click("#approve-no")
	b.screen("pay")
	b.says("#notice", "pwa.approve.refused")
	f.screen("ended")
	f.says("#ended-text", "pwa.ended.cancelled_device")

	// Phone B logs out and in again with its own passkey.
	b.click("#nav-account")
	b.screen("account")
	b.click("#logout")
	b.screen("welcome")
	b.says("#notice", "pwa.account.logged_out")
	b.click("#go-login")
	b.click("#do-login")
	b.screen("pay")
	b.code()
	waitFor[bool](b, "the event stream", eventsOpen)

	// ---- Phone C: lost phone; recovery with the contact's code and a recovery code. ----
	c := newPhone(t, ctx, "phone C", phoneOpts{lang: text.Ja})
	c.open(s.origin + "/")
	c.screen("welcome")
	recoverToCooldown := func(code string) {
		c.click("#go-newphone")
		c.screen("newdevice")
		c.click("#newdevice-lost")
		c.screen("find")
		c.audit("find")
		c.fill("#find-contact", contact)
		c.click("#form-find button[type=submit]")
		c.screen("recover")
		c.audit("recover")
		// The account's language is Japanese: so is the code's message.
		otp := jaCode.FindStringSubmatch(s.message(ctx, t, contact, jaCode))[1]
		c.fill("#recover-otp", otp)
		c.fill("#recover-code", code)
		c.click("#form-recover button[type=submit]")
		c.screen("cooldown")
		waitFor[bool](c, "the countdown", `/^[0-9]+:[0-9]{2}$/.test(document.getElementById('cooldown-left').textContent)`)
	}
	recoverToCooldown(codes[0])
	c.audit("cooldown")
	c.shots("cooldown")
	// Phone B (the account's phone now) sees the recovery and could refuse.
	waitFor[bool](b, "the recovery prompt on phone B", `!document.getElementById('prompt').hidden`)

	// The contact's warning carries a link to the app's cancel page; opened
	// on another device (phone F, in Japanese now, as the warning), it
	// cancels the recovery.
	warning := s.message(ctx, t, contact, cancelLink)
	d := f
	d.switchLang(text.Ja)
	d.open(s.origin + "/#cancel=" + cancelLink.FindStringSubmatch(warning)[1])
	d.screen("cancel")
	if h := evalOn[string](d, `location.hash`); h != "" {
		t.Errorf("the cancel code stays in the address bar: %q", h)
	}
	d.audit("cancel")
	d.click("#cancel-do")
	waitFor[bool](d, "the cancellation", `!document.getElementById('cancel-done').hidden`)
	d.audit("cancel-done")
	c.screen("ended")
	c.says("#ended-text", "pwa.ended.cancelled_contact")
	c.audit("ended")
	c.click("#screen-ended button.start-over")
	c.screen("welcome")

	// Again, and this time the cool-down runs out on the server's clock.
	// The passkey prompt that finishes is refused once (the shopper
	// cancelled it): the app offers the button, which finishes.
	recoverToCooldown(codes[1])
	must(t, "refuse user verification", cdpCall(c.ctx, webauthn.SetUserVerified, webauthn.SetUserVerifiedParams{AuthenticatorID: c.auth, IsUserVerified: false}))
	clk.Advance(cooldown + time.Second)
	c.screen("ready")
	c.says("#error", "pwa.passkey.cancelled")
	c.audit("ready")
	must(t, "allow user verification", cdpCall(c.ctx, webauthn.SetUserVerified, webauthn.SetUserVerifiedParams{AuthenticatorID: c.auth, IsUserVerified: true}))
	c.click("#ready-finish")
	c.screen("pay")
	c.code()
	c.says("#notice", "pwa.ready.done")
	b.screen("revoked")

	// 200 % text keeps the code readable (no overflow, digits in the card).
	c.checkLargeText(t)

	// The language switch: the page and the account's messages follow.
	c.switchLang(text.En)
	c.says("#pay-h", "pwa.pay.title")
	if l := s.accountLang(t, c); l != "en" {
		t.Errorf("the account's language after the switch = %q, want en", l)
	}

	// Offline: the server goes away; a reload shows the pay screen from the
	// service worker's shell, offline, and no code (never the sign-up).
	waitFor[bool](c, "the service worker", `navigator.serviceWorker.controller !== null || (navigator.serviceWorker.ready.then(() => true), false)`)
	s.stop(t)
	c.do("reload offline", chromedp.Reload())
	c.screen("pay")
	waitFor[bool](c, "the offline state", `!document.getElementById('offline').hidden && document.body.dataset.code !== 'shown'`)
	c.says("#code-status", "pwa.pay.offline_code")
	c.audit("pay-offline")

	for _, p := range []*phone{a, b, c, f} {
		p.checkConsole()
	}
	for _, want := range []string{"welcome", "signup", "otp", "codes", "pay", "pay-declined", "history", "account", "login",
		"newdevice", "wait", "pay-prompt", "approve", "revoked", "find", "recover", "cooldown", "cancel",
		"cancel-done", "ended", "ready", "contact", "verify", "pay-offline", "account-contact-pending", "contact-cancel"} {
		if !audited[want] {
			t.Errorf("the screen %s was not audited", want)
		}
	}
	t.Logf("whole journey: %v (axe-core and the target check: %v)", time.Since(started).Round(time.Millisecond), auditTime.Round(time.Millisecond))
}

var (
	jaCode     = regexp.MustCompile(`コードは ([0-9]{6}) です`)
	cancelLink = regexp.MustCompile(`#cancel=([A-Za-z0-9_.\-]+)`)
	// The contact change's warning to the old address.
	contactCancelLink = regexp.MustCompile(`#contact-cancel=([A-Za-z0-9_.\-]+)`)
)

// browserRoot starts headless Chromium with a fresh profile and returns
// the browser's first context (each phone opens a context of its own).
func browserRoot(t *testing.T) context.Context {
	t.Helper()
	ctx, _, _ := browser(t)
	return ctx
}

// code waits for a payment code on the pay screen and returns its digits.
func (p *phone) code() string {
	p.t.Helper()
	return waitFor[string](p, "a payment code", codeExpr)
}

// nextCode waits for a code other than prev (a used code is replaced).
func (p *phone) nextCode(prev string) string {
	p.t.Helper()
	return waitFor[string](p, "a fresh code", strings.Replace(codeExpr, `? d : false`, fmt.Sprintf(`&& d !== %q ? d : false`, prev), 1))
}

func (p *phone) addCredential(t *testing.T, c *webauthn.Credential) {
	t.Helper()
	if err := cdpCall(p.ctx, webauthn.AddCredential, webauthn.AddCredentialParams{AuthenticatorID: p.auth,
		Credential: &webauthn.Credential{CredentialID: c.CredentialID, IsResidentCredential: c.IsResidentCredential, RpID: c.RpID,
			PrivateKey: c.PrivateKey, UserHandle: c.UserHandle, SignCount: c.SignCount, BackupEligibility: c.BackupEligibility,
			BackupState: c.BackupState, UserName: c.UserName, UserDisplayName: c.UserDisplayName}}); err != nil {
		t.Fatalf("copying the passkey to %s: %v", p.name, err)
	}
}

// checkCodesKeepable: the recovery codes can be copied, downloaded as a
// text file (that holds them all) and printed (print shows only them).
func (p *phone) checkCodesKeepable(t *testing.T, codes []string) {
	t.Helper()
	dir := t.TempDir()
	must(t, "downloads", cdpBrowser(p.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, BrowserContextID: chromedp.FromContext(p.ctx).BrowserContextID}))
	p.click("#codes-copy")
	waitFor[bool](p, "the copy notice", `document.getElementById('notice').textContent !== ''`)
	p.click("#codes-download")
	file := filepath.Join(dir, "paycode-recovery-codes.txt")
	var body []byte
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(file)
		if err == nil && len(b) > 0 && strings.Contains(string(b), codes[len(codes)-1]) {
			body = b
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the downloaded recovery codes never appeared in %s", dir)
		}
		select {
		case <-p.ctx.Done():
			t.Fatal(p.ctx.Err())
		case <-time.After(50 * time.Millisecond): // polling the file system, bounded above
		}
	}
	for _, c := range codes {
		if !strings.Contains(string(body), c) {
			t.Errorf("the downloaded file lacks %s", c)
		}
	}
	must(t, "print media", cdpCall(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}))
	hidden := evalOn[bool](p, `getComputedStyle(document.querySelector('.bar')).display === 'none' &&
		getComputedStyle(document.getElementById('codes-print')).display === 'none' &&
		getComputedStyle(document.getElementById('recovery-codes')).display !== 'none'`)
	must(t, "screen media", cdpCall(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}))
	if !hidden {
		t.Error("printing the recovery codes prints more than the codes")
	}
}

// checkBarcode: the Code 128 bars drawn by the page are the server
// encoder's bars, every module is a whole number of device pixels, and a
// screenshot of the card decodes (zbarimg) to the code.
func (p *phone) checkBarcode(t *testing.T, digits string) {
	t.Helper()
	code, err := tokens.ParseCode(digits, "99")
	if err != nil {
		t.Fatal(err)
	}
	want := serverModules(t, code)
	got := evalOn[string](p, fmt.Sprintf(`import('/barcode.js').then((m) => m.modules(%q))`, digits))
	if got != want {
		t.Errorf("the page's Code 128 differs from the server's:\npage   %s\nserver %s", got, want)
	}
	px := evalOn[string](p, `document.getElementById('code-128').dataset.modulePx`)
	if px == "" || px == "0" {
		t.Errorf("module width %q device px", px)
	}
	if _, err := exec.LookPath("zbarimg"); err != nil {
		if os.Getenv("CI") != "" || os.Getenv("PAYCODE_TEST_REQUIRE_REDIS") != "" {
			t.Fatalf("zbarimg is required here: %v", err)
		}
		t.Log("zbarimg is not installed: the screenshot is not decoded")
		return
	}
	shot, err := chromedp.Run(p.ctx, chromedp.Screenshot(chromedp.CSS("#code-card")))
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "code.png")
	if err := os.WriteFile(f, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("zbarimg", "--quiet", "--raw", "-Sdisable", "-Scode128.enable", f).Output()
	if err != nil || strings.TrimSpace(string(out)) != digits {
		t.Errorf("zbarimg read %q (%v) from the screenshot, want %s", out, err, digits)
		if dir := os.Getenv("PAYCODE_E2E_KEEP"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, "barcode-failed.png"), shot, 0o644)
		}
	}
}

// checkLargeText doubles the root font size: the page stays within the
// phone's width and the code's digits inside the card.
func (p *phone) checkLargeText(t *testing.T) {
	t.Helper()
	ok := evalOn[string](p, `(() => {
		document.documentElement.style.fontSize = '200%';
		const card = document.getElementById('code-card').getBoundingClientRect();
		const digits = document.querySelector('.digits').getBoundingClientRect();
		const bars = document.getElementById('code-128').getBoundingClientRect();
		const wide = document.documentElement.scrollWidth > window.innerWidth + 1;
		document.documentElement.style.fontSize = '';
		if (wide) return 'the page overflows the width';
		if (digits.left < card.left || digits.right > card.right) return 'the digits leave the card';
		if (bars.width < card.width * 0.6) return 'the barcode shrank to ' + bars.width;
		return 'ok';
	})()`)
	if ok != "ok" {
		t.Errorf("%s at 200%% text: %s", p.name, ok)
	}
}

// serverModules is the server encoder's Code 128 (tokens.Code128PNG at one
// pixel per module) as '1' (bar) and '0' (space) modules, without the
// quiet zones.
func serverModules(t *testing.T, c tokens.Code) string {
	t.Helper()
	raw, err := tokens.Code128PNG(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	bnd := img.Bounds()
	for x := bnd.Min.X + tokens.Code128QuietModules; x < bnd.Max.X-tokens.Code128QuietModules; x++ {
		if y, _, _, _ := img.At(x, bnd.Min.Y).RGBA(); y < 0x8000 {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
	}
	return b.String()
}

// shows waits until the element's text is literally want.
func (p *phone) shows(sel, want string) {
	p.t.Helper()
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.trim() === %q; })()`, sel, want)
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second),
		chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		got, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel)))
		p.fail("%s should show %q, shows %q", sel, want, got)
	}
}
