package text

import (
	"reflect"
	"testing"
)

// TestCatalogue checks every message: both languages present, the same
// placeholders in each, no stray braces.
func TestCatalogue(t *testing.T) {
	if len(All()) == 0 {
		t.Fatal("the catalogue is empty")
	}
	for _, e := range All() {
		if e.Context == "" {
			t.Errorf("%s: no context for translators", e.ID)
		}
		if pe, pj := placeholders(e.En), placeholders(e.Ja); !reflect.DeepEqual(pe, pj) {
			t.Errorf("%s: placeholders differ: en %v, ja %v", e.ID, pe, pj)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   Lang
	}{
		{"", En},
		{"ja", Ja},
		{"ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7", Ja},
		{"en-US,en;q=0.9,ja;q=0.8", En},
		{"fr-FR,fr;q=0.9", En},
		{"fr, ja;q=0.5", Ja},
		{"ja;q=0, en;q=0.1", En},
		{"ja;q=bogus", En},
		{"EN-gb", En},
		{"*", En},
	} {
		if got := Negotiate(tc.header); got != tc.want {
			t.Errorf("Negotiate(%q) = %s, want %s", tc.header, got, tc.want)
		}
	}
}

func TestExpand(t *testing.T) {
	for _, tc := range []struct {
		tmpl string
		args map[string]string
		want string
	}{
		{"plain", nil, "plain"},
		{"code {code}.", map[string]string{"code": "123456"}, "code 123456."},
		{"device ({label!q})", map[string]string{"label": `my "phone"`}, `device ("my \"phone\"")`},
		{"missing {x}", nil, "missing {x}"},
		{"unclosed {x", map[string]string{"x": "1"}, "unclosed {x"},
	} {
		if got := expand(tc.tmpl, tc.args); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.tmpl, got, tc.want)
		}
	}
}

func TestM(t *testing.T) {
	m := M("x", "a", "1", "b", "2")
	if m.ID != "x" || m.Args["a"] != "1" || m.Args["b"] != "2" {
		t.Fatalf("M = %+v", m)
	}
}
