package bff

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/paycode/paycode/store/storetest"
)

// The dashboard (deploy/grafana/paycode.json) and the alert rules
// (deploy/prometheus/alerts.yml) use only metrics and labels a running
// server exports: a metric renamed in Go without the deploy files (or the
// other way round) fails here, not silently in production as an empty
// panel or an alert that can never fire.
func TestDeployFilesUseExportedMetrics(t *testing.T) {
	exprs := deployExprs(t)
	if len(exprs) < 20 {
		t.Fatalf("found %d expressions in the deploy files; the parser is broken", len(exprs))
	}
	exported := scrapeAll(t)

	// Series Prometheus makes itself.
	exported["up"] = map[string]bool{"job": true, "instance": true}
	metric := regexp.MustCompile(`\b(paycode_[a-z0-9_]+|go_[a-z0-9_]+|process_[a-z0-9_]+|up)\b`)
	selector := regexp.MustCompile(`\b([a-z_:][a-z0-9_:]*)\{([^}]*)\}`)
	matcher := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	grouping := regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	for where, expr := range exprs {
		names := metric.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s: no metric in %q", where, expr)
		}
		labels := map[string]bool{"job": true, "instance": true}
		for _, n := range names {
			ls, ok := exported[n]
			if !ok {
				t.Errorf("%s uses %s, which the server does not export", where, n)
				continue
			}
			for l := range ls {
				labels[l] = true
			}
		}
		for _, m := range selector.FindAllStringSubmatch(expr, -1) {
			ls := exported[m[1]]
			for _, lm := range matcher.FindAllStringSubmatch(m[2], -1) {
				if l := lm[1]; l != "job" && l != "instance" && !ls[l] {
					t.Errorf("%s selects %s{%s=...}, a label %s does not have", where, m[1], l, m[1])
				}
			}
		}
		for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
			for _, l := range strings.Split(g[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !labels[l] {
					t.Errorf("%s groups by %q, a label of none of its metrics", where, l)
				}
			}
		}
	}
}

// deployExprs are the PromQL expressions of the dashboard's panels and of
// the alert rules, by where they are.
func deployExprs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	raw, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "paycode.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("paycode.json: %v", err)
	}
	for _, p := range dash.Panels {
		for i, tg := range p.Targets {
			out["panel "+p.Title+" #"+string(rune('A'+i))] = tg.Expr
		}
	}
	raw, err = os.ReadFile(filepath.Join("..", "deploy", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out["alert "+r.Alert] = r.Expr
		}
	}
	return out
}

// scrapeAll drives two servers through what makes every metric appear (a
// terminal's top-up, a refused call, a rate limit, a delivered
// notification) and returns the metric names /metrics shows, each with its
// label names (a histogram's _bucket, _sum and _count included).
func scrapeAll(t *testing.T) map[string]map[string]bool {
	t.Helper()
	clk := &clock{now: time.Now().Truncate(time.Second)}
	st := storetest.Open(t)
	s, _ := newTestServerNow(t, st, map[string]string{"PAYCODE_CODES_PER_MINUTE": "1"}, clk.Now)
	e := &env{t: t, s: s, st: st, clock: clk}
	term := e.registerTerminal("store-metrics-1")
	d := e.customer("metrics@example.com")
	mustStatus(t, "top-up", term.topup(d.code(), 1000), 201)
	mustStatus(t, "second code in a minute", d.newCode(), 429)
	do(t, s.app, httptest.NewRequest("GET", "/v1/wallet", nil)) // a problem (401)

	// A server with a webhook delivers a sign-up's OTP through the outbox.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer hook.Close()
	s2, _ := newTestServer(t, storetest.Open(t), map[string]string{
		"PAYCODE_NOTIFY_WEBHOOK_URL": hook.URL, "PAYCODE_NOTIFY_WEBHOOK_SECRET": "webhook-secret-0123456789abcdefghij",
	})
	req := httptest.NewRequest("POST", "/v1/signup/contact", strings.NewReader(`{"contact":"hook@example.com"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, body := do(t, s2.app, req); resp.StatusCode/100 != 2 {
		t.Fatalf("signup contact = %d %s", resp.StatusCode, body)
	}

	out := map[string]map[string]bool{}
	scrape := func(srv *Server) {
		_, body := do(t, srv.admin, httptest.NewRequest("GET", "/metrics", nil))
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		series := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? `)
		label := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)
		for sc.Scan() {
			m := series.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			if out[m[1]] == nil {
				out[m[1]] = map[string]bool{}
			}
			for _, l := range label.FindAllStringSubmatch(m[2], -1) {
				out[m[1]][l[1]] = true
			}
		}
	}
	scrape(s)
	// The worker delivers asynchronously: wait (bounded) for its count.
	deadline := time.Now().Add(20 * time.Second)
	for {
		out2 := map[string]map[string]bool{}
		out, out2 = out2, out
		scrape(s2)
		if _, ok := out["paycode_notifications_total"]; ok {
			for k, v := range out2 {
				if out[k] == nil {
					out[k] = v
				}
				for l := range v {
					out[k][l] = true
				}
			}
			return out
		}
		out = out2
		if time.Now().After(deadline) {
			t.Fatal("the notification worker never delivered the sign-up's OTP")
		}
		time.Sleep(20 * time.Millisecond) // polling the observable count, not ordering
	}
}
