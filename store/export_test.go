package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// EvalDurable exposes evalDurable to the package's external tests.
func (s *Store) EvalDurable(ctx context.Context, script *redis.Script, keys []string, args ...any) (any, error) {
	return s.evalDurable(ctx, script, keys, args...)
}

// DebugDumpNotifyQueue (test only) returns the raw queued entries as Redis holds them
// (tests: nothing readable may be there).
func (s *Store) DebugDumpNotifyQueue(ctx context.Context) (string, error) {
	msgs, err := s.rdb.XRange(ctx, s.keys.NotifyQueue(), "-", "+").Result()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, x := range msgs {
		fmt.Fprintf(&b, "%v\n", x.Values)
	}
	return b.String(), nil
}

// SalesKey (test only) names a store's sales log.
func (s *Store) SalesKey(storeID string) string { return s.keys.Sales(storeID) }

// PairingKey (test only) names the pairing of a future terminal.
func (s *Store) PairingKey(terminalID string) string { return s.keys.Pairing(terminalID) }
