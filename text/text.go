package text

import (
	"sort"
	"strconv"
	"strings"
)

// Lang is a language the catalogue has.
type Lang string

// The languages of the catalogue. Default is what a client that asks for
// none of them gets.
const (
	En      Lang = "en"
	Ja      Lang = "ja"
	Default      = En
)

// Langs lists the catalogue's languages.
var Langs = []Lang{En, Ja}

// Parse returns the catalogue language of a tag such as "ja-JP" or "en",
// or false when the catalogue has none for it.
func Parse(tag string) (Lang, bool) {
	primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
	for _, l := range Langs {
		if string(l) == primary {
			return l, true
		}
	}
	return "", false
}

// ID is a message's stable name. Problem codes are IDs; never rename one.
type ID string

// Message is one occurrence of a message: its ID and its arguments.
type Message struct {
	ID   ID
	Args map[string]string
}

// M builds a Message from an ID and name/value pairs:
// M(EnrollmentOTP, "code", otp, "label", label).
func M(id ID, pairs ...string) Message {
	m := Message{ID: id}
	if len(pairs) > 0 {
		m.Args = make(map[string]string, len(pairs)/2)
		for i := 0; i+1 < len(pairs); i += 2 {
			m.Args[pairs[i]] = pairs[i+1]
		}
	}
	return m
}

// Entry is a message of the catalogue.
type Entry struct {
	ID ID
	En string
	Ja string
	// Context tells a translator where the text appears and what its
	// arguments are.
	Context string
}

func (e Entry) in(l Lang) string {
	if l == Ja {
		return e.Ja
	}
	return e.En
}

// Template is the entry's text in language l, placeholders unexpanded (what
// a client that renders messages itself receives).
func (e Entry) Template(l Lang) string { return e.in(l) }

// Placeholders lists the names of the entry's arguments, sorted (the same
// in every language).
func (e Entry) Placeholders() []string { return placeholders(e.En) }

var catalogue = map[ID]Entry{}

// register adds entries to the catalogue; message_*.go files call it from
// init. A duplicate or half-translated entry is a programming error.
func register(entries ...Entry) {
	for _, e := range entries {
		if _, dup := catalogue[e.ID]; dup {
			panic("text: duplicate message id " + string(e.ID))
		}
		if e.ID == "" || e.En == "" || e.Ja == "" {
			panic("text: message " + string(e.ID) + " lacks an id or a language")
		}
		catalogue[e.ID] = e
	}
}

// Has reports whether the catalogue has a message id.
func Has(id ID) bool {
	_, ok := catalogue[id]
	return ok
}

// Lookup returns the catalogue entry of id.
func Lookup(id ID) (Entry, bool) {
	e, ok := catalogue[id]
	return e, ok
}

// All returns the catalogue sorted by id (for tests and for exporting the
// tables to clients).
func All() []Entry {
	out := make([]Entry, 0, len(catalogue))
	for _, e := range catalogue {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Render writes m in language l. An unknown id renders as the id itself
// (and fails the catalogue test), a missing argument as its placeholder.
func Render(l Lang, m Message) string {
	e, ok := catalogue[m.ID]
	if !ok {
		return string(m.ID)
	}
	return expand(e.in(l), m.Args)
}

// Render is the method form of the package's Render.
func (m Message) Render(l Lang) string { return Render(l, m) }

// String renders m in the default language.
func (m Message) String() string { return Render(Default, m) }

// expand replaces {name} and {name!q} in tmpl.
func expand(tmpl string, args map[string]string) string {
	if !strings.Contains(tmpl, "{") {
		return tmpl
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		name := tmpl[i+1 : i+j]
		quote := strings.HasSuffix(name, "!q")
		name = strings.TrimSuffix(name, "!q")
		if v, ok := args[name]; ok {
			if quote {
				v = strconv.Quote(v)
			}
			b.WriteString(v)
		} else {
			b.WriteString(tmpl[i : i+j+1])
		}
		tmpl = tmpl[i+j+1:]
	}
}

// placeholders lists the argument names of a template, sorted.
func placeholders(tmpl string) []string {
	var names []string
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			break
		}
		names = append(names, strings.TrimSuffix(tmpl[i+1:i+j], "!q"))
		tmpl = tmpl[i+j+1:]
	}
	sort.Strings(names)
	return names
}

// Negotiate picks the catalogue language for an Accept-Language header
// (RFC 9110 §12.5.4): the highest-weighted language we have, ties broken
// by order; Default when none matches or the header is absent.
func Negotiate(acceptLanguage string) Lang {
	best, bestQ := Default, -1.0
	if len(acceptLanguage) > 512 {
		acceptLanguage = acceptLanguage[:512]
	}
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(part, ";")
		q := 1.0
		if p := strings.TrimSpace(params); strings.HasPrefix(p, "q=") {
			v, err := strconv.ParseFloat(p[2:], 64)
			if err != nil || v < 0 || v > 1 {
				continue
			}
			q = v
		}
		l, ok := Parse(tag)
		if !ok || q == 0 {
			continue
		}
		if q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}
