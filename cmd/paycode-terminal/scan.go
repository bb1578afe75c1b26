package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// zbarimg is the decoder's command name, found on PATH.
const zbarimg = "zbarimg"

// scanImage reads the payment code from a barcode image with zbarimg and
// checks it as -code is checked. The digits are never printed.
func scanImage(ctx context.Context, file string) (string, error) {
	if _, err := os.Stat(file); err != nil {
		return "", fmt.Errorf("-image: %w", err)
	}
	path, err := exec.LookPath(zbarimg)
	if err != nil {
		return "", errors.New("-image needs zbarimg, which is not installed (Debian/Ubuntu: apt-get install zbar-tools; macOS: brew install zbar); or type the digits with -code")
	}
	if strings.HasPrefix(file, "-") {
		file = "./" + file // not an option
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "--raw", "-q", file)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == 4:
		return "", fmt.Errorf("-image: zbarimg found no barcode in %s", file)
	case err != nil:
		return "", fmt.Errorf("-image: zbarimg: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var found []string
	for _, line := range strings.Split(stdout.String(), "\n") {
		if line = strings.TrimSpace(line); line != "" && !slices.Contains(found, line) {
			found = append(found, line)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("-image: zbarimg found no barcode in %s", file)
	case 1:
	default:
		return "", fmt.Errorf("-image: %s holds %d different barcodes; crop it to the customer's code", file, len(found))
	}
	code, err := normalizeCode(found[0])
	if err != nil {
		return "", fmt.Errorf("-image: the barcode in %s is not a payment code: %w", file, err)
	}
	return code, nil
}
