package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycode/paycode/notify"
	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/store/storetest"
)

// flaky fails its first fails deliveries of each message, then accepts.
type flaky struct {
	mu    sync.Mutex
	fails int
	seen  map[string]int
	got   chan notify.Message
}

func (f *flaky) Notify(_ context.Context, m notify.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen[m.ID]++
	if f.seen[m.ID] <= f.fails {
		return errors.New("webhook answered 503")
	}
	f.got <- m
	return nil
}

// The outbox delivers what a request enqueued, retries a failing delivery
// after its backoff, dead-letters a message out of attempts, drops decoys,
// and keeps no OTP readable in Redis.
func TestNotifyOutbox(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s := b.Open(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			q, err := s.NotifyQueue([]byte("0123456789abcdef0123456789abcdef"))
			if err != nil {
				t.Fatal(err)
			}
			outcomes := make(chan string, 64)
			f := &flaky{fails: 2, seen: map[string]int{}, got: make(chan notify.Message, 8)}
			w := q.StartWorker(f, workerOpts(outcomes, 3))
			defer w.Close()

			if err := q.Notify(ctx, notify.Message{ID: "msg_decoy", Type: notify.TypeDecoy}); err != nil {
				t.Fatal(err)
			}
			if err := q.Notify(ctx, notify.Message{ID: "msg_1", Type: notify.TypeSignupOTP, To: "a@example.com", Text: "code 314159"}); err != nil {
				t.Fatal(err)
			}
			// Nothing in Redis reads as the OTP.
			dump, _ := s.DebugDumpNotifyQueue(ctx)
			if strings.Contains(dump, "314159") || strings.Contains(dump, "a@example.com") {
				t.Error("the queued message is readable in Redis")
			}
			select {
			case m := <-f.got:
				if m.ID != "msg_1" || m.Text != "code 314159" {
					t.Errorf("delivered %+v", m)
				}
			case <-ctx.Done():
				t.Fatal("the message was never delivered")
			}
			want := map[string]int{"decoy": 1, "retry": 2, "sent": 1}
			got := map[string]int{}
			for got["sent"] < 1 {
				got[<-outcomes]++
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("outcomes %v; want %v", got, want)
					break
				}
			}

			// Out of attempts: the dead-letter list.
			f.mu.Lock()
			f.fails = 100
			f.mu.Unlock()
			if err := q.Notify(ctx, notify.Message{ID: "msg_2", Type: notify.TypeSecurity, To: "a@example.com", Text: "notice"}); err != nil {
				t.Fatal(err)
			}
			for o := ""; o != "dead"; {
				select {
				case o = <-outcomes:
				case <-ctx.Done():
					t.Fatal("the failing message was never dead-lettered")
				}
			}
			if n, err := q.DeadNotifications(ctx); err != nil || n != 1 {
				t.Errorf("dead letters = %d, %v; want 1", n, err)
			}
		})
	}
}

func workerOpts(outcomes chan string, attempts int) store.NotifyWorkerOptions {
	return store.NotifyWorkerOptions{Attempts: attempts, Backoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Observe: func(_, o string) { outcomes <- o }}
}
