package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// Store is what the flows read and write: *store.Store implements it.
// Each method's atomicity (a Lua script) is the store's; the order of the
// calls is this package's.
type Store interface {
	Enrollments
	Accounts
	ContactChanges
	Trail
}

var _ Store = (*store.Store)(nil)

// Enrollments are the enrollment records and their scripts.
type Enrollments interface {
	CreateEnrollment(ctx context.Context, e store.Enrollment, maxLive int, now time.Time) error
	Enrollment(ctx context.Context, id string) (*store.Enrollment, error)
	Enrollments(ctx context.Context, accountID string, now time.Time) ([]store.Enrollment, error)
	SetEnrollmentOTP(ctx context.Context, e *store.Enrollment, otpHash string, tries int, expires, now time.Time) error
	VerifyEnrollment(ctx context.Context, e *store.Enrollment, otpHash string, maxLive int, now time.Time) error
	CheckRecovery(ctx context.Context, e *store.Enrollment, r store.Recovery, now time.Time) error
	StartRecovery(ctx context.Context, e *store.Enrollment, r store.Recovery, now time.Time) error
	ApproveEnrollment(ctx context.Context, e *store.Enrollment, a store.Approval, now time.Time) error
	CancelEnrollment(ctx context.Context, e *store.Enrollment, by, cancelHash string, now time.Time) error
	ActivateEnrollment(ctx context.Context, e *store.Enrollment, act store.Activation, now time.Time) error
}

// Accounts are the account reads and the device-lock writes.
type Accounts interface {
	Account(ctx context.Context, id string) (*store.Account, error)
	AccountByContact(ctx context.Context, contactHash string) (string, error)
	ProbationUntil(ctx context.Context, accountID string) (time.Time, error)
	SetDeviceStatus(ctx context.Context, accountID, deviceID, status string) (bool, error)
	RevokeSessions(ctx context.Context, accountID string) (int, error)
}

// ContactChanges are the records of a contact change in progress.
type ContactChanges interface {
	PutContactChange(ctx context.Context, cc store.ContactChange, otpHash string, ttl time.Duration) error
	ContactChange(ctx context.Context, id string) (*store.ContactChange, error)
	VerifyContactChangeOTP(ctx context.Context, id, otpHash string) error
	PendContactChange(ctx context.Context, cc *store.ContactChange, appliesAt time.Time, cancelHash string) error
	ChangeContact(ctx context.Context, cc *store.ContactChange, now time.Time) (cleanup, err error)
	EndContactChange(ctx context.Context, cc *store.ContactChange, state, by, cancelHash string, now time.Time) error
	DueContactChanges(ctx context.Context, now time.Time, limit int64) ([]string, error)
	DropDueContactChange(ctx context.Context, id string) error
}

// Trail is the audit stream and the account's event stream (SSE).
type Trail interface {
	Audit(ctx context.Context, e store.AuditEvent) error
	Publish(ctx context.Context, accountID string, ev store.Event) error
}

// Limit is a rate limit: Rate calls per Per for one subject, counted under
// Name (the name is part of the counter's key: two limits with one name
// share a counter, so they must have the same numbers).
type Limit struct {
	Name string
	Rate int
	Per  time.Duration
}

// Limiter spends one call of l for subject (an IP or a keyed hash, never a
// raw contact). It returns nil while within the limit, a *RateLimitError
// once it is reached, or another error when the count cannot be kept
// (then the flow stops: fail closed).
type Limiter interface {
	Limit(ctx context.Context, l Limit, subject string) error
}

// The limits the flows spend, in the order each flow spends them.
var (
	LimitEnrollPerIP      = Limit{"enroll-ip", 10, time.Hour}              // enrollments created per IP
	LimitEnrollPerAccount = Limit{"enroll-account", 5, time.Hour}          // enrollments created per account (by login)
	LimitEnrollPerContact = Limit{"enroll-contact", 3, 10 * time.Minute}   // enrollments and OTPs per contact
	LimitEnrollOTPPerIP   = Limit{"enroll-otp-ip", 10, time.Hour}          // enrollment OTPs sent per IP
	LimitRecoverPerIP     = Limit{"enroll-recover-ip", 10, 24 * time.Hour} // recovery attempts per IP
	// LimitRecoverPerEnrollment counts recovery attempts on one enrollment,
	// which only its own DPoP key can make: a stranger's failures spend
	// the stranger's enrollments, never the owner's (issue 13: a per-account
	// count let anyone who knew the address lock the owner out for a day).
	// The bound on guessing is the OTP: each attempt needs the code sent to
	// the owner's address (OTPTries wrong pairs end it), and a new code
	// takes a new enrollment or SendOTP, LimitEnrollPerContact each.
	LimitRecoverPerEnrollment = Limit{"enroll-recover-enrollment", 10, 24 * time.Hour}
	LimitCancelTokenPerIP     = Limit{"enroll-cancel-ip", 30, time.Hour}      // cancel-code attempts per IP
	LimitContactChange        = Limit{"contact-change-account", 3, time.Hour} // contact changes begun per account
	LimitOTPPerIP             = Limit{"otp-ip", 10, time.Hour}                // shared with sign-up (bff/limits.go)
	LimitOTPPerContact        = Limit{"otp-contact", 3, 10 * time.Minute}     // shared with sign-up (bff/limits.go)
	LimitVerifyPerIP          = Limit{"verify-ip", 30, time.Hour}             // OTP guesses per IP, shared with sign-up
)

// Request is what the audit trail and the per-IP limits know of the call
// that runs a flow.
type Request struct {
	IP        string // the client's IP (as the trusted proxy reported it)
	RequestID string
}

// Config holds the durations and the key of the flows.
type Config struct {
	// Secret keys every hash this package stores or looks up (contacts,
	// OTPs, recovery codes, cancel codes): config.Config.Secret.
	Secret []byte
	// EnrollmentTTL is how long an enrollment lives in a pending state,
	// and how long an approved one may finish.
	EnrollmentTTL time.Duration
	// RecoveryCooldown is how long a recovery waits before it may finish;
	// the bound device and the contact may cancel it meanwhile.
	RecoveryCooldown time.Duration
	// ReadyWindow is how long the new device may finish after the
	// cool-down ended (default 72h).
	ReadyWindow time.Duration
	// Probation is the window of lower limits after a new device became
	// active.
	Probation time.Duration
	// ContactCooldown is how long a verified contact change waits before
	// it applies (PAYCODE_CONTACT_COOLDOWN, default 24h); the old address
	// may cancel it meanwhile (config refuses zero).
	ContactCooldown time.Duration
	// StepUpWindow is how recent the session's passkey verification must
	// be to begin a contact change (the payment window).
	StepUpWindow time.Duration
	// OTPTTL and OTPTries are each OTP's lifetime and guesses.
	OTPTTL   time.Duration
	OTPTries int
	// MaxLive is how many visible enrollments an account may have at once
	// (default 5): each one is something the owner must look at.
	MaxLive int
	// NoticeLang is the language of notifications to an account without
	// a language of its own (default text.Default). An account's messages
	// are written in its language (store.Account.Lang, chosen at sign-up),
	// never in a request's Accept-Language: the requester may not be the
	// owner.
	NoticeLang text.Lang
	// CancelURL, when set, is the start of the link in a recovery's
	// warning that cancels it: the cancel code is appended (the PWA's
	// page, e.g. "https://pay.example/#cancel=": a URL fragment, so the
	// code never reaches a server log).
	CancelURL string
	// ContactCancelURL is the same for a contact change's warning to the
	// old address (e.g. "https://pay.example/#contact-cancel=").
	ContactCancelURL string
}

// Service runs the flows. Its fields are set once, before the first call.
type Service struct {
	Config
	Store    Store
	Notifier notify.Notifier
	Limiter  Limiter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives what an already committed step could not do (an audit
	// event, an event or a notice that was lost); never a secret.
	Log *slog.Logger
	// Audited, when set, is told the type of every audit event (metrics).
	Audited func(typ string)
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// MaxLoginPrompts is how many live enrollments made by a passkey login on
// an unknown device key (FromLogin) an account may have at once; it is
// below the visible cap (MaxLive, 5), so such prompts never fill it.
const MaxLoginPrompts = 3

func (s *Service) maxLive() int {
	if s.MaxLive == 0 {
		return 5
	}
	return s.MaxLive
}

func (s *Service) readyWindow() time.Duration {
	if s.ReadyWindow == 0 {
		return 72 * time.Hour
	}
	return s.ReadyWindow
}

func (s *Service) lang() text.Lang {
	if s.NoticeLang == "" {
		return text.Default
	}
	return s.NoticeLang
}

// langOf is the language of the account's messages.
func (s *Service) langOf(acct *store.Account) text.Lang {
	if l, ok := text.Parse(acct.Lang); ok {
		return l
	}
	return s.lang()
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

// limit spends one call of l for subject; a limiter without an answer
// stops the flow.
func (s *Service) limit(ctx context.Context, l Limit, subject string) error {
	if s.Limiter == nil {
		return nil
	}
	if err := s.Limiter.Limit(ctx, l, subject); err != nil {
		if errors.Is(err, ErrRateLimited) {
			return err
		}
		return fmt.Errorf("checking the limit %s: %w", l.Name, err)
	}
	return nil
}

// audit appends an event to the audit stream. The action it records has
// already happened: a failure is logged for the operator, not returned.
func (s *Service) audit(ctx context.Context, req Request, actor Actor, typ, accountID, deviceID string, fields map[string]string) {
	err := s.Store.Audit(ctx, store.AuditEvent{
		Type: typ, AccountID: accountID, DeviceID: deviceID, Actor: string(actor),
		IP: req.IP, RequestID: req.RequestID, Fields: fields, Time: s.now(),
	})
	if s.Audited != nil {
		s.Audited(typ)
	}
	if err != nil {
		s.log().Error("audit event not recorded", "type", typ, "account", accountID, "request_id", req.RequestID, "error", err.Error())
	}
}

// publish sends an event to the account's clients. Like audit, the action
// already happened: a failure is logged, not returned.
func (s *Service) publish(ctx context.Context, req Request, accountID, typ string, data map[string]any) {
	if err := s.Store.Publish(ctx, accountID, store.Event{Type: typ, Data: data, Time: s.now()}); err != nil {
		s.log().Error("event not published", "type", typ, "account", accountID, "request_id", req.RequestID, "error", err.Error())
	}
}

// tell sends a message to the account's verified contact, the only
// address an account's messages ever go to. A failure is ErrNoticeFailed
// (with the notifier's error as cause): the caller changes nothing.
func (s *Service) tell(ctx context.Context, acct *store.Account, typ string, m text.Message, data map[string]string) error {
	id, err := store.RandomID()
	if err != nil {
		return err
	}
	err = s.Notifier.Notify(ctx, notify.Message{ID: "msg_" + id, Type: typ, To: acct.Contact, Text: m.Render(s.langOf(acct)),
		Data: data, CreatedAt: s.now()})
	if err != nil {
		return mark(ErrNoticeFailed, err)
	}
	return nil
}

// decoy costs what tell costs where an unknown contact gets nothing: the
// notifier enqueues a decoy message its worker drops (notify.TypeDecoy), so
// the answer takes the same time either way. A failure is ErrNoticeFailed,
// as tell's would be.
func (s *Service) decoy(ctx context.Context) error {
	id, err := store.RandomID()
	if err != nil {
		return err
	}
	if err := s.Notifier.Notify(ctx, notify.Message{ID: "msg_" + id, Type: notify.TypeDecoy, CreatedAt: s.now()}); err != nil {
		return mark(ErrNoticeFailed, err)
	}
	return nil
}

// tellAfter sends a notice about something already done; a failure is
// logged for the operator, not returned.
func (s *Service) tellAfter(ctx context.Context, req Request, acct *store.Account, m text.Message, data map[string]string) {
	if err := s.tell(ctx, acct, notify.TypeSecurity, m, data); err != nil {
		s.log().Error("security notice not delivered", "account", acct.ID, "request_id", req.RequestID, "error", err.Error())
	}
}

// step is what a committed step of an enrollment records: its audit event
// and the event the account's clients get.
type step struct {
	actor    Actor
	audit    string
	deviceID string
	fields   map[string]string
	event    string // "" for none
}

// committed is the tail every committed enrollment step shares: audit the
// step (from what was known before it), read the enrollment as it now is,
// tell the account's clients, and return the fresh record for the answer.
// The step has happened: a failed re-read is answered as
// store.ErrUnconfirmed (503 "not confirmed"), never "nothing was changed".
func (s *Service) committed(ctx context.Context, req Request, before *store.Enrollment, st step, now time.Time) (*store.Enrollment, error) {
	fields := map[string]string{"enrollment": before.ID}
	for k, v := range st.fields {
		fields[k] = v
	}
	s.audit(ctx, req, st.actor, st.audit, before.AccountID, st.deviceID, fields)
	e, err := s.Store.Enrollment(ctx, before.ID)
	if err != nil {
		return nil, fmt.Errorf("reading the enrollment after the step: %w: %w", store.ErrUnconfirmed, err)
	}
	if st.event != "" {
		s.publish(ctx, req, e.AccountID, st.event, View(e, now))
	}
	return e, nil
}

// View is what clients (and events) see of an enrollment at now.
func View(e *store.Enrollment, now time.Time) map[string]any {
	m := map[string]any{
		"id": e.ID, "state": e.StateAt(now), "origin": e.Origin, "label": e.Label, "ip": e.IP,
		"created_at": e.CreatedAt.UTC(), "expires_at": e.ExpiresAt.UTC(),
	}
	if !e.CooldownUntil.IsZero() {
		m["cooldown_until"] = e.CooldownUntil.UTC()
	}
	if kind, _, ok := strings.Cut(e.ApprovedBy, ":"); ok {
		m["approved_by"] = kind // "device" or "operator"; an operator's name is for the audit trail
	}
	if e.CancelledBy != "" {
		m["cancelled_by"] = Actor(e.CancelledBy).Kind() // "device", "contact" or "system"
	}
	return m
}

// Summary is what the bound device (GET /v1/me, /v1/enrollments) and an
// operator see: the live enrollments it may approve or cancel, oldest
// first, and the end of the probation window (nil when there is none).
func (s *Service) Summary(ctx context.Context, accountID string) (views []map[string]any, probationUntil *time.Time, err error) {
	now := s.now()
	list, err := s.Store.Enrollments(ctx, accountID, now)
	if err != nil {
		return nil, nil, err
	}
	views = make([]map[string]any, 0, len(list))
	for i := range list {
		views = append(views, View(&list[i], now))
	}
	until, err := s.Store.ProbationUntil(ctx, accountID)
	if err != nil {
		return nil, nil, err
	}
	if until.After(now) {
		u := until.UTC()
		probationUntil = &u
	}
	return views, probationUntil, nil
}
