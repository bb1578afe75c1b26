package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/paycode/paycode/tokens"
)

// terminal is the store scanner the tool registers: its key and a token
// shared by all workers.
type terminal struct {
	c   *client
	id  string
	key tokens.SigningKey

	mu      sync.Mutex
	token   string
	tokenAt time.Time // when token should be replaced
}

// registerTerminal registers a terminal with a fresh ES256 key through the
// admin API and gets its first token.
func registerTerminal(ctx context.Context, c *client) (*terminal, error) {
	key, err := tokens.GenerateSigningKey(tokens.AlgES256)
	if err != nil {
		return nil, err
	}
	pub, err := tokens.MarshalPublicKeyPEM(key.Private.Public())
	if err != nil {
		return nil, err
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	r, err := c.do(ctx, "POST", c.o.adminURL+"/v1/terminals", map[string]string{
		"operator": "paycode-load", "reason": "load test", "store_id": "load-" + hex.EncodeToString(rnd[:]),
		"label": "paycode-load", "public_key_pem": string(pub),
	}, map[string]string{"Authorization": "Bearer " + c.o.adminToken})
	if err != nil {
		return nil, fmt.Errorf("registering a terminal on %s: %w", c.o.adminURL, err)
	}
	if err := expect("POST "+c.o.adminURL+"/v1/terminals", r, http.StatusCreated); err != nil {
		if r.status == http.StatusUnauthorized {
			err = fmt.Errorf("%w (is PAYCODE_ADMIN_TOKEN the server's admin token?)", err)
		}
		return nil, err
	}
	var out struct {
		TerminalID string `json:"terminal_id"`
	}
	if err := r.decode(&out); err != nil {
		return nil, err
	}
	if out.TerminalID == "" {
		return nil, errors.New("POST /v1/terminals: no terminal_id in the answer")
	}
	t := &terminal{c: c, id: out.TerminalID, key: key}
	if _, err := t.accessToken(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// accessToken returns the terminal's token, getting a new one with a
// client assertion (RFC 7523) when it is about to expire.
func (t *terminal) accessToken(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && time.Now().Before(t.tokenAt) {
		return t.token, nil
	}
	assertion, err := tokens.NewClientAssertion(t.key, t.id, t.c.o.baseURL+"/v1/terminal/token", time.Now(), 0)
	if err != nil {
		return "", err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	r, err := t.c.do(ctx, "POST", t.c.o.baseURL+"/v1/terminal/token", formBody(form.Encode()), nil)
	if err != nil {
		return "", err
	}
	if err := expect("POST /v1/terminal/token", r, http.StatusOK); err != nil {
		return "", err
	}
	var tok tokenResponse
	if err := r.decode(&tok); err != nil {
		return "", err
	}
	if tok.AccessToken == "" {
		return "", errors.New("POST /v1/terminal/token: no access token in the answer")
	}
	t.token, t.tokenAt = tok.AccessToken, expiry(time.Now(), tok.ExpiresIn)
	return t.token, nil
}

// call sends a terminal request with a fresh Idempotency-Key and returns
// the answer and the duration of that one request.
func (t *terminal) call(ctx context.Context, path string, body any) (*response, time.Duration, error) {
	token, err := t.accessToken(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("terminal token: %w", err)
	}
	h := map[string]string{"Authorization": "Bearer " + token, "Idempotency-Key": newIdempotencyKey()}
	start := time.Now()
	r, err := t.c.do(ctx, "POST", t.c.o.baseURL+path, body, h)
	return r, time.Since(start), err
}

// newIdempotencyKey is a random UUID (version 4) in its text form.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// topUpAll gives every customer a cash top-up at the terminal.
func topUpAll(ctx context.Context, c *client, t *terminal, cs []*customer, amount int64, parallel int) error {
	return forEach(ctx, len(cs), min(parallel, 8), func(ctx context.Context, i int) error {
		got := cs[i].issueCode(ctx)
		if got.err != nil {
			return fmt.Errorf("top-up of customer %d: issuing a code: %w", i+1, got.err)
		}
		r, _, err := t.call(ctx, "/v1/terminal/topups", map[string]any{"code": got.code, "amount": amount, "currency": c.o.currency})
		if err != nil {
			return fmt.Errorf("top-up of customer %d: %w", i+1, err)
		}
		if err := expect("POST /v1/terminal/topups", r, http.StatusCreated); err != nil {
			return fmt.Errorf("top-up of customer %d: %w", i+1, err)
		}
		return nil
	})
}
