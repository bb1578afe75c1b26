package main

import (
	"context"
	"io"
)

func seed(ctx context.Context, o *options, stdout, stderr io.Writer) int { return exitFailed }
