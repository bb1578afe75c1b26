package device

import (
	"strings"
	"time"

	"github.com/paycode/paycode/store"
)

// State is an enrollment's state as the API shows it (see the package
// doc). The values are the stored and wire values of package store.
type State string

// The states.
const (
	Unverified      State = store.EnrollmentUnverified
	PendingApproval State = store.EnrollmentPendingApproval
	PendingRecovery State = store.EnrollmentPendingRecovery
	Ready           State = store.EnrollmentReady
	Approved        State = store.EnrollmentApproved
	Active          State = store.EnrollmentActive
	Cancelled       State = store.EnrollmentCancelled
	Expired         State = store.EnrollmentExpired
)

// StateOf is e's state at now: a live enrollment past its expiry is
// expired, pending_recovery past its cool-down is ready.
func StateOf(e *store.Enrollment, now time.Time) State { return State(e.StateAt(now)) }

// Origin is how an enrollment was created.
type Origin string

// The origins.
const (
	ByPasskey Origin = store.EnrollmentByPasskey // a passkey login with a key that is not the bound one
	ByContact Origin = store.EnrollmentByContact // the account's contact, without a passkey
)

// Actor is who did something, as the enrollment record (approved_by,
// cancelled_by) and the audit trail write it: "device:<id>",
// "operator:<name>", "contact", "system:superseded" or "customer".
type Actor string

// The fixed actors.
const (
	// Customer is the audit trail's actor of every step a customer's
	// client takes (the device or the contact's holder).
	Customer Actor = "customer"
	// Contact cancelled with the cancel code of the recovery warning.
	Contact Actor = "contact"
	// Superseded is the system cancelling an enrollment because the
	// account's device changed since it began.
	Superseded Actor = "system:superseded"
	// System applies a contact change when its cool-down ends, or fails
	// it (the new address was taken meanwhile).
	System Actor = "system"
)

// DeviceActor is the device id as an actor ("device:<id>").
func DeviceActor(id string) Actor { return Actor("device:" + id) }

// OperatorActor is an operator's name as an actor ("operator:<name>").
func OperatorActor(name string) Actor { return Actor("operator:" + name) }

// Kind is the actor's kind without its name: "device", "operator",
// "contact", "system", "customer". Clients see only the kind; an
// operator's name is for the audit trail.
func (a Actor) Kind() string {
	kind, _, _ := strings.Cut(string(a), ":")
	return kind
}

// Event types of the account's event stream (SSE) these flows publish;
// clients match on them, never rename one.
const (
	EventPending        = "enrollment.pending"
	EventApproved       = "enrollment.approved"
	EventCancelled      = "enrollment.cancelled"
	EventDeviceRevoked  = "device.revoked"
	EventContactChanged = "contact.changed"
	// A contact change waits out its cool-down, or was cancelled (by the
	// old address, the device, or the system: the new address was taken).
	EventContactPending   = "contact.change_pending"
	EventContactCancelled = "contact.change_cancelled"
)

// Audit event types of these flows; operators' tools match on them.
const (
	auditCreated          = "enrollment.created"
	auditUnknownContact   = "enrollment.unknown_contact"
	auditWrongKey         = "enrollment.wrong_key"
	auditOTPSent          = "enrollment.otp_sent"
	auditVerified         = "enrollment.verified"
	auditRecoveryFailed   = "enrollment.recovery_failed"
	auditRecoveryStarted  = "enrollment.recovery_started"
	auditApproved         = "enrollment.approved"
	auditCancelled        = "enrollment.cancelled"
	auditActivated        = "enrollment.activated"
	auditDeviceRevoked    = "device.revoked"
	auditDeviceLocked     = "device.locked"
	auditCounterSynced    = "passkey.counter_regression_synced"
	auditContactStarted   = "contact.change_started"
	auditContactChanged   = "contact.changed"
	auditContactPending   = "contact.change_pending"
	auditContactCancelled = "contact.change_cancelled"
	auditContactFailed    = "contact.change_failed"
)

// Types of the OTP messages (notices are notify.TypeSecurity).
const (
	messageEnrollmentOTP = "enrollment.otp"
	messageContactOTP    = "contact.otp"
)
