package main

import (
	"context"
	"flag"
	"net/http"
	"net/url"
	"time"
)

// Merchant webhooks: a store's endpoint for its sales (see the README's
// "Merchant webhooks").

var webhookOrder = []string{"store_id", "url", "secret", "created_at", "updated_at", "rotated_at", "previous_secret_valid_until"}

func webhookPath(storeID string) string { return "/v1/stores/" + url.PathEscape(storeID) + "/webhook" }

// webhookSet sets a store's endpoint URL. The first time, the answer shows
// the signing secret, once: hand it to the store.
func webhookSet(ctx context.Context, c *cli, name string, args []string) error {
	var u string
	pos, err := c.parse(name, args, spec{args: []string{"STORE_ID"}, change: true, flags: func(fs *flag.FlagSet) {
		fs.StringVar(&u, "url", "", "the store's https endpoint; required")
	}})
	if err != nil {
		return err
	}
	if u == "" {
		return usagef("-url is required")
	}
	body, err := c.api.do(ctx, http.MethodPut, webhookPath(pos[0]), struct {
		changeBody
		URL string `json:"url"`
	}{c.change(), u})
	if err != nil {
		return err
	}
	return c.showObject(body, webhookOrder...)
}

// webhookGet shows a store's endpoint (never its secret).
func webhookGet(ctx context.Context, c *cli, name string, args []string) error {
	pos, err := c.parse(name, args, spec{args: []string{"STORE_ID"}})
	if err != nil {
		return err
	}
	body, err := c.api.get(ctx, webhookPath(pos[0]), nil)
	if err != nil {
		return err
	}
	return c.showObject(body, webhookOrder...)
}

// webhookRotate gives the endpoint a new secret (shown once); the old one
// signs too for a day.
func webhookRotate(ctx context.Context, c *cli, name string, args []string) error {
	pos, err := c.parse(name, args, spec{args: []string{"STORE_ID"}, change: true})
	if err != nil {
		return err
	}
	body, err := c.api.do(ctx, http.MethodPost, webhookPath(pos[0])+"/rotate", c.change())
	if err != nil {
		return err
	}
	return c.showObject(body, webhookOrder...)
}

// webhookRemove removes the store's endpoint.
func webhookRemove(ctx context.Context, c *cli, name string, args []string) error {
	pos, err := c.parse(name, args, spec{args: []string{"STORE_ID"}, change: true})
	if err != nil {
		return err
	}
	body, err := c.api.do(ctx, http.MethodDelete, webhookPath(pos[0]), c.change())
	if err != nil {
		return err
	}
	return c.showObject(body, "store_id", "removed")
}

// webhookReplay sends the store's events of [from, to) again.
func webhookReplay(ctx context.Context, c *cli, name string, args []string) error {
	var from, to string
	pos, err := c.parse(name, args, spec{args: []string{"STORE_ID"}, change: true, flags: func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "start of the range, RFC 3339 (inclusive); required")
		fs.StringVar(&to, "to", "", "end of the range, RFC 3339 (exclusive; default now)")
	}})
	if err != nil {
		return err
	}
	if from == "" {
		return usagef("-from is required (RFC 3339, e.g. 2026-11-29T00:00:00+09:00)")
	}
	if to == "" {
		to = time.Now().UTC().Format(time.RFC3339)
	}
	body, err := c.api.do(ctx, http.MethodPost, webhookPath(pos[0])+"/replay", struct {
		changeBody
		From string `json:"from"`
		To   string `json:"to"`
	}{c.change(), from, to})
	if err != nil {
		return err
	}
	return c.showObject(body, "store_id", "from", "to", "queued")
}
