package cmafingest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
)

// nopPublisher takes everything and keeps nothing.
type nopPublisher struct{ tracks int }

func (p *nopPublisher) AddTrack(ctx context.Context, t *segment.Track) (int, error) {
	p.tracks++
	return p.tracks - 1, nil
}

func (p *nopPublisher) WriteSample(ctx context.Context, track int, s segment.Sample, payload []byte) error {
	if track < 0 || track >= p.tracks || int(s.Size) != len(payload) {
		panic("bad sample handed over")
	}
	return nil
}

func (p *nopPublisher) Discontinuity(ctx context.Context) {}
func (p *nopPublisher) Close(err error)                   {}

// FuzzBody posts arbitrary bodies, as a long POST of one track and as a
// header and then a segment by separate requests: no panic, no hang, and
// an answer of 200 or a 4xx.
func FuzzBody(f *testing.F) {
	tracks := ladderTracks(f)
	audio := tracks[1]
	f.Add(append(append([]byte{}, audio.header...), audio.segs[0]...), []byte(nil))
	f.Add(audio.header, audio.segs[1])
	f.Add(audio.header[:len(audio.header)/2], []byte("garbage"))
	f.Add([]byte{0, 0, 0, 8, 'm', 'f', 'r', 'a'}, []byte{0, 0, 0, 1, 'm', 'd', 'a', 't', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, first, second []byte) {
		h := &Handler{Publish: func(ctx context.Context, key string) (live.Publisher, error) { return &nopPublisher{}, nil },
			Options: Options{MaxFragmentSize: 1 << 20}}
		defer h.Close(nil)
		for _, body := range [][]byte{first, second} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/k/v", bytes.NewReader(body)))
			if w.Code != http.StatusOK && (w.Code < 400 || w.Code >= 500) {
				t.Fatalf("answer %d: %s", w.Code, w.Body)
			}
		}
	})
}

// FuzzMPD parses arbitrary MPDs and matches a name against them.
func FuzzMPD(f *testing.F) {
	f.Add(`<MPD><Period><AdaptationSet><SegmentTemplate initialization="i-$RepresentationID$.mp4" media="s-$RepresentationID$-$Number%05d$.m4s"/><Representation id="v"/></AdaptationSet></Period></MPD>`, "s-v-00001.m4s")
	f.Add(`<MPD><Period><AdaptationSet><Representation id="a$"><SegmentTemplate initialization="$RepresentationID$/i" media="$RepresentationID$/$Time$$$"/></Representation></AdaptationSet></Period></MPD>`, "a$/12$")
	f.Fuzz(func(t *testing.T, mpd, name string) {
		n, err := parseMPD([]byte(mpd), "d/m.mpd")
		if err != nil {
			return
		}
		n.track(name)
		n.has(name)
	})
}
