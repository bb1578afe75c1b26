package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

var enrollmentOrder = []string{"id", "state", "origin", "label", "ip", "created_at", "expires_at", "cooldown_until", "approved_by", "cancelled_by"}

// enrollmentList shows an account's live enrollments and its probation.
func enrollmentList(ctx context.Context, c *cli, name string, args []string) error {
	pos, err := c.parse(name, args, spec{args: []string{"ACCOUNT_ID"}})
	if err != nil {
		return err
	}
	body, err := c.api.get(ctx, "/v1/accounts/"+url.PathEscape(pos[0])+"/enrollments", nil)
	if err != nil {
		return err
	}
	return c.show(body, func(w io.Writer) error {
		var r struct {
			AccountID      string           `json:"account_id"`
			Enrollments    []map[string]any `json:"enrollments"`
			ProbationUntil any              `json:"probation_until"`
		}
		if err := decode(body, &r); err != nil {
			return err
		}
		fmt.Fprintf(w, "account:\t%s\n", text(r.AccountID))
		fmt.Fprintf(w, "probation_until:\t%s\n", text(r.ProbationUntil))
		if len(r.Enrollments) == 0 {
			fmt.Fprintln(w, "no live enrollments")
			return nil
		}
		fmt.Fprintln(w, "ID\tSTATE\tORIGIN\tLABEL\tIP\tCREATED\tEXPIRES\tAPPROVED_BY")
		for _, e := range r.Enrollments {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", text(e["id"]), text(e["state"]), text(e["origin"]),
				text(e["label"]), text(e["ip"]), text(e["created_at"]), text(e["expires_at"]), text(e["approved_by"]))
		}
		return nil
	})
}

// enrollmentApprove approves an enrollment after the operator checked the
// holder's identity (in a store) against the account.
func enrollmentApprove(ctx context.Context, c *cli, name string, args []string) error {
	var account string
	pos, err := c.parse(name, args, spec{args: []string{"ENROLLMENT_ID"}, change: true, flags: func(fs *flag.FlagSet) {
		fs.StringVar(&account, "account", "", "the account whose holder you identified; must be the enrollment's account; required")
	}})
	if err != nil {
		return err
	}
	if account == "" {
		return usagef("-account is required: the account whose holder you identified")
	}
	body, err := c.api.do(ctx, http.MethodPost, "/v1/enrollments/"+url.PathEscape(pos[0])+"/operator-approval", struct {
		AccountID string `json:"account_id"`
		changeBody
	}{account, c.change()})
	if err != nil {
		return err
	}
	return c.showObject(body, enrollmentOrder...)
}
