package device_test

import (
	"errors"
	"testing"
	"time"

	"github.com/paycode/paycode/device"
	"github.com/paycode/paycode/store"
)

// Attack: a cloned device-bound passkey (its sign counter goes backwards).
// The device is locked and its sessions end at once; a synced passkey,
// which lives on several devices by design, is only audited.
func TestCounterRegressionLocksDeviceBound(t *testing.T) {
	h := newHarness(t)
	o := h.account("clone@example.com")
	b, _ := store.BucketOf(o.acct.ID)
	sessID, _ := store.NewID("sess", b)
	sess := store.Session{ID: sessID, AccountID: o.acct.ID, DeviceID: o.acct.DeviceID, JKT: o.acct.DeviceJKT,
		AuthTime: h.now, CreatedAt: h.now, AbsoluteExpiry: h.now.Add(24 * time.Hour)}
	if err := h.st.CreateSession(h.ctx, sess, "refresh-hash", 15*time.Minute, h.now); err != nil {
		t.Fatal(err)
	}
	r := device.Regression{AccountID: o.acct.ID, DeviceID: o.acct.DeviceID, CredentialKey: "cred", SignCount: 3}

	synced := r
	synced.BackupEligible = true
	if err := h.svc.OnCounterRegression(h.ctx, h.req, synced); err != nil {
		t.Fatalf("synced passkey: %v", err)
	}
	if acct := h.reload(o.acct.ID); acct.DeviceStatus != store.DeviceActive {
		t.Errorf("a synced passkey locked the device: %q", acct.DeviceStatus)
	}
	if ev, ok := h.audited("passkey.counter_regression_synced", o.acct.ID); !ok || ev.Fields["sign_count"] != "3" {
		t.Errorf("synced regression audit = %+v, %v", ev, ok)
	}

	if err := h.svc.OnCounterRegression(h.ctx, h.req, r); !errors.Is(err, device.ErrDeviceLocked) {
		t.Fatalf("device-bound passkey: error = %v; want ErrDeviceLocked", err)
	}
	if acct := h.reload(o.acct.ID); acct.DeviceStatus != store.DeviceLocked {
		t.Errorf("device status = %q; want locked", acct.DeviceStatus)
	}
	if _, err := h.st.TouchSession(h.ctx, sess.ID, o.acct.ID, sess.JKT, 15*time.Minute, h.now); err == nil {
		t.Error("the locked device's session still works")
	}
	if ev, ok := h.audited("device.locked", o.acct.ID); !ok || ev.DeviceID != o.acct.DeviceID || ev.Fields["credential"] != "cred" {
		t.Errorf("lock audit = %+v, %v", ev, ok)
	}
}
