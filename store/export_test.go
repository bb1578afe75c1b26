package store

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// EvalDurable exposes evalDurable to the package's external tests.
func (s *Store) EvalDurable(ctx context.Context, script *redis.Script, keys []string, args ...any) (any, error) {
	return s.evalDurable(ctx, script, keys, args...)
}
