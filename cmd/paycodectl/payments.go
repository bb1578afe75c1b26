package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// storePayments lists a store's payments, top-ups and refunds, newest
// first, one page (-limit) at a time: the last line names the -cursor of
// the next page.
func storePayments(ctx context.Context, c *cli, name string, args []string) error {
	var from, to, cursor string
	var limit int
	pos, err := c.parse(name, args, spec{args: []string{"STORE_ID"}, flags: func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "only from this time on (RFC 3339, e.g. 2026-11-29T00:00:00+09:00)")
		fs.StringVar(&to, "to", "", "only before this time (RFC 3339)")
		fs.IntVar(&limit, "limit", 50, "page size, 1-200")
		fs.StringVar(&cursor, "cursor", "", "the next_cursor a previous page printed")
	}})
	if err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	for flagName, v := range map[string]string{"from": from, "to": to} {
		if v == "" {
			continue
		}
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return usagef("-%s %q is not an RFC 3339 time (e.g. 2026-11-29T00:00:00+09:00)", flagName, v)
		}
		q.Set(flagName, v)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	body, err := c.api.get(ctx, "/v1/stores/"+url.PathEscape(pos[0])+"/payments", q)
	if err != nil {
		return err
	}
	return c.show(body, func(w io.Writer) error {
		var r struct {
			Payments   []map[string]any `json:"payments"`
			NextCursor any              `json:"next_cursor"`
		}
		if err := decode(body, &r); err != nil {
			return err
		}
		if len(r.Payments) == 0 {
			fmt.Fprintln(w, "no payments")
			return nil
		}
		fmt.Fprintln(w, "ID\tKIND\tAMOUNT\tREFUNDED\tCURRENCY\tSTATUS\tTERMINAL\tORDER_REF\tPAYMENT\tCREATED")
		for _, p := range r.Payments {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", text(p["id"]), text(p["kind"]), text(p["amount"]),
				text(p["refunded_amount"]), text(p["currency"]), text(p["status"]), text(p["terminal_id"]), text(p["order_ref"]),
				text(p["payment_id"]), text(p["created_at"]))
		}
		if r.NextCursor != nil {
			fmt.Fprintf(w, "next page:\t-cursor %s\n", text(r.NextCursor))
		}
		return nil
	})
}

// paymentRefund refunds (part of) a payment as an operator. The
// Idempotency-Key is -idempotency-key, or else derived from the payment,
// the amount, the operator and the reason: running the same command again
// (after a timeout, say) refunds once. To refund the same amount twice on
// purpose, give another reason or key.
func paymentRefund(ctx context.Context, c *cli, name string, args []string) error {
	var amount int64
	var key string
	pos, err := c.parse(name, args, spec{args: []string{"PAYMENT_ID"}, change: true, flags: func(fs *flag.FlagSet) {
		fs.Int64Var(&amount, "amount", 0, "how much to refund, in minor units (yen); required")
		fs.StringVar(&key, "idempotency-key", "", "the refund's Idempotency-Key; default: derived from the payment, amount, operator and reason")
	}})
	if err != nil {
		return err
	}
	if amount <= 0 {
		return usagef("-amount is required: a positive amount in minor units")
	}
	if key == "" {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s\x1f%d\x1f%s\x1f%s", pos[0], amount, c.opts.operator, c.opts.reason)))
		key = "paycodectl-" + hex.EncodeToString(h[:16])
	}
	body, err := c.api.doWith(ctx, http.MethodPost, "/v1/payments/"+url.PathEscape(pos[0])+"/refunds", struct {
		changeBody
		Amount int64 `json:"amount"`
	}{c.change(), amount}, map[string]string{"Idempotency-Key": key})
	if err != nil {
		return err
	}
	return c.showObject(body, "refund_id", "payment_id", "status", "amount", "store_id")
}
