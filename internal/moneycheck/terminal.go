package moneycheck

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paycode/paycode/tokens"
)

// terminal is a registered store scanner: its key, its token and its HTTP
// client. One worker uses it at a time.
type terminal struct {
	id, store string
	key       tokens.SigningKey
	token     string
	base      string
	http      *http.Client
}

// registerTerminal registers a terminal through the admin API and gets a
// token with a client assertion (RFC 7523), as paycode-terminal does.
func registerTerminal(ctx context.Context, p *Paycode, storeID string, hc *http.Client) (*terminal, error) {
	key, err := tokens.GenerateSigningKey(tokens.AlgES256)
	if err != nil {
		return nil, err
	}
	pub, err := tokens.MarshalPublicKeyPEM(key.Private.Public())
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]string{"operator": "moneycheck", "reason": "fault test", "store_id": storeID,
		"label": "moneycheck", "public_key_pem": string(pub)})
	status, out, err := doJSON(ctx, hc, "POST", p.AdminURL+"/v1/terminals", "application/json", body,
		map[string]string{"Authorization": "Bearer " + p.AdminToken})
	if err != nil {
		return nil, fmt.Errorf("registering a terminal: %w", err)
	}
	id, _ := out["terminal_id"].(string)
	if status != http.StatusCreated || id == "" {
		return nil, fmt.Errorf("registering a terminal: HTTP %d %v", status, out["code"])
	}
	t := &terminal{id: id, store: storeID, key: key, base: p.URL, http: hc}
	assertion, err := tokens.NewClientAssertion(key, id, p.Config.PublicURL.String()+"/v1/terminal/token", time.Now(), 0)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	status, out, err = doJSON(ctx, hc, "POST", p.URL+"/v1/terminal/token", "application/x-www-form-urlencoded", []byte(form.Encode()), nil)
	if err != nil {
		return nil, fmt.Errorf("terminal token: %w", err)
	}
	t.token, _ = out["access_token"].(string)
	if status != http.StatusOK || t.token == "" {
		return nil, fmt.Errorf("terminal token: HTTP %d %v", status, out["code"])
	}
	return t, nil
}

// doJSON sends one request and decodes a JSON object answer.
func doJSON(ctx context.Context, hc *http.Client, method, u, contentType string, body []byte, h map[string]string) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, err
	}
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

// path and body of a request: the same on every attempt.
func (r *Request) httpRequest() (string, []byte) {
	switch r.Kind {
	case kindRefund:
		b, _ := json.Marshal(map[string]any{"amount": r.Amount})
		return "/v1/terminal/payments/" + url.PathEscape(r.Payment) + "/refunds", b
	case kindTopup:
		b, _ := json.Marshal(map[string]any{"code": r.code, "amount": r.Amount, "currency": "JPY"})
		return "/v1/terminal/topups", b
	default:
		b, _ := json.Marshal(map[string]any{"code": r.code, "amount": r.Amount, "currency": "JPY", "order_ref": "mc-" + strconv.Itoa(r.Seq)})
		return "/v1/terminal/payments", b
	}
}

// send makes one attempt of r and returns what happened.
func (t *terminal) send(r *Request, verify bool) Attempt {
	path, body := r.httpRequest()
	a := Attempt{Start: time.Now(), Verify: verify}
	req, err := http.NewRequest("POST", t.base+path, bytes.NewReader(body))
	if err != nil {
		a.Err = err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+t.token)
	req.Header.Set("Idempotency-Key", r.Key)
	resp, err := t.http.Do(req)
	if err != nil {
		a.Elapsed = time.Since(a.Start)
		a.Err = describe(err)
		return a
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	a.Elapsed = time.Since(a.Start)
	if err != nil {
		// The status line came but not the whole answer: the client
		// cannot rely on it.
		a.Err = "reading the answer: " + describe(err)
		return a
	}
	a.Status = resp.StatusCode
	a.RetryAfter = resp.Header.Get("Retry-After")
	a.Replayed = resp.Header.Get("Idempotent-Replayed") == "true"
	var out struct {
		Code      string `json:"code"`
		PaymentID string `json:"payment_id"`
		RefundID  string `json:"refund_id"`
	}
	_ = json.Unmarshal(raw, &out)
	if a.Status >= 400 {
		a.Code = out.Code
	}
	if a.Status == http.StatusCreated {
		a.ID = out.PaymentID
		if r.Kind == kindRefund {
			a.ID = out.RefundID
		}
	}
	return a
}

// describe shortens a client error to its kind; it never carries the
// request body (where a code's digits are).
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout"):
		return "timeout"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "connection reset"), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	}
	return err.Error()
}

// retryAfter is how long to wait before the next attempt: the server's
// Retry-After (at most a second, as terminals at a register would not
// wait longer between tries), else a short pause.
func retryAfter(a Attempt) time.Duration {
	if s, err := strconv.Atoi(a.RetryAfter); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, time.Second)
	}
	if a.Status == 0 {
		return 100 * time.Millisecond
	}
	return 200 * time.Millisecond
}

func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
