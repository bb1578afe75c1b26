package device_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/paycode/paycode/device"
	"github.com/paycode/paycode/store"
)

// rereadFails is the real store, but the first read of an enrollment after
// a successful cancel fails, as Redis would if it went away just then.
type rereadFails struct {
	*store.Store
	failNext bool
}

func (r *rereadFails) CancelEnrollment(ctx context.Context, e *store.Enrollment, by, cancelHash string, now time.Time) error {
	err := r.Store.CancelEnrollment(ctx, e, by, cancelHash, now)
	r.failNext = err == nil
	return err
}

func (r *rereadFails) Enrollment(ctx context.Context, id string) (*store.Enrollment, error) {
	if r.failNext {
		r.failNext = false
		return nil, fmt.Errorf("reading an enrollment: %w", store.ErrUnavailable)
	}
	return r.Store.Enrollment(ctx, id)
}

// A step that was committed is never answered "nothing was changed", and
// its audit entry is written whatever happens after it: the owner who
// refused a new device must find the refusal in the audit trail, and the
// client is told to read the state again (unconfirmed), not to retry
// blindly as if the cancel had not happened.
func TestCommittedStepIsAuditedWhenTheReReadFails(t *testing.T) {
	h := newHarness(t)
	o := h.account("reread@example.com")
	id, _ := h.byLogin(o)
	h.svc.Store = &rereadFails{Store: h.st}
	_, err := h.svc.Cancel(h.ctx, h.req, o.sess, id)
	if !errors.Is(err, store.ErrUnconfirmed) {
		t.Fatalf("cancel with a failed re-read: %v; want ErrUnconfirmed", err)
	}
	if st := h.state(id); st != device.Cancelled {
		t.Errorf("state = %q; want cancelled (the step happened)", st)
	}
	if _, ok := h.audited("enrollment.cancelled", o.acct.ID); !ok {
		t.Error("the committed cancel was not audited")
	}
}
