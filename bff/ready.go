package bff

import (
	"context"
	"time"

	"github.com/paycode/paycode/store"
)

// readyInterval is how often each replica checks its Redis for the
// paycode_store_ready gauge, whether or not anything calls /readyz: the
// gauge is set at start (New checks once before it returns) and stays
// current, so a dashboard or an alert sees a replica that lost its Redis
// within this interval even when no orchestrator probes it.
const readyInterval = 5 * time.Second

// readyTimeout bounds one check (as /readyz does).
const readyTimeout = 2 * time.Second

// checkReady runs the readiness round trip (write, read, delete) and sets
// the gauge from it, then reads the outbox's backlog; it returns the
// store's error.
func (s *Server) checkReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	err := s.store.Check(ctx)
	if err != nil {
		s.metrics.ready.Set(0)
		return err
	}
	s.metrics.ready.Set(1)
	if s.outbox != nil {
		if b, berr := s.outbox.NotifyBacklog(ctx, s.now()); berr == nil {
			s.metrics.outboxPending.Set(float64(b.Pending))
			s.metrics.outboxOldest.Set(b.Oldest.Seconds())
			s.metrics.outboxDead.Set(float64(b.Dead))
		}
	}
	return nil
}

// startReadiness checks once, then every interval until Close.
func (s *Server) startReadiness(interval time.Duration) {
	if interval <= 0 {
		interval = readyInterval
	}
	s.readyStop, s.readyDone = make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(store.Background(context.Background(), "readiness"))
	err := s.checkReady(ctx)
	if err != nil {
		s.log.Warn("store not ready at start", "error", err.Error())
	}
	was := err == nil
	go func() {
		defer close(s.readyDone)
		defer cancel()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-s.readyStop:
				return
			case <-tick.C:
				err := s.checkReady(ctx)
				if now := err == nil; now != was {
					if now {
						s.log.Info("store ready again")
					} else {
						s.log.Warn("store not ready", "error", err.Error())
					}
					was = now
				}
			}
		}
	}()
	go func() {
		<-s.readyStop
		cancel() // a check in flight ends now, not at its timeout
	}()
}

// stopReadiness ends the loop and waits for it; it may be called again.
func (s *Server) stopReadiness() {
	s.readyOnce.Do(func() { close(s.readyStop) })
	<-s.readyDone
}
