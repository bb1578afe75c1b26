package bff

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-redis/redis_rate/v10"
	"github.com/gofiber/fiber/v2"

	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/tokens"
	"github.com/paycode/paycode/webauthn"
)

// A new device becomes the account's one device only through an enrollment
// (states in store/enroll.go): approval by the bound device with a fresh
// user-verified assertion, an operator's approval after an identity check,
// or a recovery with the contact's OTP and a recovery code followed by a
// cool-down that the bound device and the contact can cancel. Every step
// of the new device is proven with the DPoP key fixed when the enrollment
// was created; finishing registers its passkey and revokes the old device
// in one atomic step.

// Problem codes of enrollments.
const (
	// codeEnrollmentState: the enrollment is not in a state that allows
	// the step (409); the problem's "state" member says which it is in.
	codeEnrollmentState = "enrollment_state"
	// codeRecoveryInvalid: the OTP or the recovery code is wrong, or the
	// OTP has expired or used up its tries (400, one uniform answer).
	codeRecoveryInvalid = "recovery_invalid"
)

const (
	// enrollMaxLive is how many visible enrollments an account may have at
	// once (each one is something the owner must look at).
	enrollMaxLive = 5
	// enrollReadyWindow is how long the new device may finish after the
	// cool-down of a recovery ended.
	enrollReadyWindow = 72 * time.Hour
	// Message types of the OTPs sent here (notices are notify.TypeSecurity).
	enrollOTPType  = "enrollment.otp"
	contactOTPType = "contact.otp"
)

// Rate limits of enrollments and contact changes (counted in Redis).
var (
	limitEnrollPerIP      = redis_rate.Limit{Rate: 10, Burst: 10, Period: time.Hour}      // enrollments created per IP
	limitEnrollPerAccount = redis_rate.Limit{Rate: 5, Burst: 5, Period: time.Hour}        // enrollments created per account
	limitRecoverPerDay    = redis_rate.Limit{Rate: 10, Burst: 10, Period: 24 * time.Hour} // recovery attempts per account and per IP
	limitEnrollCancelIP   = redis_rate.Limit{Rate: 30, Burst: 30, Period: time.Hour}      // cancel-token attempts per IP
	limitContactChange    = redis_rate.Limit{Rate: 3, Burst: 3, Period: time.Hour}        // contact changes begun per account
)

// enrollmentRoutes registers the new-device resource (/v1/enrollments...)
// and the contact change.
func (s *Server) enrollmentRoutes(v1 fiber.Router) {
	// The new device: no session, every call proven with the enrollment's key.
	v1.Post("/enrollments", s.enrollmentCreate)
	v1.Post("/enrollments/cancel", s.enrollmentCancelWithToken)
	v1.Get("/enrollments/:enrollment_id", s.enrollmentStatus)
	v1.Post("/enrollments/:enrollment_id/otp", s.enrollmentSendOTP)
	v1.Post("/enrollments/:enrollment_id/verify", s.enrollmentVerify)
	v1.Post("/enrollments/:enrollment_id/recover", s.enrollmentRecover)
	v1.Post("/enrollments/:enrollment_id/finish/start", s.enrollmentFinishStart)
	v1.Post("/enrollments/:enrollment_id/finish", s.enrollmentFinish)

	// The bound device: a session, and for approval a fresh assertion.
	auth := s.requireSession
	v1.Get("/enrollments", auth, s.enrollmentList)
	v1.Post("/enrollments/:enrollment_id/approve/start", auth, s.enrollmentApproveStart)
	v1.Post("/enrollments/:enrollment_id/approve", auth, s.enrollmentApprove)
	v1.Post("/enrollments/:enrollment_id/cancel", auth, s.enrollmentCancel)
	v1.Post("/me/contact", auth, s.contactChangeStart)
	v1.Post("/me/contact/verify", auth, s.contactChangeVerify)
}

// enrollmentAdminRoutes registers the operator's enrollment calls on the
// admin listener (behind the admin token).
func (s *Server) enrollmentAdminRoutes(ops fiber.Router) {
	ops.Get("/accounts/:account_id/enrollments", s.operatorEnrollments)
	ops.Post("/enrollments/:enrollment_id/operator-approval", s.operatorApprove)
}

// decodeExactJSON is decodeJSON that also refuses members the call does
// not define, so that no client can believe a member such as "method" or
// "to" had an effect.
func decodeExactJSON(c *fiber.Ctx, v any) error {
	if err := decodeJSON(c, v); err != nil {
		return err
	}
	body := bytes.TrimSpace(c.Body())
	if len(body) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		p := newProblem(fiber.StatusBadRequest, codeMalformed, "The body has a member this call does not define; nothing was done.")
		p.Err = err
		return p
	}
	return nil
}

func enrollmentNotFound() *Problem {
	return newProblem(fiber.StatusNotFound, codeNotFound, "No such enrollment for this device.")
}

func enrollmentStateProblem(state string) *Problem {
	detail := "The enrollment is " + strings.ReplaceAll(state, "_", " ") + "; this step is not possible now."
	switch state {
	case store.EnrollmentCancelled:
		detail = "The enrollment was cancelled; start again if this device should become the account's device."
	case store.EnrollmentExpired:
		detail = "The enrollment has expired; start again."
	case store.EnrollmentActive:
		detail = "The enrollment is complete; this device is the account's device."
	}
	p := newProblem(fiber.StatusConflict, codeEnrollmentState, detail)
	p.Extra = map[string]any{"state": state}
	return p
}

// enrollmentProblem maps the store's enrollment errors; anything else
// passes through (503 or 500).
func enrollmentProblem(err error) error {
	var se *store.EnrollmentStateError
	switch {
	case errors.As(err, &se):
		p := enrollmentStateProblem(se.State)
		p.Err = err
		return p
	case errors.Is(err, store.ErrSuperseded):
		p := newProblem(fiber.StatusConflict, codeEnrollmentState, "The account's device changed since this enrollment began, so it was cancelled; start again.")
		p.Extra = map[string]any{"state": store.EnrollmentCancelled}
		p.Err = err
		return p
	case errors.Is(err, store.ErrNotApprover):
		p := newProblem(fiber.StatusForbidden, codeForbidden, "Only the account's active device can approve.")
		p.Err = err
		return p
	case errors.Is(err, store.ErrAccountFrozen):
		p := newProblem(fiber.StatusForbidden, codeAccountFrozen, "This account is frozen; devices cannot change until support unfreezes it.")
		p.Err = err
		return p
	case errors.Is(err, store.ErrEnrollmentLimit):
		p := newProblem(fiber.StatusTooManyRequests, codeRateLimited, "Too many devices are waiting for approval on this account; approve or cancel them first.")
		p.Headers = map[string]string{fiber.HeaderRetryAfter: "60"}
		p.Err = err
		return p
	case errors.Is(err, store.ErrNotFound):
		p := enrollmentNotFound()
		p.Err = err
		return p
	}
	return err
}

// enrollmentID reads the enrollment id of the path (copied: Fiber reuses
// its memory) and checks its form.
func enrollmentID(c *fiber.Ctx) (string, error) {
	id := strings.Clone(c.Params("enrollment_id"))
	if _, err := store.BucketOfKind("enr", id); err != nil {
		return "", enrollmentNotFound()
	}
	return id, nil
}

// newDeviceEnrollment reads the enrollment a new-device call names and
// checks that the call is proven with the enrollment's fixed key. Another
// key gets the same answer as an unknown id.
func (s *Server) newDeviceEnrollment(c *fiber.Ctx) (*store.Enrollment, error) {
	id, err := enrollmentID(c)
	if err != nil {
		return nil, err
	}
	proof, err := s.proveDPoP(c, "")
	if err != nil {
		return nil, err
	}
	e, err := s.store.Enrollment(c.UserContext(), id)
	if err != nil {
		return nil, enrollmentProblem(err)
	}
	if proof.JKT != e.JKT {
		if e.AccountID != "" {
			s.audit(c, "enrollment.wrong_key", e.AccountID, "", map[string]string{"enrollment": e.ID, "jkt": proof.JKT})
		}
		return nil, enrollmentNotFound()
	}
	return e, nil
}

// boundDeviceEnrollment reads the enrollment a bound-device call names; it
// must be of the session's account.
func (s *Server) boundDeviceEnrollment(c *fiber.Ctx, sess *store.Session) (*store.Enrollment, error) {
	id, err := enrollmentID(c)
	if err != nil {
		return nil, err
	}
	e, err := s.store.Enrollment(c.UserContext(), id)
	if err != nil {
		return nil, enrollmentProblem(err)
	}
	if e.AccountID == "" || e.AccountID != sess.AccountID {
		return nil, enrollmentNotFound()
	}
	return e, nil
}

// enrollmentView is what clients (and events) see of an enrollment.
func enrollmentView(e *store.Enrollment, now time.Time) fiber.Map {
	m := fiber.Map{
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
		kind, _, _ := strings.Cut(e.CancelledBy, ":")
		m["cancelled_by"] = kind // "device", "contact" or "system"
	}
	return m
}

// enrollmentSummary is what /v1/me shows: the live enrollments the bound
// device may approve or cancel, and the end of the probation window (nil
// when there is none).
func (s *Server) enrollmentSummary(ctx context.Context, accountID string) ([]fiber.Map, any, error) {
	now := s.now()
	list, err := s.store.Enrollments(ctx, accountID, now)
	if err != nil {
		return nil, nil, err
	}
	views := make([]fiber.Map, 0, len(list))
	for i := range list {
		views = append(views, enrollmentView(&list[i], now))
	}
	until, err := s.store.ProbationUntil(ctx, accountID)
	if err != nil {
		return nil, nil, err
	}
	var probation any
	if until.After(now) {
		probation = until.UTC()
	}
	return views, probation, nil
}

// enrollCoarseIP keeps the network of an address (/24, /48): enough for
// the owner to recognise a place, not a person's address.
func enrollCoarseIP(raw string) string {
	ip, err := netip.ParseAddr(raw)
	if err != nil {
		return ""
	}
	ip = ip.Unmap()
	bits := 24
	if ip.Is6() {
		bits = 48
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// enrollLabel checks a new device's label; empty means "new device".
func enrollLabel(l string) (string, error) {
	if l == "" {
		return "new device", nil
	}
	if !validLabel(l) {
		return "", newProblem(fiber.StatusBadRequest, codeInvalidLabel, "The device label must be 1 to 64 printable characters.")
	}
	return l, nil
}

// enrollCancelHash is the keyed hash under which the contact's cancel
// token is stored.
func (s *Server) enrollCancelHash(token string) string {
	return tokens.KeyedHash(s.cfg.Secret, "enrollment-cancel", token)
}

// tellContact sends a message to the account's verified contact, the only
// address an account's messages ever go to.
func (s *Server) tellContact(c *fiber.Ctx, acct *store.Account, typ, text string, data map[string]string) error {
	id, err := store.RandomID()
	if err != nil {
		return err
	}
	return s.notifier.Notify(c.UserContext(), notify.Message{ID: "msg_" + id, Type: typ, To: acct.Contact, Text: text,
		Data: data, CreatedAt: s.now()})
}

// noticeRequired is the answer when a message that must go out before a
// change (an OTP, a warning to the owner) could not be sent.
func noticeRequired(err error) *Problem {
	p := newProblem(fiber.StatusServiceUnavailable, codeUnavailable, "The message could not be sent; nothing was changed. Retry shortly.")
	p.Headers = map[string]string{fiber.HeaderRetryAfter: "5"}
	p.Err = err
	return p
}

// tellContactAfter sends a notice about something already done; a failure
// is logged for the operator, not returned.
func (s *Server) tellContactAfter(c *fiber.Ctx, acct *store.Account, text string, data map[string]string) {
	if err := s.tellContact(c, acct, notify.TypeSecurity, text, data); err != nil {
		s.log.Error("security notice not delivered", "account", acct.ID, "request_id", requestID(c), "error", err.Error())
	}
}

func whenText(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

// enrollFromLogin makes the enrollment a valid passkey with an unknown
// device key gets (login's new_device answer): pending_approval, with
// this request's key fixed. The same device logging in again gets its
// live enrollment back.
func (s *Server) enrollFromLogin(c *fiber.Ctx, acct *store.Account, jkt, label string) (*store.Enrollment, error) {
	ctx := c.UserContext()
	now := s.now()
	live, err := s.store.Enrollments(ctx, acct.ID, now)
	if err != nil {
		return nil, err
	}
	for i := range live {
		if live[i].JKT == jkt && live[i].Replaces == acct.DeviceID {
			return &live[i], nil
		}
	}
	if err := s.limit(c, "enroll-ip", c.IP(), limitEnrollPerIP); err != nil {
		return nil, err
	}
	if err := s.limit(c, "enroll-account", acct.ID, limitEnrollPerAccount); err != nil {
		return nil, err
	}
	id, err := store.NewEnrollmentID(mustBucket(acct.ID))
	if err != nil {
		return nil, err
	}
	e := &store.Enrollment{ID: id, AccountID: acct.ID, JKT: jkt, Label: label, IP: enrollCoarseIP(c.IP()),
		Origin: store.EnrollmentByPasskey, State: store.EnrollmentPendingApproval, Replaces: acct.DeviceID,
		LimitSubject: s.contactHash(acct.Contact), CreatedAt: now, ExpiresAt: now.Add(s.cfg.EnrollmentTTL)}
	if err := s.store.CreateEnrollment(ctx, *e, enrollMaxLive, now); err != nil {
		return nil, enrollmentProblem(err)
	}
	s.audit(c, "enrollment.created", acct.ID, "", map[string]string{"enrollment": id, "origin": e.Origin, "jkt": jkt, "label": label})
	s.publish(c, acct.ID, "enrollment.pending", enrollmentView(e, now))
	return e, nil
}

// enrollmentCreate starts an enrollment from a new device that has no
// passkey of the account, by the account's contact. The answer is the same
// whether or not the contact has an account; only if it has does an OTP go
// out, and only to the account's verified contact.
func (s *Server) enrollmentCreate(c *fiber.Ctx) error {
	if err := s.requireNewDevices(c); err != nil {
		return err
	}
	var req struct {
		Contact     string `json:"contact"`
		DeviceLabel string `json:"device_label"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	contact, _, ok := normalizeContact(req.Contact)
	if !ok {
		return newProblem(fiber.StatusBadRequest, codeInvalidContact, "The contact must be an e-mail address or an E.164 phone number such as +819012345678.")
	}
	label, err := enrollLabel(req.DeviceLabel)
	if err != nil {
		return err
	}
	proof, err := s.proveDPoP(c, "")
	if err != nil {
		return err
	}
	hash := s.contactHash(contact)
	if err := s.limit(c, "enroll-ip", c.IP(), limitEnrollPerIP); err != nil {
		return err
	}
	if err := s.limit(c, "enroll-contact", hash, limitOTPPerContact); err != nil {
		return err
	}
	ctx := c.UserContext()
	var acct *store.Account
	if acctID, err := s.store.AccountByContact(ctx, hash); err == nil {
		acct, err = s.store.Account(ctx, acctID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && acct.Contact != contact) {
			acct = nil // a stale index entry: the address is no account's contact
		} else if err != nil {
			return err
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := s.now()
	otp, err := newOTP()
	if err != nil {
		return err
	}
	e := store.Enrollment{JKT: proof.JKT, Label: label, IP: enrollCoarseIP(c.IP()), Origin: store.EnrollmentByContact,
		State: store.EnrollmentUnverified, LimitSubject: hash, CreatedAt: now, ExpiresAt: now.Add(s.cfg.EnrollmentTTL),
		OTPTries: otpTries, OTPExpires: now.Add(otpTTL)}
	var b store.Bucket
	if acct != nil {
		b = mustBucket(acct.ID)
		e.AccountID, e.Replaces = acct.ID, acct.DeviceID
	} else if b, err = store.RandomBucket(); err != nil {
		return err
	}
	if e.ID, err = store.NewEnrollmentID(b); err != nil {
		return err
	}
	// A decoy (no account) keeps the hash of a code nobody is sent, and its
	// script never accepts any code: it only makes both cases look alike.
	e.OTPHash = s.otpHash(e.ID, otp)
	if err := s.store.CreateEnrollment(ctx, e, enrollMaxLive, now); err != nil {
		return enrollmentProblem(err)
	}
	if acct != nil {
		text := fmt.Sprintf("Your paycode code is %s. Someone asked to move your paycode account to a new device (%q). "+
			"Enter this code only on that device. If it was not you, ignore this message: nothing changes without this code "+
			"and either your current device or one of your recovery codes. paycode staff will never ask for it.", otp.Reveal(), label)
		if err := s.tellContact(c, acct, enrollOTPType, text, map[string]string{"enrollment_id": e.ID}); err != nil {
			return noticeRequired(err)
		}
		s.audit(c, "enrollment.created", acct.ID, "", map[string]string{"enrollment": e.ID, "origin": e.Origin, "jkt": proof.JKT, "label": label})
	} else {
		s.audit(c, "enrollment.unknown_contact", "", "", map[string]string{"enrollment": e.ID})
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"enrollment_id": e.ID, "state": store.EnrollmentUnverified,
		"expires_in": int(s.cfg.EnrollmentTTL.Seconds())})
}

// enrollmentStatus lets the new device follow its enrollment.
func (s *Server) enrollmentStatus(c *fiber.Ctx) error {
	e, err := s.newDeviceEnrollment(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(enrollmentView(e, s.now()))
}

// enrollmentSendOTP sends a (new) OTP to the account's verified contact,
// for a recovery of an enrollment made by login, or when the first one was
// lost. Nothing is ever sent anywhere else, and a decoy answers alike.
func (s *Server) enrollmentSendOTP(c *fiber.Ctx) error {
	if err := decodeExactJSON(c, &struct{}{}); err != nil {
		return err
	}
	e, err := s.newDeviceEnrollment(c)
	if err != nil {
		return err
	}
	if err := s.limit(c, "enroll-otp-ip", c.IP(), limitOTPPerIP); err != nil {
		return err
	}
	if err := s.limit(c, "enroll-contact", e.LimitSubject, limitOTPPerContact); err != nil {
		return err
	}
	ctx := c.UserContext()
	now := s.now()
	otp, err := newOTP()
	if err != nil {
		return err
	}
	if err := s.store.SetEnrollmentOTP(ctx, e, s.otpHash(e.ID, otp), otpTries, now.Add(otpTTL), now); err != nil {
		return enrollmentProblem(err)
	}
	if e.AccountID != "" {
		acct, err := s.store.Account(ctx, e.AccountID)
		if err != nil {
			return err
		}
		text := fmt.Sprintf("Your paycode code is %s. It lets the new device %q recover your account together with a recovery code. "+
			"If it was not you, ignore this message and cancel the request on your current device. paycode staff will never ask for it.",
			otp.Reveal(), e.Label)
		if err := s.tellContact(c, acct, enrollOTPType, text, map[string]string{"enrollment_id": e.ID}); err != nil {
			return noticeRequired(err)
		}
		s.audit(c, "enrollment.otp_sent", e.AccountID, "", map[string]string{"enrollment": e.ID})
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"enrollment_id": e.ID, "expires_in": int(otpTTL.Seconds())})
}

// enrollmentVerify checks the contact's OTP of an enrollment made by
// contact; it then waits for the bound device's approval, which is when
// the bound device first sees it.
func (s *Server) enrollmentVerify(c *fiber.Ctx) error {
	var req struct {
		OTP string `json:"otp"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	if !sixDigits.MatchString(req.OTP) {
		return newProblem(fiber.StatusBadRequest, codeMalformed, "The member \"otp\" must be 6 digits.")
	}
	e, err := s.newDeviceEnrollment(c)
	if err != nil {
		return err
	}
	if err := s.limit(c, "verify-ip", c.IP(), limitVerifyPerIP); err != nil {
		return err
	}
	ctx := c.UserContext()
	now := s.now()
	err = s.store.VerifyEnrollment(ctx, e, s.otpHash(e.ID, tokens.NewSecret([]byte(req.OTP))), enrollMaxLive, now)
	if errors.Is(err, store.ErrFactorsWrong) {
		p := newProblem(fiber.StatusBadRequest, codeOTPInvalid, "The code is wrong or has expired.")
		p.Err = err
		return p
	} else if err != nil {
		return enrollmentProblem(err)
	}
	if e, err = s.store.Enrollment(ctx, e.ID); err != nil {
		return err
	}
	s.audit(c, "enrollment.verified", e.AccountID, "", map[string]string{"enrollment": e.ID})
	s.publish(c, e.AccountID, "enrollment.pending", enrollmentView(e, now))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(enrollmentView(e, now))
}

// enrollmentRecover is the recovery without the old device: the contact's
// OTP and one unused recovery code, both right in this one request. The
// owner is warned (with a one-time cancel token) before anything changes;
// then the recovery code is spent and the cool-down starts.
func (s *Server) enrollmentRecover(c *fiber.Ctx) error {
	var req struct {
		OTP          string `json:"otp"`
		RecoveryCode string `json:"recovery_code"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	switch {
	case !sixDigits.MatchString(req.OTP):
		return newProblem(fiber.StatusBadRequest, codeMalformed, "The member \"otp\" must be 6 digits.")
	case req.RecoveryCode == "":
		return missing("recovery_code")
	case len(req.RecoveryCode) > 32:
		return newProblem(fiber.StatusBadRequest, codeMalformed, "The member \"recovery_code\" is too long.")
	}
	e, err := s.newDeviceEnrollment(c)
	if err != nil {
		return err
	}
	if err := s.limit(c, "enroll-recover-ip", c.IP(), limitRecoverPerDay); err != nil {
		return err
	}
	if err := s.limit(c, "enroll-recover-account", e.LimitSubject, limitRecoverPerDay); err != nil {
		return err
	}
	ctx := c.UserContext()
	now := s.now()
	secret, err := tokens.RandomSecret(32)
	if err != nil {
		return err
	}
	cancelToken := tokens.NewSecret([]byte(e.ID + "." + secret.Reveal()))
	r := store.Recovery{
		OTPHash:      s.otpHash(e.ID, tokens.NewSecret([]byte(req.OTP))),
		CodeHash:     s.RecoveryCodeHash(req.RecoveryCode),
		CancelHash:   s.enrollCancelHash(cancelToken.Reveal()),
		CooldownEnds: now.Add(s.cfg.RecoveryCooldown),
	}
	r.ExpiresAt = r.CooldownEnds.Add(enrollReadyWindow)
	wrong := func(err error) error {
		if e.AccountID != "" {
			s.audit(c, "enrollment.recovery_failed", e.AccountID, "", map[string]string{"enrollment": e.ID})
		}
		p := newProblem(fiber.StatusBadRequest, codeRecoveryInvalid, "The code or the recovery code is wrong, or the code has expired.")
		p.Err = err
		return p
	}
	if err := s.store.CheckRecovery(ctx, e, r, now); errors.Is(err, store.ErrFactorsWrong) {
		return wrong(err)
	} else if err != nil {
		return enrollmentProblem(err)
	}
	acct, err := s.store.Account(ctx, e.AccountID)
	if err != nil {
		return err
	}
	// The owner hears of it before it starts: if the warning cannot go
	// out, nothing changes.
	text := fmt.Sprintf("Someone is recovering your paycode account onto a new device (%q, network %s) with this address and a recovery code, "+
		"without your current device. The new device can take over after %s; your current device will then be signed out. "+
		"If this was not you, cancel it now in paycode on your current device, or with this cancel code: %s",
		e.Label, e.IP, whenText(r.CooldownEnds), cancelToken.Reveal())
	if err := s.tellContact(c, acct, notify.TypeSecurity, text, map[string]string{
		"enrollment_id": e.ID, "cancel_token": cancelToken.Reveal(), "cooldown_until": r.CooldownEnds.UTC().Format(time.RFC3339)}); err != nil {
		return noticeRequired(err)
	}
	if err := s.store.StartRecovery(ctx, e, r, now); errors.Is(err, store.ErrFactorsWrong) {
		return wrong(err)
	} else if err != nil {
		return enrollmentProblem(err)
	}
	if e, err = s.store.Enrollment(ctx, e.ID); err != nil {
		return err
	}
	s.audit(c, "enrollment.recovery_started", e.AccountID, "", map[string]string{
		"enrollment": e.ID, "cooldown_until": e.CooldownUntil.UTC().Format(time.RFC3339)})
	s.publish(c, e.AccountID, "enrollment.pending", enrollmentView(e, now))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusAccepted).JSON(enrollmentView(e, now))
}

// enrollmentFinishStart begins the new device's passkey registration, once
// the enrollment is approved or its cool-down is over.
func (s *Server) enrollmentFinishStart(c *fiber.Ctx) error {
	if err := s.requireNewDevices(c); err != nil {
		return err
	}
	if err := decodeExactJSON(c, &struct{}{}); err != nil {
		return err
	}
	e, err := s.newDeviceEnrollment(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	now := s.now()
	if st := e.StateAt(now); e.AccountID == "" || (st != store.EnrollmentApproved && st != store.EnrollmentReady) {
		return enrollmentStateProblem(st)
	}
	acct, err := s.store.Account(ctx, e.AccountID)
	if err != nil {
		return err
	}
	if acct.DeviceID != e.Replaces {
		if err := s.store.CancelEnrollment(ctx, e, "system:superseded", "", now); err != nil && !errors.Is(err, store.ErrEnrollmentState) {
			return enrollmentProblem(err)
		}
		return enrollmentProblem(store.ErrSuperseded)
	}
	if acct.Status == store.AccountFrozen {
		return enrollmentProblem(store.ErrAccountFrozen)
	}
	if err := s.limit(c, "ceremony-ip", c.IP(), limitCeremonyPerIP); err != nil {
		return err
	}
	id, err := store.NewCeremonyID(acct.ID)
	if err != nil {
		return err
	}
	// The user handle is the account id; nothing is excluded, so a synced
	// passkey of the account on this device may be replaced.
	user := &webauthn.User{ID: []byte(acct.ID), Name: acct.Contact, DisplayName: acct.Contact}
	opts, err := s.rp.BeginRegistration(ctx, id, webauthn.Challenge{
		Purpose: webauthn.PurposeEnroll, JKT: e.JKT, AccountID: acct.ID, Subject: e.ID}, user)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"enrollment_id": e.ID, "finish_id": id, "options": opts})
}

// enrollmentFinish registers the new device's passkey and makes the device
// the account's one device; in the same atomic step the old device's
// credential and sessions go and the probation window begins.
func (s *Server) enrollmentFinish(c *fiber.Ctx) error {
	if err := s.requireNewDevices(c); err != nil {
		return err
	}
	var req struct {
		FinishID   string          `json:"finish_id"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	switch {
	case req.FinishID == "":
		return missing("finish_id")
	case len(req.Credential) == 0:
		return missing("credential")
	}
	e, err := s.newDeviceEnrollment(c)
	if err != nil {
		return err
	}
	if e.AccountID == "" {
		return enrollmentStateProblem(e.StateAt(s.now()))
	}
	ctx := c.UserContext()
	cred, _, err := s.rp.FinishRegistration(ctx, req.FinishID, webauthn.Expect{
		Purpose: webauthn.PurposeEnroll, JKT: e.JKT, AccountID: e.AccountID, Subject: e.ID}, req.Credential)
	if err != nil {
		return passkeyProblem(err)
	}
	now := s.now()
	deviceID, err := store.NewID("dev", mustBucket(e.AccountID))
	if err != nil {
		return err
	}
	probation := now.Add(s.cfg.Probation)
	err = s.store.ActivateEnrollment(ctx, e, store.Activation{
		Device: store.Device{ID: deviceID, AccountID: e.AccountID, JKT: e.JKT, Label: e.Label,
			CredentialID: store.CredentialKey(cred.ID), CreatedAt: now},
		Credential:     store.CredentialRecord{Credential: *cred, AccountID: e.AccountID, DeviceID: deviceID, CreatedAt: now},
		ProbationUntil: probation,
	}, now)
	if err != nil {
		return enrollmentProblem(err)
	}
	acct, err := s.store.Account(ctx, e.AccountID)
	if err != nil {
		return err
	}
	s.audit(c, "device.revoked", acct.ID, e.Replaces, map[string]string{"reason": "replaced", "enrollment": e.ID, "replaced_by": deviceID})
	s.audit(c, "enrollment.activated", acct.ID, deviceID, map[string]string{"enrollment": e.ID, "origin": e.Origin,
		"approved_by": e.ApprovedBy, "replaces": e.Replaces, "probation_until": probation.UTC().Format(time.RFC3339),
		"backup_eligible": strconv.FormatBool(cred.Flags.BackupEligible)})
	s.publish(c, acct.ID, "device.revoked", map[string]any{"device_id": e.Replaces, "replaced_by": deviceID, "enrollment_id": e.ID})
	s.tellContactAfter(c, acct, fmt.Sprintf("A new device (%q) is now the only device of your paycode account; the previous device was signed out. "+
		"Payments are limited and top-ups are off until %s. If this was not you, contact paycode support at once.", e.Label, whenText(probation)),
		map[string]string{"enrollment_id": e.ID})
	is, err := s.startSession(c, acct, e.JKT)
	if err != nil {
		return err
	}
	return s.sendTokens(c, fiber.StatusCreated, s.tokenBody(is), is.refresh, is.session.AbsoluteExpiry)
}

// enrollmentList shows the bound device the enrollments it may approve or
// cancel.
func (s *Server) enrollmentList(c *fiber.Ctx) error {
	sess, _ := sessionOf(c)
	views, _, err := s.enrollmentSummary(c.UserContext(), sess.AccountID)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"enrollments": views})
}

// enrollmentApproveStart begins the assertion that approves a new device:
// only the credential of the session's device may answer, and the
// challenge is bound to this enrollment, session and key.
func (s *Server) enrollmentApproveStart(c *fiber.Ctx) error {
	if err := decodeExactJSON(c, &struct{}{}); err != nil {
		return err
	}
	sess, _ := sessionOf(c)
	e, err := s.boundDeviceEnrollment(c, sess)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	now := s.now()
	switch st := e.StateAt(now); st {
	case store.EnrollmentPendingApproval, store.EnrollmentPendingRecovery, store.EnrollmentReady:
	default:
		return enrollmentStateProblem(st)
	}
	if e.Replaces != sess.DeviceID {
		if err := s.store.CancelEnrollment(ctx, e, "system:superseded", "", now); err != nil && !errors.Is(err, store.ErrEnrollmentState) {
			return enrollmentProblem(err)
		}
		return enrollmentProblem(store.ErrSuperseded)
	}
	if err := s.limit(c, "ceremony-ip", c.IP(), limitCeremonyPerIP); err != nil {
		return err
	}
	recs, err := s.store.Credentials(ctx, sess.AccountID)
	if err != nil {
		return err
	}
	allow := deviceCredentials(recs, sess.DeviceID)
	if len(allow) == 0 {
		return authProblem(codeInvalidToken, "The session's device has no passkey any more.", nil)
	}
	id, err := store.NewCeremonyID(sess.AccountID)
	if err != nil {
		return err
	}
	opts, err := s.rp.BeginLogin(ctx, id, webauthn.Challenge{Purpose: webauthn.PurposeApprove, JKT: sess.JKT,
		AccountID: sess.AccountID, SessionID: sess.ID, Subject: e.ID}, allow)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"enrollment_id": e.ID, "approval_id": id, "options": opts, "enrollment": enrollmentView(e, now)})
}

// enrollmentApprove approves with the fresh user-verified assertion begun
// for this enrollment. A session alone is not enough, and the body has no
// member that could name another method.
func (s *Server) enrollmentApprove(c *fiber.Ctx) error {
	var req struct {
		ApprovalID string          `json:"approval_id"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	switch {
	case req.ApprovalID == "":
		return missing("approval_id")
	case len(req.Credential) == 0:
		return missing("credential")
	}
	sess, _ := sessionOf(c)
	e, err := s.boundDeviceEnrollment(c, sess)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	var o owner
	a, err := s.rp.FinishLogin(ctx, req.ApprovalID, webauthn.Expect{Purpose: webauthn.PurposeApprove, JKT: sess.JKT,
		AccountID: sess.AccountID, SessionID: sess.ID, Subject: e.ID}, req.Credential, s.lookup(&o))
	if err != nil {
		return passkeyProblem(err)
	}
	if string(a.User.ID) != sess.AccountID {
		return passkeyProblem(fmt.Errorf("%w: assertion for another account", webauthn.ErrRejected))
	}
	if rec, ok := o.record(a.Credential.ID); !ok || rec.DeviceID != sess.DeviceID {
		return passkeyProblem(fmt.Errorf("%w: assertion by a credential of another device", webauthn.ErrRejected))
	}
	if err := s.checkAssertion(c, a, &o); err != nil {
		return err
	}
	now := s.now()
	err = s.store.ApproveEnrollment(ctx, e, store.Approval{DeviceID: sess.DeviceID, By: "device:" + sess.DeviceID,
		ExpiresAt: now.Add(s.cfg.EnrollmentTTL)}, now)
	if err != nil {
		return enrollmentProblem(err)
	}
	if e, err = s.store.Enrollment(ctx, e.ID); err != nil {
		return err
	}
	s.audit(c, "enrollment.approved", sess.AccountID, sess.DeviceID, map[string]string{"enrollment": e.ID, "method": "passkey"})
	s.publish(c, sess.AccountID, "enrollment.approved", enrollmentView(e, now))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(enrollmentView(e, now))
}

// enrollmentCancel lets the bound device refuse a new device, including a
// recovery in its cool-down.
func (s *Server) enrollmentCancel(c *fiber.Ctx) error {
	if err := decodeExactJSON(c, &struct{}{}); err != nil {
		return err
	}
	sess, _ := sessionOf(c)
	e, err := s.boundDeviceEnrollment(c, sess)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	now := s.now()
	if err := s.store.CancelEnrollment(ctx, e, "device:"+sess.DeviceID, "", now); err != nil {
		return enrollmentProblem(err)
	}
	if e, err = s.store.Enrollment(ctx, e.ID); err != nil {
		return err
	}
	s.audit(c, "enrollment.cancelled", sess.AccountID, sess.DeviceID, map[string]string{"enrollment": e.ID, "by": "device"})
	s.publish(c, sess.AccountID, "enrollment.cancelled", enrollmentView(e, now))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(enrollmentView(e, now))
}

// enrollmentCancelWithToken lets the contact cancel a recovery with the
// one-time token of the warning it received. Any failure is the same 404.
func (s *Server) enrollmentCancelWithToken(c *fiber.Ctx) error {
	var req struct {
		CancelToken string `json:"cancel_token"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	if req.CancelToken == "" {
		return missing("cancel_token")
	}
	if err := s.limit(c, "enroll-cancel-ip", c.IP(), limitEnrollCancelIP); err != nil {
		return err
	}
	invalid := newProblem(fiber.StatusNotFound, codeNotFound, "No such enrollment, or the cancel code is not valid.")
	id, _, ok := strings.Cut(req.CancelToken, ".")
	if !ok || len(req.CancelToken) > 200 {
		return invalid
	}
	if _, err := store.BucketOfKind("enr", id); err != nil {
		return invalid
	}
	ctx := c.UserContext()
	e, err := s.store.Enrollment(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && e.AccountID == "") {
		return invalid
	} else if err != nil {
		return err
	}
	now := s.now()
	err = s.store.CancelEnrollment(ctx, e, "contact", s.enrollCancelHash(req.CancelToken), now)
	if errors.Is(err, store.ErrNotFound) {
		invalid.Err = err
		return invalid
	} else if err != nil {
		return enrollmentProblem(err)
	}
	if e, err = s.store.Enrollment(ctx, e.ID); err != nil {
		return err
	}
	s.audit(c, "enrollment.cancelled", e.AccountID, "", map[string]string{"enrollment": e.ID, "by": "contact"})
	s.publish(c, e.AccountID, "enrollment.cancelled", enrollmentView(e, now))
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"enrollment_id": e.ID, "state": e.StateAt(now)})
}

// validReason accepts 1-500 printable characters.
func validReason(r string) bool {
	if r == "" || utf8.RuneCountInString(r) > 500 || !utf8.ValidString(r) {
		return false
	}
	for _, x := range r {
		if !unicode.IsPrint(x) {
			return false
		}
	}
	return true
}

// operatorEnrollments lists an account's visible live enrollments for an
// operator (admin listener).
func (s *Server) operatorEnrollments(c *fiber.Ctx) error {
	accountID := strings.Clone(c.Params("account_id"))
	if _, err := store.BucketOf(accountID); err != nil {
		return newProblem(fiber.StatusNotFound, codeNotFound, "No such account.")
	}
	ctx := c.UserContext()
	if _, err := s.store.Account(ctx, accountID); errors.Is(err, store.ErrNotFound) {
		return newProblem(fiber.StatusNotFound, codeNotFound, "No such account.")
	} else if err != nil {
		return err
	}
	views, probation, err := s.enrollmentSummary(ctx, accountID)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"account_id": accountID, "enrollments": views, "probation_until": probation})
}

// operatorApprove approves an enrollment after an identity check in a
// store. The operator names the account (which must match), themselves and
// the reason; all of it goes to the audit trail, and the contact is told.
func (s *Server) operatorApprove(c *fiber.Ctx) error {
	var req struct {
		AccountID string `json:"account_id"`
		Operator  string `json:"operator"`
		Reason    string `json:"reason"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	switch {
	case req.AccountID == "":
		return missing("account_id")
	case !validLabel(req.Operator) || strings.ContainsAny(req.Operator, ": "):
		return newProblem(fiber.StatusBadRequest, codeMalformed, "The member \"operator\" must be the operator's name: 1 to 64 printable characters, no spaces or colons.")
	case !validReason(req.Reason):
		return newProblem(fiber.StatusBadRequest, codeMalformed, "The member \"reason\" must be 1 to 500 printable characters.")
	}
	id, err := enrollmentID(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	e, err := s.store.Enrollment(ctx, id)
	if err != nil {
		return enrollmentProblem(err)
	}
	if e.AccountID == "" || e.AccountID != req.AccountID {
		return enrollmentNotFound()
	}
	now := s.now()
	actor := "operator:" + req.Operator
	err = s.store.ApproveEnrollment(ctx, e, store.Approval{By: actor, ExpiresAt: now.Add(s.cfg.EnrollmentTTL)}, now)
	if err != nil {
		return enrollmentProblem(err)
	}
	if e, err = s.store.Enrollment(ctx, e.ID); err != nil {
		return err
	}
	s.auditAs(c, actor, "enrollment.approved", e.AccountID, "", map[string]string{"enrollment": e.ID, "method": "operator", "reason": req.Reason})
	s.publish(c, e.AccountID, "enrollment.approved", enrollmentView(e, now))
	// The approval is done: a failure to tell the contact is logged, not
	// answered as a failure of the approval.
	if acct, err := s.store.Account(ctx, e.AccountID); err == nil {
		s.tellContactAfter(c, acct, fmt.Sprintf("paycode staff approved a new device (%q) for your account after checking your identity in a store. "+
			"If this was not you, contact paycode support at once.", e.Label), map[string]string{"enrollment_id": e.ID})
	} else {
		s.log.Error("security notice not delivered", "account", e.AccountID, "request_id", requestID(c), "error", err.Error())
	}
	return c.JSON(enrollmentView(e, now))
}

// contactChangeStart begins changing the account's contact: it needs a
// recent user-verified assertion on this session (RFC 9470 step-up) and
// sends an OTP to the new address, which has to prove it is reachable.
// Nothing about whether the address has an account is revealed here.
func (s *Server) contactChangeStart(c *fiber.Ctx) error {
	var req struct {
		Contact string `json:"contact"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	contact, kind, ok := normalizeContact(req.Contact)
	if !ok {
		return newProblem(fiber.StatusBadRequest, codeInvalidContact, "The contact must be an e-mail address or an E.164 phone number such as +819012345678.")
	}
	sess, _ := sessionOf(c)
	now := s.now()
	if now.Sub(sess.AuthTime) > s.cfg.PaymentWindow {
		return stepUpProblem(s.cfg.PaymentWindow)
	}
	ctx := c.UserContext()
	acct, err := s.store.Account(ctx, sess.AccountID)
	if err != nil {
		return err
	}
	if contact == acct.Contact {
		return newProblem(fiber.StatusBadRequest, codeInvalidContact, "This is already the account's contact.")
	}
	hash := s.contactHash(contact)
	if err := s.limit(c, "contact-change-account", acct.ID, limitContactChange); err != nil {
		return err
	}
	if err := s.limit(c, "otp-ip", c.IP(), limitOTPPerIP); err != nil {
		return err
	}
	if err := s.limit(c, "otp-contact", hash, limitOTPPerContact); err != nil {
		return err
	}
	id, err := store.NewContactChangeID(acct.ID)
	if err != nil {
		return err
	}
	otp, err := newOTP()
	if err != nil {
		return err
	}
	cc := store.ContactChange{ID: id, AccountID: acct.ID, SessionID: sess.ID, OldContact: acct.Contact,
		OldHash: s.contactHash(acct.Contact), NewContact: contact, NewKind: kind, NewHash: hash, TriesLeft: otpTries}
	if err := s.store.PutContactChange(ctx, cc, s.otpHash(id, otp), otpTTL); err != nil {
		return err
	}
	// The one message that goes to an address not yet on the account: the
	// code that verifies it.
	if err := s.notifier.Notify(ctx, notify.Message{ID: id, Type: contactOTPType, To: contact, CreatedAt: now,
		Text: fmt.Sprintf("Your paycode code is %s. Enter it in paycode to make this address your account's contact. "+
			"If you did not ask for this, ignore this message. paycode staff will never ask for it.", otp.Reveal())}); err != nil {
		return noticeRequired(err)
	}
	s.audit(c, "contact.change_started", acct.ID, sess.DeviceID, map[string]string{"change": id, "kind": kind})
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusAccepted).JSON(fiber.Map{"contact_change_id": id, "expires_in": int(otpTTL.Seconds())})
}

// maskContact shows enough of an address for its owner to recognise it.
func maskContact(contact string) string {
	if local, domain, ok := strings.Cut(contact, "@"); ok {
		r := []rune(local)
		return string(r[:1]) + "***@" + domain
	}
	if len(contact) > 4 {
		return strings.Repeat("*", len(contact)-4) + contact[len(contact)-4:]
	}
	return "****"
}

// contactChangeVerify checks the new address's OTP on the session that
// began the change, warns the old address, and then moves the contact.
func (s *Server) contactChangeVerify(c *fiber.Ctx) error {
	var req struct {
		ContactChangeID string `json:"contact_change_id"`
		OTP             string `json:"otp"`
	}
	if err := decodeExactJSON(c, &req); err != nil {
		return err
	}
	if req.ContactChangeID == "" {
		return missing("contact_change_id")
	}
	if !sixDigits.MatchString(req.OTP) {
		return newProblem(fiber.StatusBadRequest, codeMalformed, "The member \"otp\" must be 6 digits.")
	}
	sess, _ := sessionOf(c)
	if err := s.limit(c, "verify-ip", c.IP(), limitVerifyPerIP); err != nil {
		return err
	}
	otpWrong := newProblem(fiber.StatusBadRequest, codeOTPInvalid, "The code is wrong or has expired.")
	ctx := c.UserContext()
	cc, err := s.store.ContactChange(ctx, req.ContactChangeID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (cc.AccountID != sess.AccountID || cc.SessionID != sess.ID)) {
		return otpWrong
	} else if err != nil {
		return err
	}
	err = s.store.VerifyContactChangeOTP(ctx, cc.ID, s.otpHash(cc.ID, tokens.NewSecret([]byte(req.OTP))))
	switch {
	case err == nil:
	case errors.Is(err, store.ErrOTPWrong), errors.Is(err, store.ErrNotFound):
		otpWrong.Err = err
		return otpWrong
	default:
		return err
	}
	acct, err := s.store.Account(ctx, cc.AccountID)
	if err != nil {
		return err
	}
	if acct.Contact != cc.OldContact {
		return newProblem(fiber.StatusConflict, codeContactTaken, "The account's contact changed meanwhile; start again.")
	}
	// The old address is told before the change: if it cannot be, nothing
	// changes.
	if err := s.tellContact(c, acct, notify.TypeSecurity, fmt.Sprintf("The contact of your paycode account is being changed from this address to %s. "+
		"From now on codes and notices go there. If this was not you, contact paycode support at once.", maskContact(cc.NewContact)),
		map[string]string{"change": cc.ID}); err != nil {
		return noticeRequired(err)
	}
	cleanup, err := s.store.ChangeContact(ctx, cc)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrContactTaken):
		return newProblem(fiber.StatusConflict, codeContactTaken, "This address is another account's contact.")
	case errors.Is(err, store.ErrContactChanged), errors.Is(err, store.ErrNotVerified):
		p := newProblem(fiber.StatusConflict, codeContactTaken, "The account's contact changed meanwhile; start again.")
		p.Err = err
		return p
	default:
		return err
	}
	if cleanup != nil {
		s.log.Error("old contact index entry not removed", "account", acct.ID, "request_id", requestID(c), "error", cleanup.Error())
	}
	s.audit(c, "contact.changed", acct.ID, sess.DeviceID, map[string]string{"change": cc.ID, "kind": cc.NewKind})
	s.publish(c, acct.ID, "contact.changed", map[string]any{"contact": maskContact(cc.NewContact), "contact_kind": cc.NewKind})
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"contact": cc.NewContact, "contact_kind": cc.NewKind})
}
