package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paycode/paycode/tokens"
	"github.com/paycode/paycode/webauthn/softauthn"
)

// state is what the state file keeps between commands.
type state struct {
	URL          string          `json:"url"`
	Contact      string          `json:"contact"`
	AccountID    string          `json:"account_id"`
	DeviceKeyPEM string          `json:"device_key_pem"`
	Passkey      json.RawMessage `json:"passkey"`
	AccessToken  string          `json:"access_token"`
	RefreshToken string          `json:"refresh_token"`
}

// phone is a loaded state: the device key that signs DPoP proofs and the
// passkey authenticator.
type phone struct {
	st    state
	key   tokens.SigningKey
	jwk   map[string]any
	auth  *softauthn.Authenticator
	nonce string
	http  *http.Client
}

func newPhone(st state, key tokens.SigningKey, auth *softauthn.Authenticator) (*phone, error) {
	jwk, err := tokens.PublicJWK(key.Private.Public())
	if err != nil {
		return nil, err
	}
	return &phone{st: st, key: key, jwk: jwk, auth: auth, http: &http.Client{Timeout: 15 * time.Second}}, nil
}

func load(file string) (*phone, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist: run paycode-phone signup first", file)
	} else if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	key, err := tokens.ParsePrivateKeyPEM([]byte(st.DeviceKeyPEM))
	if err != nil {
		return nil, fmt.Errorf("%s: the device key: %w", file, err)
	}
	auth, err := softauthn.Load(st.Passkey)
	if err != nil {
		return nil, fmt.Errorf("%s: the passkey: %w", file, err)
	}
	return newPhone(st, key, auth)
}

// save writes the state with mode 0600 (it holds private keys and tokens).
func (p *phone) save(file string) error {
	pemKey, err := tokens.MarshalPrivateKeyPEM(p.key)
	if err != nil {
		return err
	}
	p.st.DeviceKeyPEM = string(pemKey)
	if p.st.Passkey, err = p.auth.Save(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(p.st, "", "  ")
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// answer is a server response: status, headers and body.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// problem is the code and detail of a problem answer ("" when it is not
// one).
func (a answer) problem() (code, detail string) {
	var p struct{ Code, Detail string }
	_ = json.Unmarshal(a.body, &p)
	return p.Code, p.Detail
}

func (a answer) err(what string) error {
	if code, detail := a.problem(); code != "" {
		return fmt.Errorf("%s: %d %s: %s", what, a.status, code, detail)
	}
	return fmt.Errorf("%s: %d", what, a.status)
}

// call sends a request with a fresh DPoP proof signed by the device key
// and, when withToken, the access token. A use_dpop_nonce answer is sent
// again once with the server's nonce.
func (p *phone) call(ctx context.Context, method, path string, body any, withToken bool) (answer, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return answer{}, err
		}
	}
	for attempt := 0; ; attempt++ {
		token := ""
		if withToken {
			token = p.st.AccessToken
		}
		htu := p.st.URL + strings.SplitN(path, "?", 2)[0]
		proof, err := p.proof(method, htu, token)
		if err != nil {
			return answer{}, err
		}
		req, err := http.NewRequestWithContext(ctx, method, p.st.URL+path, bytes.NewReader(payload))
		if err != nil {
			return answer{}, err
		}
		req.Header.Set("DPoP", proof)
		req.Header.Set("Accept-Language", "en")
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "DPoP "+token)
		}
		resp, err := p.http.Do(req)
		if err != nil {
			return answer{}, err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return answer{}, err
		}
		a := answer{status: resp.StatusCode, header: resp.Header, body: b}
		if n := resp.Header.Get("DPoP-Nonce"); n != "" {
			p.nonce = n
			if code, _ := a.problem(); attempt == 0 && code == "use_dpop_nonce" {
				continue
			}
		}
		return a, nil
	}
}

// proof signs an RFC 9449 DPoP proof for method and htu.
func (p *phone) proof(method, htu, accessToken string) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	claims := jwt.MapClaims{"jti": base64.RawURLEncoding.EncodeToString(jti[:]), "htm": method, "htu": htu, "iat": time.Now().Unix()}
	if accessToken != "" {
		claims["ath"] = tokens.ATH(accessToken)
	}
	if p.nonce != "" {
		claims["nonce"] = p.nonce
	}
	t := jwt.NewWithClaims(jwt.GetSigningMethod(p.key.Alg), claims)
	t.Header["typ"] = "dpop+jwt"
	t.Header["jwk"] = p.jwk
	return t.SignedString(p.key.Private)
}

// tokens is the part of a token answer the phone keeps.
type tokenAnswer struct {
	AccountID    string `json:"account_id"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func (p *phone) take(a answer) error {
	var t tokenAnswer
	if err := json.Unmarshal(a.body, &t); err != nil || t.AccessToken == "" {
		return fmt.Errorf("no access token in the answer (%d)", a.status)
	}
	p.st.AccessToken = t.AccessToken
	if t.RefreshToken != "" {
		p.st.RefreshToken = t.RefreshToken
	}
	if t.AccountID != "" {
		p.st.AccountID = t.AccountID
	}
	return nil
}

var otpText = regexp.MustCompile(`code is ([0-9]{6})`)

// signup makes an account for contact: the OTP from the dev outbox, a new
// passkey and device key. It refuses to replace an existing state file.
func signup(ctx context.Context, url, contact, file string, stdout io.Writer) error {
	if _, err := os.Stat(file); err == nil {
		return fmt.Errorf("%s exists (a phone that signed up already); remove it or pass another -state", file)
	}
	key, err := tokens.GenerateSigningKey(tokens.AlgES256)
	if err != nil {
		return err
	}
	url = strings.TrimRight(url, "/")
	p, err := newPhone(state{URL: url, Contact: contact}, key, softauthn.New(url))
	if err != nil {
		return err
	}
	a, err := p.call(ctx, "POST", "/v1/signup/contact", map[string]string{"contact": contact, "lang": "en"}, false)
	if err != nil {
		return err
	}
	if a.status != http.StatusAccepted {
		return a.err("POST /v1/signup/contact")
	}
	var started struct {
		SignupID string `json:"signup_id"`
	}
	if err := json.Unmarshal(a.body, &started); err != nil || started.SignupID == "" {
		return fmt.Errorf("POST /v1/signup/contact: no signup_id")
	}
	otp, err := p.outboxOTP(ctx, contact)
	if err != nil {
		return err
	}
	a, err = p.call(ctx, "POST", "/v1/signup/verify", map[string]string{"signup_id": started.SignupID, "otp": otp}, false)
	if err != nil {
		return err
	}
	if a.status != http.StatusOK {
		return a.err("POST /v1/signup/verify")
	}
	var verified struct {
		Options json.RawMessage `json:"options"`
	}
	if err := json.Unmarshal(a.body, &verified); err != nil {
		return fmt.Errorf("POST /v1/signup/verify: %w", err)
	}
	cred, err := p.auth.Register(verified.Options)
	if err != nil {
		return fmt.Errorf("the software passkey: %w", err)
	}
	a, err = p.call(ctx, "POST", "/v1/signup/finish", map[string]any{"signup_id": started.SignupID,
		"credential": json.RawMessage(cred), "device_label": "paycode-phone"}, false)
	if err != nil {
		return err
	}
	if a.status != http.StatusCreated {
		return a.err("POST /v1/signup/finish")
	}
	if err := p.take(a); err != nil {
		return err
	}
	if err := p.save(file); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signed up %s as %s; the phone is in %s\n", contact, p.st.AccountID, file)
	return nil
}

// outboxOTP reads the sign-up code sent to contact from GET /dev/outbox.
// The notifier delivers through an outbox worker, so it asks a few times.
func (p *phone) outboxOTP(ctx context.Context, contact string) (string, error) {
	for range 50 {
		req, err := http.NewRequestWithContext(ctx, "GET", p.st.URL+"/dev/outbox", nil)
		if err != nil {
			return "", err
		}
		resp, err := p.http.Do(req)
		if err != nil {
			return "", err
		}
		var box struct {
			Messages []struct{ To, Type, Text string }
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&box)
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return "", errors.New("the server has no /dev/outbox: paycode-phone signs up on dev servers only (PAYCODE_ENV=dev)")
		}
		if err != nil {
			return "", fmt.Errorf("GET /dev/outbox: %w", err)
		}
		for _, m := range box.Messages {
			if g := otpText.FindStringSubmatch(m.Text); m.To == contact && m.Type == "signup.otp" && g != nil {
				return g[1], nil
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("no sign-up code for %s in the dev outbox", contact)
}

// authed sends a session call, refreshing an expired access token or
// stepping up with the passkey when the server asks, then sending it again.
func (p *phone) authed(ctx context.Context, method, path string, body any) (answer, error) {
	for attempt := 0; ; attempt++ {
		a, err := p.call(ctx, method, path, body, true)
		if err != nil || a.status != http.StatusUnauthorized || attempt == 2 {
			return a, err
		}
		code, _ := a.problem()
		switch {
		case code == "insufficient_user_authentication":
			err = p.reauth(ctx)
		case code == "invalid_token":
			err = p.refresh(ctx)
		default:
			return a, nil
		}
		if err != nil {
			return answer{}, err
		}
	}
}

func (p *phone) refresh(ctx context.Context) error {
	a, err := p.call(ctx, "POST", "/v1/session/refresh", map[string]string{"refresh_token": p.st.RefreshToken}, false)
	if err != nil {
		return err
	}
	if a.status != http.StatusOK {
		return a.err("POST /v1/session/refresh")
	}
	return p.take(a)
}

// reauth is the passkey step-up (a fresh user-verified assertion).
func (p *phone) reauth(ctx context.Context) error {
	a, err := p.call(ctx, "POST", "/v1/session/reauth/start", map[string]any{}, true)
	if err != nil {
		return err
	}
	if a.status != http.StatusOK {
		return a.err("POST /v1/session/reauth/start")
	}
	var started struct {
		ReauthID string          `json:"reauth_id"`
		Options  json.RawMessage `json:"options"`
	}
	if err := json.Unmarshal(a.body, &started); err != nil {
		return err
	}
	cred, err := p.auth.Assert(started.Options)
	if err != nil {
		return fmt.Errorf("the software passkey: %w", err)
	}
	a, err = p.call(ctx, "POST", "/v1/session/reauth/finish", map[string]any{"reauth_id": started.ReauthID, "credential": json.RawMessage(cred)}, true)
	if err != nil {
		return err
	}
	if a.status != http.StatusOK {
		return a.err("POST /v1/session/reauth/finish")
	}
	return p.take(a)
}

// code prints a fresh payment code (digits only, for a register).
func (p *phone) code(ctx context.Context, stdout io.Writer) error {
	a, err := p.authed(ctx, "POST", "/v1/codes?images=none", map[string]any{})
	if err != nil {
		return err
	}
	if a.status != http.StatusCreated {
		return a.err("POST /v1/codes")
	}
	var out struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(a.body, &out); err != nil || out.Code == "" {
		return errors.New("POST /v1/codes: no code in the answer")
	}
	fmt.Fprintln(stdout, out.Code)
	return nil
}

// wallet prints the balance.
func (p *phone) wallet(ctx context.Context, stdout io.Writer) error {
	a, err := p.authed(ctx, "GET", "/v1/wallet", nil)
	if err != nil {
		return err
	}
	if a.status != http.StatusOK {
		return a.err("GET /v1/wallet")
	}
	var w struct {
		Balance  int64  `json:"balance"`
		Currency string `json:"currency"`
	}
	if err := json.Unmarshal(a.body, &w); err != nil {
		return fmt.Errorf("GET /v1/wallet: %w", err)
	}
	fmt.Fprintf(stdout, "balance: %d %s\n", w.Balance, w.Currency)
	return nil
}
