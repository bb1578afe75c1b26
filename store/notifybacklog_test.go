package store_test

import (
	"testing"
	"time"

	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store/storetest"
)

// The outbox's backlog (the dashboard's lag panel) counts the messages no
// worker delivered yet and ages the oldest by its stream id.
func TestNotifyBacklog(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			st := b.Open(t)
			ctx := t.Context()
			q, err := st.NotifyQueue([]byte("backlog-test-secret-0123456789abcdef"))
			if err != nil {
				t.Fatal(err)
			}
			empty, err := q.NotifyBacklog(ctx, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if empty.Pending != 0 || empty.Oldest != 0 || empty.Dead != 0 {
				t.Fatalf("backlog of a new outbox = %+v; want zeros", empty)
			}
			for _, id := range []string{"msg_a", "msg_b"} {
				if err := q.Notify(ctx, notify.Message{ID: id, Type: notify.TypeSecurity, To: "a@example.com", Text: "notice"}); err != nil {
					t.Fatal(err)
				}
			}
			later := time.Now().Add(time.Minute)
			got, err := q.NotifyBacklog(ctx, later)
			if err != nil {
				t.Fatal(err)
			}
			if got.Pending != 2 || got.Oldest < time.Minute || got.Oldest > 2*time.Minute {
				t.Errorf("backlog = %+v; want 2 pending, the oldest about a minute old", got)
			}
		})
	}
}
