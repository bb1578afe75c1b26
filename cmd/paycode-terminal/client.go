package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paycode/paycode/tokens"
)

const maxResponseBytes = 1 << 20

// call runs one of the server commands: token, pay, refund, topup, get.
func call(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) int {
	r, err := parseFlags(cmd, args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "paycode-terminal %s: %v\n", cmd, err)
		return exitUsage
	case err != nil:
		fmt.Fprintf(stderr, "paycode-terminal %s: %v\n", cmd, err)
		return exitRefused
	}
	key, err := loadKey(r.keyFile, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "paycode-terminal %s: %v\n", cmd, err)
		return exitRefused
	}
	if plainHTTPRisk(r.baseURL) {
		fmt.Fprintf(stderr, "paycode-terminal: warning: %s is plain http: the access token crosses the network in the clear\n", r.baseURL)
	}
	if r.image != "" {
		if r.code, err = scanImage(ctx, r.image); err != nil {
			fmt.Fprintf(stderr, "paycode-terminal %s: %v\n", cmd, err)
			return exitRefused
		}
		fmt.Fprintf(stderr, "paycode-terminal: read a valid code from %s\n", r.image)
	}

	c := &client{
		base: r.baseURL,
		http: &http.Client{
			Timeout: r.timeout,
			// A redirect would turn the POST into a GET, or send the token
			// elsewhere: report it instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	assertion, err := tokens.NewClientAssertion(key, r.terminalID, r.audience, time.Now(), tokens.DefaultAssertionLifetime)
	if err != nil {
		fmt.Fprintf(stderr, "paycode-terminal %s: %v\n", cmd, err)
		return exitRefused
	}
	tokenResp, err := c.token(ctx, assertion)
	if err != nil {
		code := report(stdout, stderr, "getting a terminal token", err, "")
		var he *httpError
		if errors.As(err, &he) && he.status == http.StatusUnauthorized {
			fmt.Fprintf(stderr, "paycode-terminal: check that -id is the terminal id the operator gave you, that -key is the key whose public half was registered, that the terminal is active, and that the client assertion's audience %q is the server's PAYCODE_PUBLIC_URL + /v1/terminal/token (else set -aud)\n", r.audience)
		}
		return code
	}
	if cmd == "token" {
		writeJSON(stdout, tokenResp.body)
		return exitOK
	}

	var (
		method, path string
		body         any
	)
	switch cmd {
	case "pay":
		method, path = http.MethodPost, "/v1/terminal/payments"
		body = struct {
			Code     string `json:"code"`
			Amount   int64  `json:"amount"`
			Currency string `json:"currency"`
			OrderRef string `json:"order_ref,omitempty"`
		}{r.code, r.amount, r.currency, r.orderRef}
	case "refund":
		method, path = http.MethodPost, "/v1/terminal/payments/"+url.PathEscape(r.paymentID)+"/refunds"
		body = struct {
			Amount int64 `json:"amount"`
		}{r.amount}
	case "topup":
		method, path = http.MethodPost, "/v1/terminal/topups"
		body = struct {
			Code     string `json:"code"`
			Amount   int64  `json:"amount"`
			Currency string `json:"currency"`
		}{r.code, r.amount, r.currency}
	case "get":
		method, path = http.MethodGet, "/v1/terminal/payments/"+url.PathEscape(r.paymentID)
	}
	if r.idempotencyKey != "" {
		fmt.Fprintf(stderr, "paycode-terminal: Idempotency-Key: %s\n", r.idempotencyKey)
	}
	resp, err := c.do(ctx, method, path, tokenResp.AccessToken, r.idempotencyKey, body)
	if err != nil {
		return report(stdout, stderr, cmd, err, r.idempotencyKey)
	}
	writeJSON(stdout, resp.body)
	return exitOK
}

// client talks to one paycode server as one terminal.
type client struct {
	base string
	http *http.Client
}

// response is a 2xx answer.
type response struct {
	status int
	body   []byte
}

// httpError is a non-2xx answer.
type httpError struct {
	status     int
	body       []byte
	retryAfter string
	location   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d", e.status) }

// netError is a failure to get any answer.
type netError struct{ err error }

func (e *netError) Error() string { return e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	body        []byte
}

// token exchanges a client assertion for an access token (RFC 7523 2.2).
func (c *client) token(ctx context.Context, assertion string) (*tokenResponse, error) {
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {tokens.ClientAssertionType},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/terminal/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.send(req)
	if err != nil {
		return nil, err
	}
	var t tokenResponse
	if err := json.Unmarshal(resp.body, &t); err != nil || t.AccessToken == "" || !strings.EqualFold(t.TokenType, "Bearer") {
		return nil, fmt.Errorf("the token endpoint answered %d without a Bearer access_token: %.200q", resp.status, resp.body)
	}
	t.body = resp.body
	return &t, nil
}

// do sends one API call with the access token and, when set, an
// Idempotency-Key; body is sent as JSON unless nil.
func (c *client) do(ctx context.Context, method, path, accessToken, idempotencyKey string, body any) (*response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	return c.send(req)
}

func (c *client) send(req *http.Request) (*response, error) {
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", "paycode-terminal/1")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &netError{err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, &netError{fmt.Errorf("reading the answer to %s %s: %w", req.Method, req.URL.Path, err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &httpError{
			status:     resp.StatusCode,
			body:       body,
			retryAfter: resp.Header.Get("Retry-After"),
			location:   resp.Header.Get("Location"),
		}
	}
	return &response{status: resp.StatusCode, body: body}, nil
}

// problem is an RFC 9457 problem document, or an RFC 6749 error answer.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	// RFC 6749 5.2, which a token endpoint may answer with.
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// report prints what went wrong: the server's answer (if JSON) on stdout, a
// summary on stderr, and returns the exit status for it.
func report(stdout, stderr io.Writer, doing string, err error, idempotencyKey string) int {
	var he *httpError
	if !errors.As(err, &he) {
		fmt.Fprintf(stderr, "paycode-terminal %s: no answer from the server: %v\n", doing, err)
		var ne *netError
		if !errors.As(err, &ne) {
			return exitRefused
		}
		retryHint(stderr, idempotencyKey)
		return exitUnavailable
	}
	var p problem
	isJSON := json.Unmarshal(he.body, &p) == nil
	if isJSON {
		writeJSON(stdout, he.body)
	}
	reason := p.Code
	if reason == "" {
		reason = p.Error
	}
	text := p.Detail
	if text == "" {
		text = p.Title
	}
	if text == "" {
		text = p.ErrorDescription
	}
	if text == "" && !isJSON {
		text = fmt.Sprintf("%.200q", bytes.TrimSpace(he.body))
	}
	summary := fmt.Sprintf("HTTP %d %s", he.status, http.StatusText(he.status))
	if reason != "" {
		summary += ": " + reason
	}
	if text != "" {
		summary += " (" + text + ")"
	}

	switch status := he.status; {
	case status == http.StatusPaymentRequired:
		fmt.Fprintf(stderr, "paycode-terminal %s: DECLINED: %s\n", doing, summary)
		return exitDeclined
	case status >= 500, status == http.StatusTooManyRequests, status == http.StatusConflict, status == http.StatusRequestTimeout:
		fmt.Fprintf(stderr, "paycode-terminal %s: unavailable: %s\n", doing, summary)
		if he.retryAfter != "" {
			fmt.Fprintf(stderr, "paycode-terminal: the server asks to retry after %s s\n", he.retryAfter)
		}
		retryHint(stderr, idempotencyKey)
		return exitUnavailable
	case status >= 300 && status < 400:
		fmt.Fprintf(stderr, "paycode-terminal %s: the server redirected (%d) to %q; use that server's URL with -url\n", doing, status, he.location)
		return exitRefused
	default:
		fmt.Fprintf(stderr, "paycode-terminal %s: refused: %s\n", doing, summary)
		return exitRefused
	}
}

func retryHint(stderr io.Writer, idempotencyKey string) {
	if idempotencyKey != "" {
		fmt.Fprintf(stderr, "paycode-terminal: retry with -idempotency-key %s, never with a new key: the server answers a repeated key with the first result\n", idempotencyKey)
	}
}

// writeJSON writes b indented if it is JSON, else as it is.
func writeJSON(w io.Writer, b []byte) {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		out.Reset()
		out.Write(b)
	}
	if !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		out.WriteByte('\n')
	}
	_, _ = w.Write(out.Bytes())
}
