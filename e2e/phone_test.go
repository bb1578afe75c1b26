package e2e

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/paycode/paycode/text"
)

// A phone is a browser context of its own (its own IndexedDB, cookies and
// service worker: another device to paycode) with one tab, a virtual
// platform authenticator, a language and a phone's viewport (390x844).

//go:embed testdata/axe-core/axe.min.js
var axeSource string

type phone struct {
	t    *testing.T
	name string
	lang text.Lang // the language the app should speak
	ctx  context.Context
	auth webauthn.AuthenticatorID
	dpr  float64
	log  *consoleLog
}

type phoneOpts struct {
	lang text.Lang
	dpr  float64
	cmtg bool // see authenticator
}

func cdpCall[P, R any](ctx context.Context, cmd cdp.Command[P, R], params P) error {
	_, err := chromedp.Call(ctx, cmd, params)
	return err
}

func cdpBrowser[P, R any](ctx context.Context, cmd cdp.Command[P, R], params P) error {
	_, err := chromedp.CallBrowser(ctx, cmd, params)
	return err
}

func must(t *testing.T, what string, errs ...error) {
	t.Helper()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// newPhone opens a browser context in the browser of root.
func newPhone(t *testing.T, root context.Context, name string, o phoneOpts) *phone {
	t.Helper()
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: opening a browser context: %v", name, err)
	}
	if o.dpr == 0 {
		o.dpr = 2
	}
	p := &phone{t: t, name: name, lang: o.lang, ctx: ctx, dpr: o.dpr}
	cl := &consoleLog{}
	p.log = cl
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
			t.Logf("%s's console:\n%s", name, cl.String())
		}
	})
	p.auth = authenticator(t, ctx, o.cmtg, true)
	ver, err := chromedp.CallBrowser(ctx, cdpbrowser.GetVersion, cdp.Empty{})
	if err != nil {
		t.Fatal(err)
	}
	accept, locale := "en-US,en", "en_US"
	if o.lang == text.Ja {
		accept, locale = "ja-JP,ja", "ja_JP"
	}
	bcid := chromedp.FromContext(ctx).BrowserContextID
	must(t, name+": emulation",
		cdpCall(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ver.UserAgent, AcceptLanguage: accept}),
		cdpCall(ctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: locale}),
		cdpCall(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844,
			DeviceScaleFactor: o.dpr, Mobile: true}),
		// A shopper's phone lets the page keep the screen on while it shows a code.
		cdpBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{Permission: &cdpbrowser.PermissionDescriptor{Name: "screen-wake-lock"},
			Setting: cdpbrowser.PermissionSettingGranted, BrowserContextID: bcid}),
	)
	return p
}

// fail stops the test with what the page shows.
func (p *phone) fail(format string, args ...any) {
	p.t.Helper()
	state, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.documentElement.lang + ' ' + (document.body.dataset.screen || '?') + ' | error: ' +
		(document.getElementById('error').hidden ? '-' : document.getElementById('error').textContent) + ' | notice: ' +
		document.getElementById('notice').textContent`))
	p.t.Fatalf("%s: %s (page: %s)", p.name, fmt.Sprintf(format, args...), state)
}

// waitFor polls a JavaScript expression until it is truthy (bounded) and
// returns its value.
func waitFor[T any](p *phone, what, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(20*time.Second),
		chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		p.fail("waiting for %s: %v", what, err)
	}
	return v
}

func evalOn[T any](p *phone, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.fail("evaluating %s: %v", expr, err)
	}
	return v
}

func (p *phone) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.fail("%s: %v", what, err)
	}
}

func (p *phone) open(url string) {
	p.t.Helper()
	p.do("open "+url, chromedp.Navigate(url))
}

// screen waits until the app shows the screen name.
func (p *phone) screen(name string) {
	p.t.Helper()
	waitFor[bool](p, "the screen "+name, fmt.Sprintf(`document.body.dataset.screen === %q`, name))
}

func (p *phone) click(sel string) {
	p.t.Helper()
	p.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

func (p *phone) fill(sel, value string) {
	p.t.Helper()
	p.do("fill "+sel, chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ''`, sel)),
		chromedp.SendKeys(chromedp.CSS(sel), value))
}

// says waits until the element shows the catalogue text id (with args)
// in the phone's language.
func (p *phone) says(sel string, id text.ID, args ...string) {
	p.t.Helper()
	want := pwaText(p.lang, id, args...)
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.textContent.trim() === %q; })()`, sel, want)
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(20*time.Second),
		chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		got, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel)))
		p.fail("%s should say %q (%s), says %q", sel, want, id, got)
	}
}

// pwaText is a PWA message rendered like the app renders it (the app
// quotes {x!q} with 「」 in Japanese).
func pwaText(l text.Lang, id text.ID, args ...string) string {
	e, ok := text.Lookup(id)
	if !ok {
		return string(id)
	}
	s := e.Template(l)
	for i := 0; i+1 < len(args); i += 2 {
		q := `"` + args[i+1] + `"`
		if l == text.Ja {
			q = "「" + args[i+1] + "」"
		}
		s = strings.ReplaceAll(s, "{"+args[i]+"!q}", q)
		s = strings.ReplaceAll(s, "{"+args[i]+"}", args[i+1])
	}
	return s
}

// axeViolation is what the test reports of one failed axe-core rule.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// audit checks the screen shown now, in light and in dark mode:
// axe-core finds no violation (every rule axe runs by default, WCAG 2.2 AA
// included), every visible control is at least 44x44 CSS px, the page
// speaks the phone's language (<html lang>, no catalogue id left
// untranslated), and nothing overflows the width.
func (p *phone) audit(name string) {
	p.t.Helper()
	started := time.Now()
	if !evalOn[bool](p, `typeof window.axe === 'object'`) {
		p.do("inject axe-core", chromedp.Evaluate[chromedp.Void](axeSource))
	}
	defer func() {
		_ = cdpCall(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
		auditTime += time.Since(started)
	}()
	for _, scheme := range []string{"light", "dark"} {
		must(p.t, "emulate "+scheme, cdpCall(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}))
		// Light: every rule axe runs by default. Dark: the rules whose
		// outcome depends on colours (the scheme changes nothing else: the
		// stylesheet's dark block sets only colour variables), which halves
		// the time the audit takes on two shared cores.
		opts := `{resultTypes: ['violations']}`
		if scheme == "dark" {
			opts = `{resultTypes: ['violations'], runOnly: {type: 'rule', values: ['color-contrast', 'link-in-text-block', 'non-text-contrast']
				.filter((id) => axe.getRules().some((r) => r.ruleId === id))}}`
		}
		raw := evalOn[string](p, `axe.run(document, `+opts+`).then((r) => JSON.stringify(r.violations.map((v) => ({
			id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.map((n) => n.target.join(' ') + ': ' + (n.failureSummary || '').replace(/\s+/g, ' '))}))))`)
		var vs []axeViolation
		if err := json.Unmarshal([]byte(raw), &vs); err != nil {
			p.t.Fatalf("%s: axe answered %q", p.name, raw)
		}
		for _, v := range vs {
			p.t.Errorf("%s: axe-core, screen %s, %s mode: %s (%s): %s\n  %s", p.name, name, scheme, v.ID, v.Impact, v.Help,
				strings.Join(v.Nodes, "\n  "))
		}
	}
	small := evalOn[[]string](p, `[...document.querySelectorAll('button, a[href], input:not([type=checkbox]), label.check, select, textarea')]
		.filter((e) => e.offsetParent !== null && getComputedStyle(e).visibility !== 'hidden')
		.map((e) => [e, e.getBoundingClientRect()])
		.filter(([, r]) => r.width < 43.5 || r.height < 43.5)
		.map(([e, r]) => (e.id || e.className || e.tagName) + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))`)
	for _, s := range small {
		p.t.Errorf("%s: screen %s: a touch target smaller than 44x44 px: %s", p.name, name, s)
	}
	if got := evalOn[string](p, `document.documentElement.lang`); got != string(p.lang) {
		p.t.Errorf("%s: screen %s: <html lang=%q>, want %q", p.name, name, got, p.lang)
	}
	if leak := evalOn[string](p, `(document.body.innerText.match(/pwa\.[a-z_.]+/) || [''])[0]`); leak != "" {
		p.t.Errorf("%s: screen %s shows the untranslated id %s", p.name, name, leak)
	}
	if over := evalOn[bool](p, `document.documentElement.scrollWidth > window.innerWidth + 1`); over {
		p.t.Errorf("%s: screen %s is wider than the phone", p.name, name)
	}
	audited[name] = true
}

var (
	auditTime time.Duration
	audited   = map[string]bool{}
)

// shot saves a screenshot of what the phone shows as
// $PAYCODE_E2E_SCREENSHOTS/<name>-<lang>.png (390x844 CSS px, scaled to
// one pixel per CSS px), when that variable is set.
func (p *phone) shot(name string) {
	p.t.Helper()
	dir := os.Getenv("PAYCODE_E2E_SCREENSHOTS")
	if dir == "" {
		return
	}
	raw, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("%s: screenshot: %v", p.name, err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		p.t.Fatal(err)
	}
	out := downscale(img, int(p.dpr))
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&b, out); err != nil {
		p.t.Fatal(err)
	}
	lang := evalOn[string](p, `document.documentElement.lang`)
	file := filepath.Join(dir, name+"-"+lang+".png")
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot %s (%d KB)", file, b.Len()/1024)
}

// downscale averages f x f blocks (a screenshot at device pixel ratio f
// back to CSS pixels), as a paletted-friendly RGBA image.
func downscale(src image.Image, f int) image.Image {
	if f <= 1 {
		return src
	}
	bnd := src.Bounds()
	w, h := bnd.Dx()/f, bnd.Dy()/f
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			var r, g, bl, a uint32
			for dy := range f {
				for dx := range f {
					cr, cg, cb, ca := src.At(bnd.Min.X+x*f+dx, bnd.Min.Y+y*f+dy).RGBA()
					r, g, bl, a = r+cr, g+cg, bl+cb, a+ca
				}
			}
			n := uint32(f * f)
			dst.Set(x, y, color.RGBA64{uint16(r / n), uint16(g / n), uint16(bl / n), uint16(a / n)})
		}
	}
	return dst
}

// switchLang presses the language button and waits for the page to speak l.
func (p *phone) switchLang(l text.Lang) {
	p.t.Helper()
	p.click("#lang-switch")
	waitFor[bool](p, "the page in "+string(l), fmt.Sprintf(`document.documentElement.lang === %q && document.body.dataset.langSaved === %q`, l, l))
	p.lang = l
}

// shots takes the screenshot in the phone's language and, switched, in the
// other one (switching back after), when screenshots are asked for.
func (p *phone) shots(name string) {
	p.t.Helper()
	if os.Getenv("PAYCODE_E2E_SCREENSHOTS") == "" {
		return
	}
	first := p.lang
	other := text.En
	if first == text.En {
		other = text.Ja
	}
	p.shot(name)
	p.switchLang(other)
	p.shot(name)
	p.switchLang(first)
}

// checkConsole fails on what a phone's console shows of a script error or
// a Content-Security-Policy refusal.
func (p *phone) checkConsole() {
	p.t.Helper()
	for _, bad := range []string{"Content Security Policy", "Uncaught"} {
		if c := p.log.String(); strings.Contains(c, bad) {
			p.t.Errorf("%s: %q in the console:\n%s", p.name, bad, c)
		}
	}
}
