package live

import (
	"context"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
)

// regop marks video keyframes about every `every` samples, and no others,
// as an encoder with that GOP length would: at the first sample at or
// after each multiple that can start a segment (no sample before it in
// decode order presents after it, none after it presents before). The
// channel cuts on the flag; it does not decode.
type regop struct {
	Publisher
	every int
	clean []bool // by sample index within one loop of the file
	n     int
	next  int
}

func newRegop(t *testing.T, pub Publisher, video *segment.Track, every int) *regop {
	t.Helper()
	var pts []int64
	sc := video.Scan(0, video.SampleCount())
	for sc.Next() {
		pts = append(pts, sc.Sample().PresentationTime())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	clean := make([]bool, len(pts))
	suffixMin := make([]int64, len(pts)+1)
	suffixMin[len(pts)] = 1 << 62
	for i := len(pts) - 1; i >= 0; i-- {
		suffixMin[i] = min(suffixMin[i+1], pts[i])
	}
	prefixMax := int64(-1 << 62)
	for i, p := range pts {
		clean[i] = prefixMax < p && p <= suffixMin[i+1]
		prefixMax = max(prefixMax, p)
	}
	return &regop{Publisher: pub, every: every, clean: clean}
}

func (p *regop) WriteSample(ctx context.Context, track int, s segment.Sample, payload []byte) error {
	if track == 0 { // ladder_720p: video first
		s.Sync = p.n >= p.next && p.clean[p.n%len(p.clean)]
		if s.Sync {
			for p.next <= p.n {
				p.next += p.every
			}
		}
		p.n++
	}
	return p.Publisher.WriteSample(ctx, track, s, payload)
}

var targetRE = regexp.MustCompile(`#EXT-X-TARGETDURATION:(\d+)`)

// TestTargetDurationFixed checks that EXT-X-TARGETDURATION is set once from
// MaxSegmentDuration (1.5 × SegmentDuration rounded up by default) and never
// changes (RFC 8216 6.2.1), that a keyframe interval just under the segment
// duration cuts early rather than making segments of two GOPs longer than
// the target, and that keyframes further apart than the target give longer
// segments, a warning, and manifests still written under the same target.
func TestTargetDurationFixed(t *testing.T) {
	tracks := openTracks(t, "ladder_720p.mp4")
	if tracks[0].Kind != segment.KindVideo {
		t.Fatal("ladder_720p: first track is not video")
	}
	for _, tc := range []struct {
		name     string
		gop      int // frames at 29.97/s
		maxSeg   time.Duration
		wantLong bool // segments longer than the target are unavoidable
	}{
		{"gop 1.9s", 57, 0, false},
		{"gop 1.9s max 4s", 57, 4 * time.Second, false},
		{"gop 5s", 150, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{t: epoch}
			st := newMem()
			var mu sync.Mutex
			targets := map[string]bool{}
			warnings := 0
			ch := &Channel{Storage: st, Clock: clk.Now, MaxSegmentDuration: tc.maxSeg}
			ch.OnEvent = func(e Event) {
				mu.Lock()
				defer mu.Unlock()
				switch e.Kind {
				case SegmentWritten:
					m := targetRE.FindSubmatch(st.get("video0.m3u8"))
					if m == nil {
						t.Errorf("after segment %d: no target duration in video0.m3u8", e.Segment.Number)
						return
					}
					targets[string(m[1])] = true
				case Warning:
					warnings++
				}
			}
			ctx := context.Background()
			pub, err := ch.Publish(ctx, "test")
			if err != nil {
				t.Fatal(err)
			}
			pp := &pacedPub{Publisher: newRegop(t, pub, tracks[0], tc.gop), clk: clk, base: clk.Now()}
			if err := Replay(ctx, tracks, pp, ReplayOptions{Loops: 3}); err != nil {
				t.Fatal(err)
			}
			pub.Close(nil)
			if err := ch.Close(ctx); err != nil {
				t.Fatal(err)
			}
			want := "3"
			if tc.maxSeg > 0 {
				want = strconv.Itoa(int(tc.maxSeg / time.Second))
			}
			if len(targets) != 1 || !targets[want] {
				t.Errorf("EXT-X-TARGETDURATION values over the stream: %v, want only %s", targets, want)
			}
			p := ch.Presentation()
			if p.TargetDuration != ch.MaxSegmentDuration {
				t.Errorf("presentation target %v, channel max %v", p.TargetDuration, ch.MaxSegmentDuration)
			}
			var long int
			var video *manifest.Representation
			for si := range p.Periods[0].Sets {
				for ri := range p.Periods[0].Sets[si].Representations {
					if r := &p.Periods[0].Sets[si].Representations[ri]; r.ID == "video0" {
						video = r
					}
				}
			}
			for i, s := range video.Segments {
				d := manifest.TicksToDuration(s.Duration, video.Timescale)
				if d > ch.MaxSegmentDuration {
					long++
					if !tc.wantLong {
						t.Errorf("segment %d lasts %v, more than the target %v", i+1, d, ch.MaxSegmentDuration)
					}
				}
			}
			if tc.wantLong && (long == 0 || warnings == 0) {
				t.Errorf("%d segments longer than the target, %d warnings: want some of each", long, warnings)
			}
			if !tc.wantLong && warnings != 0 {
				t.Errorf("%d warnings", warnings)
			}
			if len(video.Segments) < 5 {
				t.Errorf("only %d segments", len(video.Segments))
			}
		})
	}
}
