package device

import (
	"errors"
	"time"

	"github.com/paycode/paycode/store"
)

// The errors of the flows. Each says what the client may be told; the
// cause (a store error) stays in the chain for the log.
var (
	// ErrNotFound: no such enrollment, or not of this account, or the call
	// is proven with a key other than the enrollment's (one answer for all).
	ErrNotFound = errors.New("no such enrollment")
	// ErrState: the enrollment's state does not allow the step; errors.As
	// a *StateError for the state.
	ErrState = errors.New("the enrollment's state does not allow this step")
	// ErrSuperseded: the account's device changed since the enrollment
	// began; the enrollment has been cancelled.
	ErrSuperseded = errors.New("the account's device changed since the enrollment began")
	// ErrNotApprover: the approving device is not the account's active
	// device.
	ErrNotApprover = errors.New("the approver is not the account's active device")
	// ErrAccountFrozen: the account is frozen; its device cannot change.
	ErrAccountFrozen = errors.New("the account is frozen")
	// ErrTooManyEnrollments: the account has too many live enrollments.
	ErrTooManyEnrollments = errors.New("too many live enrollments")
	// ErrOTPWrong: the contact's OTP is wrong, expired or used up (or the
	// enrollment is a decoy, or the contact change is not this session's).
	ErrOTPWrong = errors.New("one-time code wrong")
	// ErrFactorsWrong: the OTP or the recovery code (or both) is wrong;
	// the caller cannot tell which.
	ErrFactorsWrong = errors.New("one-time code or recovery code wrong")
	// ErrCancelInvalid: the contact's cancel code names no enrollment it
	// can cancel (one answer for every cause).
	ErrCancelInvalid = errors.New("cancel code not valid")
	// ErrContactCancelInvalid: the old address's cancel code names no
	// contact change it can cancel (one answer for every cause).
	ErrContactCancelInvalid = errors.New("contact change cancel code not valid")
	// ErrNoContactChange: the account has no contact change in its
	// cool-down.
	ErrNoContactChange = errors.New("no contact change in progress")
	// ErrNoticeFailed: a message that must go out before a change (an OTP,
	// a warning to the owner) could not be sent; nothing was changed.
	ErrNoticeFailed = errors.New("the message could not be sent; nothing was changed")
	// ErrRateLimited: a rate limit of the flow was reached; errors.As a
	// *RateLimitError for when to retry.
	ErrRateLimited = errors.New("rate limited")
	// ErrStepUpRequired: the session's last user-verified passkey
	// assertion is older than Config.StepUpWindow.
	ErrStepUpRequired = errors.New("a recent passkey verification is required")
	// ErrSameContact: the new contact is the account's contact already.
	ErrSameContact = errors.New("already the account's contact")
	// ErrContactTaken: the new contact is another account's.
	ErrContactTaken = errors.New("the contact is another account's")
	// ErrContactChanged: the account's contact changed while the change
	// was in progress.
	ErrContactChanged = errors.New("the account's contact changed meanwhile")
	// ErrDeviceLocked: a device-bound passkey's sign counter did not
	// increase; its device is now locked and its sessions are gone.
	ErrDeviceLocked = errors.New("sign counter regression on a device-bound passkey: device locked")
)

// StateError carries the state that refused a step.
type StateError struct {
	State State
	cause error
}

func (e *StateError) Error() string {
	if e.cause != nil {
		return e.cause.Error()
	}
	return "enrollment is " + string(e.State)
}

// Is makes errors.Is(err, ErrState) hold.
func (e *StateError) Is(target error) bool { return target == ErrState }

func (e *StateError) Unwrap() error { return e.cause }

// RateLimitError says which limit was reached and when to retry.
type RateLimitError struct {
	Limit      string
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string { return "rate limit " + e.Limit + " reached" }

// Is makes errors.Is(err, ErrRateLimited) hold.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// kindError is one of the sentinel errors above with its cause.
type kindError struct{ kind, cause error }

func (e *kindError) Error() string        { return e.cause.Error() }
func (e *kindError) Is(target error) bool { return target == e.kind }
func (e *kindError) Unwrap() error        { return e.cause }

// mark makes cause also be kind.
func mark(kind, cause error) error { return &kindError{kind: kind, cause: cause} }

// enrollmentErr turns the store's enrollment outcomes into the errors of
// this package; any other error passes unchanged.
func enrollmentErr(err error) error {
	var se *store.EnrollmentStateError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return &StateError{State: State(se.State), cause: err}
	case errors.Is(err, store.ErrSuperseded):
		return mark(ErrSuperseded, err)
	case errors.Is(err, store.ErrNotApprover):
		return mark(ErrNotApprover, err)
	case errors.Is(err, store.ErrAccountFrozen):
		return mark(ErrAccountFrozen, err)
	case errors.Is(err, store.ErrEnrollmentLimit):
		return mark(ErrTooManyEnrollments, err)
	case errors.Is(err, store.ErrNotFound):
		return mark(ErrNotFound, err)
	}
	return err
}
