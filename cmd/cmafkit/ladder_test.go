package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/abr"
)

func TestLadderCLI(t *testing.T) {
	ctx := context.Background()
	var out, errb bytes.Buffer
	if err := runLadder(ctx, []string{"--width", "1920", "--height", "1080", "--fps", "30", "--json"}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	l, err := abr.ReadLadder(&out)
	if err != nil || len(l.Rungs) != 9 || l.Rungs[8].Bitrate != 7_800_000 {
		t.Fatalf("ladder %+v, %v", l, err)
	}
	dir := t.TempDir()
	b, _ := json.Marshal(l)
	lp := filepath.Join(dir, "apple.json")
	os.WriteFile(lp, b, 0o644)
	out.Reset()
	if err := runLadder(ctx, []string{"simulate", "--ladder", lp, "--ladder2", lp, "--trace", "../../abr/testdata/traces/mobile.csv"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(out.String(), "\n"); got != 5 || !strings.Contains(out.String(), "ladder2") {
		t.Errorf("report:\n%s", out.String())
	}
	for _, args := range [][]string{{"--width", "10"}, {"--width", "1920", "--height", "1080", "--codec", "vp8"},
		{"--width", "1920", "--height", "1080", "--calculator", "hull"}, {"simulate", "--ladder", lp}, {"--nope"}} {
		err := runLadder(ctx, args, &out, &errb)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	if err := runLadder(ctx, []string{"-h"}, &out, &errb); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}
