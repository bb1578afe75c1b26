package main

import "context"

// status shows what the replica behind -admin-url runs on.
func status(ctx context.Context, c *cli, name string, args []string) error {
	if _, err := c.parse(name, args, spec{}); err != nil {
		return err
	}
	body, err := c.api.get(ctx, "/v1/status", nil)
	if err != nil {
		return err
	}
	return c.showObject(body, "env", "store", "public_url")
}
