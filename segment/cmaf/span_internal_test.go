package cmaf

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cmafkit/cmafkit/segment"
)

// countingReaderAt counts ReadAt calls and the bytes they asked for.
type countingReaderAt struct {
	r            io.ReaderAt
	calls, bytes int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.calls++
	c.bytes += len(p)
	return c.r.ReadAt(p, off)
}

// TestAppendPayloadJoinsRuns lays samples of one track out between other
// data as real files do (interleaved small gaps, big gaps, out of order,
// back to back) and checks that appendPayload returns exactly the samples'
// bytes in order, with fewer reads than runs when gaps are small and never
// more than twice the samples' bytes read; and the same bytes when the
// source is a file (preadv drops the gaps).
func TestAppendPayloadJoinsRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	file := make([]byte, 4<<20)
	for i := range file {
		file[i] = byte(r.Uint32())
	}
	path := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	osFile, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer osFile.Close()
	layouts := map[string]func() (size, gap int){
		"video among audio": func() (int, int) { return 3000 + r.IntN(3000), 300 + r.IntN(500) },
		"audio among video": func() (int, int) { return 300 + r.IntN(200), 3000 + r.IntN(5000) },
		"huge gaps":         func() (int, int) { return 100 + r.IntN(100), maxGap + 1 + r.IntN(1000) },
		"back to back":      func() (int, int) { return 100 + r.IntN(1000), 0 },
		"mixed":             func() (int, int) { return 1 + r.IntN(5000), r.IntN(2 * maxGap) },
	}
	for name, next := range layouts {
		t.Run(name, func(t *testing.T) {
			var ss []segment.Sample
			var want []byte
			runs := 0
			for off := 0; ; {
				size, gap := next()
				off += gap
				if off+size > len(file) || len(ss) == 400 {
					break
				}
				if gap > 0 || len(ss) == 0 {
					runs++
				}
				ss = append(ss, segment.Sample{Offset: int64(off), Size: uint32(size)})
				want = append(want, file[off:off+size]...)
				off += size
			}
			if name == "mixed" && len(ss) > 4 { // one sample stored before its predecessor
				ss[2], ss[3] = ss[3], ss[2]
				want = want[:0]
				for _, s := range ss {
					want = append(want, file[s.Offset:s.Offset+int64(s.Size)]...)
				}
				runs = len(ss)
			}
			cr := &countingReaderAt{r: bytes.NewReader(file)}
			sw := &Writer{track: &segment.Track{Data: segment.NewReaderAtSamples(cr)}}
			got, err := sw.appendPayload([]byte("head"), 0, ss)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:4], []byte("head")) || !bytes.Equal(got[4:], want) {
				t.Fatalf("payload differs from the samples' bytes")
			}
			if cr.bytes > 2*len(want) {
				t.Errorf("read %d bytes for %d bytes of samples", cr.bytes, len(want))
			}
			t.Logf("%d samples in %d runs: %d reads, %d bytes read for %d", len(ss), runs, cr.calls, cr.bytes, len(want))
			// From a file, joined runs are read with preadv (on Linux).
			sw = &Writer{track: &segment.Track{Data: segment.NewReaderAtSamples(osFile)}}
			got, err = sw.appendPayload([]byte("head"), 0, ss)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:4], []byte("head")) || !bytes.Equal(got[4:], want) {
				t.Fatalf("payload read from a file differs from the samples' bytes")
			}
			switch name {
			case "video among audio", "back to back":
				if cr.calls != 1 {
					t.Errorf("%d reads, want 1", cr.calls)
				}
			case "huge gaps", "audio among video":
				if cr.calls != runs {
					t.Errorf("%d reads, want one a run (%d)", cr.calls, runs)
				}
			}
		})
	}
}

// maxWriteRecorder keeps what is written and the largest single write.
type maxWriteRecorder struct {
	bytes.Buffer
	largest, calls int
}

func (m *maxWriteRecorder) Write(p []byte) (int, error) {
	m.largest = max(m.largest, len(p))
	m.calls++
	return m.Buffer.Write(p)
}

// TestCopySamplesThroughMemoryBounded copies a segment of several MiB whose
// runs are too short for kernel copies (video frames between audio frames)
// and checks that the bytes are the samples' in order while the writer's
// buffer and each write stay within maxThrough (plus appendPayload's eighth
// of headroom), not the size of the segment.
func TestCopySamplesThroughMemoryBounded(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	file := make([]byte, 8<<20)
	for i := range file {
		file[i] = byte(r.Uint32())
	}
	var ss []segment.Sample
	var want []byte
	for off := 0; ; {
		size, gap := 20000+r.IntN(40000), 300+r.IntN(500)
		off += gap
		if off+size > len(file) {
			break
		}
		ss = append(ss, segment.Sample{Offset: int64(off), Size: uint32(size)})
		want = append(want, file[off:off+size]...)
		off += size
	}
	if len(want) < 4*maxThrough {
		t.Fatalf("test segment of %d bytes is too small", len(want))
	}
	sw := &Writer{track: &segment.Track{Data: segment.NewReaderAtSamples(bytes.NewReader(file))}}
	var out maxWriteRecorder
	cw := &countingWriter{w: &out}
	if err := sw.copySamples(cw, 0, ss); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) || cw.n != int64(len(want)) {
		t.Fatalf("copied %d bytes, not the %d bytes of the samples in order", out.Len(), len(want))
	}
	if limit := maxThrough + maxThrough/8; cap(sw.buf) > limit || out.largest > maxThrough {
		t.Errorf("buffer of %d bytes, largest write %d: want at most %d and %d", cap(sw.buf), out.largest, limit, maxThrough)
	}
	t.Logf("%d bytes in %d samples: %d writes, largest %d", len(want), len(ss), out.calls, out.largest)
}
