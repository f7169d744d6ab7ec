// Command cmafkit packages MP4 and MPEG-TS files into CMAF segments with HLS
// and DASH manifests, inspects inputs, serves outputs for preview and plans
// ABR ladders.
//
//	cmafkit package [flags] [INPUT...]   package (the embedded sample without INPUT)
//	cmafkit inspect [--json] FILE...     describe tracks and packageability
//	cmafkit serve [--addr A] DIR         serve DIR with a preview player
//	cmafkit live -o DIR [flags] INPUT... package a live stream and serve it
//	cmafkit ladder [flags]               plan an ABR ladder
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `cmafkit packages MP4 and MPEG-TS into CMAF segments with HLS and DASH manifests.

Usage:
  cmafkit package [flags] [INPUT...]   package inputs (renditions of one title); with no
                                       INPUT, the small sample ladder built into cmafkit
  cmafkit inspect [--json] FILE...     show tracks, codecs, GOPs, bitrates; can it be packaged?
  cmafkit serve [--addr ADDR] DIR      serve a packaged directory with a preview player
  cmafkit origin [flags] ROOT          package the titles under ROOT (directory or bucket) on request
  cmafkit live -o DIR [flags] INPUT... package a live stream (files replayed in real time) and serve it
  cmafkit ladder [flags]               plan an ABR ladder for a source; "ladder simulate" scores one

Run "cmafkit COMMAND --help" for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "cmafkit:", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	var u usageError
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// usageError marks command-line mistakes (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "package":
		return runPackage(ctx, rest, stdout, stderr)
	case "inspect":
		return runInspect(ctx, rest, stdout, stderr)
	case "origin":
		return runOrigin(ctx, rest, stdout, stderr)
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "live":
		return runLive(ctx, rest, stdout, stderr)
	case "ladder":
		return runLadder(ctx, rest, stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}
