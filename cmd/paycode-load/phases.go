package main

import (
	"context"
	"sync"
	"time"
)

// sample is one attempt: the duration of its measured request and, for a
// failure, how it failed ("" for success). A failure before the measured
// request (the unmeasured code issuance of the redemption phase) counts as
// a failed attempt. Only successes enter the latency percentiles.
type sample struct {
	elapsed            time.Duration
	errKey             string
	refreshes, reauths int
}

// operation makes one measured request. It waits for a customer only as
// long as wait lives and reports ok=false when wait ended first; requests
// themselves run under ctx, so one in flight at the end of the phase is
// finished and counted.
type operation func(ctx, wait context.Context) (s sample, ok bool)

// runPhase runs op with workers for d and summarises the samples.
func runPhase(ctx context.Context, name string, workers int, d time.Duration, op operation) phaseResult {
	wait, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	deadline, _ := wait.Deadline()
	per := make([][]sample, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				s, ok := op(ctx, wait)
				if !ok {
					return
				}
				per[w] = append(per[w], s)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []sample
	for _, ss := range per {
		all = append(all, ss...)
	}
	return summarise(name, all, elapsed)
}

// issuanceOp is POST /v1/codes for the next free customer.
func issuanceOp(c *client, p pool) operation {
	return func(ctx, wait context.Context) (sample, bool) {
		cu := p.get(wait)
		if cu == nil {
			return sample{}, false
		}
		defer p.put(cu)
		refreshes, reauths := cu.refreshes, cu.reauths
		got := cu.issueCode(ctx)
		s := sample{elapsed: got.elapsed, refreshes: cu.refreshes - refreshes, reauths: cu.reauths - reauths}
		if got.err != nil {
			s.errKey = errorKeyOf(got.err)
		}
		return s, true
	}
}
