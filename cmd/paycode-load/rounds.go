package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// redemptionBatch issues one code for every customer (untimed, without
// images: the codes are read by the tool, not by a camera), then redeems
// them all with workers (timed). It returns the redemptions' samples, the
// failed issuances as failed samples, and the wall time of the redeeming
// alone.
func redemptionBatch(ctx context.Context, c *client, cs []*customer, t *terminal, workers int, amount int64, currency string) ([]sample, time.Duration) {
	codes := make([]string, len(cs))
	var failed []sample
	var mu sync.Mutex
	_ = forEach(ctx, len(cs), workers, func(ctx context.Context, i int) error {
		got := cs[i].issueCodeAt(ctx, "/v1/codes?images=none")
		if got.err != nil {
			mu.Lock()
			failed = append(failed, sample{errKey: "issue: " + errorKeyOf(got.err)})
			mu.Unlock()
			return nil
		}
		codes[i] = got.code
		return nil
	})
	codes = slices.DeleteFunc(codes, func(s string) bool { return s == "" })
	out := make([]sample, len(codes))
	start := time.Now()
	_ = forEach(ctx, len(codes), workers, func(ctx context.Context, i int) error {
		out[i] = redeem(ctx, t, codes[i], amount, currency)
		return nil
	})
	return append(out, failed...), time.Since(start)
}

// redeem is one timed POST /v1/terminal/payments.
func redeem(ctx context.Context, t *terminal, code string, amount int64, currency string) sample {
	r, elapsed, err := t.call(ctx, "/v1/terminal/payments", map[string]any{
		"code": code, "amount": amount, "currency": currency, "order_ref": "load-" + newIdempotencyKey()[:8]})
	s := sample{elapsed: elapsed}
	switch {
	case err != nil && elapsed == 0:
		s.errKey = "terminal token: " + errorKeyOf(err)
	case err != nil:
		s.errKey = "transport"
	case r.status != http.StatusCreated:
		s.errKey = r.errorKey()
	}
	return s
}

// runRedemption runs redemption batches until d of redeeming has passed;
// its throughput is redemptions per second of redeeming.
func runRedemption(ctx context.Context, c *client, cs []*customer, t *terminal, workers int, d time.Duration, amount int64, currency string) phaseResult {
	var all []sample
	var busy time.Duration
	for busy < d && ctx.Err() == nil {
		ss, took := redemptionBatch(ctx, c, cs, t, workers, amount, currency)
		all = append(all, ss...)
		busy += took
		if len(ss) == 0 {
			break
		}
	}
	return summarise("redemption", all, busy)
}

// runOpenRedemption is the half-load phase: redemptions sent at rate per
// second on a fixed schedule (open loop: a slow answer does not delay the
// next request), each timed from when it was due, so that queueing in
// the server counts. Codes are issued in untimed batches between the
// timed stretches, one per customer, while no redemption is in flight.
func runOpenRedemption(ctx context.Context, c *client, cs []*customer, t *terminal, workers int, rate float64, d time.Duration, amount int64, currency string) phaseResult {
	interval := time.Duration(float64(time.Second) / rate)
	var all []sample
	var mu sync.Mutex
	var busy time.Duration
	for busy < d && ctx.Err() == nil {
		codes := make([]string, len(cs))
		_ = forEach(ctx, len(cs), workers, func(ctx context.Context, i int) error {
			if got := cs[i].issueCodeAt(ctx, "/v1/codes?images=none"); got.err == nil {
				codes[i] = got.code
			} else {
				mu.Lock()
				all = append(all, sample{errKey: "issue: " + errorKeyOf(got.err)})
				mu.Unlock()
			}
			return nil
		})
		codes = slices.DeleteFunc(codes, func(s string) bool { return s == "" })
		if len(codes) == 0 {
			break
		}
		var wg sync.WaitGroup
		start := time.Now()
		for i, code := range codes {
			due := start.Add(time.Duration(i) * interval)
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := redeem(ctx, t, code, amount, currency)
				if s.errKey == "" {
					s.elapsed = time.Since(due)
				}
				mu.Lock()
				all = append(all, s)
				mu.Unlock()
			}()
		}
		busy += time.Duration(len(codes)) * interval
		wg.Wait()
	}
	res := summarise("redemption at half load", all, busy)
	return res
}

// pathRun is one measured path and its floor.
type pathRun struct {
	name, floor string
	run         func(ctx context.Context) phaseResult // the path, for -duration
	runFloor    func(ctx context.Context) phaseResult
}

// ratioRound is one A/B round of a path.
type ratioRound struct {
	Path     string  `json:"path"`
	Round    int     `json:"round"`
	PathRPS  float64 `json:"path_rps"`
	FloorRPS float64 `json:"floor_rps"`
	Ratio    float64 `json:"ratio"`
}

// ratioSummary is a path's ratio to its floor over the rounds.
type ratioSummary struct {
	Path        string  `json:"path"`
	Floor       string  `json:"floor"`
	Rounds      int     `json:"rounds"`
	Median      float64 `json:"median"`
	Min         float64 `json:"min"`
	Max         float64 `json:"max"`
	PathRPS     float64 `json:"path_rps_median"`
	FloorRPS    float64 `json:"floor_rps_median"`
	PathP99MS   float64 `json:"path_p99_ms_median"`
	FloorP99MS  float64 `json:"floor_p99_ms_median"`
	Target      float64 `json:"target"`
	TargetMet   bool    `json:"target_met"`
	ErrorsTotal int     `json:"errors"`
}

// median of a non-empty slice (sorted in place).
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// runRounds runs rounds A/B rounds of every path and its floor
// (alternating which goes first, so that a drift of the machine does not
// favour either) and summarises each path's throughput ratio.
func runRounds(ctx context.Context, paths []pathRun, rounds int, targets map[string]float64, logf func(string, ...any)) (all []phaseResult, rs []ratioRound, sums []ratioSummary) {
	for _, p := range paths {
		var ratios, pathRPS, floorRPS, pathP99, floorP99 []float64
		errs := 0
		for r := 1; r <= rounds && ctx.Err() == nil; r++ {
			var a, b phaseResult
			if r%2 == 1 {
				a = p.run(ctx)
				a.Name = fmt.Sprintf("%s #%d", p.name, r)
				b = p.runFloor(ctx)
				b.Name = fmt.Sprintf("%s #%d", p.floor, r)
				all = append(all, a, b)
			} else {
				b = p.runFloor(ctx)
				b.Name = fmt.Sprintf("%s #%d", p.floor, r)
				a = p.run(ctx)
				a.Name = fmt.Sprintf("%s #%d", p.name, r)
				all = append(all, b, a)
			}
			errs += a.Errors + b.Errors
			ratio := 0.0
			if b.Throughput > 0 {
				ratio = round(a.Throughput/b.Throughput, 3)
			}
			logf("%s round %d: %.0f/s, floor %.0f/s, ratio %.3f", p.name, r, a.Throughput, b.Throughput, ratio)
			rs = append(rs, ratioRound{Path: p.name, Round: r, PathRPS: a.Throughput, FloorRPS: b.Throughput, Ratio: ratio})
			ratios, pathRPS, floorRPS = append(ratios, ratio), append(pathRPS, a.Throughput), append(floorRPS, b.Throughput)
			pathP99, floorP99 = append(pathP99, a.LatencyMS.P99), append(floorP99, b.LatencyMS.P99)
		}
		if len(ratios) == 0 {
			continue
		}
		s := ratioSummary{Path: p.name, Floor: p.floor, Rounds: len(ratios), Median: round(median(ratios), 3),
			Min: slices.Min(ratios), Max: slices.Max(ratios), PathRPS: round(median(pathRPS), 1), FloorRPS: round(median(floorRPS), 1),
			PathP99MS: round(median(pathP99), 3), FloorP99MS: round(median(floorP99), 3), Target: targets[p.name], ErrorsTotal: errs}
		s.TargetMet = s.Median >= s.Target
		sums = append(sums, s)
	}
	return all, rs, sums
}
