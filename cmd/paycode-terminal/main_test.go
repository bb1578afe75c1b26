package main

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycode/paycode/tokens"
)

const (
	terminalID = "term_test_0001"
	storeID    = "store_0042"
	usedCode   = "990042123456789012345673" // a valid code the fake server says was used
	freshCode  = "990042000000000000000002" // another valid code
)

// fakeServer is the terminal side of a paycode server: it verifies client
// assertions with the real ClientAssertionVerifier against the key that
// keygen printed, issues real TerminalTokens, and answers the terminal
// calls with canned bodies.
type fakeServer struct {
	t      *testing.T
	srv    *httptest.Server
	tt     *tokens.TerminalTokens
	verify *tokens.ClientAssertionVerifier

	mu         sync.Mutex
	keys       map[string]crypto.PublicKey
	assertions []map[string]any // claims of every accepted assertion
	requests   []recorded
	status     int // when non-zero, every terminal call answers this (with a problem)
}

type recorded struct {
	method, path, idempotencyKey, contentType string
	body                                      map[string]any
	claims                                    *tokens.TerminalClaims
}

type memReplay struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (m *memReplay) ClaimJTI(_ context.Context, scope, jti string, _ time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[scope+"\x00"+jti] {
		return false, nil
	}
	m.seen[scope+"\x00"+jti] = true
	return true, nil
}

func newFakeServer(t *testing.T, publicPEM []byte) *fakeServer {
	t.Helper()
	pub, err := tokens.ParsePublicKeyPEM(publicPEM)
	if err != nil {
		t.Fatalf("the public key keygen printed: %v", err)
	}
	sk, err := tokens.GenerateSigningKey(tokens.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := tokens.NewKeySet(sk)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{t: t, keys: map[string]crypto.PublicKey{terminalID: pub}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.tt = &tokens.TerminalTokens{Keys: ks, Issuer: f.srv.URL, Audience: f.srv.URL + "/v1/terminal"}
	verifier := &tokens.ClientAssertionVerifier{Audience: f.srv.URL + "/v1/terminal/token", Replay: &memReplay{seen: map[string]bool{}}}
	f.verify = verifier
	return f
}

func (f *fakeServer) keyFor(_ context.Context, id string) (crypto.PublicKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k, ok := f.keys[id]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("terminal %s: %w", id, tokens.ErrUnknownClient)
}

func problemJSON(w http.ResponseWriter, status int, code, title string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "https://pay.example.com/problems/" + code, "title": title, "status": status, "code": code,
	})
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/terminal/token" {
		f.token(w, r)
		return
	}
	claims, err := f.tt.Verify(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	if err != nil || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		problemJSON(w, http.StatusUnauthorized, "invalid_token", "Invalid access token")
		return
	}
	rec := recorded{method: r.Method, path: r.URL.EscapedPath(), idempotencyKey: r.Header.Get("Idempotency-Key"), contentType: r.Header.Get("Content-Type"), claims: claims}
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&rec.body); err != nil {
			problemJSON(w, http.StatusBadRequest, "malformed", "Malformed body")
			return
		}
	}
	f.mu.Lock()
	f.requests = append(f.requests, rec)
	status := f.status
	f.mu.Unlock()
	if status != 0 {
		w.Header().Set("Retry-After", "2")
		problemJSON(w, status, "unavailable", "Service unavailable")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/terminal/payments":
		if rec.body["code"] == usedCode {
			problemJSON(w, http.StatusPaymentRequired, "code_used", "The payment code was already used")
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"payment_id":"pay_1","status":"approved","amount":%v,"currency":%q}`, rec.body["amount"], rec.body["currency"])
	case r.Method == http.MethodPost && r.URL.Path == "/v1/terminal/topups":
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"topup_id":"top_1","amount":%v}`, rec.body["amount"])
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/refunds"):
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"refund_id":"ref_1","amount":%v}`, rec.body["amount"])
	case r.Method == http.MethodGet && r.URL.Path == "/v1/terminal/payments/pay_1":
		fmt.Fprint(w, `{"payment_id":"pay_1","status":"approved","amount":500,"currency":"JPY","refunds":[]}`)
	default:
		problemJSON(w, http.StatusNotFound, "not_found", "Not found")
	}
}

func (f *fakeServer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
		r.PostForm.Get("grant_type") != "client_credentials" ||
		r.PostForm.Get("client_assertion_type") != tokens.ClientAssertionType {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_request"}`)
		return
	}
	assertion := r.PostForm.Get("client_assertion")
	id, err := f.verify.Verify(r.Context(), assertion, f.keyFor)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client"}`)
		return
	}
	f.mu.Lock()
	f.assertions = append(f.assertions, claimsOf(f.t, assertion))
	f.mu.Unlock()
	tok, exp, err := f.tt.Issue(tokens.TerminalClaims{TerminalID: id, StoreID: storeID})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(time.Until(exp).Seconds())})
}

func claimsOf(t *testing.T, jwt string) map[string]any {
	seg := strings.Split(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg[1])
	if err != nil {
		t.Errorf("assertion claims: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Errorf("assertion claims: %v", err)
	}
	return m
}

// terminal sets up a key with keygen and a fake server that knows it.
func terminal(t *testing.T) (f *fakeServer, keyFile string) {
	t.Helper()
	keyFile = filepath.Join(t.TempDir(), "terminal.pem")
	code, stdout, stderr := runCLI(t, "keygen", "-out", keyFile)
	if code != exitOK {
		t.Fatalf("keygen = %d: %s", code, stderr)
	}
	return newFakeServer(t, []byte(stdout)), keyFile
}

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func (f *fakeServer) args(cmd, keyFile string, more ...string) []string {
	return append([]string{cmd, "-url", f.srv.URL, "-id", terminalID, "-key", keyFile}, more...)
}

// calls returns copies of what reached the server so far.
func (f *fakeServer) calls() (assertions []map[string]any, requests []recorded) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.assertions...), append([]recorded(nil), f.requests...)
}

func (f *fakeServer) lastRequest(t *testing.T) recorded {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		t.Fatal("no terminal call reached the server")
	}
	return f.requests[len(f.requests)-1]
}

func TestKeygen(t *testing.T) {
	for _, alg := range []string{tokens.AlgES256, tokens.AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			keyFile := filepath.Join(t.TempDir(), "terminal.pem")
			code, stdout, stderr := runCLI(t, "keygen", "-out", keyFile, "-alg", alg)
			if code != exitOK {
				t.Fatalf("keygen = %d: %s", code, stderr)
			}
			info, err := os.Stat(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o600 {
				t.Errorf("key file mode %04o, want 0600", info.Mode().Perm())
			}
			b, _ := os.ReadFile(keyFile)
			if !strings.HasPrefix(string(b), "-----BEGIN PRIVATE KEY-----") {
				t.Errorf("key file is not PKCS#8 PEM: %.40q", b)
			}
			priv, err := tokens.ParsePrivateKeyPEM(b)
			if err != nil || priv.Alg != alg {
				t.Fatalf("ParsePrivateKeyPEM: %v, %v", priv.Alg, err)
			}
			pub, err := tokens.ParsePublicKeyPEM([]byte(stdout))
			if err != nil {
				t.Fatalf("ParsePublicKeyPEM of stdout: %v\n%s", err, stdout)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(priv.Private.Public()) {
				t.Error("the printed public key is not the written key's")
			}
			if !strings.Contains(stderr, priv.KID) {
				t.Errorf("stderr does not give the thumbprint: %s", stderr)
			}
			// The public key is also written next to the private key, as
			// the file the operator registers (paycodectl -key).
			pubFile := filepath.Join(filepath.Dir(keyFile), "terminal.pub.pem")
			pubPEM, err := os.ReadFile(pubFile)
			if err != nil || !bytes.Equal(pubPEM, []byte(stdout)) {
				t.Errorf("%s = %q, %v; want the printed public key", pubFile, pubPEM, err)
			}
			if info, err := os.Stat(pubFile); err != nil || info.Mode().Perm() != 0o644 {
				t.Errorf("public key file: %v, %v; want mode 0644", info, err)
			}
			if !strings.Contains(stderr, pubFile) {
				t.Errorf("stderr does not name the public key file: %s", stderr)
			}

			// A second keygen must not destroy the registered key.
			if code, _, stderr := runCLI(t, "keygen", "-out", keyFile); code != exitRefused || !strings.Contains(stderr, "-force") {
				t.Errorf("keygen over an existing key = %d: %s", code, stderr)
			}
			if again, _ := os.ReadFile(keyFile); !bytes.Equal(again, b) {
				t.Error("the existing key was changed")
			}
			// Nor may it write a private key beside another key's public
			// key file.
			other := filepath.Join(filepath.Dir(keyFile), "other.pem")
			os.WriteFile(filepath.Join(filepath.Dir(keyFile), "other.pub.pem"), pubPEM, 0o644)
			if code, _, stderr := runCLI(t, "keygen", "-out", other); code != exitRefused || !strings.Contains(stderr, "other.pub.pem") {
				t.Errorf("keygen beside an existing public key = %d: %s", code, stderr)
			}
			if _, err := os.Stat(other); err == nil {
				t.Error("keygen wrote a private key although its public key file exists")
			}
			os.Chmod(keyFile, 0o644)
			if code, _, _ := runCLI(t, "keygen", "-out", keyFile, "-force"); code != exitOK {
				t.Errorf("keygen -force = %d", code)
			}
			if info, _ := os.Stat(keyFile); info.Mode().Perm() != 0o600 {
				t.Errorf("after -force the mode is %04o", info.Mode().Perm())
			}
			if again, _ := os.ReadFile(pubFile); bytes.Equal(again, pubPEM) {
				t.Error("keygen -force left the old public key file")
			}
		})
	}
}

func TestToken(t *testing.T) {
	f, keyFile := terminal(t)
	code, stdout, stderr := runCLI(t, f.args("token", keyFile)...)
	if code != exitOK {
		t.Fatalf("token = %d: %s", code, stderr)
	}
	var resp struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal([]byte(stdout), &resp); err != nil || resp.TokenType != "Bearer" || resp.ExpiresIn <= 0 {
		t.Fatalf("stdout = %s (%v)", stdout, err)
	}
	got, err := f.tt.Verify(resp.AccessToken)
	if err != nil || got.TerminalID != terminalID || got.StoreID != storeID {
		t.Errorf("the printed token: %+v, %v", got, err)
	}

	// The assertion the CLI built: iss = sub = the terminal id, aud = the
	// token endpoint, a 60 s lifetime and a random jti.
	as, _ := f.calls()
	a := as[0]
	if a["iss"] != terminalID || a["sub"] != terminalID || a["aud"] != f.srv.URL+"/v1/terminal/token" {
		t.Errorf("assertion claims %v", a)
	}
	if exp, iat := a["exp"].(float64), a["iat"].(float64); exp-iat != 60 || time.Until(time.Unix(int64(exp), 0)) > time.Minute {
		t.Errorf("assertion lifetime: iat %v exp %v", iat, exp)
	}
	if jti, _ := a["jti"].(string); len(jti) < 16 {
		t.Errorf("assertion jti %q", jti)
	}
	// Each run signs a new assertion (the server refuses a replayed jti).
	if code, _, stderr := runCLI(t, f.args("token", keyFile)...); code != exitOK {
		t.Fatalf("second token = %d: %s", code, stderr)
	}
	if as, _ = f.calls(); as[0]["jti"] == as[1]["jti"] {
		t.Error("two runs sent the same jti")
	}
}

// A terminal whose key the server does not know (or the wrong -id) is
// refused at the token endpoint: exit 1, not a decline and not "retry".
func TestTokenRefused(t *testing.T) {
	f, _ := terminal(t)
	other := filepath.Join(t.TempDir(), "other.pem")
	if code, _, _ := runCLI(t, "keygen", "-out", other); code != exitOK {
		t.Fatal("keygen")
	}
	code, stdout, stderr := runCLI(t, f.args("pay", other, "-amount", "500", "-code", freshCode)...)
	if code != exitRefused || !strings.Contains(stderr, "invalid_client") || !strings.Contains(stdout, "invalid_client") || !strings.Contains(stderr, "-aud") {
		t.Errorf("pay with an unregistered key = %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if _, reqs := f.calls(); len(reqs) != 0 {
		t.Error("a payment was sent without a token")
	}
}

var idemRE = regexp.MustCompile(`Idempotency-Key: (\S+)`)

func TestPayApproved(t *testing.T) {
	f, keyFile := terminal(t)
	code, stdout, stderr := runCLI(t, f.args("pay", keyFile, "-amount", "500", "-order", "ORD-1", "-code", "9900 4200-0000 0000 0000 0002")...)
	if code != exitOK {
		t.Fatalf("pay = %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	req := f.lastRequest(t)
	if req.method != http.MethodPost || req.path != "/v1/terminal/payments" || req.contentType != "application/json" {
		t.Errorf("request %s %s (%s)", req.method, req.path, req.contentType)
	}
	want := map[string]any{"code": freshCode, "amount": 500.0, "currency": "JPY", "order_ref": "ORD-1"}
	if fmt.Sprint(req.body) != fmt.Sprint(want) {
		t.Errorf("body %v, want %v", req.body, want)
	}
	if req.claims.TerminalID != terminalID {
		t.Errorf("token for %q", req.claims.TerminalID)
	}
	m := idemRE.FindStringSubmatch(stderr)
	if m == nil || m[1] != req.idempotencyKey || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(req.idempotencyKey) {
		t.Errorf("Idempotency-Key sent %q, stderr %s", req.idempotencyKey, stderr)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || out["payment_id"] != "pay_1" || out["status"] != "approved" {
		t.Errorf("stdout %s (%v)", stdout, err)
	}
	if strings.Contains(stdout+stderr, freshCode) {
		t.Error("the payment code was printed")
	}

	// The operator retries with the printed key: the same key is sent.
	if code, _, _ := runCLI(t, f.args("pay", keyFile, "-amount", "500", "-code", freshCode, "-idempotency-key", m[1])...); code != exitOK {
		t.Fatalf("retry = %d", code)
	}
	if got := f.lastRequest(t).idempotencyKey; got != m[1] {
		t.Errorf("retry sent Idempotency-Key %q, want %q", got, m[1])
	}
}

func TestPayDeclined(t *testing.T) {
	f, keyFile := terminal(t)
	code, stdout, stderr := runCLI(t, f.args("pay", keyFile, "-amount", "500", "-code", usedCode, "-idempotency-key", "order-77-try-1")...)
	if code != exitDeclined {
		t.Fatalf("pay with a used code = %d, want %d\nstdout %s\nstderr %s", code, exitDeclined, stdout, stderr)
	}
	if !strings.Contains(stderr, "DECLINED") || !strings.Contains(stderr, "code_used") || !strings.Contains(stderr, "402") {
		t.Errorf("stderr does not say clearly why: %s", stderr)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(stdout), &p); err != nil || p["code"] != "code_used" || p["status"] != 402.0 {
		t.Errorf("stdout is not the problem: %s", stdout)
	}
	if got := f.lastRequest(t).idempotencyKey; got != "order-77-try-1" || !strings.Contains(stderr, "order-77-try-1") {
		t.Errorf("Idempotency-Key sent %q; stderr %s", got, stderr)
	}
}

func TestUnavailable(t *testing.T) {
	f, keyFile := terminal(t)
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusTooManyRequests, http.StatusConflict} {
		f.mu.Lock()
		f.status = status
		f.mu.Unlock()
		code, _, stderr := runCLI(t, f.args("pay", keyFile, "-amount", "500", "-code", freshCode)...)
		key := f.lastRequest(t).idempotencyKey
		if code != exitUnavailable || !strings.Contains(stderr, "retry with -idempotency-key "+key) || !strings.Contains(stderr, "after 2 s") {
			t.Errorf("HTTP %d: exit %d, stderr %s", status, code, stderr)
		}
	}

	// Nobody listening.
	f.srv.Close()
	code, _, stderr := runCLI(t, f.args("pay", keyFile, "-amount", "500", "-code", freshCode)...)
	if code != exitUnavailable || !strings.Contains(stderr, "no answer") {
		t.Errorf("server down: exit %d, stderr %s", code, stderr)
	}
}

func TestRefundTopupGet(t *testing.T) {
	f, keyFile := terminal(t)
	cases := []struct {
		args       []string
		method     string
		path       string
		body       string
		idempotent bool
		out        string
	}{
		{[]string{"refund", "-payment", "pay_1", "-amount", "100"}, "POST", "/v1/terminal/payments/pay_1/refunds", "map[amount:100]", true, "ref_1"},
		{[]string{"refund", "-payment", "a/b c", "-amount", "100"}, "POST", "/v1/terminal/payments/a%2Fb%20c/refunds", "map[amount:100]", true, "ref_1"},
		{[]string{"topup", "-amount", "1000", "-code", freshCode}, "POST", "/v1/terminal/topups", "map[amount:1000 code:" + freshCode + " currency:JPY]", true, "top_1"},
		{[]string{"get", "-payment", "pay_1"}, "GET", "/v1/terminal/payments/pay_1", "map[]", false, `"refunds"`},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, f.args(tc.args[0], keyFile, tc.args[1:]...)...)
			if code != exitOK {
				t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
			}
			req := f.lastRequest(t)
			if req.method != tc.method || req.path != tc.path || fmt.Sprint(req.body) != tc.body {
				t.Errorf("request %s %s %v", req.method, req.path, req.body)
			}
			if (req.idempotencyKey != "") != tc.idempotent || (tc.idempotent && !strings.Contains(stderr, req.idempotencyKey)) {
				t.Errorf("Idempotency-Key %q; stderr %s", req.idempotencyKey, stderr)
			}
			if !strings.Contains(stdout, tc.out) {
				t.Errorf("stdout %s", stdout)
			}
		})
	}
	// An unknown payment is a refusal, not a decline.
	if code, _, stderr := runCLI(t, f.args("get", keyFile, "-payment", "pay_nope")...); code != exitRefused || !strings.Contains(stderr, "404") {
		t.Errorf("get unknown payment = %d: %s", code, stderr)
	}
}

func TestUsage(t *testing.T) {
	for _, env := range []string{"PAYCODE_TERMINAL_URL", "PAYCODE_TERMINAL_ID", "PAYCODE_TERMINAL_KEY"} {
		t.Setenv(env, "")
	}
	f, keyFile := terminal(t)
	cases := map[string][]string{
		"no command":              nil,
		"unknown command":         {"redeem"},
		"keygen without -out":     {"keygen"},
		"keygen with another alg": {"keygen", "-out", filepath.Join(t.TempDir(), "k.pem"), "-alg", "RS256"},
		"unknown flag":            f.args("pay", keyFile, "-amount", "5", "-code", freshCode, "-tip", "1"),
		"no -url":                 {"token", "-id", terminalID, "-key", keyFile},
		"-url not http":           {"token", "-url", "ftp://pay.example.com", "-id", terminalID, "-key", keyFile},
		"-url with a query":       {"token", "-url", "https://pay.example.com/?x=1", "-id", terminalID, "-key", keyFile},
		"no -id":                  {"token", "-url", f.srv.URL, "-key", keyFile},
		"no -key":                 {"token", "-url", f.srv.URL, "-id", terminalID},
		"pay without -amount":     f.args("pay", keyFile, "-code", freshCode),
		"pay with a zero amount":  f.args("pay", keyFile, "-amount", "0", "-code", freshCode),
		"pay with a negative":     f.args("pay", keyFile, "-amount", "-5", "-code", freshCode),
		"pay with no code":        f.args("pay", keyFile, "-amount", "5"),
		"pay with code and image": f.args("pay", keyFile, "-amount", "5", "-code", freshCode, "-image", "x.png"),
		"pay with a short code":   f.args("pay", keyFile, "-amount", "5", "-code", "12345"),
		"pay with a typo":         f.args("pay", keyFile, "-amount", "5", "-code", "990042000000000000000001"),
		"pay with letters":        f.args("pay", keyFile, "-amount", "5", "-code", "99004200000000000000000a"),
		"pay with a bad currency": f.args("pay", keyFile, "-amount", "5", "-code", freshCode, "-currency", "yen"),
		"bad idempotency key":     f.args("pay", keyFile, "-amount", "5", "-code", freshCode, "-idempotency-key", "has space"),
		"refund without payment":  f.args("refund", keyFile, "-amount", "5"),
		"get without payment":     f.args("get", keyFile),
		"extra argument":          f.args("get", keyFile, "-payment", "pay_1", "extra"),
		"-order on topup":         f.args("topup", keyFile, "-amount", "5", "-code", freshCode, "-order", "x"),
	}
	for name, args := range cases {
		code, _, stderr := runCLI(t, args...)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want %d; stderr %s", name, code, exitUsage, stderr)
		}
	}
	if as, reqs := f.calls(); len(reqs) != 0 || len(as) != 0 {
		t.Errorf("usage errors reached the server: %d calls", len(reqs)+len(as))
	}
	if code, stdout, _ := runCLI(t, "help"); code != exitOK || !strings.Contains(stdout, "usage:") {
		t.Errorf("help = %d", code)
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	f, keyFile := terminal(t)
	t.Setenv("PAYCODE_TERMINAL_URL", f.srv.URL+"/")
	t.Setenv("PAYCODE_TERMINAL_ID", terminalID)
	t.Setenv("PAYCODE_TERMINAL_KEY", keyFile)
	if code, _, stderr := runCLI(t, "get", "-payment", "pay_1"); code != exitOK {
		t.Errorf("get from the environment = %d: %s", code, stderr)
	}
}

func TestKeyFileProblems(t *testing.T) {
	f, keyFile := terminal(t)
	if code, _, stderr := runCLI(t, f.args("token", filepath.Join(t.TempDir(), "missing.pem"))...); code != exitRefused || !strings.Contains(stderr, "terminal key") {
		t.Errorf("missing key file = %d: %s", code, stderr)
	}
	pubFile := filepath.Join(t.TempDir(), "pub.pem")
	_, pub, _ := runCLI(t, "keygen", "-out", filepath.Join(t.TempDir(), "k.pem"))
	os.WriteFile(pubFile, []byte(pub), 0o600)
	if code, _, stderr := runCLI(t, f.args("token", pubFile)...); code != exitRefused {
		t.Errorf("a public key as -key = %d: %s", code, stderr)
	}
	os.Chmod(keyFile, 0o644)
	if code, _, stderr := runCLI(t, f.args("token", keyFile)...); code != exitOK || !strings.Contains(stderr, "chmod 600") {
		t.Errorf("world-readable key = %d: %s", code, stderr)
	}
}

// The CLI reads the code from a real Code 128 image with zbarimg.
func TestPayFromImage(t *testing.T) {
	if _, err := exec.LookPath(zbarimg); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("zbarimg is not installed")
		}
		t.Skip("zbarimg is not installed")
	}
	f, keyFile := terminal(t)
	c, err := tokens.NewCode("99", 42)
	if err != nil {
		t.Fatal(err)
	}
	for name, render := range map[string]func(tokens.Code, int) ([]byte, error){"code128": tokens.Code128PNG, "qr": tokens.QRPNG} {
		png, err := render(c, 3)
		if err != nil {
			t.Fatal(err)
		}
		img := filepath.Join(t.TempDir(), name+".png")
		if err := os.WriteFile(img, png, 0o600); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI(t, f.args("pay", keyFile, "-amount", "500", "-image", img)...)
		if code != exitOK {
			t.Fatalf("%s: pay -image = %d\nstdout %s\nstderr %s", name, code, stdout, stderr)
		}
		if got := f.lastRequest(t).body["code"]; got != c.Digits() {
			t.Errorf("%s: sent code %v", name, got)
		}
		if strings.Contains(stdout+stderr, c.Digits()) {
			t.Errorf("%s: the code was printed", name)
		}
	}

	// An image without a barcode.
	blank := filepath.Join(t.TempDir(), "blank.png")
	png, _ := tokens.Code128PNG(c, 2)
	os.WriteFile(blank, png[:len(png)/3], 0o600) // truncated: not decodable
	if code, _, stderr := runCLI(t, f.args("pay", keyFile, "-amount", "500", "-image", blank)...); code != exitRefused {
		t.Errorf("undecodable image = %d: %s", code, stderr)
	}
}

func TestImageWithoutZbarimg(t *testing.T) {
	f, keyFile := terminal(t)
	t.Setenv("PATH", t.TempDir())
	img := filepath.Join(t.TempDir(), "code.png")
	os.WriteFile(img, []byte("png"), 0o600)
	code, _, stderr := runCLI(t, f.args("pay", keyFile, "-amount", "500", "-image", img)...)
	if code != exitRefused || !strings.Contains(stderr, "zbarimg") || !strings.Contains(stderr, "zbar-tools") {
		t.Errorf("without zbarimg = %d: %s", code, stderr)
	}
	if _, reqs := f.calls(); len(reqs) != 0 {
		t.Error("a payment was sent")
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	f, keyFile := terminal(t)
	redirect := httptest.NewServer(http.RedirectHandler(f.srv.URL+"/v1/terminal/token", http.StatusMovedPermanently))
	defer redirect.Close()
	code, _, stderr := runCLI(t, "token", "-url", redirect.URL, "-id", terminalID, "-key", keyFile)
	if code != exitRefused || !strings.Contains(stderr, "redirected") {
		t.Errorf("redirect = %d: %s", code, stderr)
	}
	if as, _ := f.calls(); len(as) != 0 {
		t.Error("the redirect was followed")
	}
}

func TestNormalizeCode(t *testing.T) {
	if got, err := normalizeCode("9900-4212 3456-7890 1234 5673"); err != nil || got != usedCode {
		t.Errorf("normalizeCode = %q, %v", got, err)
	}
	for _, bad := range []string{"", "9", "99004212345678901234567", "990042123456789012345674", "９９0042123456789012345673"} {
		if got, err := normalizeCode(bad); err == nil || got != "" {
			t.Errorf("normalizeCode(%q) = %q, %v", bad, got, err)
		}
	}
	if !errors.Is(func() error { _, err := normalizeCode("990042123456789012345674"); return err }(), tokens.ErrCodeCheck) {
		t.Error("a typo is not reported as a check digit error")
	}
}
