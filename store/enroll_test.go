package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// enrollment builds an enrollment of the account n, replacing its device.
func enrollment(t *testing.T, n store.NewAccount, state string, now time.Time) store.Enrollment {
	t.Helper()
	b, _ := store.BucketOf(n.Account.ID)
	id, err := store.NewEnrollmentID(b)
	if err != nil {
		t.Fatal(err)
	}
	jkt, _ := store.RandomID()
	return store.Enrollment{ID: id, AccountID: n.Account.ID, JKT: "new-" + jkt, Label: "new phone", IP: "192.0.2.0/24",
		Origin: store.EnrollmentByPasskey, State: state, Replaces: n.Device.ID, LimitSubject: "subject",
		CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute), OTPHash: "otp-right", OTPTries: 5, OTPExpires: now.Add(10 * time.Minute)}
}

func wantState(t *testing.T, err error, state string) {
	t.Helper()
	var se *store.EnrollmentStateError
	if !errors.As(err, &se) || se.State != state || !errors.Is(err, store.ErrEnrollmentState) {
		t.Fatalf("error = %v; want the enrollment state error %q", err, state)
	}
}

func activation(n store.NewAccount, e store.Enrollment, now time.Time) store.Activation {
	b, _ := store.BucketOf(n.Account.ID)
	dev, _ := store.NewID("dev", b)
	return store.Activation{
		Device: store.Device{ID: dev, AccountID: n.Account.ID, JKT: e.JKT, Label: e.Label, CredentialID: "bmV3", CreatedAt: now},
		Credential: store.CredentialRecord{AccountID: n.Account.ID, DeviceID: dev, CreatedAt: now,
			Credential: gowebauthn.Credential{ID: []byte("new"), Authenticator: gowebauthn.Authenticator{SignCount: 0}}},
		ProbationUntil: now.Add(24 * time.Hour),
	}
}

// TestEnrollmentConformance runs the enrollment scripts (the new-device
// state machine, recovery, activation, contact change) on every backend;
// on the Cluster it also shows that each stays in the account's slot.
func TestEnrollmentConformance(t *testing.T) {
	for _, backend := range storetest.Backends() {
		t.Run(backend.Name, func(t *testing.T) {
			s := backend.Open(t)
			ctx := context.Background()
			now := time.Now().Truncate(time.Millisecond)
			fresh := func(t *testing.T) store.NewAccount {
				t.Helper()
				contact, _ := store.RandomID()
				n, err := newAccount(t, s, contact)
				if err != nil {
					t.Fatalf("CreateAccount: %v", err)
				}
				return n
			}

			t.Run("created, read and listed", func(t *testing.T) {
				n := fresh(t)
				e := enrollment(t, n, store.EnrollmentPendingApproval, now)
				if err := s.CreateEnrollment(ctx, e, 5, now); err != nil {
					t.Fatal(err)
				}
				if err := s.CreateEnrollment(ctx, e, 5, now); !errors.Is(err, store.ErrExists) {
					t.Errorf("second create = %v; want ErrExists", err)
				}
				got, err := s.Enrollment(ctx, e.ID)
				if err != nil || got.JKT != e.JKT || got.AccountID != n.Account.ID || got.Replaces != n.Device.ID ||
					got.StateAt(now) != store.EnrollmentPendingApproval || !got.ExpiresAt.Equal(e.ExpiresAt) {
					t.Fatalf("Enrollment = %+v, %v", got, err)
				}
				if got.StateAt(e.ExpiresAt) != store.EnrollmentExpired {
					t.Errorf("StateAt(expiry) = %q; want expired", got.StateAt(e.ExpiresAt))
				}
				// An unverified enrollment (made by contact) stays out of
				// the owner's list until its OTP is checked.
				hidden := enrollment(t, n, store.EnrollmentUnverified, now)
				if err := s.CreateEnrollment(ctx, hidden, 5, now); err != nil {
					t.Fatal(err)
				}
				list, err := s.Enrollments(ctx, n.Account.ID, now)
				if err != nil || len(list) != 1 || list[0].ID != e.ID {
					t.Fatalf("Enrollments = %+v, %v; want only %s", list, err, e.ID)
				}
				if list, _ := s.Enrollments(ctx, n.Account.ID, e.ExpiresAt); len(list) != 0 {
					t.Errorf("Enrollments after expiry = %d; want 0", len(list))
				}
				if _, err := s.Enrollment(ctx, "enr_0000aaaaaaaaaaaaaaaaaaaaaaaa"); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("unknown enrollment = %v; want ErrNotFound", err)
				}
			})

			// Approval fatigue: a holder of a synced passkey cannot queue an
			// unbounded number of requests on the owner's device.
			t.Run("live enrollments are capped", func(t *testing.T) {
				n := fresh(t)
				for i := range 3 {
					if err := s.CreateEnrollment(ctx, enrollment(t, n, store.EnrollmentPendingApproval, now), 3, now); err != nil {
						t.Fatalf("create %d: %v", i, err)
					}
				}
				if err := s.CreateEnrollment(ctx, enrollment(t, n, store.EnrollmentPendingApproval, now), 3, now); !errors.Is(err, store.ErrEnrollmentLimit) {
					t.Fatalf("fourth = %v; want ErrEnrollmentLimit", err)
				}
				// Expired ones no longer count.
				later := now.Add(16 * time.Minute)
				if err := s.CreateEnrollment(ctx, enrollment(t, n, store.EnrollmentPendingApproval, later), 3, later); err != nil {
					t.Fatalf("after expiry: %v", err)
				}
			})

			t.Run("contact OTP verifies, with limited tries", func(t *testing.T) {
				n := fresh(t)
				e := enrollment(t, n, store.EnrollmentUnverified, now)
				e.OTPTries = 2
				if err := s.CreateEnrollment(ctx, e, 5, now); err != nil {
					t.Fatal(err)
				}
				if err := s.VerifyEnrollment(ctx, &e, "otp-wrong", 5, now); !errors.Is(err, store.ErrFactorsWrong) {
					t.Fatalf("wrong OTP = %v", err)
				}
				if err := s.VerifyEnrollment(ctx, &e, "otp-right", 5, now); err != nil {
					t.Fatalf("right OTP = %v", err)
				}
				got, _ := s.Enrollment(ctx, e.ID)
				if got.State != store.EnrollmentPendingApproval {
					t.Fatalf("state = %q; want pending_approval", got.State)
				}
				if err := s.VerifyEnrollment(ctx, &e, "otp-right", 5, now); err == nil {
					t.Error("an OTP verified twice")
				}

				// Brute force: the tries run out and the right code is useless.
				e2 := enrollment(t, n, store.EnrollmentUnverified, now)
				e2.OTPTries = 2
				if err := s.CreateEnrollment(ctx, e2, 5, now); err != nil {
					t.Fatal(err)
				}
				for range 2 {
					_ = s.VerifyEnrollment(ctx, &e2, "otp-wrong", 5, now)
				}
				if err := s.VerifyEnrollment(ctx, &e2, "otp-right", 5, now); !errors.Is(err, store.ErrFactorsWrong) {
					t.Errorf("right OTP after the tries = %v; want ErrFactorsWrong", err)
				}
				// An expired OTP.
				e3 := enrollment(t, n, store.EnrollmentUnverified, now)
				if err := s.CreateEnrollment(ctx, e3, 5, now); err != nil {
					t.Fatal(err)
				}
				if err := s.VerifyEnrollment(ctx, &e3, "otp-right", 5, now.Add(10*time.Minute)); !errors.Is(err, store.ErrFactorsWrong) {
					t.Errorf("right OTP after its expiry = %v; want ErrFactorsWrong", err)
				}
			})

			// A contact without an account gets a decoy that behaves alike
			// but never verifies, whatever is guessed.
			t.Run("decoy never verifies", func(t *testing.T) {
				b, _ := store.RandomBucket()
				id, _ := store.NewEnrollmentID(b)
				d := store.Enrollment{ID: id, JKT: "k", Origin: store.EnrollmentByContact, State: store.EnrollmentUnverified,
					CreatedAt: now, ExpiresAt: now.Add(time.Minute), OTPHash: "otp-right", OTPTries: 5, OTPExpires: now.Add(time.Minute)}
				if err := s.CreateEnrollment(ctx, d, 5, now); err != nil {
					t.Fatal(err)
				}
				if err := s.VerifyEnrollment(ctx, &d, "otp-right", 5, now); !errors.Is(err, store.ErrFactorsWrong) {
					t.Errorf("decoy verify = %v; want ErrFactorsWrong", err)
				}
				if err := s.StartRecovery(ctx, &d, store.Recovery{OTPHash: "otp-right", CodeHash: "r1"}, now); !errors.Is(err, store.ErrFactorsWrong) {
					t.Errorf("decoy recovery = %v; want ErrFactorsWrong", err)
				}
				if err := s.ApproveEnrollment(ctx, &d, store.Approval{By: "operator:x", ExpiresAt: now.Add(time.Minute)}, now); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("decoy approval = %v; want ErrNotFound", err)
				}
			})

			t.Run("recovery needs both factors and spends the code once", func(t *testing.T) {
				n := fresh(t)
				e := enrollment(t, n, store.EnrollmentUnverified, now)
				e.OTPTries = 10
				if err := s.CreateEnrollment(ctx, e, 5, now); err != nil {
					t.Fatal(err)
				}
				r := store.Recovery{OTPHash: "otp-right", CodeHash: "r1", CancelHash: "cancel-hash",
					CooldownEnds: now.Add(time.Hour), ExpiresAt: now.Add(73 * time.Hour)}
				// The OTP alone (a leaked inbox) and the code alone (a
				// leaked printout) are each not enough, and spend nothing.
				otpOnly, codeOnly := r, r
				otpOnly.CodeHash = "not-a-code"
				codeOnly.OTPHash = "otp-wrong"
				for name, try := range map[string]store.Recovery{"otp alone": otpOnly, "code alone": codeOnly} {
					if err := s.StartRecovery(ctx, &e, try, now); !errors.Is(err, store.ErrFactorsWrong) {
						t.Errorf("%s = %v; want ErrFactorsWrong", name, err)
					}
				}
				if left, _ := s.RecoveryCodesLeft(ctx, n.Account.ID); left != 2 {
					t.Fatalf("codes left after failures = %d; want 2", left)
				}
				if err := s.CheckRecovery(ctx, &e, r, now); err != nil {
					t.Fatalf("CheckRecovery = %v", err)
				}
				if left, _ := s.RecoveryCodesLeft(ctx, n.Account.ID); left != 2 {
					t.Fatalf("a check spent a code: %d left", left)
				}
				if err := s.StartRecovery(ctx, &e, r, now); err != nil {
					t.Fatalf("StartRecovery = %v", err)
				}
				if left, _ := s.RecoveryCodesLeft(ctx, n.Account.ID); left != 1 {
					t.Fatalf("codes left = %d; want 1", left)
				}
				got, _ := s.Enrollment(ctx, e.ID)
				if got.State != store.EnrollmentPendingRecovery || !got.CooldownUntil.Equal(r.CooldownEnds) ||
					got.StateAt(now) != store.EnrollmentPendingRecovery || got.StateAt(r.CooldownEnds) != store.EnrollmentReady {
					t.Fatalf("after recovery = %+v", got)
				}
				list, _ := s.Enrollments(ctx, n.Account.ID, now)
				if len(list) != 1 || list[0].ID != e.ID {
					t.Errorf("the owner does not see the recovery: %+v", list)
				}
				// The spent code does not work on another enrollment.
				e2 := enrollment(t, n, store.EnrollmentUnverified, now)
				if err := s.CreateEnrollment(ctx, e2, 5, now); err != nil {
					t.Fatal(err)
				}
				if err := s.StartRecovery(ctx, &e2, r, now); !errors.Is(err, store.ErrFactorsWrong) {
					t.Errorf("spent code again = %v; want ErrFactorsWrong", err)
				}
			})

			// Double spend of one recovery code by two racing requests.
			t.Run("concurrent recoveries spend a code once", func(t *testing.T) {
				n := fresh(t)
				var wg sync.WaitGroup
				var mu sync.Mutex
				wins := 0
				for range 6 {
					e := enrollment(t, n, store.EnrollmentUnverified, now)
					if err := s.CreateEnrollment(ctx, e, 5, now); err != nil {
						t.Fatal(err)
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						r := store.Recovery{OTPHash: "otp-right", CodeHash: "r2", CooldownEnds: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour)}
						if s.StartRecovery(ctx, &e, r, now) == nil {
							mu.Lock()
							wins++
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				if wins != 1 {
					t.Fatalf("%d recoveries spent code r2; want exactly 1", wins)
				}
			})

			t.Run("illegal transitions are refused", func(t *testing.T) {
				n := fresh(t)
				// Finish before approval.
				e := enrollment(t, n, store.EnrollmentPendingApproval, now)
				if err := s.CreateEnrollment(ctx, e, 5, now); err != nil {
					t.Fatal(err)
				}
				wantState(t, s.ActivateEnrollment(ctx, &e, activation(n, e, now), now), store.EnrollmentPendingApproval)
				// The bound device cannot approve what it was never shown.
				u := enrollment(t, n, store.EnrollmentUnverified, now)
				if err := s.CreateEnrollment(ctx, u, 5, now); err != nil {
					t.Fatal(err)
				}
				wantState(t, s.ApproveEnrollment(ctx, &u, store.Approval{DeviceID: n.Device.ID, By: "device:x", ExpiresAt: now.Add(time.Hour)}, now), store.EnrollmentUnverified)
				// Approve a cancelled one.
				if err := s.CancelEnrollment(ctx, &e, "device:"+n.Device.ID, "", now); err != nil {
					t.Fatal(err)
				}
				if err := s.CancelEnrollment(ctx, &e, "device:"+n.Device.ID, "", now); err != nil {
					t.Errorf("cancelling again = %v; want nil (idempotent)", err)
				}
				wantState(t, s.ApproveEnrollment(ctx, &e, store.Approval{DeviceID: n.Device.ID, By: "device:x", ExpiresAt: now.Add(time.Hour)}, now), store.EnrollmentCancelled)
				wantState(t, s.ActivateEnrollment(ctx, &e, activation(n, e, now), now), store.EnrollmentCancelled)
				// Approve an expired one: it becomes expired for good.
				x := enrollment(t, n, store.EnrollmentPendingApproval, now)
				if err := s.CreateEnrollment(ctx, x, 5, now); err != nil {
					t.Fatal(err)
				}
				late := x.ExpiresAt
				wantState(t, s.ApproveEnrollment(ctx, &x, store.Approval{DeviceID: n.Device.ID, By: "device:x", ExpiresAt: late.Add(time.Hour)}, late), store.EnrollmentExpired)
				wantState(t, s.CancelEnrollment(ctx, &x, "device:x", "", late), store.EnrollmentExpired)
				if got, _ := s.Enrollment(ctx, x.ID); got.State != store.EnrollmentExpired {
					t.Errorf("stored state = %q; want expired", got.State)
				}
				// A recovery cannot finish during its cool-down.
				r := enrollment(t, n, store.EnrollmentUnverified, now)
				if err := s.CreateEnrollment(ctx, r, 5, now); err != nil {
					t.Fatal(err)
				}
				if err := s.StartRecovery(ctx, &r, store.Recovery{OTPHash: "otp-right", CodeHash: "r1", CooldownEnds: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour)}, now); err != nil {
					t.Fatal(err)
				}
				wantState(t, s.ActivateEnrollment(ctx, &r, activation(n, r, now), now.Add(59*time.Minute)), store.EnrollmentPendingRecovery)
				// Another key than the enrollment's cannot finish it.
				act := activation(n, r, now)
				act.Device.JKT = "someone-else"
				if err := s.ActivateEnrollment(ctx, &r, act, now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("activation with another key = %v; want ErrNotFound", err)
				}
			})

			t.Run("only the active device approves", func(t *testing.T) {
				n := fresh(t)
				e := enrollment(t, n, store.EnrollmentPendingApproval, now)
				if err := s.CreateEnrollment(ctx, e, 5, now); err != nil {
					t.Fatal(err)
				}
				if ok, err := s.SetDeviceStatus(ctx, n.Account.ID, n.Device.ID, store.DeviceRevoked); err != nil || !ok {
					t.Fatal(ok, err)
				}
				if err := s.ApproveEnrollment(ctx, &e, store.Approval{DeviceID: n.Device.ID, By: "device:x", ExpiresAt: now.Add(time.Hour)}, now); !errors.Is(err, store.ErrNotApprover) {
					t.Errorf("approval by a revoked device = %v; want ErrNotApprover", err)
				}
				if _, err := s.SetAccountStatus(ctx, n.Account.ID, store.AccountFrozen); err != nil {
					t.Fatal(err)
				}
				if err := s.ApproveEnrollment(ctx, &e, store.Approval{By: "operator:x", ExpiresAt: now.Add(time.Hour)}, now); !errors.Is(err, store.ErrAccountFrozen) {
					t.Errorf("approval on a frozen account = %v; want ErrAccountFrozen", err)
				}
			})

			t.Run("activation replaces the device at once", func(t *testing.T) {
				n := fresh(t)
				acct := n.Account.ID
				sid, _ := store.NewSessionID(acct)
				sess := store.Session{ID: sid, AccountID: acct, DeviceID: n.Device.ID, JKT: "jkt-1", AuthTime: now, CreatedAt: now, AbsoluteExpiry: now.Add(time.Hour)}
				if err := s.CreateSession(ctx, sess, "h1", 15*time.Minute, now); err != nil {
					t.Fatal(err)
				}
				e := enrollment(t, n, store.EnrollmentPendingApproval, now)
				other := enrollment(t, n, store.EnrollmentPendingApproval, now)
				for _, x := range []store.Enrollment{e, other} {
					if err := s.CreateEnrollment(ctx, x, 5, now); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.ApproveEnrollment(ctx, &e, store.Approval{DeviceID: n.Device.ID, By: "device:" + n.Device.ID, ExpiresAt: now.Add(15 * time.Minute)}, now); err != nil {
					t.Fatalf("approve: %v", err)
				}
				act := activation(n, e, now)
				if err := s.ActivateEnrollment(ctx, &e, act, now); err != nil {
					t.Fatalf("activate: %v", err)
				}
				a, _ := s.Account(ctx, acct)
				if a.DeviceID != act.Device.ID || a.DeviceJKT != e.JKT || a.DeviceStatus != store.DeviceActive {
					t.Errorf("account after activation = %+v", a)
				}
				if until, err := s.ProbationUntil(ctx, acct); err != nil || !until.Equal(act.ProbationUntil) {
					t.Errorf("ProbationUntil = %v, %v; want %v", until, err, act.ProbationUntil)
				}
				recs, _ := s.Credentials(ctx, acct)
				if len(recs) != 1 || string(recs[0].Credential.ID) != "new" || recs[0].DeviceID != act.Device.ID {
					t.Errorf("credentials after activation = %+v; want only the new one", recs)
				}
				if _, err := s.TouchSession(ctx, sid, acct, "jkt-1", 15*time.Minute, now); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("old session = %v; want ErrNotFound", err)
				}
				if _, err := s.RotateRefresh(ctx, sid, acct, "jkt-1", "h1", "h2", 15*time.Minute, now); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("old refresh token = %v; want ErrNotFound", err)
				}
				if got, _ := s.Enrollment(ctx, e.ID); got.State != store.EnrollmentActive || got.DeviceID != act.Device.ID {
					t.Errorf("enrollment after activation = %+v", got)
				}
				if err := s.ActivateEnrollment(ctx, &e, act, now); err == nil {
					t.Error("an enrollment activated twice")
				}
				// The other request was for the old device: it can no
				// longer be approved, and is cancelled.
				if err := s.ApproveEnrollment(ctx, &other, store.Approval{DeviceID: act.Device.ID, By: "device:x", ExpiresAt: now.Add(time.Hour)}, now); !errors.Is(err, store.ErrSuperseded) {
					t.Errorf("approval of a superseded enrollment = %v; want ErrSuperseded", err)
				}
				if got, _ := s.Enrollment(ctx, other.ID); got.State != store.EnrollmentCancelled {
					t.Errorf("superseded enrollment state = %q; want cancelled", got.State)
				}
				if list, _ := s.Enrollments(ctx, acct, now); len(list) != 0 {
					t.Errorf("live enrollments after activation = %+v", list)
				}
			})

			t.Run("cancel with the contact's token", func(t *testing.T) {
				n := fresh(t)
				e := enrollment(t, n, store.EnrollmentUnverified, now)
				if err := s.CreateEnrollment(ctx, e, 5, now); err != nil {
					t.Fatal(err)
				}
				if err := s.StartRecovery(ctx, &e, store.Recovery{OTPHash: "otp-right", CodeHash: "r1", CancelHash: "cancel-hash",
					CooldownEnds: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour)}, now); err != nil {
					t.Fatal(err)
				}
				if err := s.CancelEnrollment(ctx, &e, "contact", "forged", now); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("wrong token = %v; want ErrNotFound", err)
				}
				if err := s.CancelEnrollment(ctx, &e, "contact", "cancel-hash", now); err != nil {
					t.Fatalf("right token = %v", err)
				}
				wantState(t, s.ActivateEnrollment(ctx, &e, activation(n, e, now), now.Add(2*time.Hour-time.Second)), store.EnrollmentCancelled)
			})

			t.Run("contact change waits its cool-down, then moves the index", func(t *testing.T) {
				n := fresh(t)
				acct := n.Account.ID
				newHash, _ := store.RandomID()
				id, _ := store.NewContactChangeID(acct)
				cc := store.ContactChange{ID: id, AccountID: acct, SessionID: "sess", OldContact: "a@example.com", OldHash: n.ContactHash,
					NewContact: "b@example.com", NewKind: "email", NewHash: newHash, TriesLeft: 2}
				if err := s.PutContactChange(ctx, cc, "otp-right", time.Minute); err != nil {
					t.Fatal(err)
				}
				ends := now.Add(time.Hour)
				if err := s.PendContactChange(ctx, &cc, ends, "cancel-hash"); !errors.Is(err, store.ErrNotVerified) {
					t.Fatalf("pending an unverified change = %v; want ErrNotVerified", err)
				}
				if err := s.VerifyContactChangeOTP(ctx, id, "otp-wrong"); !errors.Is(err, store.ErrOTPWrong) {
					t.Fatal(err)
				}
				if err := s.VerifyContactChangeOTP(ctx, id, "otp-right"); err != nil {
					t.Fatal(err)
				}
				if err := s.PendContactChange(ctx, &cc, ends, "cancel-hash"); err != nil {
					t.Fatal(err)
				}
				if a, _ := s.Account(ctx, acct); a.Contact != "a@example.com" || a.ContactChangeID != id || !a.ContactChangeAt.Equal(ends.Truncate(time.Millisecond)) {
					t.Errorf("during the cool-down: account %+v; want the old contact and the pending change", a)
				}
				if _, err := s.ChangeContact(ctx, &cc, ends.Add(-time.Millisecond)); !errors.Is(err, store.ErrContactChangeEarly) {
					t.Fatalf("applying before the cool-down ends = %v; want ErrContactChangeEarly", err)
				}
				if _, err := s.AccountByContact(ctx, newHash); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("an early change claimed the new address: %v", err)
				}
				if due, _ := s.DueContactChanges(ctx, ends.Add(-time.Millisecond), 100); slices.Contains(due, id) {
					t.Errorf("due before its time: %v", due)
				}
				if due, _ := s.DueContactChanges(ctx, ends, 100); !slices.Contains(due, id) {
					t.Errorf("not due at its time: %v", due)
				}
				if err := s.EndContactChange(ctx, &cc, "cancelled", "contact", "forged", now); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("a forged cancel = %v; want ErrNotFound", err)
				}
				// Two replicas apply it at once: it happens once.
				errs := make(chan error, 2)
				for range 2 {
					go func() {
						c := cc
						_, err := s.ChangeContact(ctx, &c, ends)
						errs <- err
					}()
				}
				applied := 0
				for range 2 {
					switch err := <-errs; {
					case err == nil:
						applied++
					case !errors.Is(err, store.ErrContactChangeEnded):
						t.Errorf("a concurrent apply = %v", err)
					}
				}
				if applied != 1 {
					t.Errorf("applied %d times; want once", applied)
				}
				a, _ := s.Account(ctx, acct)
				if a.Contact != "b@example.com" || a.ContactChangeID != "" {
					t.Errorf("after the cool-down: account %+v", a)
				}
				if got, err := s.AccountByContact(ctx, newHash); err != nil || got != acct {
					t.Errorf("new index = %q, %v (the losing replica must not release it)", got, err)
				}
				if _, err := s.AccountByContact(ctx, n.ContactHash); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("old index still there: %v", err)
				}
				if err := s.EndContactChange(ctx, &cc, "cancelled", "contact", "cancel-hash", now); !errors.Is(err, store.ErrContactChangeEnded) {
					t.Errorf("cancelling an applied change = %v; want ErrContactChangeEnded", err)
				}

				// Another account's address cannot be taken.
				m := fresh(t)
				id2, _ := store.NewContactChangeID(m.Account.ID)
				cc2 := store.ContactChange{ID: id2, AccountID: m.Account.ID, OldContact: "a@example.com", OldHash: m.ContactHash,
					NewContact: "b@example.com", NewKind: "email", NewHash: newHash, TriesLeft: 2}
				if err := s.PutContactChange(ctx, cc2, "otp-right", time.Minute); err != nil {
					t.Fatal(err)
				}
				_ = s.VerifyContactChangeOTP(ctx, id2, "otp-right")
				if err := s.PendContactChange(ctx, &cc2, now, "h2"); err != nil {
					t.Fatal(err)
				}
				if _, err := s.ChangeContact(ctx, &cc2, now); !errors.Is(err, store.ErrContactTaken) {
					t.Errorf("taking another account's contact = %v; want ErrContactTaken", err)
				}
			})

			t.Run("contact change cancelled by the old address's token, once", func(t *testing.T) {
				n := fresh(t)
				newHash, _ := store.RandomID()
				id, _ := store.NewContactChangeID(n.Account.ID)
				cc := store.ContactChange{ID: id, AccountID: n.Account.ID, OldContact: "a@example.com", OldHash: n.ContactHash,
					NewContact: "c@example.com", NewKind: "email", NewHash: newHash, TriesLeft: 2}
				if err := s.PutContactChange(ctx, cc, "otp-right", time.Minute); err != nil {
					t.Fatal(err)
				}
				_ = s.VerifyContactChangeOTP(ctx, id, "otp-right")
				if err := s.PendContactChange(ctx, &cc, now.Add(time.Hour), "cancel-hash"); err != nil {
					t.Fatal(err)
				}
				if err := s.EndContactChange(ctx, &cc, "cancelled", "contact", "cancel-hash", now); err != nil {
					t.Fatalf("the right token = %v", err)
				}
				if err := s.EndContactChange(ctx, &cc, "cancelled", "contact", "cancel-hash", now); !errors.Is(err, store.ErrContactChangeEnded) {
					t.Errorf("the token a second time = %v; want ErrContactChangeEnded", err)
				}
				if _, err := s.ChangeContact(ctx, &cc, now.Add(2*time.Hour)); !errors.Is(err, store.ErrContactChangeEnded) {
					t.Errorf("applying a cancelled change = %v; want ErrContactChangeEnded", err)
				}
				if a, _ := s.Account(ctx, n.Account.ID); a.Contact != "a@example.com" || a.ContactChangeID != "" {
					t.Errorf("after the cancel: account %+v", a)
				}
				if _, err := s.AccountByContact(ctx, newHash); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("a cancelled change kept its claim: %v", err)
				}
			})

			if backend.Cluster {
				t.Run("enrollment keys share the account's slot", func(t *testing.T) {
					n := fresh(t)
					b, _ := store.BucketOf(n.Account.ID)
					eid, _ := store.NewEnrollmentID(b)
					cid, _ := store.NewContactChangeID(n.Account.ID)
					k := s.Keys()
					keys := []string{k.Account(b, n.Account.ID), k.Enrollment(b, eid), k.Enrollments(b, n.Account.ID), k.ContactChange(b, cid),
						k.Recovery(b, n.Account.ID), k.Devices(b, n.Account.ID), k.Credentials(b, n.Account.ID), k.Counters(b, n.Account.ID)}
					want, err := s.Client().ClusterKeySlot(ctx, keys[0]).Result()
					if err != nil {
						t.Fatal(err)
					}
					for _, key := range keys[1:] {
						if got, err := s.Client().ClusterKeySlot(ctx, key).Result(); err != nil || got != want {
							t.Errorf("CLUSTER KEYSLOT %s = %d, %v; want %d", key, got, err, want)
						}
					}
				})
			}

			t.Run("ephemeral keys have a TTL", func(t *testing.T) {
				n := fresh(t)
				b, _ := store.BucketOf(n.Account.ID)
				e := enrollment(t, n, store.EnrollmentPendingApproval, now)
				if err := s.CreateEnrollment(ctx, e, 5, now); err != nil {
					t.Fatal(err)
				}
				for _, key := range []string{s.Keys().Enrollment(b, e.ID), s.Keys().Enrollments(b, n.Account.ID)} {
					if ttl, err := s.Client().PTTL(ctx, key).Result(); err != nil || ttl <= 0 {
						t.Errorf("PTTL %s = %v, %v; want a TTL", key, ttl, err)
					}
				}
			})
		})
	}
}
