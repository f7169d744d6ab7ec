package cmaf_test

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
)

// TestInfoThenWrite: a writer asked for Info of one segment, then of
// another, then to write either (as the packager names a segment before
// writing it) gives the same bytes and SegmentInfo as a fresh writer.
func TestInfoThenWrite(t *testing.T) {
	ctx := context.Background()
	src, err := segment.OpenFile(ctx, filepath.Join("..", "..", "testdata", "ladder_720p.mp4"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	plan, err := segment.PlanSegments(src.Tracks, 2_000_000_000)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range src.Tracks {
		sw, err := cmaf.NewWriter(tr, plan, cmaf.Options{})
		if err != nil {
			t.Fatal(err)
		}
		n := sw.Len()
		if n < 3 {
			t.Fatalf("%s: %d segments, want at least 3", tr, n)
		}
		for i := 0; i < n; i++ {
			// Ask about other segments in between, in both orders.
			j := (i + 1) % n
			if i%2 == 0 {
				sw.Info(j)
			}
			pre, err := sw.Info(i)
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 1 {
				sw.Info(j)
			}
			var got bytes.Buffer
			info, err := sw.WriteSegment(ctx, &got, i)
			if err != nil {
				t.Fatal(err)
			}
			fresh, _ := cmaf.NewWriter(tr, plan, cmaf.Options{})
			var want bytes.Buffer
			wantInfo, err := fresh.WriteSegment(ctx, &want, i)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) || !reflect.DeepEqual(info, wantInfo) {
				t.Fatalf("%s segment %d: differs from a fresh writer's", tr, i)
			}
			if pre.Number != info.Number || pre.DecodeTime != info.DecodeTime || pre.MediaTime != info.MediaTime || pre.Duration != info.Duration {
				t.Fatalf("%s segment %d: Info %+v, written %+v", tr, i, pre, info)
			}
		}
	}
}
