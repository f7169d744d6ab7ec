// Command originload measures `cmafkit origin`: the first byte of the
// first segment of unseen titles, and segment requests per second with
// latency percentiles and the origin's memory under concurrent load, clear
// and encrypted. It is a load generator of its own (no wrk needed) and
// runs the origin as a separate process on 127.0.0.1, so the origin's
// memory is its own.
//
//	go run ./bench/originload [-size 1024] [-clients 64] [-dur 10s] [-titles 40]
//
// It encodes 20 s of 1080p30 H.264 at 6 Mb/s with 2 s GOPs (+ AAC) once
// with ffmpeg, loops it (-c copy) into a source of -size MiB in -dir, and
// hard-links that file under -titles names, each an unseen title sharing
// one page cache. Not part of go test.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	size := flag.Int("size", 1024, "source size in MiB")
	clients := flag.Int("clients", 64, "concurrent clients of the load phases")
	dur := flag.Duration("dur", 10*time.Second, "duration of each load phase")
	titles := flag.Int("titles", 40, "unseen titles for the first-byte phase")
	dir := flag.String("dir", os.TempDir(), "work directory (a tmpfs such as /dev/shm keeps the disk out)")
	cacheMB := flag.Int("cache-mb", 256, "the origin's --cache-mb")
	keep := flag.Bool("keep", false, "keep the work directory")
	flag.Parse()
	if err := run(*size, *clients, *dur, *titles, *dir, *cacheMB, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "originload:", err)
		os.Exit(1)
	}
}

func run(sizeMB, clients int, dur time.Duration, titles int, dir string, cacheMB int, keep bool) error {
	work, err := os.MkdirTemp(dir, "cmafkit-originload.")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(work)
	}
	bin := filepath.Join(work, "cmafkit")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/cmafkit").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	src := filepath.Join(work, "titles", "src.mp4")
	if err := makeSource(work, src, sizeMB); err != nil {
		return err
	}
	for i := range titles {
		if err := os.Link(src, filepath.Join(work, "titles", fmt.Sprintf("t%03d.mp4", i))); err != nil {
			return err
		}
	}
	warm(src)
	fi, _ := os.Stat(src)
	fmt.Printf("source: %.0f MiB, 1080p30 6 Mb/s H.264 + AAC, 2 s GOPs, 4 s segments; %d clients, %s per load phase\n\n",
		float64(fi.Size())/(1<<20), clients, dur)
	fmt.Println("| phase | requests | req/s | MB/s | p50 ms | p99 ms | origin CPU s | req per origin CPU s | origin RSS MiB (peak) |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")

	// First byte of the first segment of unseen titles, one at a time.
	o, err := startOrigin(bin, filepath.Join(work, "titles"), cacheMB)
	if err != nil {
		return err
	}
	var fb []time.Duration
	cpu0 := o.cpu()
	for i := range titles {
		d, err := firstByte(fmt.Sprintf("%s/t%03d.mp4/video_1080p_avc/seg-1.m4s", o.base, i))
		if err != nil {
			o.stop()
			return err
		}
		fb = append(fb, d)
	}
	cpu := o.cpu() - cpu0
	fmt.Printf("| first byte, unseen title | %d | | | %.1f | %.1f | %.2f | %.0f | %.0f |\n", len(fb), ms(pct(fb, 50)), ms(pct(fb, 99)), cpu, float64(len(fb))/cpu, o.peakMiB())
	o.stop()

	for _, phase := range []struct{ name, prefix string }{{"segments, clear", ""}, {"segments, cenc", "cenc/"}, {"segments, cbcs", "cbcs/"}} {
		o, err := startOrigin(bin, filepath.Join(work, "titles"), cacheMB)
		if err != nil {
			return err
		}
		r, err := load(o.base+"/"+phase.prefix+"src.mp4", clients, dur, o.cpu)
		if err != nil {
			o.stop()
			return err
		}
		fmt.Printf("| %s | %d | %.0f | %.0f | %.1f | %.1f | %.2f | %.0f | %.0f |\n", phase.name, r.n, r.rps, r.mbps, ms(pct(r.lat, 50)), ms(pct(r.lat, 99)), r.cpu, float64(r.n)/r.cpu, o.peakMiB())
		o.stop()
	}
	return nil
}

// makeSource encodes the base clip and loops it into dst of about sizeMB.
func makeSource(work, dst string, sizeMB int) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	base := filepath.Join(work, "base.mp4")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "20", "-c:v", "libx264", "-preset", "veryfast",
		"-b:v", "6M", "-maxrate", "6M", "-bufsize", "2M", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-bf", "2",
		"-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-ac", "2", base)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg: %v\n%s", err, out)
	}
	fi, err := os.Stat(base)
	if err != nil {
		return err
	}
	loops := int64(sizeMB) << 20 / fi.Size()
	cmd = exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", strconv.FormatInt(loops, 10), "-i", base,
		"-c", "copy", "-movflags", "+faststart", dst)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg loop: %v\n%s", err, out)
	}
	return nil
}

// warm reads the file once so that it is in the page cache.
func warm(name string) {
	if f, err := os.Open(name); err == nil {
		io.Copy(io.Discard, f)
		f.Close()
	}
}

type originProc struct {
	cmd  *exec.Cmd
	base string
}

func startOrigin(bin, root string, cacheMB int) (*originProc, error) {
	cmd := exec.Command(bin, "origin", "--addr", "127.0.0.1:0", "--quiet", "--cache-mb", strconv.Itoa(cacheMB),
		"--key", "00112233445566778899aabbccddeeff:0123456789abcdef0123456789abcdef", root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("origin did not start: %v", err)
	}
	m := regexp.MustCompile(`http://[0-9.:]+`).FindString(line)
	if m == "" {
		cmd.Process.Kill()
		return nil, fmt.Errorf("origin printed %q", line)
	}
	go io.Copy(io.Discard, out)
	return &originProc{cmd: cmd, base: m}, nil
}

func (o *originProc) stop() {
	o.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { o.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		o.cmd.Process.Kill()
		<-done
	}
}

// cpu returns the origin's CPU time so far (user + system), in seconds.
func (o *originProc) cpu() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", o.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are
	// the 14th and 15th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

// peakMiB is the origin's peak resident set (VmHWM).
func (o *originProc) peakMiB() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", o.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return kb / 1024
		}
	}
	return -1
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}

func firstByte(url string) (time.Duration, error) {
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var b [1]byte
	if _, err := io.ReadFull(resp.Body, b[:]); err != nil {
		return 0, err
	}
	d := time.Since(start)
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("%s: %s", url, resp.Status)
	}
	io.Copy(io.Discard, resp.Body)
	return d, nil
}

type loadResult struct {
	n         int
	rps, mbps float64
	cpu       float64 // origin CPU seconds during the phase
	lat       []time.Duration
}

// load requests random video segments of the title at base from clients
// goroutines for dur, after fetching the manifest to learn their count.
func load(base string, clients int, dur time.Duration, cpu func() float64) (loadResult, error) {
	resp, err := client.Get(base + "/video_1080p_avc.m3u8")
	if err != nil {
		return loadResult{}, err
	}
	pl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return loadResult{}, fmt.Errorf("media playlist: %s", resp.Status)
	}
	nseg := strings.Count(string(pl), "#EXTINF")
	if nseg == 0 {
		return loadResult{}, fmt.Errorf("no segments in %s", pl)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var bytes atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start, cpu0 := time.Now(), cpu()
	for range clients {
		wg.Go(func() {
			var mine []time.Duration
			for ctx.Err() == nil {
				url := fmt.Sprintf("%s/video_1080p_avc/seg-%d.m4s", base, 1+rand.IntN(nseg))
				t0 := time.Now()
				resp, err := client.Get(url)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					firstErr.CompareAndSwap(nil, fmt.Errorf("%s: %s %v", url, resp.Status, err))
					return
				}
				if ctx.Err() == nil {
					mine = append(mine, time.Since(t0))
					bytes.Add(n)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	el, used := time.Since(start).Seconds(), cpu()-cpu0
	if err, ok := firstErr.Load().(error); ok {
		return loadResult{}, err
	}
	return loadResult{n: len(lat), rps: float64(len(lat)) / el, mbps: float64(bytes.Load()) / el / 1e6, lat: lat, cpu: used}, nil
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
