package pay_test

import (
	"testing"

	"github.com/paycode/paycode/store"
	"github.com/paycode/paycode/text"
)

// Every decline reason is a message of the catalogue, keyed by the reason
// itself, so the 402's detail (and a client's translation by code) is the
// decline's text in every language.
func TestDeclinesHaveText(t *testing.T) {
	for _, d := range store.Declines() {
		e, ok := text.Lookup(text.ID(d))
		if !ok {
			t.Errorf("decline %s has no message", d)
			continue
		}
		if e.En == "" || e.Ja == "" || e.En == e.Ja {
			t.Errorf("decline %s: en %q, ja %q", d, e.En, e.Ja)
		}
	}
}
