package origin

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestRecorderReadFrom: runs of a file handed to the recorder as section
// readers (one already partly read) reach the client as the file's bytes,
// through net/http's ReaderFrom (sendfile on Linux) and through a writer
// without one; the recorder counts them and closes what it opened.
func TestRecorderReadFrom(t *testing.T) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	name := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := append(append([]byte{}, data[1000+10:300000]...), data[500000:900000]...)
	send := func(w http.ResponseWriter) *recorder {
		rec := &recorder{ResponseWriter: w}
		defer rec.closeFiles()
		rec.Header().Set("Content-Length", strconv.Itoa(len(want)))
		rec.WriteHeader(http.StatusOK)
		first := io.NewSectionReader(f, 1000, 300000-1000)
		first.Read(make([]byte, 10)) // partly read: the rest starts at 1010
		for _, sr := range []*io.SectionReader{first, io.NewSectionReader(f, 500000, 400000)} {
			if _, err := rec.ReadFrom(sr); err != nil {
				t.Error(err)
			}
		}
		if len(rec.reopened) > 1 {
			t.Errorf("%d descriptions opened for one file", len(rec.reopened))
		}
		return rec
	}
	counts := make(chan int64, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { counts <- send(w).n }))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if counted := <-counts; err != nil || !bytes.Equal(got, want) || counted != int64(len(want)) {
		t.Errorf("over TCP: %d bytes (err %v), counted %d, want %d and equal", len(got), err, counted, len(want))
	}
	rr := httptest.NewRecorder() // no ReadFrom: an ordinary copy
	rec := send(rr)
	if !bytes.Equal(rr.Body.Bytes(), want) || rec.n != int64(len(want)) || rec.reopened != nil {
		t.Errorf("to a ResponseRecorder: %d bytes, counted %d, want %d and equal", rr.Body.Len(), rec.n, len(want))
	}
}
