package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
)

// audit shows the newest audit events, oldest first, one line each.
func audit(ctx context.Context, c *cli, name string, args []string) error {
	var (
		account string
		limit   int
	)
	_, err := c.parse(name, args, spec{flags: func(fs *flag.FlagSet) {
		fs.StringVar(&account, "account", "", "only this account's events")
		fs.IntVar(&limit, "limit", 0, "read the newest N events, 1-1000 (default: the server's, 100)")
	}})
	if err != nil {
		return err
	}
	q := url.Values{}
	if account != "" {
		q.Set("account", account)
	}
	if limit != 0 {
		if limit < 1 || limit > 1000 {
			return usagef("-limit must be between 1 and 1000")
		}
		q.Set("limit", strconv.Itoa(limit))
	}
	body, err := c.api.get(ctx, "/v1/audit", q)
	if err != nil {
		return err
	}
	return c.show(body, func(w io.Writer) error {
		var r struct {
			Events []struct {
				Time      any               `json:"time"`
				Type      string            `json:"type"`
				Actor     string            `json:"actor"`
				AccountID string            `json:"account_id"`
				DeviceID  string            `json:"device_id"`
				Fields    map[string]string `json:"fields"`
			} `json:"events"`
		}
		if err := decode(body, &r); err != nil {
			return err
		}
		if len(r.Events) == 0 {
			fmt.Fprintln(w, "no events")
			return nil
		}
		for _, e := range r.Events {
			fields := make(map[string]any, len(e.Fields)+1)
			for k, v := range e.Fields {
				fields[k] = v
			}
			if e.DeviceID != "" {
				fields["device"] = e.DeviceID
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", text(e.Time), text(e.Type), text(e.Actor), text(e.AccountID), pairs(fields))
		}
		return nil
	})
}
