package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// setAccountLang writes the account's language if the account exists.
// KEYS: account. ARGV: lang.
var setAccountLang = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'lang', ARGV[1])
return 1
`)

// SetAccountLang sets the language of the account's notifications (the
// caller checks it is one the catalogue has). It returns ErrNotFound when
// there is no such account.
func (s *Store) SetAccountLang(ctx context.Context, accountID, lang string) error {
	b, err := BucketOf(accountID)
	if err != nil {
		return fmt.Errorf("setting an account's language: %w", ErrNotFound)
	}
	n, err := setAccountLang.Run(ctx, s.rdb, []string{s.keys.Account(b, accountID)}, lang).Int()
	if err != nil {
		return wrap("setting an account's language", err)
	}
	if n != 1 {
		return fmt.Errorf("setting an account's language: %w", ErrNotFound)
	}
	return nil
}
