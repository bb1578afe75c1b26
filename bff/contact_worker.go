package bff

import (
	"context"
	"sync"
	"time"
)

// contactApplyEvery is how often each replica applies the contact changes
// whose cool-down ended (device.Service.ApplyDueContactChanges). A change
// is also applied by the next GET /v1/me of its account, so this bounds
// only how long after its cool-down the old address still leads to the
// account when nobody looks: the safe side, the owner's address.
const contactApplyEvery = 5 * time.Second

// contactWorker applies due contact changes on this replica. Every
// replica runs one; the store applies each change once, and no state is
// kept here between rounds.
type contactWorker struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func (s *Server) startContactWorker() *contactWorker {
	w := &contactWorker{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(contactApplyEvery)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), contactApplyEvery)
			if _, err := s.devices.ApplyDueContactChanges(ctx, 100); err != nil {
				s.log.Warn("applying due contact changes", "error", err.Error())
			}
			cancel()
		}
	}()
	return w
}

// Close stops the worker and waits for its round to end.
func (w *contactWorker) Close() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}
