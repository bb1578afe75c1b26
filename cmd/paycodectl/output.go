package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
)

// Human output shows values that users and attackers chose (labels,
// reasons, IPs): clean quotes any value with a control, format or
// non-printable character, so that it can neither move the cursor, recolour
// or clear the operator's terminal (ANSI escapes), reorder text (bidi
// overrides) nor forge extra lines or columns. -json output is the
// server's JSON, where such characters are escaped.

// clean returns s as it is when every rune is printable, else quoted.
func clean(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.QuoteToASCII(s)
		}
	}
	return s
}

// cleanField is clean, and also quotes an empty value or one with a space
// or '=', for key=value lists.
func cleanField(s string) string {
	if s == "" || strings.ContainsAny(s, " =\"") {
		return strconv.QuoteToASCII(s)
	}
	return clean(s)
}

// writeJSON writes b indented if it is JSON, else as it is.
func writeJSON(w io.Writer, b []byte) {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		out.Reset()
		out.Write(b)
	}
	if !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
		out.WriteByte('\n')
	}
	_, _ = w.Write(out.Bytes())
}

// decode parses a 2xx answer into v, keeping numbers as json.Number.
func decode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("the server answered with something that is not the expected JSON: %w", err)
	}
	return nil
}

// show prints a 2xx answer: as JSON with -json, else with human.
func (c *cli) show(body []byte, human func(w io.Writer) error) error {
	if c.opts.json {
		writeJSON(c.stdout, body)
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	if err := human(tw); err != nil {
		return err
	}
	return tw.Flush()
}

// showObject prints a JSON object as "key: value" lines, the keys in
// order first, then any others sorted.
func (c *cli) showObject(body []byte, order ...string) error {
	return c.show(body, func(w io.Writer) error {
		var m map[string]any
		if err := decode(body, &m); err != nil {
			return err
		}
		printObject(w, m, order...)
		return nil
	})
}

func printObject(w io.Writer, m map[string]any, order ...string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !slices.Contains(order, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range append(order, keys...) {
		if v, ok := m[k]; ok {
			fmt.Fprintf(w, "%s:\t%s\n", clean(k), text(v))
		}
	}
}

// text renders one JSON value for a human: strings as they are (cleaned),
// null as "-", objects and arrays as compact JSON.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		if v == "" {
			return "-"
		}
		return clean(v)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return "?"
		}
		return clean(string(b))
	}
}

// str is the string member k of m, or "".
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
