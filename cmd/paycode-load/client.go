package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxResponseBytes caps a response body (a code answer carries two PNGs).
const maxResponseBytes = 4 << 20

// client is the HTTP side shared by all workers.
type client struct {
	o    *options
	http *http.Client
}

func newClient(o *options) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Keep one idle connection per worker and setup goroutine, so that the
	// measured phases do not pay for TCP handshakes.
	tr.MaxIdleConns = 4*o.concurrency + 16
	tr.MaxIdleConnsPerHost = 2*o.concurrency + 8
	return &client{o: o, http: &http.Client{
		Timeout:   o.timeout,
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// response is an answer read in full.
type response struct {
	status int
	header http.Header
	raw    []byte
}

// problemCode is the RFC 9457 "code" member of an error answer, or "".
func (r *response) problemCode() string {
	var p struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(r.raw, &p) == nil {
		return p.Code
	}
	return ""
}

// decode unmarshals the JSON body into v.
func (r *response) decode(v any) error {
	if err := json.Unmarshal(r.raw, v); err != nil {
		return fmt.Errorf("HTTP %d: body is not the expected JSON: %v", r.status, err)
	}
	return nil
}

// errorKey names a failed answer in the report: "429 rate_limited".
func (r *response) errorKey() string {
	if code := r.problemCode(); code != "" {
		return strconv.Itoa(r.status) + " " + code
	}
	return strconv.Itoa(r.status)
}

// httpError is an answer with an unexpected status.
type httpError struct {
	what string
	resp *response
}

func (e *httpError) Error() string {
	body := strings.TrimSpace(string(e.resp.raw))
	if len(body) > 300 {
		body = body[:300] + "..."
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.what, e.resp.status, body)
}

func expect(what string, r *response, want int) error {
	if r.status != want {
		return &httpError{what: what, resp: r}
	}
	return nil
}

// errorKeyOf names a failure for the report: the status and problem code
// of an answer, or "transport" for a request that got no answer.
func errorKeyOf(err error) string {
	var he *httpError
	if errors.As(err, &he) {
		return he.resp.errorKey()
	}
	return "transport"
}

// do sends one request: body is marshalled to JSON unless it is a
// url-encoded form string (then formBody is true); headers are added as
// given.
func (c *client) do(ctx context.Context, method, url string, body any, headers map[string]string) (*response, error) {
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case formBody:
		rd, contentType = strings.NewReader(string(b)), "application/x-www-form-urlencoded"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd, contentType = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, header: resp.Header, raw: raw}, nil
}

// formBody is an application/x-www-form-urlencoded request body.
type formBody string

// errNoOutbox: the target has no dev outbox (production mode).
var errNoOutbox = errors.New("no dev outbox")

// checkDevOutbox makes sure the target is a dev-mode server whose OTPs
// the tool can read.
func (c *client) checkDevOutbox(ctx context.Context) error {
	r, err := c.do(ctx, "GET", c.o.baseURL+"/dev/outbox", nil, nil)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %v", c.o.baseURL, err)
	}
	switch r.status {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
		return fmt.Errorf("%w: %s/dev/outbox answers 404. paycode-load reads sign-up OTPs from the dev outbox, so it needs a dev-mode server (PAYCODE_ENV=dev); do not point it at production", errNoOutbox, c.o.baseURL)
	default:
		return &httpError{what: "GET /dev/outbox", resp: r}
	}
}

// tokenResponse is the token answer of sign-up, refresh and step-up (and,
// without refresh_token, of the terminal token endpoint).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	AccountID    string `json:"account_id"`
}

// expiry is when a token of expiresIn seconds, received at t, should be
// replaced: a few seconds early, so that a request never races the expiry.
func expiry(t time.Time, expiresIn int64) time.Time {
	margin := 10 * time.Second
	if d := time.Duration(expiresIn) * time.Second; d < 4*margin {
		margin = d / 4
	}
	return t.Add(time.Duration(expiresIn)*time.Second - margin)
}
