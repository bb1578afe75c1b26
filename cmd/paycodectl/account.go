package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// accountStatus freezes or unfreezes an account (action "freeze" or
// "unfreeze").
func accountStatus(action string) leaf {
	return func(ctx context.Context, c *cli, name string, args []string) error {
		pos, err := c.parse(name, args, spec{args: []string{"ID"}, change: true})
		if err != nil {
			return err
		}
		path := fmt.Sprintf("/v1/accounts/%s/%s", url.PathEscape(pos[0]), action)
		body, err := c.api.do(ctx, http.MethodPost, path, c.change())
		if err != nil {
			return err
		}
		return c.showObject(body, "account_id", "status")
	}
}
