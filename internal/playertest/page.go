package playertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RunPage opens pageURL in the same headless Chromium as Run, with extra
// command-line switches (e.g. --use-fake-device-for-media-stream), waits
// until the page sets window.__ptResult, and returns that value as JSON
// with the browser console. It is for test pages that are not players:
// WebRTC publishers and viewers. It shares Run's limit on browsers at once.
func RunPage(ctx context.Context, pageURL string, args []string, timeout time.Duration) (result json.RawMessage, console []string, err error) {
	if err := Available(); err != nil {
		return nil, nil, err
	}
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	select {
	case browserSlots <- struct{}{}:
		defer func() { <-browserSlots }()
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cfg, _ := json.Marshal(map[string]any{
		"pageURL":   pageURL,
		"chromium":  chromiumPath(&Options{}),
		"timeoutMs": timeout.Milliseconds(),
		"args":      args,
	})
	cmd := exec.CommandContext(ctx, "node", filepath.Join(JSDir(), "page.mjs"), string(cfg))
	cmd.Dir = JSDir()
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var out struct {
		Result       json.RawMessage `json:"result"`
		Console      []string        `json:"console"`
		HarnessError string          `json:"harnessError"`
	}
	if err := json.Unmarshal(lastLine(stdout.Bytes()), &out); err != nil {
		return nil, nil, fmt.Errorf("playertest: driver failed (%v): %v\nstderr:\n%s", runErr, err, tail(stderr.Bytes()))
	}
	if out.HarnessError != "" {
		return out.Result, out.Console, fmt.Errorf("%w: %s", ErrPlayback, out.HarnessError)
	}
	return out.Result, out.Console, nil
}

// Require skips t when the browser tools are missing (fails under CI=true).
func Require(t testing.TB) {
	t.Helper()
	require(t, Available())
}

// lastLine is the last non-empty line of b: page.mjs's JSON answer.
func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}
