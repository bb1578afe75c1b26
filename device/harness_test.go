package device_test

import (
	"context"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/paycode/paycode/device"
	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
	"github.com/paycode/paycode/tokens"
)

// notifier records what it is handed, and fails while fail is set.
// Decoys (never delivered: the outbox worker drops them) are counted
// apart from messages.
type notifier struct {
	mu     sync.Mutex
	msgs   []notify.Message
	decoys int
	fail   error
}

var errNotifierDown = errors.New("test notifier: down")

func (n *notifier) Notify(_ context.Context, m notify.Message) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fail != nil {
		return n.fail
	}
	if m.Type == notify.TypeDecoy {
		n.decoys++
		return nil
	}
	n.msgs = append(n.msgs, m)
	return nil
}

func (n *notifier) decoyCount() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.decoys
}

func (n *notifier) setFailing(failing bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fail = nil
	if failing {
		n.fail = errNotifierDown
	}
}

// to returns the messages sent to addr, oldest first.
func (n *notifier) to(addr string) []notify.Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []notify.Message
	for _, m := range n.msgs {
		if m.To == addr {
			out = append(out, m)
		}
	}
	return out
}

func (n *notifier) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.msgs)
}

// limiter records the limits spent and refuses the one named deny.
type limiter struct {
	mu    sync.Mutex
	spent []string // "name subject"
	deny  string
}

func (l *limiter) Limit(_ context.Context, lim device.Limit, subject string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.spent = append(l.spent, lim.Name+" "+subject)
	if lim.Name == l.deny {
		return &device.RateLimitError{Limit: lim.Name, RetryAfter: time.Minute}
	}
	return nil
}

// harness is a Service on a real store (storetest.Open: real Redis when
// PAYCODE_TEST_REDIS is set) with a recording notifier and limiter and a
// clock the test moves.
type harness struct {
	t    *testing.T
	ctx  context.Context
	st   *store.Store
	svc  *device.Service
	note *notifier
	lim  *limiter
	now  time.Time
	req  device.Request
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, ctx: t.Context(), st: storetest.Open(t), note: &notifier{}, lim: &limiter{},
		now: time.Now().Truncate(time.Second), req: device.Request{IP: "192.0.2.7", RequestID: "test-request-id"}}
	h.svc = &device.Service{
		Config: device.Config{
			Secret:           []byte("device-test-secret-device-test-secret"),
			EnrollmentTTL:    15 * time.Minute,
			RecoveryCooldown: 24 * time.Hour,
			ContactCooldown:  24 * time.Hour,
			Probation:        24 * time.Hour,
			StepUpWindow:     5 * time.Minute,
			OTPTTL:           10 * time.Minute,
			OTPTries:         5,
		},
		Store: h.st, Notifier: h.note, Limiter: h.lim,
		Now: func() time.Time { return h.now },
	}
	return h
}

func (h *harness) advance(d time.Duration) { h.now = h.now.Add(d) }

// owner is an account with its bound device, a session of that device and
// its recovery codes (as printed).
type owner struct {
	acct  *store.Account
	sess  *store.Session
	codes []string
}

// account signs up contact directly in the store, as bff's sign-up does.
func (h *harness) account(contact string) owner {
	h.t.Helper()
	sid, b, err := store.NewSignupID()
	if err != nil {
		h.t.Fatal(err)
	}
	hash := h.svc.ContactHash(contact)
	if err := h.st.PutSignup(h.ctx, store.Signup{ID: sid, Contact: contact, ContactKind: "email", ContactHash: hash, TriesLeft: 5}, "otp", time.Minute); err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.VerifySignupOTP(h.ctx, sid, "otp"); err != nil {
		h.t.Fatal(err)
	}
	acctID, _ := store.NewID("acct", b)
	devID, _ := store.NewID("dev", b)
	jkt, _ := store.RandomID()
	codes := []string{"aaaaa-bbbbb", "ccccc-ddddd", "eeeee-fffff"}
	var hashes []string
	for _, c := range codes {
		hashes = append(hashes, h.svc.RecoveryCodeHash(tokens.NewSecret([]byte(c))))
	}
	err = h.st.CreateAccount(h.ctx, store.NewAccount{
		SignupID: sid,
		Account: store.Account{ID: acctID, Contact: contact, ContactKind: "email", CreatedAt: h.now,
			DeviceID: devID, DeviceJKT: "old-" + jkt},
		Device: store.Device{ID: devID, AccountID: acctID, JKT: "old-" + jkt, Label: "old phone", CreatedAt: h.now},
		Credential: store.CredentialRecord{AccountID: acctID, DeviceID: devID, CreatedAt: h.now,
			Credential: gowebauthn.Credential{ID: []byte("old-" + jkt), Authenticator: gowebauthn.Authenticator{SignCount: 7}}},
		RecoveryHashes: hashes,
		ContactHash:    hash,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	acct := h.reload(acctID)
	sessID, _ := store.NewID("sess", b)
	return owner{acct: acct, codes: codes,
		sess: &store.Session{ID: sessID, AccountID: acctID, DeviceID: devID, JKT: acct.DeviceJKT, AuthTime: h.now}}
}

func (h *harness) reload(accountID string) *store.Account {
	h.t.Helper()
	acct, err := h.st.Account(h.ctx, accountID)
	if err != nil {
		h.t.Fatal(err)
	}
	return acct
}

func newJKT(t *testing.T) string {
	t.Helper()
	id, err := store.RandomID()
	if err != nil {
		t.Fatal(err)
	}
	return "new-" + id
}

var otpText = regexp.MustCompile(`code is ([0-9]{6})`)

// otp is the newest OTP sent to addr.
func (h *harness) otp(addr string) tokens.Secret {
	h.t.Helper()
	msgs := h.note.to(addr)
	for i := len(msgs) - 1; i >= 0; i-- {
		if g := otpText.FindStringSubmatch(msgs[i].Text); g != nil {
			return tokens.NewSecret([]byte(g[1]))
		}
	}
	h.t.Fatalf("no OTP went to %s", addr)
	return tokens.Secret{}
}

// wrongOTP is a 6-digit code other than otp.
func wrongOTP(otp tokens.Secret) tokens.Secret {
	if otp.Reveal() == "000000" {
		return tokens.NewSecret([]byte("111111"))
	}
	return tokens.NewSecret([]byte("000000"))
}

func secret(s string) tokens.Secret { return tokens.NewSecret([]byte(s)) }

// state is the stored enrollment's state as the API shows it now.
func (h *harness) state(id string) device.State {
	h.t.Helper()
	e, err := h.st.Enrollment(h.ctx, id)
	if err != nil {
		h.t.Fatalf("reading enrollment %s: %v", id, err)
	}
	return device.StateOf(e, h.now)
}

func (h *harness) codesLeft(accountID string) int64 {
	h.t.Helper()
	n, err := h.st.RecoveryCodesLeft(h.ctx, accountID)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// audited returns the newest audit event of typ for accountID, and
// whether there is one.
func (h *harness) audited(typ, accountID string) (store.AuditEvent, bool) {
	h.t.Helper()
	events, err := h.st.AuditEvents(h.ctx, 500)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Type == typ && events[i].AccountID == accountID {
			return events[i], true
		}
	}
	return store.AuditEvent{}, false
}

// byContact starts an enrollment by o's contact from a new device.
func (h *harness) byContact(o owner) (id, jkt string) {
	h.t.Helper()
	jkt = newJKT(h.t)
	e, err := h.svc.Create(h.ctx, h.req, o.acct.Contact, "recovered phone", jkt)
	if err != nil {
		h.t.Fatalf("Create: %v", err)
	}
	return e.ID, jkt
}

// byLogin makes the enrollment of a login with o's passkey on a new device.
func (h *harness) byLogin(o owner) (id, jkt string) {
	h.t.Helper()
	jkt = newJKT(h.t)
	e, err := h.svc.FromLogin(h.ctx, h.req, h.reload(o.acct.ID), jkt, "new phone")
	if err != nil {
		h.t.Fatalf("FromLogin: %v", err)
	}
	return e.ID, jkt
}

// registered is a register function that hands over a fresh credential
// and records that it ran.
func registered(ran *bool) func(context.Context, *store.Enrollment) (*gowebauthn.Credential, error) {
	return func(_ context.Context, e *store.Enrollment) (*gowebauthn.Credential, error) {
		*ran = true
		return &gowebauthn.Credential{ID: []byte("cred-" + e.ID)}, nil
	}
}

// verified is an Approve check that accepts (the handler verified the
// assertion) and records that it ran.
func verified(ran *bool) func(context.Context, *store.Enrollment) error {
	return func(context.Context, *store.Enrollment) error {
		*ran = true
		return nil
	}
}

func wantState(t *testing.T, err error, want device.State) {
	t.Helper()
	var se *device.StateError
	if !errors.As(err, &se) || se.State != want || !errors.Is(err, device.ErrState) {
		t.Fatalf("error = %v; want the state error %q", err, want)
	}
}
