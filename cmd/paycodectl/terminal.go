package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/paycode/paycode/tokens"
)

// changeBody is the operator and reason every change carries.
type changeBody struct {
	Operator string `json:"operator"`
	Reason   string `json:"reason"`
}

func (c *cli) change() changeBody { return changeBody{c.opts.operator, c.opts.reason} }

var terminalOrder = []string{"terminal_id", "store_id", "label", "status", "created_at", "unknown_codes_recent"}

// terminalRegister registers a store terminal's public key.
func terminalRegister(ctx context.Context, c *cli, name string, args []string) error {
	var storeID, label, keyFile string
	_, err := c.parse(name, args, spec{change: true, flags: func(fs *flag.FlagSet) {
		fs.StringVar(&storeID, "store", "", "store id the terminal belongs to; required")
		fs.StringVar(&label, "label", "", "the terminal's label, e.g. \"lane 1\"; required")
		fs.StringVar(&keyFile, "key", "", "the terminal's PUBLIC key PEM file (paycode-terminal keygen prints it), or - for standard input")
		fs.StringVar(&keyFile, "public-key-file", "", "the same as -key: a PEM file, or - to read it from standard input (the scanner page's key, pasted)")
	}})
	if err != nil {
		return err
	}
	switch {
	case storeID == "":
		return usagef("-store is required")
	case label == "":
		return usagef("-label is required")
	case keyFile == "":
		return usagef("-public-key-file (or -key) is required: the terminal's public key PEM file, or - for standard input")
	}
	pemText, err := readPublicKey(keyFile)
	if err != nil {
		return err
	}
	body, err := c.api.do(ctx, http.MethodPost, "/v1/terminals", struct {
		changeBody
		StoreID      string `json:"store_id"`
		Label        string `json:"label"`
		PublicKeyPEM string `json:"public_key_pem"`
	}{c.change(), storeID, label, pemText})
	if err != nil {
		return err
	}
	return c.showObject(body, terminalOrder...)
}

// stdin is where "-public-key-file -" reads (tests replace it).
var stdin io.Reader = os.Stdin

// readPublicKey reads and checks a PEM PUBLIC KEY from a file, or from
// standard input for "-". A private key is refused before anything is
// sent: it must never leave the terminal.
func readPublicKey(file string) (string, error) {
	var r io.Reader = stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return "", usagef("-key: %v", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return "", usagef("-key: %v", err)
	}
	if strings.Contains(string(b), "PRIVATE KEY") {
		return "", usagef("-key %s holds a PRIVATE key: give the public key (paycode-terminal keygen prints it); the private key stays on the terminal", file)
	}
	if _, err := tokens.ParsePublicKeyPEM(b); err != nil {
		return "", usagef("-key %s: %v", file, err)
	}
	return string(b), nil
}

// terminalGet shows a terminal and its recent unknown-code count.
func terminalGet(ctx context.Context, c *cli, name string, args []string) error {
	pos, err := c.parse(name, args, spec{args: []string{"ID"}})
	if err != nil {
		return err
	}
	body, err := c.api.get(ctx, "/v1/terminals/"+url.PathEscape(pos[0]), nil)
	if err != nil {
		return err
	}
	return c.showObject(body, terminalOrder...)
}

// terminalStatus suspends or reactivates a terminal (action "suspend" or
// "activate").
func terminalStatus(action string) leaf {
	return func(ctx context.Context, c *cli, name string, args []string) error {
		pos, err := c.parse(name, args, spec{args: []string{"ID"}, change: true})
		if err != nil {
			return err
		}
		path := fmt.Sprintf("/v1/terminals/%s/%s", url.PathEscape(pos[0]), action)
		body, err := c.api.do(ctx, http.MethodPost, path, c.change())
		if err != nil {
			return err
		}
		return c.showObject(body, "terminal_id", "status")
	}
}

// terminalPair creates a one-time pairing code for a store's new terminal
// (the scanner page redeems it with its own key) and prints it with its
// expiry. The code is shown once; the server keeps only a keyed hash.
func terminalPair(ctx context.Context, c *cli, name string, args []string) error {
	var storeID, label string
	_, err := c.parse(name, args, spec{change: true, flags: func(fs *flag.FlagSet) {
		fs.StringVar(&storeID, "store", "", "store id the terminal will belong to; required")
		fs.StringVar(&label, "label", "", "the terminal's label, e.g. \"register 2\"; required")
	}})
	if err != nil {
		return err
	}
	switch {
	case storeID == "":
		return usagef("-store is required")
	case label == "":
		return usagef("-label is required")
	}
	body, err := c.api.do(ctx, http.MethodPost, "/v1/terminal-pairings", struct {
		changeBody
		StoreID string `json:"store_id"`
		Label   string `json:"label"`
	}{c.change(), storeID, label})
	if err != nil {
		return err
	}
	return c.showObject(body, "pairing_code", "expires_at", "store_id", "label")
}
