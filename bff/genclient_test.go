package bff

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/paycode/paycode/clients/go/admin"
	"github.com/paycode/paycode/clients/go/paycode"
	"github.com/paycode/paycode/tokens"
)

// listen serves both of e's apps on loopback ports until the test ends and
// returns their base URLs.
func (e *env) listen(t *testing.T) (public, adminURL string) {
	t.Helper()
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 2)
	go func() { served <- e.s.Serve(pub) }()
	go func() { served <- e.s.ServeAdmin(adm) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-served
		<-served
	})
	return "http://" + pub.Addr().String(), "http://" + adm.Addr().String()
}

// The generated Go clients (clients/go, from api/openapi.yaml and
// api/admin.yaml) work against a running server: they decode its answers
// and its problems as the documents describe them. A field the server
// renames or a status it answers without a documented body leaves the
// client's typed member nil, which this test catches.
func TestGeneratedGoClients(t *testing.T) {
	e := newEnv(t, nil)
	publicURL, adminURL := e.listen(t)
	ctx := context.Background()
	pc, err := paycode.NewClientWithResponses(publicURL)
	if err != nil {
		t.Fatal(err)
	}
	ac, err := admin.NewClientWithResponses(adminURL, admin.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+testAdminToken)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}

	// The message catalogue.
	text, err := pc.GetTextCatalogueWithResponse(ctx, paycode.GetTextCatalogueParamsLangJa)
	if err != nil || text.JSON200 == nil {
		t.Fatalf("text catalogue: %v %v", text.Status(), err)
	}
	if text.JSON200.Lang != "ja" || text.JSON200.Messages["otp_invalid"] == "" {
		t.Errorf("catalogue = %s %d messages", text.JSON200.Lang, len(text.JSON200.Messages))
	}

	// A sign-up with a bad contact: the problem, its param and request id.
	signup, err := pc.StartSignupWithResponse(ctx, paycode.StartSignupJSONRequestBody{Contact: "not an address"},
		func(_ context.Context, r *http.Request) error {
			r.Header.Set("X-Request-Id", "client-test-0001")
			return nil
		})
	if err != nil || signup.ApplicationproblemJSON400 == nil {
		t.Fatalf("sign-up = %d %s, %v; want a 400 problem", signup.StatusCode(), signup.Body, err)
	}
	p := signup.ApplicationproblemJSON400
	if p.Code != "invalid_contact" || p.Param == nil || *p.Param != "contact" || p.RequestId == nil || *p.RequestId != "client-test-0001" ||
		signup.HTTPResponse.Header.Get("X-Request-Id") != "client-test-0001" {
		t.Errorf("problem = %+v (X-Request-Id %q)", p, signup.HTTPResponse.Header.Get("X-Request-Id"))
	}

	// The operator registers a terminal with the admin client.
	key, err := tokens.GenerateSigningKey(tokens.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Private.Public())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := ac.RegisterTerminalWithResponse(ctx, admin.RegisterTerminalJSONRequestBody{Operator: "tester", Reason: "client test",
		StoreId: "store-1", Label: "lane 1", PublicKeyPem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))})
	if err != nil || reg.JSON201 == nil {
		t.Fatalf("register terminal = %d %s, %v", reg.StatusCode(), reg.Body, err)
	}
	term := &terminal{e: e, id: reg.JSON201.TerminalId, store: "store-1", key: key}

	// Its token, then a top-up and a payment with the customer's codes.
	tok, err := pc.CreateTerminalTokenWithFormdataBodyWithResponse(ctx, paycode.CreateTerminalTokenFormdataRequestBody{
		GrantType: "client_credentials", ClientAssertionType: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
		ClientAssertion: term.assertion(nil)})
	if err != nil || tok.JSON200 == nil || tok.JSON200.AccessToken == nil {
		t.Fatalf("terminal token = %d %s, %v", tok.StatusCode(), tok.Body, err)
	}
	bearer := func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+*tok.JSON200.AccessToken)
		return nil
	}
	d := e.customer("client@example.com")
	topup, err := pc.CreateTopupWithResponse(ctx, &paycode.CreateTopupParams{IdempotencyKey: newIdem()},
		paycode.CreateTopupJSONRequestBody{Code: d.code(), Amount: 3000}, bearer)
	if err != nil || topup.JSON201 == nil {
		t.Fatalf("top-up = %d %s, %v", topup.StatusCode(), topup.Body, err)
	}
	code := d.code()
	payBody := paycode.CreatePaymentJSONRequestBody{Code: code, Amount: 500}
	pay, err := pc.CreatePaymentWithResponse(ctx, &paycode.CreatePaymentParams{IdempotencyKey: newIdem()}, payBody, bearer)
	if err != nil || pay.JSON201 == nil || pay.JSON201.PaymentId == nil {
		t.Fatalf("payment = %d %s, %v", pay.StatusCode(), pay.Body, err)
	}
	got, err := pc.GetPaymentWithResponse(ctx, *pay.JSON201.PaymentId, bearer)
	if err != nil || got.JSON200 == nil || got.JSON200.Amount != 500 || got.JSON200.StoreId != "store-1" {
		t.Fatalf("get payment = %d %s, %v", got.StatusCode(), got.Body, err)
	}
	if d.balance() != 2500 {
		t.Errorf("balance = %d; want 2500", d.balance())
	}
	// The same code again is a decline the client reads as a 402 problem.
	again, err := pc.CreatePaymentWithResponse(ctx, &paycode.CreatePaymentParams{IdempotencyKey: newIdem()}, payBody, bearer)
	if err != nil || again.ApplicationproblemJSON402 == nil || again.ApplicationproblemJSON402.Code != "code_used" {
		t.Fatalf("second payment with one code = %d %s, %v; want 402 code_used", again.StatusCode(), again.Body, err)
	}
}
