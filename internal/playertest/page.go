package playertest

import (
	"context"
	"encoding/json"
	"fmt"
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
	d, err := driverFor(chromiumPath(&Options{}))
	if err != nil {
		return nil, nil, err
	}
	out, err := d.play(ctx, pageURL, args, timeout)
	if err != nil {
		return nil, nil, err
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
