package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/paycode/paycode/webauthn/softauthn"
)

// customer is one phone: a passkey authenticator, a device key and the
// session tokens it holds. Only the worker that took it from the pool uses
// it.
type customer struct {
	c        *client
	contact  string
	ip       string // X-Forwarded-For with -spoof-ip
	key      *deviceKey
	auth     *softauthn.Authenticator
	nonce    string // the last DPoP-Nonce the server sent
	access   string
	accessAt time.Time // when access should be replaced
	refresh  string
	account  string

	refreshes, reauths int // unmeasured extra round trips, for the report
}

// call sends a customer request with a fresh DPoP proof and, when withToken,
// the access token. A use_dpop_nonce answer is retried once with the nonce.
func (cu *customer) call(ctx context.Context, method, path string, body any, withToken bool) (*response, error) {
	for attempt := 0; ; attempt++ {
		token := ""
		if withToken {
			token = cu.access
		}
		proof, err := cu.key.proof(method, cu.c.o.baseURL+path, token, cu.nonce)
		if err != nil {
			return nil, err
		}
		h := map[string]string{"DPoP": proof}
		if token != "" {
			h["Authorization"] = "DPoP " + token
		}
		if cu.ip != "" {
			h["X-Forwarded-For"] = cu.ip
		}
		r, err := cu.c.do(ctx, method, cu.c.o.baseURL+path, body, h)
		if err != nil {
			return nil, err
		}
		if n := r.header.Get("DPoP-Nonce"); n != "" {
			cu.nonce = n
			if attempt == 0 && r.status == http.StatusUnauthorized && r.problemCode() == "use_dpop_nonce" {
				continue
			}
		}
		return r, nil
	}
}

func (cu *customer) take(t tokenResponse, at time.Time) {
	cu.access = t.AccessToken
	cu.accessAt = expiry(at, t.ExpiresIn)
	if t.RefreshToken != "" {
		cu.refresh = t.RefreshToken
	}
	if t.AccountID != "" {
		cu.account = t.AccountID
	}
}

var otpText = regexp.MustCompile(`code is ([0-9]{6})`)

// signUp creates the customer's account: contact, OTP from the dev
// outbox, passkey registration with the device key.
func signUp(ctx context.Context, c *client, ip string) (*customer, error) {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	key, err := newDeviceKey()
	if err != nil {
		return nil, err
	}
	cu := &customer{c: c, contact: "load-" + hex.EncodeToString(rnd[:]) + "@example.com", ip: ip,
		key: key, auth: softauthn.New(c.o.baseURL)}

	r, err := cu.call(ctx, "POST", "/v1/signup/contact", map[string]string{"contact": cu.contact}, false)
	if err != nil {
		return nil, err
	}
	if err := expect("POST /v1/signup/contact", r, http.StatusAccepted); err != nil {
		if r.status == http.StatusTooManyRequests && cu.ip == "" {
			err = fmt.Errorf("%w (the server allows 10 sign-up OTPs per client IP per hour: run it with PAYCODE_TRUSTED_PROXIES=<this host> and pass -spoof-ip)", err)
		}
		return nil, err
	}
	var started struct {
		SignupID string `json:"signup_id"`
	}
	if err := r.decode(&started); err != nil {
		return nil, err
	}
	otp, err := c.otpFor(ctx, cu.contact)
	if err != nil {
		return nil, err
	}
	r, err = cu.call(ctx, "POST", "/v1/signup/verify", map[string]string{"signup_id": started.SignupID, "otp": otp}, false)
	if err != nil {
		return nil, err
	}
	if err := expect("POST /v1/signup/verify", r, http.StatusOK); err != nil {
		return nil, err
	}
	var verified struct {
		Options json.RawMessage `json:"options"`
	}
	if err := r.decode(&verified); err != nil {
		return nil, err
	}
	cred, err := cu.auth.Register(verified.Options)
	if err != nil {
		return nil, fmt.Errorf("software authenticator: %w", err)
	}
	r, err = cu.call(ctx, "POST", "/v1/signup/finish", map[string]any{
		"signup_id": started.SignupID, "credential": json.RawMessage(cred), "device_label": "paycode-load"}, false)
	if err != nil {
		return nil, err
	}
	if err := expect("POST /v1/signup/finish", r, http.StatusCreated); err != nil {
		return nil, err
	}
	var tok tokenResponse
	if err := r.decode(&tok); err != nil {
		return nil, err
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		return nil, errors.New("POST /v1/signup/finish: no access or refresh token in the answer")
	}
	cu.take(tok, time.Now())
	return cu, nil
}

// otpFor reads the newest sign-up code sent to contact from the dev
// outbox, polling briefly in case the notifier is asynchronous.
func (c *client) otpFor(ctx context.Context, contact string) (string, error) {
	for i := 0; i < 20; i++ {
		r, err := c.do(ctx, "GET", c.o.baseURL+"/dev/outbox", nil, nil)
		if err != nil {
			return "", err
		}
		if err := expect("GET /dev/outbox", r, http.StatusOK); err != nil {
			return "", err
		}
		var box struct {
			Messages []struct {
				To   string `json:"to"`
				Text string `json:"text"`
			} `json:"messages"`
		}
		if err := r.decode(&box); err != nil {
			return "", err
		}
		for _, m := range box.Messages {
			if m.To == contact {
				if g := otpText.FindStringSubmatch(m.Text); g != nil {
					return g[1], nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("no OTP for %s in the dev outbox", contact)
}

// refreshTokens rotates the session's refresh token for a new access token.
func (cu *customer) refreshTokens(ctx context.Context) error {
	cu.refreshes++
	r, err := cu.call(ctx, "POST", "/v1/session/refresh", map[string]string{"refresh_token": cu.refresh}, false)
	if err != nil {
		return err
	}
	if err := expect("POST /v1/session/refresh", r, http.StatusOK); err != nil {
		return err
	}
	var tok tokenResponse
	if err := r.decode(&tok); err != nil {
		return err
	}
	cu.take(tok, time.Now())
	return nil
}

// reauth runs the passkey step-up for a fresh auth_time.
func (cu *customer) reauth(ctx context.Context) error {
	cu.reauths++
	r, err := cu.call(ctx, "POST", "/v1/session/reauth/start", map[string]any{}, true)
	if err != nil {
		return err
	}
	if err := expect("POST /v1/session/reauth/start", r, http.StatusOK); err != nil {
		return err
	}
	var started struct {
		ReauthID string          `json:"reauth_id"`
		Options  json.RawMessage `json:"options"`
	}
	if err := r.decode(&started); err != nil {
		return err
	}
	cred, err := cu.auth.Assert(started.Options)
	if err != nil {
		return fmt.Errorf("software authenticator: %w", err)
	}
	r, err = cu.call(ctx, "POST", "/v1/session/reauth/finish", map[string]any{"reauth_id": started.ReauthID, "credential": json.RawMessage(cred)}, true)
	if err != nil {
		return err
	}
	if err := expect("POST /v1/session/reauth/finish", r, http.StatusOK); err != nil {
		return err
	}
	var tok tokenResponse
	if err := r.decode(&tok); err != nil {
		return err
	}
	cu.take(tok, time.Now())
	return nil
}

// issued is the outcome of one code issuance: the measured request's
// duration and answer, and the code.
type issued struct {
	code    string
	elapsed time.Duration
	err     error
}

// issueCode asks for a payment code. An access token about to expire is
// refreshed first; a 401 for an expired token or for a stale passkey
// verification (insufficient_user_authentication) is answered with a
// refresh or a step-up and the request is sent again. Only the last POST
// /v1/codes is timed.
func (cu *customer) issueCode(ctx context.Context) issued {
	return cu.issueCodeAt(ctx, "/v1/codes")
}

// issueCodeAt is issueCode with a query: "/v1/codes?images=none" for the
// untimed codes the redemption phase redeems.
func (cu *customer) issueCodeAt(ctx context.Context, path string) issued {
	if time.Now().After(cu.accessAt) {
		if err := cu.refreshTokens(ctx); err != nil {
			return issued{err: fmt.Errorf("refreshing the access token: %w", err)}
		}
	}
	for attempt := 0; ; attempt++ {
		start := time.Now()
		r, err := cu.call(ctx, "POST", path, map[string]any{}, true)
		elapsed := time.Since(start)
		if err != nil {
			return issued{elapsed: elapsed, err: err}
		}
		if r.status == http.StatusCreated {
			var out struct {
				Code string `json:"code"`
			}
			if err := r.decode(&out); err != nil || out.Code == "" {
				return issued{elapsed: elapsed, err: &httpError{what: "POST /v1/codes: no code in the answer", resp: r}}
			}
			return issued{code: out.Code, elapsed: elapsed}
		}
		if r.status == http.StatusUnauthorized && attempt < 2 {
			code := r.problemCode()
			switch {
			case code == "insufficient_user_authentication" || strings.Contains(r.header.Get("WWW-Authenticate"), "insufficient_user_authentication"):
				if err := cu.reauth(ctx); err != nil {
					return issued{err: fmt.Errorf("step-up: %w", err)}
				}
				continue
			case code == "invalid_token":
				if err := cu.refreshTokens(ctx); err != nil {
					return issued{err: fmt.Errorf("refreshing the access token: %w", err)}
				}
				continue
			}
		}
		return issued{elapsed: elapsed, err: &httpError{what: "POST /v1/codes", resp: r}}
	}
}

// spoofIPs returns n distinct addresses from 198.18.0.0/15 (RFC 2544
// benchmarking), starting at a random offset so that runs within the
// server's hourly OTP window do not reuse each other's addresses.
func spoofIPs(n int) []string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	base := binary.BigEndian.Uint32(b[:])
	const size = 1 << 17
	out := make([]string, n)
	for i := range out {
		off := (base + uint32(i)) % size
		out[i] = fmt.Sprintf("198.%d.%d.%d", 18+off>>16, (off>>8)&0xff, off&0xff)
	}
	return out
}

// signUpAll signs up n customers, at most parallel at a time.
func signUpAll(ctx context.Context, c *client, n, parallel int) ([]*customer, error) {
	ips := make([]string, n)
	if c.o.spoofIP {
		ips = spoofIPs(n)
	}
	out := make([]*customer, n)
	err := forEach(ctx, n, min(parallel, 8), func(ctx context.Context, i int) error {
		cu, err := signUp(ctx, c, ips[i])
		if err != nil {
			return fmt.Errorf("signing up customer %d: %w", i+1, err)
		}
		out[i] = cu
		return nil
	})
	return out, err
}

// forEach runs fn for 0..n-1 with at most parallel at a time and returns
// the first error (after which no new calls start).
func forEach(ctx context.Context, n, parallel int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	for w := 0; w < max(parallel, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}

// pool hands customers to workers, one worker per customer at a time, in
// a random order that then rotates.
type pool chan *customer

func newPool(cs []*customer) pool {
	p := make(pool, len(cs))
	perm := make([]int, len(cs))
	for i := range perm {
		perm[i] = i
	}
	for i := len(perm) - 1; i > 0; i-- {
		var b [4]byte
		_, _ = rand.Read(b[:])
		j := int(binary.BigEndian.Uint32(b[:]) % uint32(i+1))
		perm[i], perm[j] = perm[j], perm[i]
	}
	for _, i := range perm {
		p <- cs[i]
	}
	return p
}

// get waits for a free customer, or returns nil when ctx ends.
func (p pool) get(ctx context.Context) *customer {
	select {
	case cu := <-p:
		return cu
	case <-ctx.Done():
		return nil
	}
}

func (p pool) put(cu *customer) { p <- cu }
