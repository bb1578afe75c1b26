package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Errors of a movement whose outcome the caller cannot know.
var (
	// ErrUnconfirmed means a write was sent but is not confirmed: its reply
	// was lost, or it was not on WaitReplicas replicas within WaitTimeout.
	// It may or may not have happened (and may still be lost in a
	// failover); a retry with the same idempotency key returns the stored
	// outcome if it survived and performs it once if it did not. It also
	// matches ErrUnavailable.
	ErrUnconfirmed error = unconfirmedError{}
)

type unconfirmedError struct{}

func (unconfirmedError) Error() string { return "outcome not confirmed" }

// Is makes errors.Is(err, ErrUnavailable) hold: an unconfirmed outcome is
// a dependency failure to the client (503 with Retry-After).
func (unconfirmedError) Is(target error) bool { return target == ErrUnavailable }

// evalDurable runs script on the master that owns keys[0]'s slot and,
// when WaitReplicas is set, WAITs on the same connection (WAIT counts the
// writes of its own connection) in the same round trip: one pipeline of
// EVALSHA and WAIT on a connection pinned to that master. It returns the
// script's reply, or:
//
//   - ErrUnavailable (wrapped) when the script could not be sent: nothing
//     happened;
//   - ErrUnconfirmed (wrapped) when it was sent and its reply was lost, or
//     fewer than WaitReplicas replicas acknowledged it in WaitTimeout;
//   - the script's own error (a refusal, not an outage) otherwise.
//
// Every script run this way must be idempotent on retry (the money
// scripts are: they replay the stored outcome of their idempotency key).
func (s *Store) evalDurable(ctx context.Context, script *redis.Script, keys []string, args ...any) (any, error) {
	if s.waitReplicas == 0 {
		res, err := script.Run(ctx, s.rdb, keys, args...).Result()
		if err != nil {
			return nil, sendError(err)
		}
		return res, nil
	}
	conn, err := s.masterConn(ctx, keys[0])
	if err != nil {
		s.noteFailure(ctx, err)
		return nil, wrap("reaching the slot's master", err)
	}
	defer conn.Close()
	res, acked, err := evalWait(ctx, conn, script.EvalSha, keys, args, s.waitReplicas, s.waitTimeout)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		res, acked, err = evalWait(ctx, conn, script.Eval, keys, args, s.waitReplicas, s.waitTimeout)
	}
	if err != nil {
		s.noteFailure(ctx, err)
		return nil, sendError(err)
	}
	if acked < int64(s.waitReplicas) {
		return res, fmt.Errorf("%w: %d of %d replicas acknowledged the write", ErrUnconfirmed, acked, s.waitReplicas)
	}
	return res, nil
}

// evalWait sends the script and WAIT in one pipeline on conn.
func evalWait(ctx context.Context, conn *redis.Conn,
	eval func(context.Context, redis.Scripter, []string, ...any) *redis.Cmd,
	keys []string, args []any, replicas int, timeout time.Duration) (any, int64, error) {
	var evalCmd *redis.Cmd
	var waitCmd *redis.Cmd
	_, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		evalCmd = eval(ctx, p, keys, args...)
		waitCmd = p.Do(ctx, "WAIT", replicas, timeout.Milliseconds())
		return nil
	})
	if evalCmd != nil && evalCmd.Err() != nil {
		return nil, 0, evalCmd.Err()
	}
	if err != nil {
		return nil, 0, err
	}
	acked, err := waitCmd.Int64()
	if err != nil {
		return nil, 0, err
	}
	return evalCmd.Val(), acked, nil
}

// masterConn pins a connection to the master that serves key: the one
// node for a single node or Sentinel group, the slot's master in a Cluster.
func (s *Store) masterConn(ctx context.Context, key string) (*redis.Conn, error) {
	switch c := s.rdb.(type) {
	case *redis.Client:
		return c.Conn(), nil
	case *redis.ClusterClient:
		m, err := c.MasterForKey(ctx, key)
		if err != nil {
			return nil, err
		}
		return m.Conn(), nil
	}
	return nil, fmt.Errorf("pinning a connection: unsupported client %T", s.rdb)
}

// sendError classifies the error of a write: refused before it reached
// Redis (nothing happened), a Redis refusal (nothing happened), or lost
// after it was sent (unknown outcome).
func sendError(err error) error {
	switch {
	case errors.Is(err, redis.Nil):
		return fmt.Errorf("moving money: %w", ErrNotFound)
	case notSent(err):
		return fmt.Errorf("moving money: %w: %w", ErrUnavailable, err)
	case isRedisReply(err):
		// Redis answered with an error: the script did not run (a
		// refusal such as NOREPLICAS or READONLY is checked before any
		// write) or failed before its first write.
		return wrap("moving money", err)
	case Unavailable(err):
		return fmt.Errorf("moving money: %w: %w", ErrUnconfirmed, err)
	}
	return fmt.Errorf("moving money: %w", err)
}

// notSent reports errors that mean the command never reached Redis: no
// connection could be made or had from the pool.
func notSent(err error) bool {
	if errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolExhausted) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// isRedisReply reports whether err is an error reply from Redis (as opposed
// to a network or context error).
func isRedisReply(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	// go-redis also uses redis.Error for a few client-side conditions;
	// those carry no Redis error prefix in upper case.
	msg := rerr.Error()
	word, _, _ := strings.Cut(msg, " ")
	return word != "" && strings.ToUpper(word) == word
}

// Replicas returns the fewest replicas connected to any master: what a
// WAIT could count on now. The embedded store has none.
func (s *Store) Replicas(ctx context.Context) (int, error) {
	if s.embedded != nil {
		return 0, nil
	}
	count := func(ctx context.Context, c *redis.Client) (int, error) {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return 0, wrap("reading the replication state", err)
		}
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
				var n int
				if _, err := fmt.Sscan(v, &n); err != nil {
					return 0, fmt.Errorf("reading the replication state: %q", line)
				}
				return n, nil
			}
		}
		return 0, errors.New("reading the replication state: no connected_slaves line")
	}
	switch c := s.rdb.(type) {
	case *redis.Client:
		return count(ctx, c)
	case *redis.ClusterClient:
		var mu sync.Mutex
		fewest := -1
		err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			n, err := count(ctx, m)
			if err != nil {
				return err
			}
			mu.Lock()
			if fewest < 0 || n < fewest {
				fewest = n
			}
			mu.Unlock()
			return nil
		})
		if fewest < 0 {
			fewest = 0
		}
		return fewest, err
	}
	return 0, fmt.Errorf("reading the replication state: unsupported client %T", s.rdb)
}

// Why names, for an operator, why a failed Check failed: "refuses_writes:
// <WORD>" when Redis answered with a refusal (NOREPLICAS, READONLY,
// MASTERDOWN, LOADING, CLUSTERDOWN, TRYAGAIN, ...), "timeout" when it did
// not answer in time, "unreachable" when no connection could be made, and
// "failed" otherwise. It never repeats more of the error than its first
// word, which carries no data.
func Why(err error) string {
	switch {
	case err == nil:
		return ""
	case isRedisReply(err):
		var rerr redis.Error
		errors.As(err, &rerr)
		word, _, _ := strings.Cut(rerr.Error(), " ")
		return "refuses_writes: " + word
	case notSent(err):
		return "unreachable"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timeout"
	case Unavailable(err):
		return "unreachable"
	}
	return "failed"
}

func isTimeout(err error) bool {
	var nerr net.Error
	return errors.As(err, &nerr) && nerr.Timeout()
}
