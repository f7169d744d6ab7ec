package ts

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// FuzzOpen feeds arbitrary bytes to the demuxer: it must never panic, must
// fail with a *segment.FormatError, or return tracks whose every sample reads
// back with exactly Size bytes in increasing decode order, and whose compact
// index decodes to exactly the plain reference index (checkIndex).
func FuzzOpen(f *testing.F) {
	for _, name := range []string{"h264_aac.ts", "hevc_ac3.ts"} {
		b := readFile(f, name)
		f.Add(b[:min(len(b), 80*tsLen)])
		// A damaged variant: a bad sync byte, a lost packet and a cut end.
		d := bytes.Clone(b[:min(len(b), 80*tsLen)])
		d[40*tsLen] = 0
		d = append(d[:20*tsLen], d[21*tsLen:]...)
		f.Add(d[:len(d)-100])
	}
	f.Add([]byte{0x47})
	f.Fuzz(func(t *testing.T, b []byte) {
		wd := time.AfterFunc(20*time.Second, func() { panic("FuzzOpen: one input took over 20 s") })
		defer wd.Stop()
		src, d, err := open(context.Background(), bytes.NewReader(b), int64(len(b)), "fuzz", &Options{MaxSampleSize: 1 << 20}, true)
		if err != nil {
			if !isFormatErr(err) {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		checkIndex(t, src, d)
		for _, tr := range src.Tracks {
			ss := samplesOf(tr)
			if len(ss) == 0 || tr.SampleEntry == nil || tr.Codec == "" || tr.Timescale == 0 {
				t.Fatalf("incomplete track %s", tr)
			}
			var buf []byte
			for i := range ss {
				s := &ss[i]
				if i > 0 && s.DecodeTime <= ss[i-1].DecodeTime {
					t.Fatalf("%s sample %d: decode time not increasing", tr, i+1)
				}
				buf, err = tr.Data.AppendSample(buf[:0], s)
				if err != nil {
					t.Fatalf("%s sample %d: %v", tr, i+1, err)
				}
				if len(buf) != int(s.Size) {
					t.Fatalf("%s sample %d: %d bytes, Size %d", tr, i+1, len(buf), s.Size)
				}
			}
		}
	})
}
