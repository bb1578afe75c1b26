package store

import (
	"context"
	"net"

	"github.com/redis/go-redis/v9"
)

// followFailover makes a Cluster client re-read the slot map whenever a
// command fails to reach its node. go-redis reloads the map by itself only
// when a node answers MOVED or READONLY (or once a minute): a master that
// died answers nothing, so without this the slots a replica took over
// stay pointed at the dead node and every call of those accounts is 503
// until the old master comes back. ReloadState is lazy: concurrent calls
// coalesce into one CLUSTER SLOTS with a 200 ms cool-down.
type followFailover struct{ c *redis.ClusterClient }

func (f followFailover) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			f.c.ReloadState(ctx)
		}
		return conn, err
	}
}

func (f followFailover) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		f.note(ctx, err)
		return err
	}
}

func (f followFailover) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		f.note(ctx, err)
		return err
	}
}

// note reloads the slot map after a failure to reach a node, or a node
// that says the cluster is down or it no longer serves the slot.
func (f followFailover) note(ctx context.Context, err error) {
	if err == nil || !Unavailable(err) {
		return
	}
	f.c.ReloadState(ctx)
}

// noteFailure is followFailover for the commands sent on a connection
// pinned to one node (evalDurable), which bypass the Cluster client.
func (s *Store) noteFailure(ctx context.Context, err error) {
	if c, ok := s.rdb.(*redis.ClusterClient); ok && err != nil && Unavailable(err) {
		c.ReloadState(ctx)
	}
}
