package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/paycode/paycode/tokens"
)

// keygen writes a new terminal private key to -out and its public key next
// to it (publicKeyFile: lane1.pem → lane1.pub.pem, the file the operator
// registers), and prints the public key.
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

	pubFile := publicKeyFile(*out)
	var err error
	if !*force {
		// Refuse before writing anything: a new private key next to an old
		// public key file would register the wrong key.
		if _, serr := os.Lstat(pubFile); serr == nil {
			err = fmt.Errorf("%s exists; pass -force to replace it and %s", pubFile, *out)
		}
	}
	var key tokens.SigningKey
	if err == nil {
		key, err = tokens.GenerateSigningKey(*alg)
	}
	var pub []byte
	if err == nil {
		pub, err = tokens.MarshalPublicKeyPEM(key.Private.Public())
	}
	if err == nil {
		err = writeKey(*out, key, *force)
	}
	if err == nil {
		err = writeFile(pubFile, pub, 0o644, *force)
	}
	if err != nil {
		fmt.Fprintf(stderr, "paycode-terminal keygen: %v\n", err)
		return exitRefused
	}
	fmt.Fprintf(stderr, "paycode-terminal: wrote the %s private key to %s (keep it on the terminal)\n", *alg, *out)
	fmt.Fprintf(stderr, "paycode-terminal: key thumbprint %s; wrote the public key to %s; give the operator that file to register:\n", key.KID, pubFile)
	_, _ = stdout.Write(pub)
	return exitOK
}

// publicKeyFile is where keygen writes the public key of the private key
// file out: its name without ".pem", then ".pub.pem".
func publicKeyFile(out string) string {
	return strings.TrimSuffix(out, ".pem") + ".pub.pem"
}

// writeKey writes the private key PEM with mode 0600, refusing to replace an
// existing file unless force.
func writeKey(file string, key tokens.SigningKey, force bool) error {
	b, err := tokens.MarshalPrivateKeyPEM(key)
	if err != nil {
		return err
	}
	return writeFile(file, b, 0o600, force)
}

// writeFile writes b to file with perm, refusing to replace an existing
// file unless force.
func writeFile(file string, b []byte, perm os.FileMode, force bool) error {
	mode := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		mode = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(file, mode, perm)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists; pass -force to replace it (the terminal's registered key would stop working)", file)
	}
	if err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil { // an existing file keeps its mode otherwise
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
