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
// throttle in the current window. It is the one Redis read before a code is
// tried, and it comes before every answer that depends on the code.
func (s *Service) throttle(ctx context.Context, t Terminal) error {
	n, err := s.store.Guesses(ctx, t.ID)
	if err != nil {
		return err
	}
	if n >= s.cfg.Guessing.Throttle {
		return ErrThrottled
	}
	return nil
}

// unknownCode counts a guess and declines code_unknown. The request whose
// count reaches the suspension threshold suspends the terminal and audits
// it; of requests racing past the threshold, only the one that changed the
// terminal's status does.
func (s *Service) unknownCode(ctx context.Context, kind store.Kind, req CodeRequest) (*Outcome, error) {
	n, err := s.store.CountGuess(ctx, req.Terminal.ID, GuessWindow)
	if err != nil {
		return nil, err
	}
	out := declined(kind, req.Amount, req.Currency, store.DeclineCodeUnknown)
	if n < s.cfg.Guessing.Suspend {
		return out, nil
	}
	suspended, err := s.store.SuspendTerminal(ctx, req.Terminal.ID)
	if err != nil {
		return nil, err
	}
	if suspended {
		out.Suspended = true
		s.audit.Audit(ctx, store.AuditEvent{
			Type: EventTerminalSuspended, Actor: "system", IP: req.Caller.IP, RequestID: req.Caller.RequestID, Time: s.cfg.Now(),
			Fields: map[string]string{"terminal": req.Terminal.ID, "store": req.Terminal.StoreID,
				"reason": "code_guessing", "unknown_codes": strconv.FormatInt(n, 10)},
		})
	}
	return out, nil
}
