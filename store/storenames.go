package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// StoreName is the display name of a store (a shop: the store_id its
// terminals are registered with) in the app's languages, set by the
// operator. Shoppers see it in their history and in the app's messages
// instead of the raw id.
type StoreName struct {
	StoreID   string
	En        string
	Ja        string
	UpdatedAt time.Time
}

// PutStoreName sets (or replaces) a store's display names.
func (s *Store) PutStoreName(ctx context.Context, n StoreName) error {
	err := s.rdb.HSet(ctx, s.keys.StoreName(n.StoreID), "en", n.En, "ja", n.Ja,
		"updated_at", strconv.FormatInt(n.UpdatedAt.UnixMilli(), 10)).Err()
	if err != nil {
		return wrap("naming a store", err)
	}
	return nil
}

// StoreNames reads the display names of the given stores in one round
// trip (a pipeline: in a Cluster each name lives in its own slot). A store
// without a name is absent from the map.
func (s *Store) StoreNames(ctx context.Context, storeIDs ...string) (map[string]StoreName, error) {
	out := make(map[string]StoreName, len(storeIDs))
	if len(storeIDs) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make(map[string]*redis.SliceCmd, len(storeIDs))
	for _, id := range storeIDs {
		if _, seen := cmds[id]; !seen && id != "" {
			cmds[id] = pipe.HMGet(ctx, s.keys.StoreName(id), "en", "ja", "updated_at")
		}
	}
	if len(cmds) == 0 {
		return out, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap("reading store names", err)
	}
	for id, cmd := range cmds {
		v := cmd.Val()
		en, _ := v[0].(string)
		ja, _ := v[1].(string)
		if en == "" && ja == "" {
			continue
		}
		at, _ := v[2].(string)
		out[id] = StoreName{StoreID: id, En: en, Ja: ja, UpdatedAt: millis(at)}
	}
	return out, nil
}
