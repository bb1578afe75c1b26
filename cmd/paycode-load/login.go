package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// login is one passkey login (start and finish) with the customer's own
// passkey and device key; its session's tokens replace the customer's.
// The returned duration is that of the two requests; the authenticator's
// signature between them is not timed (nor is the floor's). With
// -spoof-ip each login comes from a fresh address, so that the per-IP
// ceremony limit (30 a minute) counts people, not the benchmark.
func (cu *customer) login(ctx context.Context) (time.Duration, error) {
	if cu.ip != "" {
		saved := cu.ip
		cu.ip = randomSpoofIP()
		defer func() { cu.ip = saved }()
	}
	start := time.Now()
	r, err := cu.call(ctx, "POST", "/v1/login/start", map[string]any{}, false)
	elapsed := time.Since(start)
	if err != nil {
		return elapsed, err
	}
	if err := expect("POST /v1/login/start", r, http.StatusOK); err != nil {
		return elapsed, err
	}
	var begun struct {
		LoginID string          `json:"login_id"`
		Options json.RawMessage `json:"options"`
	}
	if err := r.decode(&begun); err != nil {
		return elapsed, err
	}
	cred, err := cu.auth.Assert(begun.Options)
	if err != nil {
		return elapsed, fmt.Errorf("software authenticator: %w", err)
	}
	start = time.Now()
	r, err = cu.call(ctx, "POST", "/v1/login/finish", map[string]any{"login_id": begun.LoginID, "credential": json.RawMessage(cred)}, false)
	elapsed += time.Since(start)
	if err != nil {
		return elapsed, err
	}
	if err := expect("POST /v1/login/finish", r, http.StatusOK); err != nil {
		return elapsed, err
	}
	var tok tokenResponse
	if err := r.decode(&tok); err != nil {
		return elapsed, err
	}
	cu.take(tok, time.Now())
	return elapsed, nil
}

// randomSpoofIP is a random address from 198.18.0.0/15 (RFC 2544).
func randomSpoofIP() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	off := binary.BigEndian.Uint32(b[:]) % (1 << 17)
	return fmt.Sprintf("198.%d.%d.%d", 18+off>>16, (off>>8)&0xff, off&0xff)
}

// loginOp is one login of the next free customer.
func loginOp(p pool) operation {
	return func(ctx, wait context.Context) (sample, bool) {
		cu := p.get(wait)
		if cu == nil {
			return sample{}, false
		}
		defer p.put(cu)
		elapsed, err := cu.login(ctx)
		s := sample{elapsed: elapsed}
		if err != nil {
			s.errKey = errorKeyOf(err)
		}
		return s, true
	}
}
