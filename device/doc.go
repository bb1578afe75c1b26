// Package device is the new-device state machine: how a device that is not
// the account's bound device may become it (an enrollment), how the
// account is recovered without the old device, how the contact address
// changes, and what a cloned passkey does to its device. Each flow is a
// method of Service, and each method owns the order of its steps; bff only
// decodes the request, proves the DPoP key or the session, calls the
// method and renders the answer or maps the error (one table in
// bff/enroll_errors.go).
//
// # Invariants
//
//   - One active device. An account has exactly one device; its key
//     (DPoP thumbprint) and passkey are the only ones that open sessions.
//   - A new device only through an enrollment. A valid passkey proven with
//     another key gets an enrollment (FromLogin), never a session; so does
//     a request by the account's contact (Create). Nothing else makes a
//     device.
//   - Every step of the new device is proven with the enrollment's fixed
//     key: the DPoP key of the request that created the enrollment. A call
//     proven with any other key is answered exactly like an unknown id
//     (ErrNotFound), and audited.
//   - Approval needs a fresh user-verified assertion by the bound device's
//     own passkey, made for this enrollment (Approve takes the check as a
//     function and runs it after the enrollment is read and before the
//     approval is stored). A session alone never approves. An operator may
//     approve after an identity check in a store (ApproveByOperator),
//     always audited with their name and reason, and the contact is told.
//   - Recovery without the old device needs two independent factors in one
//     request: the OTP sent to the account's verified contact and one
//     unused recovery code. Neither alone does anything, and the answer does
//     not say which was wrong. It then waits a cool-down
//     (Config.RecoveryCooldown) during which the bound device (Cancel) and
//     the contact (CancelWithToken, with the one-time code of the warning)
//     can cancel it.
//   - The contact is warned before a recovery or a contact change commits.
//     If the warning cannot be handed to the notifier, nothing changes
//     (ErrNoticeFailed): no recovery code is spent, no contact moves. In
//     production the notifier is the store's notification outbox
//     (store.NotifyQueue): handing the warning over is its XADD into the
//     outbox stream, which happens in the same call and before the step
//     that commits, so the order is: warning durably queued, then commit;
//     an outbox write that fails leaves everything as it was. Delivery is
//     the outbox worker's (retries with backoff, then the dead-letter list),
//     off the request's path.
//   - A contact change is a step-up with a cool-down: it begins only on a
//     session with a user-verified passkey assertion within StepUpWindow
//     (else ErrStepUpRequired: the client re-authenticates), the new
//     address proves itself with an OTP, the old address is warned with a
//     one-time cancel code and link (stored as a keyed hash, spent by its
//     first use), and only then does the cool-down (Config.ContactCooldown)
//     start. During it the old address stays the account's contact (codes,
//     notices and recovery go there) and it or the account's device may
//     cancel. When it ends, whichever replica comes first applies it (the
//     worker reading the store's schedule, or the account's next read,
//     SettleContactChange); the store's compare-and-set makes that happen
//     once. No state is held in a replica between those steps.
//   - A contact change, when it applies, starts the probation window
//     (Config.Probation) as a new device does, extending one under way and
//     never shortening it.
//   - The answer takes the same time whether or not the contact has an
//     account: where an unknown contact gets nothing, the call enqueues a
//     decoy message (decoy) that is never delivered, so both cost one
//     outbox write and neither waits for the webhook.
//     Notices about something already done (an operator's approval, a
//     device replaced) are sent after it, and a failure is only logged.
//   - An enrollment completes only while the device it replaces is still
//     the account's device; otherwise it is cancelled by the system
//     (ErrSuperseded).
//   - Activation (Finish) revokes the old device atomically: one script
//     installs the new device and passkey, deletes the old passkey and
//     sessions, and switches the account, so the old device's tokens and
//     live codes stop working at once; the account then starts a
//     probation window (Config.Probation: lower limits, no top-ups).
//   - A sign counter that does not increase on a device-bound passkey locks
//     its device and ends its sessions (OnCounterRegression): a copy of
//     the key exists.
//   - No secret (OTP, recovery code, cancel code) is logged, put in an
//     error, or stored other than as a keyed hash. OTPs and the cancel code
//     go only to the account's verified contact, inside the notification.
//
// # States
//
// An enrollment is stored by package store (store/enroll.go holds the
// atomic scripts); its states and transitions are:
//
//	unverified        created by contact (Create); nothing is shown to the bound device until the contact's OTP is checked
//	pending_approval  the bound device sees it and may approve (fresh UV assertion) or cancel
//	pending_recovery  OTP + recovery code given (Recover); the cool-down runs, the bound device and the contact may cancel
//	ready             not stored: pending_recovery once the cool-down is over; the new device may finish
//	approved          approved by the bound device or an operator; the new device may finish
//	active            the new device is the account's device (terminal)
//	cancelled         by the bound device, the contact's cancel code, or because the account's device changed (terminal)
//	expired           its time ran out in a live state (terminal)
//
//	login with the passkey,              Create {contact}
//	new device key (FromLogin)                  |
//	         |                            unverified --(Verify: OTP)--+
//	         v                                  |                     v
//	  pending_approval <------------------------+------------- pending_approval
//	         |  \ Recover: OTP + recovery code  | Recover: OTP + recovery code
//	         |   \-------------+  +-------------+
//	Approve  |                 v  v
//	(bound device, fresh UV, pending_recovery --(cool-down over)--> ready
//	 or ApproveByOperator)       |    Approve ends the cool-down     |
//	         v                   v                                   | Finish (new passkey)
//	      approved ---------- Finish (new passkey) ----> active <----+
//	any live state -> cancelled (Cancel, CancelWithToken, device changed meanwhile)
//	any live state -> expired   (Config.EnrollmentTTL; ReadyWindow after the cool-down)
//
// A contact change (store.ContactChange) has states of its own:
//
//	(no state)  ChangeContactStart: OTP sent to the new address; 10 min, 5 tries; nothing is shown anywhere
//	pending     ChangeContactVerify: the old address was warned with its cancel link; the cool-down runs
//	applied     the cool-down ended (ApplyContactChange: worker or SettleContactChange); the contact moved, probation (terminal)
//	cancelled   by the old address's cancel code (CancelContactChange), the device (CancelOwnContactChange), or the
//	            system (a newer change replaced it, or the contact moved otherwise) (terminal)
//	failed      the new address became another account's during the cool-down (terminal)
//
//	ChangeContactStart --(OTP to the new address)--> ChangeContactVerify (old address warned first)
//	        |                                                 |
//	        v                                                 v
//	   (expires, 10 min)                      pending --(cool-down over)--> applied
//	                                           |  \--(new address taken)--> failed
//	                                           \--(cancel code, device, replaced)--> cancelled
//
// A decoy is an enrollment made by Create for a contact without an
// account: it answers like any other to its requester, no message goes
// anywhere, and no step can ever succeed on it.
//
// # Errors
//
// Each method's comment lists the errors it returns; compare with
// errors.Is (errors.As for *StateError and *RateLimitError). Any other
// error is a failure of the store or the notifier (fail closed: nothing
// was committed by the failing step).
package device
