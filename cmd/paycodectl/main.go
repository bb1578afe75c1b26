package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// Exit statuses; see the package documentation.
const (
	exitOK          = 0
	exitRefused     = 1
	exitUsage       = 2
	exitUnavailable = 4
)

const usageText = `usage: paycodectl [global flags] <command> [arguments] [flags]

commands:
  status
  terminal register -store STORE -label LABEL -public-key-file public.pem|-
  terminal pair -store STORE -label LABEL      (a one-time pairing code for the scanner page)
  terminal get ID
  terminal suspend ID
  terminal activate ID
  store name STORE_ID -en NAME -ja NAME
  store get STORE_ID
  store payments STORE_ID [-from RFC3339] [-to RFC3339] [-limit N] [-cursor C]
  payment refund PAYMENT_ID -amount N [-idempotency-key K]
  account freeze ID
  account unfreeze ID
  enrollment list ACCOUNT_ID
  enrollment approve ENROLLMENT_ID -account ACCOUNT_ID
  switch list
  switch set NAME VALUE       (signups|topups|new_devices on|off, reauth_after now|RFC3339, blocked_countries JP,CN,...)
  audit [-account ID] [-limit N]

global flags (also accepted after the command):
  -admin-url URL     admin listener ($PAYCODE_ADMIN_URL, default ` + defaultAdminURL + `)
  -token-file FILE   file holding the admin token ($PAYCODE_ADMIN_TOKEN_FILE); else $PAYCODE_ADMIN_TOKEN
  -operator NAME     who acts ($PAYCODE_OPERATOR); required for every change
  -reason TEXT       why; required for every change
  -json              print the server's JSON instead of a summary
  -timeout D         timeout of the HTTP request (default 30s)

The admin token is never taken on the command line.
exit status: 0 ok, 1 refused by the server (4xx), 2 usage, 4 network error or 5xx/429 (unavailable)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program: it parses args (without the program name),
// writes results to stdout and messages to stderr, and returns the exit
// status.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	c := &cli{stdout: stdout, stderr: stderr, opts: optionsFromEnv(os.Getenv)}
	fs := flag.NewFlagSet("paycodectl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usageText) }
	c.opts.bind(fs)
	if err := refuseTokenFlag(args); err != nil {
		return c.exit("", err)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	cmd, rest := rest[0], rest[1:]
	var groups = map[string]map[string]leaf{
		"terminal": {
			"register": terminalRegister,
			"get":      terminalGet,
			"suspend":  terminalStatus("suspend"),
			"activate": terminalStatus("activate"),
			"pair":     terminalPair,
		},
		"store": {
			"name":     storeName,
			"get":      storeGet,
			"payments": storePayments,
		},
		"payment": {
			"refund": paymentRefund,
		},
		"account": {
			"freeze":   accountStatus("freeze"),
			"unfreeze": accountStatus("unfreeze"),
		},
		"enrollment": {
			"list":    enrollmentList,
			"approve": enrollmentApprove,
		},
		"switch": {
			"list": switchList,
			"set":  switchSet,
		},
	}
	switch cmd {
	case "status":
		return c.exit(cmd, status(ctx, c, cmd, rest))
	case "audit":
		return c.exit(cmd, audit(ctx, c, cmd, rest))
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	subs, ok := groups[cmd]
	if !ok {
		fmt.Fprintf(stderr, "paycodectl: unknown command %q\n\n%s", cmd, usageText)
		return exitUsage
	}
	if len(rest) == 0 {
		fmt.Fprintf(stderr, "paycodectl %s: missing subcommand\n\n%s", cmd, usageText)
		return exitUsage
	}
	f, ok := subs[rest[0]]
	if !ok {
		fmt.Fprintf(stderr, "paycodectl %s: unknown subcommand %q\n\n%s", cmd, rest[0], usageText)
		return exitUsage
	}
	name := cmd + " " + rest[0]
	return c.exit(name, f(ctx, c, name, rest[1:]))
}

// leaf runs one command with the arguments after its name. It writes its
// result to c.stdout and returns an error that exit maps to a status.
type leaf func(ctx context.Context, c *cli, name string, args []string) error

// cli is one invocation: where output goes, the global options, and (once
// a command's flags are parsed) the admin client.
type cli struct {
	stdout, stderr io.Writer
	opts           options
	api            *adminClient
}

// exit prints what err means and returns the exit status for it.
func (c *cli) exit(name string, err error) int {
	prefix := "paycodectl " + name
	if name == "" {
		prefix = "paycodectl"
	}
	var (
		ue *usageError
		he *httpError
		ne *netError
	)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "%s: %s\n", prefix, ue.msg)
		fmt.Fprintf(c.stderr, "run \"paycodectl help\" for the commands, \"%s -h\" for the flags\n", prefix)
		return exitUsage
	case errors.As(err, &he):
		return c.reportHTTP(name, he)
	case errors.As(err, &ne):
		fmt.Fprintf(c.stderr, "%s: unavailable: no answer from the admin listener: %v\n", prefix, ne.err)
		return exitUnavailable
	default:
		fmt.Fprintf(c.stderr, "%s: %v\n", prefix, err)
		return exitRefused
	}
}
