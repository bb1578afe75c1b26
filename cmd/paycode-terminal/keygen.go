package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/paycode/paycode/tokens"
)

// keygen writes a new terminal private key and prints its public key.
func keygen(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("paycode-terminal keygen", flag.ContinueOnError)
	flags.SetOutput(stderr)
	out := flags.String("out", "", "file to write the private key to (PKCS#8 PEM, mode 0600); required")
	alg := flags.String("alg", tokens.AlgES256, "key algorithm: ES256 (P-256) or EdDSA (Ed25519)")
	force := flags.Bool("force", false, "overwrite -out if it exists")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	switch {
	case flags.NArg() != 0:
		fmt.Fprintf(stderr, "paycode-terminal keygen: unexpected arguments %q\n", flags.Args())
		return exitUsage
	case *out == "":
		fmt.Fprintln(stderr, "paycode-terminal keygen: -out is required")
		return exitUsage
	case *alg != tokens.AlgES256 && *alg != tokens.AlgEdDSA:
		fmt.Fprintf(stderr, "paycode-terminal keygen: -alg %q is not ES256 or EdDSA\n", *alg)
		return exitUsage
	}

	key, err := tokens.GenerateSigningKey(*alg)
	if err == nil {
		err = writeKey(*out, key, *force)
	}
	var pub []byte
	if err == nil {
		pub, err = tokens.MarshalPublicKeyPEM(key.Private.Public())
	}
	if err != nil {
		fmt.Fprintf(stderr, "paycode-terminal keygen: %v\n", err)
		return exitRefused
	}
	fmt.Fprintf(stderr, "paycode-terminal: wrote the %s private key to %s (keep it on the terminal)\n", *alg, *out)
	fmt.Fprintf(stderr, "paycode-terminal: key thumbprint %s; give the operator this public key to register:\n", key.KID)
	_, _ = stdout.Write(pub)
	return exitOK
}

// writeKey writes the private key PEM with mode 0600, refusing to replace an
// existing file unless force.
func writeKey(file string, key tokens.SigningKey, force bool) error {
	b, err := tokens.MarshalPrivateKeyPEM(key)
	if err != nil {
		return err
	}
	mode := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		mode = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(file, mode, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists; pass -force to replace it (the terminal's registered key would stop working)", file)
	}
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil { // an existing file keeps its mode otherwise
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
