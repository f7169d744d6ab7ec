package cmaf_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
)

// TestWriteSamples: a segment written from samples held in memory (as a
// live source delivers them, payloads packed at offsets of their own) is
// the segment the writer makes from the file's index, clear and protected.
func TestWriteSamples(t *testing.T) {
	src := openTestFile(t, "ladder_360p.mp4")
	plan, err := segment.PlanSegments(src.Tracks, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range src.Tracks {
		for _, prot := range []cmaf.FragmentProtector{nil, nopProtector{}} {
			opts := cmaf.Options{Protector: prot, ChunkDuration: 500 * time.Millisecond}
			sw, err := cmaf.NewWriter(tr, plan, opts)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < sw.Len(); i++ {
				var want bytes.Buffer
				wi, err := sw.WriteSegment(context.Background(), &want, i)
				if err != nil {
					t.Fatal(err)
				}
				// The samples in memory: payloads back to back from offset 1000.
				ss, err := tr.AppendSamples(nil, wi.FirstSample, wi.EndSample)
				if err != nil {
					t.Fatal(err)
				}
				var payload []byte
				for k := range ss {
					b, err := tr.Data.AppendSample(nil, &ss[k])
					if err != nil {
						t.Fatal(err)
					}
					ss[k].Offset = 1000 + int64(len(payload))
					payload = append(payload, b...)
				}
				var got bytes.Buffer
				gi, err := cmaf.WriteSamples(context.Background(), &got, tr, wi.Number, wi.FirstSample, ss, payload, opts)
				if err != nil {
					t.Fatal(err)
				}
				if gi != wi || !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Fatalf("%s segment %d (protector %T): from memory %+v (%d bytes), from the file %+v (%d bytes)", tr, i+1, prot, gi, got.Len(), wi, want.Len())
				}
			}
		}
	}
}

// TestWriteSamplesShortPayload: samples whose payload is not all there are
// refused, not read out of bounds.
func TestWriteSamplesShortPayload(t *testing.T) {
	tr := openTestFile(t, "ladder_360p.mp4").Tracks[1]
	ss, err := tr.AppendSamples(nil, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	for k := range ss {
		ss[k].Offset = int64(k) * int64(ss[0].Size)
	}
	_, err = cmaf.WriteSamples(context.Background(), &bytes.Buffer{}, tr, 1, 0, ss, make([]byte, 10), cmaf.Options{})
	if !errors.Is(err, segment.ErrMalformed) {
		t.Fatalf("got %v, want ErrMalformed", err)
	}
}
