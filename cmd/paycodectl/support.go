package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Support: find an account by contact or enrollment id, show its wallet
// and ledger. Every call needs -operator and -reason: support reads are
// audited.

var supportAccountOrder = []string{"account_id", "status", "contact_kind", "contact_masked", "created_at", "device_id",
	"device_status", "language", "probation_until"}

// accountFind looks an account up by its contact (sent in the body, never
// in a URL) or by an enrollment id.
func accountFind(ctx context.Context, c *cli, name string, args []string) error {
	var contact, enrollment string
	_, err := c.parse(name, args, spec{change: true, flags: func(fs *flag.FlagSet) {
		fs.StringVar(&contact, "contact", "", "the account's e-mail address or E.164 phone number (exact)")
		fs.StringVar(&enrollment, "enrollment", "", "an enrollment (new-device request) id")
	}})
	if err != nil {
		return err
	}
	if (contact == "") == (enrollment == "") {
		return usagef("give exactly one of -contact or -enrollment")
	}
	body, err := c.api.do(ctx, http.MethodPost, "/v1/support/accounts/lookup", struct {
		changeBody
		Contact      string `json:"contact,omitempty"`
		EnrollmentID string `json:"enrollment_id,omitempty"`
	}{c.change(), contact, enrollment})
	if err != nil {
		return err
	}
	return c.show(body, func(w io.Writer) error {
		var r struct {
			Account    map[string]any `json:"account"`
			Enrollment map[string]any `json:"enrollment"`
		}
		if err := decode(body, &r); err != nil {
			return err
		}
		printObject(w, r.Account, supportAccountOrder...)
		if r.Enrollment != nil {
			fmt.Fprintln(w, "enrollment:")
			printObject(w, r.Enrollment, "enrollment_id", "state", "origin", "label", "created_at", "expires_at")
		}
		return nil
	})
}

func supportQuery(c *cli) url.Values {
	return url.Values{"operator": {c.opts.operator}, "reason": {c.opts.reason}}
}

// accountWallet shows an account, its balance and its newest movements.
func accountWallet(ctx context.Context, c *cli, name string, args []string) error {
	pos, err := c.parse(name, args, spec{args: []string{"ACCOUNT_ID"}, change: true})
	if err != nil {
		return err
	}
	body, err := c.api.get(ctx, "/v1/accounts/"+url.PathEscape(pos[0])+"/wallet", supportQuery(c))
	if err != nil {
		return err
	}
	return c.show(body, func(w io.Writer) error {
		var r struct {
			Account map[string]any   `json:"account"`
			Wallet  map[string]any   `json:"wallet"`
			Recent  []map[string]any `json:"recent"`
		}
		if err := decode(body, &r); err != nil {
			return err
		}
		printObject(w, r.Account, supportAccountOrder...)
		fmt.Fprintf(w, "balance\t%s %s\n", text(r.Wallet["balance"]), text(r.Wallet["currency"]))
		printLedger(w, r.Recent)
		return nil
	})
}

// accountLedger prints one page of an account's ledger, newest first.
func accountLedger(ctx context.Context, c *cli, name string, args []string) error {
	var limit int
	var cursor string
	pos, err := c.parse(name, args, spec{args: []string{"ACCOUNT_ID"}, change: true, flags: func(fs *flag.FlagSet) {
		fs.IntVar(&limit, "limit", 50, "entries per page, 1-200")
		fs.StringVar(&cursor, "cursor", "", "the cursor a previous page printed")
	}})
	if err != nil {
		return err
	}
	if limit < 1 || limit > 200 {
		return usagef("-limit must be 1 to 200")
	}
	q := supportQuery(c)
	q.Set("limit", strconv.Itoa(limit))
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	body, err := c.api.get(ctx, "/v1/accounts/"+url.PathEscape(pos[0])+"/ledger", q)
	if err != nil {
		return err
	}
	return c.show(body, func(w io.Writer) error {
		var r struct {
			Entries []map[string]any `json:"entries"`
			Next    any              `json:"next"`
		}
		if err := decode(body, &r); err != nil {
			return err
		}
		printLedger(w, r.Entries)
		if r.Next != nil {
			fmt.Fprintf(w, "next page:\t-cursor %s\n", text(r.Next))
		}
		return nil
	})
}

func printLedger(w io.Writer, entries []map[string]any) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no movements")
		return
	}
	fmt.Fprintln(w, "AT\tKIND\tAMOUNT\tBALANCE\tCURRENCY\tSTORE\tTERMINAL\tPAYMENT\tREFUND\tORDER_REF\tENTRY")
	for _, e := range entries {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", text(e["at"]), text(e["kind"]), text(e["amount"]),
			text(e["balance"]), text(e["currency"]), text(e["store_id"]), text(e["terminal_id"]), text(e["payment_id"]),
			text(e["refund_id"]), text(e["order_ref"]), text(e["id"]))
	}
}
