package store

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestDocKeyTable is the guard that keeps the data model on one page: every
// method of Keys names a key family, and doc.go's key table must have a row
// for it. It calls each method with dummy arguments (Bucket 42, strings
// "x"), takes the family from the real key (the part after the prefix and
// before the first ':', or the whole name) and looks for the row that
// begins "{prefix}<family>", with the bucket tag written "{b1234}" when the
// key carries one. A key family added to keys.go without a row in doc.go
// fails here.
func TestDocKeyTable(t *testing.T) {
	raw, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatalf("reading the package doc: %v", err)
	}
	doc := string(raw)

	const prefix = "pc:"
	keys := reflect.ValueOf(Keys{prefix: prefix})
	// The callers that choose a family themselves: bff's rate limits all
	// pass "rl:" + a limit's name as RateLimit's kind.
	callerKinds := map[string]string{"RateLimit": "rl:x"}

	if keys.NumMethod() == 0 {
		t.Fatal("Keys has no methods")
	}
	for i := range keys.NumMethod() {
		name := keys.Type().Method(i).Name
		t.Run(name, func(t *testing.T) {
			m := keys.Method(i)
			var args []reflect.Value
			for j := range m.Type().NumIn() {
				switch in := m.Type().In(j); {
				case in == reflect.TypeFor[Bucket]():
					args = append(args, reflect.ValueOf(Bucket(42)))
				case in.Kind() == reflect.String && j == 0 && callerKinds[name] != "":
					args = append(args, reflect.ValueOf(callerKinds[name]).Convert(in))
				case in.Kind() == reflect.String:
					args = append(args, reflect.ValueOf("x").Convert(in))
				default:
					t.Fatalf("Keys.%s takes a %v; teach this test a dummy value for it", name, in)
				}
			}
			out := m.Call(args)
			if len(out) != 1 || out[0].Kind() != reflect.String {
				t.Fatalf("Keys.%s does not return one string", name)
			}
			key := out[0].String()
			rest, ok := strings.CutPrefix(key, prefix)
			if !ok {
				t.Fatalf("Keys.%s = %q does not begin with the prefix %q", name, key, prefix)
			}
			family, after, more := strings.Cut(rest, ":")
			want := "//\t{prefix}" + family + " " // a whole name, padded to the next column
			switch {
			case more && strings.HasPrefix(after, Bucket(42).Tag()):
				want = "//\t{prefix}" + family + ":{b1234}"
			case more:
				want = "//\t{prefix}" + family + ":"
			}
			if !strings.Contains(doc, want) {
				t.Errorf("Keys.%s = %q: doc.go's key table has no row beginning %q; add one (type, slot, TTL, writer)",
					name, key, strings.TrimPrefix(want, "//\t"))
			}
		})
	}
}
