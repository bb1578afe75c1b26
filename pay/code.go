package pay

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/tokens"
)

// Redeem pays for a sale with the customer's code.
//
// It returns the Outcome (approved, or declined with its reason),
// ErrThrottled when the terminal is past the guessing threshold (with an
// Outcome whose Suspended reports a suspension by this call),
// ErrIdempotencyMismatch when the Idempotency-Key was used with another
// body, store.ErrUnavailable (wrapped) when Redis could not be reached
// (no money moved), and store.ErrUnconfirmed (wrapped) when the movement
// was sent but is not confirmed (retry with the same key).
func (s *Service) Redeem(ctx context.Context, req CodeRequest) (*Outcome, error) {
	out, err := s.byCode(ctx, store.KindPayment, req, false)
	if err != nil {
		return throttledOutcome(out, err), fmt.Errorf("redeeming a code: %w", err)
	}
	return out, nil
}

// Topup credits cash paid at the register to the wallet of the customer's
// code. topupsOn is the operator's switch as the caller read it (a failed
// read must fail the call before it gets here). It returns what Redeem
// returns; with the switch off, or during probation, a known code is
// declined topups_disabled.
func (s *Service) Topup(ctx context.Context, req CodeRequest, topupsOn bool) (*Outcome, error) {
	out, err := s.byCode(ctx, store.KindTopup, req, !topupsOn)
	if err != nil {
		return throttledOutcome(out, err), fmt.Errorf("topping up by code: %w", err)
	}
	return out, nil
}

// byCode is a payment or a top-up, in the order of steps doc.go explains:
// parse (no Redis), throttle, currency, a code that does not parse is a
// guess, the atomic movement, an unknown code is a guess.
func (s *Service) byCode(ctx context.Context, kind store.Kind, req CodeRequest, topupsDisabled bool) (*Outcome, error) {
	code, err := tokens.ParseCode(req.Code, s.cfg.CodePrefix)
	if err != nil && !errors.Is(err, tokens.ErrInvalidCode) {
		return nil, err // the configured prefix is not one (New refuses it)
	}
	misread := err != nil
	if out, err := s.throttle(ctx, kind, req); out != nil || err != nil {
		return out, err
	}
	if req.Currency != s.cfg.Currency {
		return declined(kind, req.Amount, req.Currency, store.DeclineCurrencyMismatch), nil
	}
	if misread {
		return s.guess(ctx, kind, req)
	}
	now := s.cfg.Now()
	out, err := s.store.Move(ctx, store.Movement{
		Kind: kind, TerminalID: req.Terminal.ID, StoreID: req.Terminal.StoreID,
		Amount: req.Amount, Currency: req.Currency, OrderRef: req.OrderRef,
		CodeBucket: store.Bucket(code.Bucket()), CodeName: code.KeyedName(s.cfg.Secret),
		IdemKey:  s.keyHash(req.IdempotencyKey),
		BodyHash: s.bodyHash(string(kind), code.Digits(), strconv.FormatInt(req.Amount, 10), req.Currency, req.OrderRef),
		Now:      now, Day: s.day(now), Limits: s.cfg.Limits.forMovement(topupsDisabled),
		VoidBefore: req.VoidBefore,
	})
	if err != nil {
		return nil, err
	}
	// A replayed code_unknown was counted when it was first answered.
	if !out.Approved && out.Decline == store.DeclineCodeUnknown && !out.Replayed {
		return s.guess(ctx, kind, req)
	}
	return &Outcome{Kind: kind, Outcome: *out}, nil
}

// throttledOutcome keeps the Outcome of a throttled call (its Suspended
// flag: the caller counts the suspension) and drops any other.
func throttledOutcome(out *Outcome, err error) *Outcome {
	if errors.Is(err, ErrThrottled) {
		return out
	}
	return nil
}
