package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"syscall"
)

// The CPU each request costs the process that serves it, read before and
// after the timed part of a phase: the paycode server's from its
// process_cpu_seconds_total (GET {admin}/metrics), the floor server's from
// GET /floor/cpu. On a machine shared with other work the throughput of
// a phase moves with what else runs on its core; the CPU a request costs
// moves much less, so the report gives both ratios: throughput (path over
// floor) and CPU (floor's per request over the path's).

// cpuReader returns a process's CPU seconds so far.
type cpuReader func(ctx context.Context) (float64, error)

// serverCPU reads the paycode server's process_cpu_seconds_total.
func serverCPU(c *client) cpuReader {
	return func(ctx context.Context) (float64, error) {
		r, err := c.do(ctx, "GET", c.o.adminURL+"/metrics", nil, map[string]string{"Accept": "text/plain"})
		if err != nil {
			return 0, err
		}
		sc := bufio.NewScanner(bytes.NewReader(r.raw))
		for sc.Scan() {
			if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("process_cpu_seconds_total ")); ok {
				return strconv.ParseFloat(string(v), 64)
			}
		}
		return 0, fmt.Errorf("no process_cpu_seconds_total in %s/metrics", c.o.adminURL)
	}
}

// floorCPU reads the floor server's CPU.
func floorCPU(c *client, fs *floorServer) cpuReader {
	return func(ctx context.Context) (float64, error) {
		r, err := c.do(ctx, "GET", fs.url+"/floor/cpu", nil, nil)
		if err != nil {
			return 0, err
		}
		if r.status != http.StatusOK {
			return 0, fmt.Errorf("GET /floor/cpu: HTTP %d", r.status)
		}
		return strconv.ParseFloat(string(bytes.TrimSpace(r.raw)), 64)
	}
}

// ownCPU is this process's user and system CPU seconds.
func ownCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// measureCPU runs f between two readings of cpu and returns the CPU
// seconds in between (0 when a reading failed: then the CPU ratio is
// left out).
func measureCPU(ctx context.Context, cpu cpuReader, f func()) float64 {
	before, err1 := cpu(ctx)
	f()
	after, err2 := cpu(ctx)
	if err1 != nil || err2 != nil || after < before {
		return 0
	}
	return after - before
}

// withCPU fills the phase's CPU figures.
func withCPU(p phaseResult, cpuSeconds float64) phaseResult {
	p.CPUSeconds = round(cpuSeconds, 3)
	if ok := p.Requests - p.Errors; ok > 0 && cpuSeconds > 0 {
		p.CPUPerRequestMS = round(1000*cpuSeconds/float64(ok), 4)
	}
	return p
}
