package fastcopy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestCopyRange(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 3<<20+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	srcPath := filepath.Join(dir, "src")
	if err := os.WriteFile(srcPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(filepath.Join(dir, "dst"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	// Two ranges appended one after the other, with a plain write between.
	ranges := [][2]int64{{1000, 2 << 20}, {17, 5}, {int64(len(data)) - 100, 100}}
	var want []byte
	for i, r := range ranges {
		n, handled, err := CopyRange(dst, src, r[0], r[1])
		if runtime.GOOS == "linux" && !handled {
			t.Fatalf("range %d not handled on linux", i)
		}
		if !handled {
			t.Skip("no in-kernel copy on this system")
		}
		if err != nil || n != r[1] {
			t.Fatalf("range %d: %d bytes, %v", i, n, err)
		}
		want = append(want, data[r[0]:r[0]+r[1]]...)
		dst.Write([]byte("|"))
		want = append(want, '|')
	}
	got, err := os.ReadFile(dst.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("copied bytes differ (%d vs %d bytes)", len(got), len(want))
	}
	// The source offset is not used: a read from it still starts at 0.
	b := make([]byte, 4)
	if _, err := src.Read(b); err != nil || !bytes.Equal(b, data[:4]) {
		t.Fatalf("source offset moved: %x %v", b, err)
	}
	// Past the end of the source: an error, never a short success.
	_, handled, err := CopyRange(dst, src, int64(len(data))-10, 20)
	if handled && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("copy past EOF: %v", err)
	}
}

func TestCopyRangeNotFiles(t *testing.T) {
	var buf bytes.Buffer
	if _, handled, _ := CopyRange(&buf, bytes.NewReader([]byte("abc")), 0, 3); handled || buf.Len() != 0 {
		t.Fatal("non-file writer must not be handled")
	}
}

// TestCheapPerCall: a file on tmpfs (found in /proc/mounts) is cheap per
// call, a file on a mount of another type and a non-file are not.
func TestCheapPerCall(t *testing.T) {
	if CheapPerCall(bytes.NewReader(nil)) {
		t.Error("a bytes.Reader is cheap per call")
	}
	if runtime.GOOS != "linux" {
		t.Skip("tmpfs detection is Linux-only")
	}
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Skip(err)
	}
	checked := 0
	for _, line := range bytes.Split(mounts, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) < 3 {
			continue
		}
		dir, fstype := string(f[1]), string(f[2])
		if fstype != "tmpfs" && fstype != "ext4" && fstype != "xfs" && fstype != "btrfs" {
			continue
		}
		tmp, err := os.CreateTemp(dir, "cheap")
		if err != nil {
			continue // not writable
		}
		os.Remove(tmp.Name())
		got := CheapPerCall(tmp)
		tmp.Close()
		if got != (fstype == "tmpfs") {
			t.Errorf("%s (%s): CheapPerCall = %v", dir, fstype, got)
		}
		checked++
	}
	if checked == 0 {
		t.Skip("no writable tmpfs or disk mount found")
	}
}

// TestReadPieces reads random pieces of a file (gaps larger and smaller than
// the scratch buffer, more pieces than one preadv takes) and compares them
// with the file's bytes; pieces past the end are an io.ErrUnexpectedEOF, and
// bad pieces and non-files are refused without reading.
func TestReadPieces(t *testing.T) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i*31 + i>>9)
	}
	path := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	scratch := make([]byte, 100)
	for _, gapMax := range []int64{1, 50, 300, 20000} { // 20000: 200 iovecs a gap
		var pieces []Piece
		var want []byte
		for off := int64(0); ; {
			off += (off*7 + 13) % gapMax
			n := (off*11 + 5) % 97
			if off+n > int64(len(data)) || len(pieces) == 2500 {
				break
			}
			pieces = append(pieces, Piece{off, n})
			want = append(want, data[off:off+n]...)
			off += n
		}
		got := make([]byte, len(want))
		handled, err := ReadPieces(got, f, pieces, scratch)
		if runtime.GOOS == "linux" && !handled {
			t.Fatalf("gaps up to %d: not handled on linux", gapMax)
		}
		if !handled {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("gaps up to %d, %d pieces: bytes differ", gapMax, len(pieces))
		}
	}
	if handled, err := ReadPieces(make([]byte, 20), f, []Piece{{0, 10}, {int64(len(data)) - 5, 10}}, scratch); handled && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("piece past the end: %v, want io.ErrUnexpectedEOF", err)
	}
	for _, bad := range [][]Piece{{{10, 5}, {12, 5}}, {{10, -1}}, {{-1, 2}}, {{0, 5}}} {
		if handled, err := ReadPieces(make([]byte, 10), f, bad, scratch); handled || err == nil {
			t.Errorf("pieces %v: handled %v, err %v; want refused", bad, handled, err)
		}
	}
	if handled, _ := ReadPieces(make([]byte, 4), bytes.NewReader(data), []Piece{{0, 4}}, scratch); handled {
		t.Error("a bytes.Reader was handled")
	}
}
