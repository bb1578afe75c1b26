package store

import (
	"strings"
	"testing"
)

// A script's KEYS and ARGV cannot drift from its body: a body that reads a
// parameter the script does not declare, or a declaration no one reads,
// stops the program at start-up (here: panics in newMoneyScript).
func TestMoneyScriptParametersCannotDrift(t *testing.T) {
	type call struct{ v string }
	keys := []scriptKey[call]{{"idem", func(*call) string { return "i" }}, {"code", func(*call) string { return "c" }}}
	args := []scriptArg[call]{{"body_hash", func(*call) any { return "h" }}, {"idem_ttl", func(*call) any { return 1 }},
		{"amount", func(c *call) any { return c.v }}}
	for _, tc := range []struct {
		name, body, panics string
	}{
		{"all read", "return {k_code, a_amount}", ""},
		{"a typo", "return {k_code, a_amout}", "a_amout"},
		{"never read", "return k_code", "a_amount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if (tc.panics == "") != (r == nil) || !strings.Contains(msg, tc.panics) {
					t.Errorf("panic = %v; want one naming %q", r, tc.panics)
				}
			}()
			s := newMoneyScript(keys, args, tc.body)
			k, a := s.keysAndArgs(&call{v: "7"})
			if strings.Join(k, ",") != "i,c" || len(a) != 3 || a[2] != "7" {
				t.Errorf("keys %v, args %v", k, a)
			}
		})
	}
	if !strings.Contains(payScript.src, "local a_probation_per_day = ARGV[24]") ||
		!strings.Contains(refundScript.src, "local k_refunds = KEYS[5]") {
		t.Error("the scripts' parameters are not where the callers' lists put them")
	}
}
