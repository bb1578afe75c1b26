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
	end := "+"
	if before != "" {
		end = "(" + before
	}
	msgs, err := s.rdb.XRevRangeN(ctx, s.keys.Ledger(b, accountID), end, "-", n).Result()
	if err != nil {
		return nil, wrap("reading a ledger page", err)
	}
	out := make([]LedgerEntry, 0, len(msgs))
	for _, x := range msgs {
		out = append(out, ledgerEntry(x))
	}
	return out, nil
}
