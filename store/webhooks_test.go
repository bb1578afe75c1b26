package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// Endpoints: the secret is made once and kept sealed, bound to its store
// (a sealed secret copied to another store's record does not sign); a
// rotation keeps the old key signing for a day; the stores set and its
// version move with every change.
func TestWebhookEndpoints(t *testing.T) {
	st := storetest.Open(t)
	now := time.Unix(1_800_000_000, 0)
	ep, err := st.WebhookEndpoints([]byte("0123456789abcdef0123456789abcdef"), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	v0, ids, _, err := ep.StoresWithEndpoints(ctx, -1)
	if err != nil || len(ids) != 0 {
		t.Fatalf("before any endpoint: %v %v", ids, err)
	}
	secret, created, err := ep.Put(ctx, "s1", "https://pos.example/a")
	if err != nil || !created {
		t.Fatalf("Put = %v %v", created, err)
	}
	if _, created, _ := ep.Put(ctx, "s1", "https://pos.example/b"); created {
		t.Error("a second Put made a new secret")
	}
	got, err := ep.MerchantEndpoint(ctx, "s1")
	key, _ := notify.ParseWebhookSecret(secret)
	if err != nil || got.URL != "https://pos.example/b" || len(got.Keys) != 1 || string(got.Keys[0]) != string(key) {
		t.Fatalf("MerchantEndpoint = %+v, %v", got, err)
	}
	v1, ids, changed, err := ep.StoresWithEndpoints(ctx, v0)
	if err != nil || !changed || v1 == v0 || len(ids) != 1 || ids[0] != "s1" {
		t.Fatalf("after Put: %d %v %v %v", v1, ids, changed, err)
	}
	if _, _, changed, _ := ep.StoresWithEndpoints(ctx, v1); changed {
		t.Error("an unchanged set read as changed")
	}

	// A sealed secret copied into another store's record does not open.
	if _, _, err := ep.Put(ctx, "s2", "https://pos.example/c"); err != nil {
		t.Fatal(err)
	}
	rdb, k := st.Client(), st.Keys()
	sealed, _ := rdb.HGet(ctx, k.WebhookEndpoint("s1"), "secret").Result()
	rdb.HSet(ctx, k.WebhookEndpoint("s2"), "secret", sealed)
	if _, err := ep.MerchantEndpoint(ctx, "s2"); err == nil {
		t.Error("another store's sealed secret signs for s2")
	}

	rotated, err := ep.Rotate(ctx, "s1")
	if err != nil || rotated == secret {
		t.Fatalf("Rotate = %v", err)
	}
	got, _ = ep.MerchantEndpoint(ctx, "s1")
	if len(got.Keys) != 2 || string(got.Keys[1]) != string(key) {
		t.Fatalf("after a rotation %d keys; want the new and the old", len(got.Keys))
	}
	now = now.Add(store.PreviousSecretValidity + time.Second)
	if got, _ = ep.MerchantEndpoint(ctx, "s1"); len(got.Keys) != 1 {
		t.Errorf("a day after the rotation %d keys sign; want 1", len(got.Keys))
	}
	if _, err := ep.Rotate(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Rotate of no endpoint: %v", err)
	}
	if ok, err := ep.Delete(ctx, "s1"); !ok || err != nil {
		t.Fatalf("Delete = %v %v", ok, err)
	}
	if _, err := ep.MerchantEndpoint(ctx, "s1"); !errors.Is(err, notify.ErrNoEndpoint) || !errors.Is(err, notify.ErrDrop) {
		t.Errorf("MerchantEndpoint after Delete: %v", err)
	}
	if _, ids, _, _ := ep.StoresWithEndpoints(ctx, v1); len(ids) != 1 || ids[0] != "s2" {
		t.Errorf("stores after Delete: %v", ids)
	}
}
