package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pairing codes: an operator hands a new terminal (the scanner page) a
// one-time code; the page redeems it once, with its public key, and
// becomes a registered terminal of the operator's store. The code itself is
// never stored: the caller names the pairing by the id the terminal will
// get, a keyed hash of the code (bff), and the record lives under the
// Pairing key until it is redeemed or expires.

// Pairing is an open pairing code's record.
type Pairing struct {
	// TerminalID is the id the redeeming terminal gets (a keyed hash of
	// the code: the code cannot be read back from it).
	TerminalID string
	StoreID    string
	Label      string
	// Operator is who created it.
	Operator  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreatePairing stores an open pairing for p.ExpiresAt - p.CreatedAt
// (redemption checks ExpiresAt against its own clock too). It returns
// ErrExists when a pairing or a terminal with p.TerminalID exists already
// (the caller draws another code).
func (s *Store) CreatePairing(ctx context.Context, p Pairing) error {
	ok, err := createPairing.Run(ctx, s.rdb, []string{s.keys.Pairing(p.TerminalID), s.keys.Terminal(p.TerminalID)},
		p.TerminalID, p.StoreID, p.Label, p.Operator, p.CreatedAt.UnixMilli(), p.ExpiresAt.UnixMilli(),
		max(p.ExpiresAt.Sub(p.CreatedAt).Milliseconds(), 1)).Int()
	if err != nil {
		return wrap("creating a pairing", err)
	}
	if ok != 1 {
		return fmt.Errorf("creating a pairing: %w", ErrExists)
	}
	return nil
}

var createPairing = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'terminal', ARGV[1], 'store', ARGV[2], 'label', ARGV[3], 'operator', ARGV[4],
  'created_at', ARGV[5], 'expires_at', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return 1
`)

// RedeemPairing spends the pairing of terminalID and registers the
// terminal with publicKeyPEM, active, in the pairing's store and label, in
// one atomic step: of any number of concurrent redemptions of one code
// exactly one registers a terminal, and a spent, expired or unknown code
// registers nothing. It returns the registered terminal, or ErrNotFound for
// a code that is unknown, spent or expired (alike).
func (s *Store) RedeemPairing(ctx context.Context, terminalID, publicKeyPEM string, now time.Time) (*Terminal, error) {
	r, err := redeemPairing.Run(ctx, s.rdb, []string{s.keys.Pairing(terminalID), s.keys.Terminal(terminalID)},
		publicKeyPEM, now.UnixMilli(), TerminalActive, terminalID).StringSlice()
	if err != nil {
		return nil, wrap("redeeming a pairing", err)
	}
	if len(r) != 3 {
		return nil, fmt.Errorf("redeeming a pairing: %w", ErrNotFound)
	}
	return &Terminal{ID: terminalID, StoreID: r[1], Label: r[2], PublicKeyPEM: publicKeyPEM, Status: TerminalActive,
		CreatedAt: time.UnixMilli(now.UnixMilli()).UTC()}, nil
}

// redeemPairing: the pairing is deleted by the first redemption whatever
// its outcome; a terminal that exists already (impossible unless ids
// collide) is never overwritten.
var redeemPairing = redis.NewScript(`
local p = redis.call('HMGET', KEYS[1], 'store', 'label', 'expires_at')
if not p[1] then return {'none'} end
redis.call('DEL', KEYS[1])
if tonumber(p[3]) <= tonumber(ARGV[2]) or redis.call('EXISTS', KEYS[2]) == 1 then return {'none'} end
redis.call('HSET', KEYS[2], 'id', ARGV[4], 'store', p[1], 'label', p[2], 'public_key', ARGV[1],
  'status', ARGV[3], 'created_at', ARGV[2])
return {'ok', p[1], p[2]}
`)
