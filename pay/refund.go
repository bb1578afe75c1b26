package pay

import (
	"context"
	"fmt"
	"strconv"

	"github.com/paycode/paycode/store"
)

// Refund returns (part of) a payment made at the terminal's store to the
// customer's wallet. Outcome.PaymentID is then the refund's id.
//
// A payment that does not exist, is not a payment (a top-up) or was made at
// another store is declined store.DeclineNotFound, all alike, so that a
// terminal learns nothing of other stores' payments; an amount above what
// remains unrefunded is declined refund_exceeds_remaining. The errors are
// Redeem's, without ErrThrottled: refunds name a payment id of 120 random
// bits, not a code, and are not counted as guesses.
func (s *Service) Refund(ctx context.Context, req RefundRequest) (*Outcome, error) {
	now := s.cfg.Now()
	out, err := s.store.Move(ctx, store.Movement{
		Kind: store.KindRefund, TerminalID: req.Terminal.ID, StoreID: req.Terminal.StoreID,
		Amount: req.Amount, PaymentID: req.PaymentID,
		IdemKey:  s.keyHash(req.IdempotencyKey),
		BodyHash: s.bodyHash(string(store.KindRefund), req.PaymentID, strconv.FormatInt(req.Amount, 10)),
		Now:      now, Day: s.day(now), Merchant: s.merchant(req.Terminal),
	})
	if err != nil {
		return nil, fmt.Errorf("refunding a payment: %w", err)
	}
	return &Outcome{Kind: store.KindRefund, Outcome: *out}, nil
}
