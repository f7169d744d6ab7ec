// Command wild collects public test media into a corpus and runs every file
// through cmafkit package and FFmpeg, to find what a new user would meet.
// It is not part of the module's packages (testdata is ignored by ./...);
// README.md in this directory says how to run it.
//
//	go run ./testdata/wild collect -o /work/corpus/wild NAME=GITDIR_OR_DIR ...
//	go run ./testdata/wild run -list /work/corpus/wild/files.tsv -out /tmp/wild-results
package main

import (
	"fmt"
	"os"
)

const usage = `usage:
  wild collect -o DIR NAME=PATH ...   extract media files from git mirrors or directories
  wild run -list FILES.tsv -out DIR   package each file, check with ffmpeg, write results
  wild report -out DIR                rewrite DIR/summary.md from DIR/results.tsv
Run "wild COMMAND -h" for the flags of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "collect":
		err = collect(os.Args[2:])
	case "run":
		err = runAll(os.Args[2:])
	case "report":
		err = reportCmd(os.Args[2:])
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wild:", err)
		os.Exit(1)
	}
}
