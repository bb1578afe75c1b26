package store

import (
	"context"
	"fmt"
)

// LedgerPage reads up to n of the account's ledger entries, newest first,
// older than the entry id before (exclusive; "" starts at the newest). The
// last entry's id is the cursor of the next page.
func (s *Store) LedgerPage(ctx context.Context, accountID, before string, n int64) ([]LedgerEntry, error) {
	b, err := BucketOf(accountID)
	if err != nil {
		return nil, fmt.Errorf("reading a ledger page: %w", ErrNotFound)
	}
	res, err := s.ledger(ctx, b, accountID, before, n).Result()
	if err != nil {
		return nil, wrap("reading a ledger page", err)
	}
	return readLedger(res)
}
