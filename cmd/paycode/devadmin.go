package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"

	"github.com/paycode/paycode/config"
)

// devAdminToken gives a dev server an admin token when PAYCODE_ADMIN_TOKEN
// is not set, so that the README's walk (register a terminal, take a
// payment) works on a fresh machine: 32 random bytes, hex, new on every
// start. It reports whether it made one. Production never gets here
// without a token (config refuses to start), and never gets one made.
func devAdminToken(cfg *config.Config) (generated bool, err error) {
	if cfg.Env != config.Dev || cfg.AdminToken != "" {
		return false, nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return false, fmt.Errorf("generating the dev admin token: %w", err)
	}
	cfg.AdminToken = hex.EncodeToString(b[:])
	return true, nil
}

// announceAdmin prints, in dev mode only, where the admin API is and the
// token it takes, as a paycodectl line ready to paste. It writes to the
// console (stderr), never to the JSON log: a token is never a log field.
// In production it prints nothing.
func announceAdmin(w io.Writer, cfg *config.Config, adminAddr string, generated bool) {
	if cfg.Env != config.Dev || cfg.AdminToken == "" || w == nil {
		return
	}
	host, port, err := net.SplitHostPort(adminAddr)
	if err != nil {
		return
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, port)
	origin := "from PAYCODE_ADMIN_TOKEN"
	if generated {
		origin = "generated for this run; set PAYCODE_ADMIN_TOKEN to keep one"
	}
	fmt.Fprintf(w, "\npaycode (dev): operator calls go to the admin API at %s with this admin token (%s).\n", url, origin)
	fmt.Fprintf(w, "Dev mode only: a production server never prints it. In another shell:\n\n")
	fmt.Fprintf(w, "  export PAYCODE_ADMIN_URL=%s PAYCODE_ADMIN_TOKEN=%s PAYCODE_OPERATOR=dev\n", url, cfg.AdminToken)
	fmt.Fprintf(w, "  go run ./cmd/paycodectl status\n\n")
}
