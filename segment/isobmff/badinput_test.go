package isobmff_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	"github.com/cmafkit/cmafkit/segment/internal/mp4fixture"
)

func readTestFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func open(b []byte) error {
	src, err := segment.Open(context.Background(), bytes.NewReader(b), int64(len(b)), "bad.mp4", nil)
	if err != nil {
		return err
	}
	// Writing every segment must also fail cleanly, never panic.
	plan, err := segment.PlanSegments(src.Tracks, 0)
	if err != nil {
		return err
	}
	for _, tr := range src.Tracks {
		sw, err := cmaf.NewWriter(tr, plan, cmaf.Options{})
		if err != nil {
			return err
		}
		if err := cmaf.WriteInit(&bytes.Buffer{}, tr, nil); err != nil {
			return err
		}
		for i := 0; i < sw.Len(); i++ {
			if _, err := sw.WriteSegment(context.Background(), &bytes.Buffer{}, i); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestBadInput(t *testing.T) {
	good := readTestFile(t, "ladder_360p.mp4") // moov first
	moovEnd := readTestFile(t, "moov_end.mp4")
	mutate := func(b []byte, f func(b []byte)) []byte {
		c := append([]byte(nil), b...)
		f(c)
		return c
	}
	cases := []struct {
		name   string
		input  []byte
		want   error
		detail string
	}{
		{"truncated media", good[:len(good)/2], segment.ErrTruncated, "sample"},
		{"truncated moov at end", moovEnd[:len(moovEnd)-100], segment.ErrTruncated, "moov"},
		{"empty", nil, segment.ErrMalformed, "no moov"},
		{"garbage header", []byte{0, 0, 0, 3, 'f', 'r', 'e', 'e'}, segment.ErrMalformed, "smaller than its header"},
		{"box past EOF", mutate(good, func(b []byte) { binary.BigEndian.PutUint32(b[mp4fixture.BoxAt(t, b, "moov"):], 0xfffffff0) }), segment.ErrTruncated, "moov"},
		{"4 GiB stsz claim", mutate(good, func(b []byte) {
			binary.BigEndian.PutUint32(b[mp4fixture.BoxAt(t, b, "stsz")+16:], 0xffffffff)
		}), segment.ErrTruncated, "stsz"},
		{"stco beyond file", mutate(good, func(b []byte) {
			binary.BigEndian.PutUint32(b[mp4fixture.BoxAt(t, b, "stco")+16:], 0x7ffffff0)
		}), segment.ErrTruncated, "sample 1"},
		{"stsc names missing chunk", mutate(good, func(b []byte) {
			binary.BigEndian.PutUint32(b[mp4fixture.BoxAt(t, b, "stsc")+16:], 0x7ffffff0)
		}), segment.ErrMalformed, "stsc"},
		{"stts disagrees with stsz", mutate(good, func(b []byte) {
			o := mp4fixture.BoxAt(t, b, "stts")
			binary.BigEndian.PutUint32(b[o+16:], binary.BigEndian.Uint32(b[o+16:])+5)
		}), segment.ErrMalformed, "stts"},
		{"zero timescale", mutate(good, func(b []byte) {
			binary.BigEndian.PutUint32(b[mp4fixture.BoxAt(t, b, "mdhd")+20:], 0)
		}), segment.ErrMalformed, "zero timescale"},
		{"no sync sample", mutate(good, func(b []byte) {
			o := mp4fixture.BoxAt(t, b, "stss")
			n := binary.BigEndian.Uint32(b[o+12:])
			for i := uint32(0); i < n; i++ { // point every entry at sample 2 and drop all others
				binary.BigEndian.PutUint32(b[o+16+4*int(i):], 2)
			}
			binary.BigEndian.PutUint32(b[o+12:], 0)
		}), segment.ErrNoSyncSample, "no sync sample"},
		{"unsupported codec", mutate(good, func(b []byte) {
			o := mp4fixture.BoxAt(t, b, "stsd")
			copy(b[o+mp4fixture.BoxAt(t, b[o:], "avc1")+4:], "xyz1")
		}), segment.ErrUnsupportedCodec, "xyz1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := open(c.input)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(c.detail)) {
				t.Errorf("error %q does not name %q", err, c.detail)
			}
			var fe *segment.FormatError
			if !errors.As(err, &fe) || fe.Source != "bad.mp4" {
				t.Errorf("error %v is not a *FormatError naming the source", err)
			}
		})
	}
}
