package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// switchValues says, per switch, what values it takes; each returns the
// value to send or a usage error.
var switchValues = map[string]func(string) (string, error){
	"signups":           onOff,
	"topups":            onOff,
	"new_devices":       onOff,
	"reauth_after":      nowOrTime,
	"blocked_countries": countryList,
}

// switchOrder is the order an operator reads the switches in.
var switchOrder = []string{"signups", "topups", "new_devices", "reauth_after", "blocked_countries"}

func onOff(v string) (string, error) {
	if v != "on" && v != "off" {
		return "", usagef("the value must be on or off, not %q", v)
	}
	return v, nil
}

func nowOrTime(v string) (string, error) {
	if v == "now" {
		return v, nil
	}
	if _, err := time.Parse(time.RFC3339, v); err != nil {
		return "", usagef("the value must be now or an RFC 3339 time such as 2026-11-26T09:00:00Z, not %q", v)
	}
	return v, nil
}

// countryList accepts ISO 3166-1 alpha-2 codes separated by commas, or ""
// to block none.
func countryList(v string) (string, error) {
	if v == "" {
		return v, nil
	}
	for _, cc := range strings.Split(v, ",") {
		if len(cc) != 2 || !isLetter(cc[0]) || !isLetter(cc[1]) {
			return "", usagef("the value must be ISO 3166-1 alpha-2 codes separated by commas, such as JP,KR (\"\" for none); %q is not one", cc)
		}
	}
	return v, nil
}

func isLetter(b byte) bool { return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' }

// switchList shows the switches and their values.
func switchList(ctx context.Context, c *cli, name string, args []string) error {
	if _, err := c.parse(name, args, spec{}); err != nil {
		return err
	}
	body, err := c.api.get(ctx, "/v1/switches", nil)
	if err != nil {
		return err
	}
	return c.show(body, func(w io.Writer) error { return printSwitches(w, body) })
}

// printSwitches prints the server's switch view, {name: value}, as a
// table in the order of switchOrder. Lists print as the PUT takes them
// (comma-separated) and a value that is not set prints as "-". It also
// reads {"switches": {...}} and {"switches": [{name, value, ...}]}, whose
// other members go to a DETAILS column.
func printSwitches(w io.Writer, body []byte) error {
	var top map[string]any
	if err := decode(body, &top); err != nil {
		return err
	}
	var all any = top
	if s, ok := top["switches"]; ok {
		all = s
	}
	var rows [][3]string
	switch all := all.(type) {
	case map[string]any:
		for k, v := range all {
			value, details := switchEntry(v)
			rows = append(rows, [3]string{k, value, details})
		}
	case []any:
		for _, e := range all {
			m, _ := e.(map[string]any)
			n := str(m, "name")
			delete(m, "name")
			value, details := switchEntry(m)
			rows = append(rows, [3]string{n, value, details})
		}
	default:
		return fmt.Errorf("the server's switches are neither an object nor a list")
	}
	rank := func(n string) int {
		if i := slices.Index(switchOrder, n); i >= 0 {
			return i
		}
		return len(switchOrder)
	}
	slices.SortFunc(rows, func(a, b [3]string) int {
		if d := rank(a[0]) - rank(b[0]); d != 0 {
			return d
		}
		return strings.Compare(a[0], b[0])
	})
	withDetails := slices.ContainsFunc(rows, func(r [3]string) bool { return r[2] != "" })
	if withDetails {
		fmt.Fprintln(w, "NAME\tVALUE\tDETAILS")
	} else {
		fmt.Fprintln(w, "NAME\tVALUE")
	}
	for _, r := range rows {
		if withDetails {
			fmt.Fprintf(w, "%s\t%s\t%s\n", text(r[0]), r[1], r[2])
		} else {
			fmt.Fprintf(w, "%s\t%s\n", text(r[0]), r[1])
		}
	}
	return nil
}

// switchEntry splits an entry into its value and the other members as
// key=value pairs; an entry that is not an object is the value itself.
func switchEntry(v any) (string, string) {
	m, ok := v.(map[string]any)
	if !ok {
		return switchValue(v), ""
	}
	value := switchValue(m["value"])
	delete(m, "value")
	return value, pairs(m)
}

// switchValue renders a list of strings comma-separated ("-" when empty),
// anything else with text.
func switchValue(v any) string {
	list, ok := v.([]any)
	if !ok {
		return text(v)
	}
	if len(list) == 0 {
		return "-"
	}
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = text(e)
	}
	return strings.Join(parts, ",")
}

// pairs renders m as sorted key=value pairs.
func pairs(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := text(m[k])
		if s, ok := m[k].(string); ok {
			v = cleanField(s)
		}
		b.WriteString(cleanField(k) + "=" + v)
	}
	return b.String()
}

// switchSet sets one switch.
func switchSet(ctx context.Context, c *cli, name string, args []string) error {
	pos, err := c.parse(name, args, spec{args: []string{"NAME", "VALUE"}, change: true})
	if err != nil {
		return err
	}
	check, ok := switchValues[pos[0]]
	if !ok {
		return usagef("unknown switch %q; the switches are %s", pos[0], strings.Join(switchOrder, ", "))
	}
	value, err := check(pos[1])
	if err != nil {
		return err
	}
	body, err := c.api.do(ctx, http.MethodPut, "/v1/switches/"+url.PathEscape(pos[0]), struct {
		Value string `json:"value"`
		changeBody
	}{value, c.change()})
	if err != nil {
		return err
	}
	return c.show(body, func(w io.Writer) error { return printSwitches(w, body) })
}
