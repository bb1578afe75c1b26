package main

import (
	"context"
	"flag"
	"net/http"
	"net/url"
)

var storeOrder = []string{"store_id", "name", "updated_at"}

// storeName sets a store's display names, which shoppers see in their
// history and the app's messages instead of the store id.
func storeName(ctx context.Context, c *cli, name string, args []string) error {
	var en, ja string
	pos, err := c.parse(name, args, spec{args: []string{"STORE_ID"}, change: true, flags: func(fs *flag.FlagSet) {
		fs.StringVar(&en, "en", "", "the store's name in English, e.g. \"FamilyMart Shibuya\"; required")
		fs.StringVar(&ja, "ja", "", "the store's name in Japanese, e.g. \"ファミリーマート 渋谷店\"; required")
	}})
	if err != nil {
		return err
	}
	if en == "" || ja == "" {
		return usagef("-en and -ja are both required: shoppers see the name in their language")
	}
	body, err := c.api.do(ctx, http.MethodPut, "/v1/stores/"+url.PathEscape(pos[0]), struct {
		changeBody
		NameEn string `json:"name_en"`
		NameJa string `json:"name_ja"`
	}{c.change(), en, ja})
	if err != nil {
		return err
	}
	return c.showObject(body, storeOrder...)
}

// storeGet shows a store's display names.
func storeGet(ctx context.Context, c *cli, name string, args []string) error {
	pos, err := c.parse(name, args, spec{args: []string{"STORE_ID"}})
	if err != nil {
		return err
	}
	body, err := c.api.get(ctx, "/v1/stores/"+url.PathEscape(pos[0]), nil)
	if err != nil {
		return err
	}
	return c.showObject(body, storeOrder...)
}
