package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// maxResponseBytes bounds an answer; 1000 audit events fit well within it.
const maxResponseBytes = 8 << 20

// adminClient calls the admin listener with the admin token.
type adminClient struct {
	base  string
	token adminToken
	http  *http.Client
}

func newAdminClient(base string, token adminToken, timeout time.Duration) *adminClient {
	return &adminClient{
		base:  base,
		token: token,
		http: &http.Client{
			Timeout: timeout,
			// A redirect would send the token (or a POST turned GET)
			// somewhere else: report it instead of following it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// httpError is an answer other than 2xx.
type httpError struct {
	status     int
	body       []byte
	location   string
	retryAfter string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d", e.status) }

// netError is the lack of any answer (connection refused, timeout ...).
type netError struct{ err error }

func (e *netError) Error() string { return e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

// get calls GET path?query and returns the 2xx body.
func (a *adminClient) get(ctx context.Context, path string, query url.Values) ([]byte, error) {
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	return a.do(ctx, http.MethodGet, path, nil)
}

// do sends one call, with body as JSON unless nil, and returns the 2xx body.
func (a *adminClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	return a.doWith(ctx, method, path, body, nil)
}

// doWith is do with extra request headers (an Idempotency-Key).
func (a *adminClient) doWith(ctx context.Context, method, path string, body any, headers map[string]string) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", "paycodectl/1")
	req.Header.Set("Authorization", "Bearer "+string(a.token.b))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, &netError{err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, &netError{fmt.Errorf("reading the answer to %s %s: %w", method, req.URL.Path, err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &httpError{status: resp.StatusCode, body: b, location: resp.Header.Get("Location"), retryAfter: resp.Header.Get("Retry-After")}
	}
	return b, nil
}

// problem is an RFC 9457 problem document as the server writes it.
type problem struct {
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
}

// reportHTTP prints a non-2xx answer: the problem JSON on stdout with
// -json, a summary on stderr; and returns its exit status.
func (c *cli) reportHTTP(name string, he *httpError) int {
	var p problem
	isJSON := json.Unmarshal(he.body, &p) == nil
	if isJSON && c.opts.json {
		writeJSON(c.stdout, he.body)
	}
	summary := fmt.Sprintf("HTTP %d", he.status)
	if p.Code != "" {
		summary += " " + clean(p.Code)
	} else {
		summary += " " + http.StatusText(he.status)
	}
	text := p.Detail
	if text == "" {
		text = p.Title
	}
	if text == "" && !isJSON {
		text = fmt.Sprintf("%.200q", bytes.TrimSpace(he.body))
	}
	if text != "" {
		summary += ": " + clean(text)
	}
	if p.RequestID != "" {
		summary += " (request_id " + clean(p.RequestID) + ")"
	}
	switch s := he.status; {
	case s >= 500 || s == http.StatusTooManyRequests:
		fmt.Fprintf(c.stderr, "paycodectl %s: unavailable: %s\n", name, summary)
		if he.retryAfter != "" {
			fmt.Fprintf(c.stderr, "paycodectl: the server asks to retry after %s s\n", clean(he.retryAfter))
		}
		return exitUnavailable
	case s >= 300 && s < 400:
		fmt.Fprintf(c.stderr, "paycodectl %s: the server redirected (%d) to %q; give that URL with -admin-url if you trust it\n", name, s, he.location)
		return exitRefused
	default:
		fmt.Fprintf(c.stderr, "paycodectl %s: refused: %s\n", name, summary)
		if s == http.StatusUnauthorized {
			fmt.Fprintf(c.stderr, "paycodectl: check the admin token (%s, from $PAYCODE_ADMIN_TOKEN or -token-file) against the server's PAYCODE_ADMIN_TOKEN\n", c.api.token)
		}
		return exitRefused
	}
}
