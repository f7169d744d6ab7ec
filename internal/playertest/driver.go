package playertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// A driver is one node process running js/play.mjs with one headless
// Chromium, shared by the runs of this test process: each run gets a fresh
// browser context (its own storage and media keys) and page in that
// browser. Launching Chromium costs more CPU than a whole run plays, so one
// launch a process instead of one a run leaves the machine to the players.
// The node process reads requests from its stdin and exits, closing the
// browser, when that ends: when this process exits, however it exits.
type driver struct {
	cmd    *exec.Cmd
	stderr *tailWriter

	wmu   sync.Mutex // serialises request lines
	stdin io.WriteCloser

	mu      sync.Mutex
	next    int64
	waiting map[int64]chan driverOutput
	err     error // set once the process is gone
}

// drivers holds the live driver of each Chromium binary.
var drivers struct {
	sync.Mutex
	m map[string]*driver
}

// driverFor returns the running driver for the chromium binary, starting
// one when there is none or the last one died.
func driverFor(chromium string) (*driver, error) {
	drivers.Lock()
	defer drivers.Unlock()
	if d := drivers.m[chromium]; d != nil && d.alive() {
		return d, nil
	}
	d, err := startDriver(chromium)
	if err != nil {
		return nil, err
	}
	if drivers.m == nil {
		drivers.m = map[string]*driver{}
	}
	drivers.m[chromium] = d
	return d, nil
}

func startDriver(chromium string) (*driver, error) {
	cfg, _ := json.Marshal(map[string]any{"chromium": chromium})
	cmd := exec.Command("node", filepath.Join(JSDir(), "play.mjs"), string(cfg))
	cmd.Dir = JSDir()
	d := &driver{cmd: cmd, stderr: &tailWriter{}, waiting: map[int64]chan driverOutput{}}
	cmd.Stderr = d.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("playertest: driver: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("playertest: driver: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("playertest: start driver: %w", err)
	}
	d.stdin = stdin
	go d.read(stdout)
	return d, nil
}

// read delivers the driver's answers to the runs waiting for them until the
// process ends, then fails the runs still waiting.
func (d *driver) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for sc.Scan() {
		var out driverOutput
		if err := json.Unmarshal(sc.Bytes(), &out); err != nil {
			continue // not an answer (a stray log line)
		}
		d.mu.Lock()
		ch := d.waiting[out.ID]
		delete(d.waiting, out.ID)
		d.mu.Unlock()
		if ch != nil {
			ch <- out
		}
	}
	waitErr := d.cmd.Wait()
	d.mu.Lock()
	d.err = fmt.Errorf("playertest: driver exited (%v); stderr:\n%s", waitErr, d.stderr.bytes())
	for id, ch := range d.waiting {
		close(ch)
		delete(d.waiting, id)
	}
	d.mu.Unlock()
}

func (d *driver) alive() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err == nil
}

// play opens pageURL in a fresh context of the browser launched with the
// extra command-line switches args (nil: the common one) and waits for the
// page's verdict, or for ctx: then it cancels the run in the browser and
// returns ctx's error.
func (d *driver) play(ctx context.Context, pageURL string, args []string, timeout time.Duration) (*driverOutput, error) {
	ch := make(chan driverOutput, 1)
	d.mu.Lock()
	if d.err != nil {
		d.mu.Unlock()
		return nil, d.err
	}
	d.next++
	id := d.next
	d.waiting[id] = ch
	d.mu.Unlock()
	req := map[string]any{"id": id, "pageURL": pageURL, "timeoutMs": timeout.Milliseconds()}
	if len(args) > 0 {
		req["args"] = args
	}
	if err := d.send(req); err != nil {
		d.mu.Lock()
		delete(d.waiting, id)
		d.mu.Unlock()
		return nil, err
	}
	select {
	case out, ok := <-ch:
		if !ok {
			d.mu.Lock()
			defer d.mu.Unlock()
			return nil, d.err
		}
		return &out, nil
	case <-ctx.Done():
		d.mu.Lock()
		delete(d.waiting, id)
		d.mu.Unlock()
		_ = d.send(map[string]any{"cancel": id})
		return nil, ctx.Err()
	}
}

func (d *driver) send(req map[string]any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if _, err := d.stdin.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("playertest: driver: %w", err)
	}
	return nil
}

// tailWriter keeps the last 8 KiB written to it.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	const n = 8 << 10
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > n {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-n:]...)
	}
	return len(p), nil
}

func (w *tailWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]byte(nil), w.buf...)
}
