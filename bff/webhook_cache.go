package bff

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/paycode/paycode/store"
)

// merchantStores is the replica's copy of which stores have a merchant
// webhook endpoint, so the payment path knows whether to queue a merchant
// event without reading Redis. A background loop re-reads it every
// merchantStoresTTL (one GET of the set's version; the set itself only
// when it changed); a change through this replica refreshes it at once.
// So an endpoint set on another replica is used here within about a
// second; a sale in that second is not sent (the operator's replay
// covers it). It holds store ids only, one per endpoint: bounded by the
// operator's configuration.
type merchantStores struct {
	ep   *store.WebhookEndpoints
	log  *slog.Logger
	mu   sync.RWMutex
	ver  int64
	ids  map[string]bool
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

const merchantStoresTTL = time.Second

func newMerchantStores(ep *store.WebhookEndpoints, log *slog.Logger) *merchantStores {
	m := &merchantStores{ep: ep, log: log, ver: -1, ids: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(store.Background(context.Background(), "merchant stores"), 2*time.Second)
	defer cancel()
	if err := m.refresh(ctx); err != nil {
		log.Warn("merchant webhook stores not read at start; retrying every second", "error", err.Error())
	}
	go m.run()
	return m
}

func (m *merchantStores) has(storeID string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.ids[storeID]
}

func (m *merchantStores) refresh(ctx context.Context) error {
	m.mu.RLock()
	known := m.ver
	m.mu.RUnlock()
	ver, ids, changed, err := m.ep.StoresWithEndpoints(ctx, known)
	if err != nil || !changed {
		return err
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	m.mu.Lock()
	m.ver, m.ids = ver, set
	m.mu.Unlock()
	return nil
}

func (m *merchantStores) run() {
	defer close(m.done)
	t := time.NewTicker(merchantStoresTTL)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(store.Background(context.Background(), "merchant stores"), 2*time.Second)
			if err := m.refresh(ctx); err != nil {
				m.log.Warn("merchant webhook stores not re-read", "error", err.Error())
			}
			cancel()
		}
	}
}

func (m *merchantStores) close() {
	m.once.Do(func() { close(m.stop) })
	<-m.done
}
