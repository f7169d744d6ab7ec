package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/cmafkit/cmafkit/ingest/rtmp"
	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
)

// startRTMP serves RTMP on 127.0.0.1 (a free port) until ctx is done,
// admitting publishers with publish; it returns the publish URL prefix
// (rtmp://ADDR/live/).
func startRTMP(ctx context.Context, publish live.PublisherFunc) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	srv := &rtmp.Server{Publishers: publish}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ctx, ln)
	}()
	return "rtmp://" + ln.Addr().String() + "/live/", func() { cancel(); <-done }, nil
}

// rtmpPublisher is a live.Publisher that sends what live.Replay pushes to
// an RTMP server with gortmplib's client, as an encoder publishing
// H.264 + AAC over FLV would: a Go stand-in for 50 ffmpeg processes, so
// that the benchmark measures the packager, RTMP ingest included, and not
// the encoders.
type rtmpPublisher struct {
	url    string
	client *gortmplib.Client
	w      *gortmplib.Writer
	tracks []*gortmplib.Track
	scales []uint32
	video  []bool
	nalus  [][]byte
}

func (p *rtmpPublisher) AddTrack(ctx context.Context, t *segment.Track) (int, error) {
	var rt *gortmplib.Track
	switch se := t.SampleEntry.(type) {
	case *mp4.VisualSampleEntryBox:
		if se.AvcC == nil || len(se.AvcC.SPSnalus) == 0 || len(se.AvcC.PPSnalus) == 0 {
			return 0, fmt.Errorf("livebench: RTMP: video %s is not H.264 with SPS and PPS", t.Codec)
		}
		rt = &gortmplib.Track{Codec: &codecs.H264{SPS: se.AvcC.SPSnalus[0], PPS: se.AvcC.PPSnalus[0]}}
	case *mp4.AudioSampleEntryBox:
		if se.Esds == nil || se.Esds.DecConfigDescriptor == nil || se.Esds.DecConfigDescriptor.DecSpecificInfo == nil {
			return 0, fmt.Errorf("livebench: RTMP: audio %s is not AAC", t.Codec)
		}
		var asc mpeg4audio.AudioSpecificConfig
		if err := asc.Unmarshal(se.Esds.DecConfigDescriptor.DecSpecificInfo.DecConfig); err != nil {
			return 0, fmt.Errorf("livebench: RTMP: AAC config: %w", err)
		}
		rt = &gortmplib.Track{Codec: &codecs.MPEG4Audio{Config: &asc}}
	default:
		return 0, fmt.Errorf("livebench: RTMP: %s track not sent", t.Kind)
	}
	p.tracks = append(p.tracks, rt)
	p.scales = append(p.scales, t.Timescale)
	p.video = append(p.video, t.Kind == segment.KindVideo)
	return len(p.tracks) - 1, nil
}

func (p *rtmpPublisher) WriteSample(ctx context.Context, track int, s segment.Sample, payload []byte) error {
	if p.w == nil {
		u, err := url.Parse(p.url)
		if err != nil {
			return err
		}
		p.client = &gortmplib.Client{URL: u, Publish: true}
		if err := p.client.Initialize(ctx); err != nil {
			return err
		}
		p.w = &gortmplib.Writer{Conn: p.client, Tracks: p.tracks}
		if err := p.w.Initialize(); err != nil {
			return err
		}
	}
	ts := time.Duration(p.scales[track])
	dts := time.Duration(s.DecodeTime) * time.Second / ts
	pts := dts + time.Duration(s.CompositionOffset)*time.Second/ts
	if !p.video[track] {
		return p.w.WriteMPEG4Audio(p.tracks[track], pts, payload)
	}
	p.nalus = p.nalus[:0]
	for b := payload; len(b) > 0; {
		if len(b) < 4 {
			return errors.New("livebench: RTMP: truncated NAL unit length")
		}
		n := int(binary.BigEndian.Uint32(b))
		if n > len(b)-4 {
			return errors.New("livebench: RTMP: NAL unit past the sample")
		}
		p.nalus = append(p.nalus, b[4:4+n])
		b = b[4+n:]
	}
	return p.w.WriteH264(p.tracks[track], pts, dts, p.nalus)
}

func (p *rtmpPublisher) Discontinuity(ctx context.Context) {}

func (p *rtmpPublisher) Close(err error) {
	if p.client != nil {
		p.client.Close()
	}
}
