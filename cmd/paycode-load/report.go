package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the whole output.
type report struct {
	Target      string `json:"target"`
	Customers   int    `json:"customers"`
	Concurrency int    `json:"concurrency"`
	Duration    string `json:"duration"`
	Rounds      int    `json:"rounds"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	SpoofIP     bool   `json:"spoof_ip"`
	// Ratios is each path's throughput over its floor's, over the rounds.
	Ratios       []ratioSummary `json:"ratios"`
	RoundResults []ratioRound   `json:"round_results"`
	HalfLoad     *halfLoad      `json:"half_load,omitempty"`
	Phases       []phaseResult  `json:"phases"`
}

// halfLoad is the open-loop redemption phase at half the measured
// maximum.
type halfLoad struct {
	RateRPS     float64     `json:"rate_rps"`
	Phase       phaseResult `json:"phase"`
	TargetP99MS float64     `json:"target_p99_ms"`
	TargetMet   bool        `json:"target_met"`
}

// phaseResult summarises one phase. Latencies are of the successful
// requests, in milliseconds.
type phaseResult struct {
	Name       string         `json:"name"`
	Requests   int            `json:"requests"`
	Errors     int            `json:"errors"`
	ErrorRate  float64        `json:"error_rate"`
	ErrorsBy   map[string]int `json:"errors_by"`
	Seconds    float64        `json:"seconds"`
	Throughput float64        `json:"throughput_rps"`
	LatencyMS  latency        `json:"latency_ms"`
	Refreshes  int            `json:"token_refreshes"`
	Reauths    int            `json:"step_ups"`
}

type latency struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

func summarise(name string, samples []sample, elapsed time.Duration) phaseResult {
	res := phaseResult{Name: name, Requests: len(samples), ErrorsBy: map[string]int{}, Seconds: round(elapsed.Seconds(), 3)}
	var ok []time.Duration
	for _, s := range samples {
		res.Refreshes += s.refreshes
		res.Reauths += s.reauths
		if s.errKey != "" {
			res.Errors++
			res.ErrorsBy[s.errKey]++
			continue
		}
		ok = append(ok, s.elapsed)
	}
	if res.Requests > 0 {
		res.ErrorRate = round(float64(res.Errors)/float64(res.Requests), 6)
	}
	if elapsed > 0 {
		res.Throughput = round(float64(res.Requests)/elapsed.Seconds(), 1)
	}
	res.LatencyMS = percentiles(ok)
	return res
}

// percentiles sorts ds and reads nearest-rank percentiles from it.
func percentiles(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return ms(ds[max(i, 0)])
	}
	return latency{
		Mean: ms(sum / time.Duration(len(ds))),
		P50:  at(0.50), P90: at(0.90), P99: at(0.99), Max: ms(ds[len(ds)-1]),
	}
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(f float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(f*p) / p
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *report) writeTable(w io.Writer) {
	fmt.Fprintf(w, "paycode-load against %s: %d customers, %d workers, %d A/B rounds of %s per path and floor, payments of %d %s\n\n",
		r.Target, r.Customers, r.Concurrency, r.Rounds, r.Duration, r.Amount, r.Currency)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tratio median\tmin\tmax\ttarget\tpath req/s\tfloor req/s\tpath p99 ms\tfloor p99 ms\tfloor\t")
	for _, s := range r.Ratios {
		met := "met"
		if !s.TargetMet {
			met = "NOT met"
		}
		fmt.Fprintf(tw, "%s\t%.3fx\t%.3fx\t%.3fx\t%.2fx %s\t%.1f\t%.1f\t%.2f\t%.2f\t%s\t\n",
			s.Path, s.Median, s.Min, s.Max, s.Target, met, s.PathRPS, s.FloorRPS, s.PathP99MS, s.FloorP99MS, s.Floor)
	}
	tw.Flush()
	if h := r.HalfLoad; h != nil {
		l := h.Phase.LatencyMS
		met := "met"
		if !h.TargetMet {
			met = "NOT met"
		}
		fmt.Fprintf(w, "\nredemption at half load (%.0f/s, open loop, timed from when each request was due): p50 %.2f ms, p90 %.2f ms, p99 %.2f ms (target < %.0f ms: %s), max %.2f ms, %d requests, %d errors\n",
			h.RateRPS, l.P50, l.P90, l.P99, h.TargetP99MS, met, l.Max, h.Phase.Requests, h.Phase.Errors)
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trequests\terrors\treq/s\tmean ms\tp50 ms\tp90 ms\tp99 ms\tmax ms\t")
	for _, p := range r.Phases {
		l := p.LatencyMS
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n",
			p.Name, p.Requests, p.Errors, p.Throughput, l.Mean, l.P50, l.P90, l.P99, l.Max)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, p := range r.Phases {
		var notes []string
		if p.Refreshes > 0 || p.Reauths > 0 {
			notes = append(notes, fmt.Sprintf("%d token refreshes and %d step-ups (not timed)", p.Refreshes, p.Reauths))
		}
		keys := make([]string, 0, len(p.ErrorsBy))
		for k := range p.ErrorsBy {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			notes = append(notes, fmt.Sprintf("%d x %s", p.ErrorsBy[k], k))
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, "%s: %s\n", p.Name, strings.Join(notes, "; "))
		}
	}
	fmt.Fprintln(w, "ratio: the path's requests per second over its floor's at saturation, in the same round; a login is start + finish")
	fmt.Fprintln(w, "redemption: POST /v1/terminal/payments of codes issued (untimed, ?images=none) before each batch; issuance: POST /v1/codes (SVG images); login: POST /v1/login/start + /finish")
	fmt.Fprintln(w, "latencies are of successful requests")
}
