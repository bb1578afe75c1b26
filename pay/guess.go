package pay

import (
	"context"
	"strconv"
	"time"

	"github.com/paycode/paycode/store"
)

// GuessWindow is the window in which a terminal's unknown codes count: the
// count starts with the first unknown code and ends GuessWindow later.
const GuessWindow = 10 * time.Minute

// GuessPolicy is how many unknown codes a terminal may send in GuessWindow
// (PAYCODE_GUESS_THROTTLE 10, PAYCODE_GUESS_SUSPEND 30): a scanner trying
// codes is treated as compromised.
type GuessPolicy struct {
	// Throttle: from this many, the terminal's code movements are refused
	// with ErrThrottled (429) until the window ends.
	Throttle int64
	// Suspend: the unknown code that brings the count to this many suspends
	// the terminal (audited); at least Throttle.
	Suspend int64
}

// EventTerminalSuspended is the audit event of a suspension for guessing.
const EventTerminalSuspended = "terminal.suspended"

// throttle refuses a code movement from a terminal that has reached the
// throttle in the current window. It comes before every answer that depends
// on the code, so a throttled terminal learns nothing about any code; the
// refused call is counted as a guess (guess), so a scanner that keeps
// trying while throttled reaches the suspension.
func (s *Service) throttle(ctx context.Context, kind store.Kind, req CodeRequest) (*Outcome, error) {
	n, err := s.store.Guesses(ctx, req.Terminal.ID, s.cfg.Now())
	if err != nil {
		return nil, err
	}
	if n < s.cfg.Guessing.Throttle {
		return nil, nil
	}
	out, err := s.guess(ctx, kind, req)
	if err == nil && out != nil { // the window ended meanwhile: still refused, the code was not tried
		err = ErrThrottled
	}
	return out, err
}

// guess counts a guess (an unknown code, or a call refused by the
// throttle) and answers it, in one atomic step in the store: the count and
// the suspension decided together. A count within Throttle is declined
// code_unknown; past it the call is ErrThrottled (with the Outcome, for its
// Suspended flag). The call whose count reaches Suspend suspends the
// terminal and audits it; of calls racing past the threshold only the one
// that changed the terminal's status does.
func (s *Service) guess(ctx context.Context, kind store.Kind, req CodeRequest) (*Outcome, error) {
	now := s.cfg.Now()
	g, err := s.store.CountGuess(ctx, req.Terminal.ID, now, GuessWindow, s.cfg.Guessing.Suspend)
	if err != nil {
		return nil, err
	}
	out := declined(kind, req.Amount, req.Currency, store.DeclineCodeUnknown)
	if g.Suspended {
		out.Suspended = true
		s.audit.Audit(ctx, store.AuditEvent{
			Type: EventTerminalSuspended, Actor: "system", IP: req.Caller.IP, RequestID: req.Caller.RequestID, Time: now,
			Fields: map[string]string{"terminal": req.Terminal.ID, "store": req.Terminal.StoreID,
				"reason": "code_guessing", "unknown_codes": strconv.FormatInt(g.N, 10)},
		})
	}
	if g.N > s.cfg.Guessing.Throttle {
		return out, ErrThrottled
	}
	return out, nil
}
