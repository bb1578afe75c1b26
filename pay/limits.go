package pay

import (
	"time"

	"github.com/paycode/paycode/store"
)

// Limits are the wallet limits from configuration, in minor units. They
// bound what a hijacked account can lose, and (the 7pay lesson) how much
// cash can be loaded onto one.
type Limits struct {
	PerPayment   int64 // each payment (PAYCODE_LIMIT_PAYMENT)
	PerDay       int64 // the day's payments (PAYCODE_LIMIT_DAY)
	PerTopup     int64 // each top-up (PAYCODE_LIMIT_TOPUP)
	TopupsPerDay int64 // how many top-ups a day (PAYCODE_LIMIT_TOPUPS_PER_DAY)
	// ProbationPerDay caps each payment and the day's payments while the
	// account is in probation after a device change; top-ups are then off
	// (PAYCODE_PROBATION_LIMIT_DAY).
	ProbationPerDay int64
}

// forMovement is what the script is given. The script itself applies
// probation, from the account it reads in the same atomic step, so that a
// device change between a check and the debit cannot escape it.
func (l Limits) forMovement(topupsDisabled bool) store.Limits {
	return store.Limits{PerPayment: l.PerPayment, PerDay: l.PerDay, PerTopup: l.PerTopup, TopupsPerDay: l.TopupsPerDay,
		ProbationPerDay: l.ProbationPerDay, TopupsDisabled: topupsDisabled}
}

// Allowance is what an account may move, as shown in its app: the
// configured limits, lowered the way the money script lowers them during
// probation.
type Allowance struct {
	PerPayment   int64
	PerDay       int64
	PerTopup     int64
	TopupsPerDay int64
	// ProbationUntil is when the account's probation ends; zero when it is
	// not in probation.
	ProbationUntil time.Time
}

// InProbation reports whether the allowance is lowered by probation.
func (a Allowance) InProbation() bool { return !a.ProbationUntil.IsZero() }

// Allowance returns the limits in force now for an account whose probation
// ends at probationUntil (zero: none). It does not show the operator's
// top-up switch, which is read when a top-up is made.
func (s *Service) Allowance(probationUntil time.Time) Allowance {
	l := s.cfg.Limits
	a := Allowance{PerPayment: l.PerPayment, PerDay: l.PerDay, PerTopup: l.PerTopup, TopupsPerDay: l.TopupsPerDay}
	if !probationUntil.IsZero() && s.cfg.Now().Before(probationUntil) {
		a.ProbationUntil = probationUntil
		a.PerPayment = min(l.PerPayment, l.ProbationPerDay)
		a.PerDay = min(l.PerDay, l.ProbationPerDay)
		a.TopupsPerDay = 0
	}
	return a
}
