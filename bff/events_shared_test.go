package bff

import (
	"testing"
	"time"
)

// Two streams of one account on one replica get the same decoded event
// from the hub; each adds the store's names for its own client. Writing
// the names into the shared map raced with the other stream encoding it,
// and Go aborts a process on a concurrent map write: one shopper with the
// app open on two tabs could take a replica down at every payment. (Run
// with -race, as CI does: the detector reports the race before a crash.)
func TestStreamsOfOneAccountShareEventsSafely(t *testing.T) {
	e := newEnv(t, nil)
	term := e.registerTerminal("store-shared")
	d := e.customer("two-tabs@example.com")
	mustStatus(t, "top-up", term.topup(d.code(), 5000), 201)
	streams := []*sseClient{openStream(t, e.s, d, ""), openStream(t, e.s, d, "")}
	for range 5 {
		mustStatus(t, "pay", term.pay(d.code(), 100), 201)
	}
	for i, st := range streams {
		for redeemed := 0; redeemed < 5; {
			_, typ, data := st.next(t, 10*time.Second)
			if typ != "code.redeemed" {
				continue
			}
			inner, _ := data["data"].(map[string]any)
			if _, ok := inner["store_name"]; !ok || inner["store"] != "store-shared" {
				t.Fatalf("stream %d: code.redeemed = %v; want the store and its (null) name", i, data)
			}
			redeemed++
		}
	}
}
