package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
)

// vodTrack is one Representation of a `cmafkit package` output: its CMAF
// header and media segments as files, and where each segment ends on the
// track's timeline.
type vodTrack struct {
	id        string
	timescale uint32
	init      []byte
	segs      [][]byte
	ends      []uint64 // end of each segment, in timescale ticks
	duration  uint64   // end of the last segment: one loop
}

// packageVOD runs `cmafkit package` on in with 2 s segments into a
// temporary directory and reads its MPD's Representations back as CMAF
// tracks, with the MPD itself.
func packageVOD(t *testing.T, in string) (mpd []byte, tracks []*vodTrack) {
	t.Helper()
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"package", "-o", dir, "--segment-duration", "2s", in}, &stdout, &stderr); err != nil {
		t.Fatalf("cmafkit package: %v\n%s", err, stderr.String())
	}
	mpd, err := os.ReadFile(filepath.Join(dir, "manifest.mpd"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Sets []struct {
			Reps []struct {
				ID       string `xml:"id,attr"`
				Template struct {
					Timescale uint32 `xml:"timescale,attr"`
					Init      string `xml:"initialization,attr"`
					Media     string `xml:"media,attr"`
					Start     int    `xml:"startNumber,attr"`
					S         []struct {
						D uint64 `xml:"d,attr"`
						R int    `xml:"r,attr"`
					} `xml:"SegmentTimeline>S"`
				} `xml:"SegmentTemplate"`
			} `xml:"Representation"`
		} `xml:"Period>AdaptationSet"`
	}
	if err := xml.Unmarshal(mpd, &m); err != nil {
		t.Fatal(err)
	}
	for _, as := range m.Sets {
		for _, r := range as.Reps {
			tpl := r.Template
			vt := &vodTrack{id: r.ID, timescale: tpl.Timescale}
			name := func(s string) string { return filepath.Join(dir, strings.ReplaceAll(s, "$RepresentationID$", r.ID)) }
			if vt.init, err = os.ReadFile(name(tpl.Init)); err != nil {
				t.Fatal(err)
			}
			for _, s := range tpl.S {
				for range s.R + 1 {
					vt.duration += s.D
					vt.ends = append(vt.ends, vt.duration)
					seg := strings.ReplaceAll(tpl.Media, "$Number$", fmt.Sprint(tpl.Start+len(vt.segs)))
					b, err := os.ReadFile(name(seg))
					if err != nil {
						t.Fatal(err)
					}
					vt.segs = append(vt.segs, b)
				}
			}
			tracks = append(tracks, vt)
		}
	}
	if len(tracks) < 2 {
		t.Fatalf("%d Representations in the packaged MPD, want video and audio", len(tracks))
	}
	return mpd, tracks
}

// shiftSegment returns seg with every tfdt moved later by off ticks, as an
// encoder's next loop of the same content.
func shiftSegment(seg []byte, off uint64) ([]byte, error) {
	f, err := mp4.DecodeFile(bytes.NewReader(seg))
	if err != nil {
		return nil, err
	}
	for _, s := range f.Segments {
		for _, frag := range s.Fragments {
			for _, traf := range frag.Moof.Trafs {
				if traf.Tfdt == nil {
					return nil, fmt.Errorf("traf without tfdt")
				}
				traf.Tfdt.SetBaseMediaDecodeTime(traf.Tfdt.BaseMediaDecodeTime() + off)
			}
		}
	}
	var b bytes.Buffer
	if err := f.Encode(&b); err != nil {
		return nil, err
	}
	if b.Len() != len(seg) {
		return nil, fmt.Errorf("re-encoded segment is %d bytes, was %d", b.Len(), len(seg))
	}
	return b.Bytes(), nil
}

// startCMAFIngest publishes the `cmafkit package` output of in as CMAF
// ingest (DASH-IF Live Media Ingest interface 1, one PUT per object): the
// packager's own MPD at base/KEY/manifest.mpd, each track's header, then
// its segments, each when its last sample is due in real time, looped
// (each loop's tfdt moved on by the track's duration, so that each track's
// timeline runs on without a gap or a reset) until the test ends.
func startCMAFIngest(t *testing.T, in, base string) {
	t.Helper()
	mpd, tracks := packageVOD(t, in)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// Registered after startLive's cleanup, so it runs first: the
	// encoder stops before the packager.
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("CMAF ingest publisher: %v", err)
		}
	})
	put := func(name string, body []byte) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, base+name, bytes.NewReader(body))
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("PUT %s: %s", name, resp.Status)
		}
		return nil
	}
	go func() {
		done <- func() error {
			if err := put("manifest.mpd", mpd); err != nil {
				return err
			}
			for _, vt := range tracks {
				if err := put(vt.id+"/init.mp4", vt.init); err != nil {
					return err
				}
			}
			// Every segment of every track in the order its last
			// sample is due, loop after loop.
			type due struct {
				at       time.Duration
				vt       *vodTrack
				loop, ix int
			}
			start := time.Now()
			for loop := 0; ; loop++ {
				var next []due
				for _, vt := range tracks {
					for i, end := range vt.ends {
						at := time.Duration(uint64(loop)*vt.duration+end) * time.Second / time.Duration(vt.timescale)
						next = append(next, due{at, vt, loop, i})
					}
				}
				slices.SortStableFunc(next, func(a, b due) int { return int(a.at - b.at) })
				for _, d := range next {
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(time.Until(start.Add(d.at))):
					}
					seg, err := shiftSegment(d.vt.segs[d.ix], uint64(d.loop)*d.vt.duration)
					if err != nil {
						return fmt.Errorf("%s segment %d: %w", d.vt.id, d.ix+1, err)
					}
					number := d.loop*len(d.vt.segs) + d.ix + 1
					if err := put(fmt.Sprintf("%s/seg-%d.m4s", d.vt.id, number), seg); err != nil {
						if ctx.Err() != nil {
							return nil
						}
						return err
					}
				}
			}
		}()
	}()
}
