// Package manifesttest builds fixed presentation models for the tests of
// manifest, manifest/hls and manifest/dash, so that the golden files of both
// formats describe the same content.
package manifesttest

import (
	"fmt"
	"time"

	"github.com/cmafkit/cmafkit/segment"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
)

// Timescales and durations of the fixtures: 30000/1001 fps video cut every
// 60 frames (2.002 s, the test-data ladder's 2 s GOPs), 48 kHz AAC cut at
// the nearest 1024-sample frame, WebVTT in milliseconds.
const (
	VideoTimescale = 30000
	AudioTimescale = 48000
	TextTimescale  = 1000
)

// sizeAt returns a deterministic, varying segment size for a bit rate.
func sizeAt(bitrate uint64, ticks uint64, timescale uint32, i int) uint64 {
	base := bitrate * ticks / uint64(timescale) / 8
	return base + base*uint64(i%3)/10 // 100 %, 110 %, 120 %
}

// segments cuts total ticks into segments of seg ticks (the last shorter).
func segments(uriFmt string, total, seg uint64, timescale uint32, bitrate uint64) []manifest.SegmentRef {
	var out []manifest.SegmentRef
	for start, i := uint64(0), 0; start < total; i++ {
		d := min(seg, total-start)
		out = append(out, manifest.SegmentRef{
			URI: fmt.Sprintf(uriFmt, i+1), Number: uint64(i + 1),
			Start: start, Duration: d, Size: sizeAt(bitrate, d, timescale, i),
		})
		start += d
	}
	return out
}

// iframesOf derives one I-frame per segment: the first chunk (moof + IDR)
// of each segment, a fifth of the segment's size.
func iframesOf(segs []manifest.SegmentRef) []manifest.IFrameRef {
	out := make([]manifest.IFrameRef, len(segs))
	for i, s := range segs {
		out[i] = manifest.IFrameRef{URI: s.URI, Range: manifest.ByteRange{Offset: s.Range.Offset, Length: s.Size / 5}, Start: s.Start, Duration: s.Duration}
	}
	return out
}

type rung struct {
	id            string
	width, height int
	codecs        string
	bitrate       uint64
}

var rungs = []rung{
	{"video-720p", 1280, 720, "avc1.64001f", 2_500_000},
	{"video-360p", 640, 360, "avc1.64001e", 800_000},
}

// Ladder returns the reference model: two H.264 rungs (720p, 360p) with
// I-frames, AAC-LC stereo audio in English and a described-video French
// track, and English WebVTT subtitles, total seconds long (the test-data
// ladder is 8 s). Segments are addressed by $Number$ templates.
func Ladder(total time.Duration) *manifest.Presentation {
	vTotal := manifest.DurationToTicks(total, VideoTimescale)
	aTotal := manifest.DurationToTicks(total, AudioTimescale)
	tTotal := manifest.DurationToTicks(total, TextTimescale)

	video := manifest.SwitchingSet{ID: "video", ContentType: segment.KindVideo, CodecFamily: "avc", Roles: []manifest.Role{manifest.RoleMain}}
	for _, r := range rungs {
		segs := segments("video/"+r.id+"/seg-%d.m4s", vTotal, 60060, VideoTimescale, r.bitrate)
		video.Representations = append(video.Representations, manifest.Representation{
			ID: r.id, Codecs: r.codecs, Width: r.width, Height: r.height,
			FrameRate: segment.Rational{Num: 30000, Den: 1001}, PixelAspect: segment.Rational{Num: 1, Den: 1},
			VideoRange: manifest.SDR, Timescale: VideoTimescale,
			Init:     manifest.Resource{URI: "video/" + r.id + "/init.mp4"},
			Segments: segs,
			Template: &manifest.Template{Init: "video/$RepresentationID$/init.mp4", Media: "video/$RepresentationID$/seg-$Number$.m4s"},
			IFrames:  iframesOf(segs),
		})
	}
	audio := func(id, lang, label string, roles ...manifest.Role) manifest.SwitchingSet {
		return manifest.SwitchingSet{
			ID: id, ContentType: segment.KindAudio, Lang: lang, Label: label, Roles: roles, CodecFamily: "aac", Autoselect: true,
			Representations: []manifest.Representation{{
				ID: id, Codecs: "mp4a.40.2", SampleRate: 48000, Channels: 2, Timescale: AudioTimescale,
				// 1024 priming samples trimmed by the edit list.
				PresentationTimeOffset: 1024,
				Init:                   manifest.Resource{URI: "audio/" + id + "/init.mp4"},
				Segments:               segments("audio/"+id+"/seg-%d.m4s", aTotal, 96256, AudioTimescale, 128_000),
				Template:               &manifest.Template{Init: "audio/$RepresentationID$/init.mp4", Media: "audio/$RepresentationID$/seg-$Number$.m4s"},
			}},
		}
	}
	en := audio("audio-en", "en", "English", manifest.RoleMain)
	en.Default = true
	fr := audio("audio-fr-ad", "fr", "Français (audiodescription)", manifest.RoleDescription)
	subs := manifest.SwitchingSet{
		ID: "subs-en", ContentType: segment.KindText, Lang: "en", Label: "English", Roles: []manifest.Role{manifest.RoleSubtitle}, Autoselect: true,
		Representations: []manifest.Representation{{
			ID: "subs-en", Timescale: TextTimescale,
			Segments: segments("subs/en/seg-%d.vtt", tTotal, 2000, TextTimescale, 1_000),
			Template: &manifest.Template{Media: "subs/en/seg-$Number$.vtt"},
		}},
	}
	p := &manifest.Presentation{
		CMAF: true, TargetDuration: 2 * time.Second, MinBufferTime: 2 * time.Second,
		Periods: []manifest.Period{{ID: "p0", Sets: []manifest.SwitchingSet{video, en, fr, subs}}},
	}
	p.FillBandwidth()
	return p
}

// SingleFile returns the ladder stored as one file per representation:
// segments are byte ranges, the init segment and the sidx precede them.
// Subtitles are one side-loaded WebVTT file.
func SingleFile(total time.Duration) *manifest.Presentation {
	p := Ladder(total)
	sets := p.Periods[0].Sets
	for si := range sets {
		set := &sets[si]
		for ri := range set.Representations {
			r := &set.Representations[ri]
			r.Template = nil
			if set.ContentType == segment.KindText {
				file := "subs/en.vtt"
				r.Segments, r.Init = nil, manifest.Resource{}
				r.SingleFile = &manifest.SingleFile{URI: file}
				r.Bandwidth, r.AverageBandwidth = 1_000, 1_000
				continue
			}
			file := r.ID + ".mp4"
			initLen := uint64(700 + 10*ri)
			index := manifest.ByteRange{Offset: initLen, Length: 12 + 12*uint64(len(r.Segments)) + 32}
			r.Init = manifest.Resource{URI: file, Range: manifest.ByteRange{Offset: 0, Length: initLen}}
			r.SingleFile = &manifest.SingleFile{URI: file, IndexRange: index}
			off := index.Offset + index.Length
			for i := range r.Segments {
				s := &r.Segments[i]
				s.URI, s.Range = file, manifest.ByteRange{Offset: off, Length: s.Size}
				off += s.Size
			}
			if r.IFrames != nil {
				r.IFrames = iframesOf(r.Segments)
			}
		}
	}
	return p
}

// KID and system data used by Protected. The PSSH boxes and the PlayReady
// object are stand-ins (the renderers only base64 them).
var (
	KIDVideo = drm.KID{0x10, 0x10, 0x10, 0x10, 0x20, 0x20, 0x30, 0x30, 0x40, 0x40, 0x50, 0x50, 0x50, 0x50, 0x50, 0x50}
	KIDAudio = drm.KID{0xa1, 0xa1, 0xa1, 0xa1, 0xb2, 0xb2, 0xc3, 0xc3, 0xd4, 0xd4, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5}
)

func systems(scheme drm.Scheme, kid drm.KID) []drm.SystemSignaling {
	wvPSSH := append([]byte{0, 0, 0, 0x32, 'p', 's', 's', 'h', 0, 0, 0, 0}, drm.SystemIDWidevine[:]...)
	wvPSSH = append(wvPSSH, 0, 0, 0, 0x12, 0x12, 0x10)
	wvPSSH = append(wvPSSH, kid[:]...)
	out := []drm.SystemSignaling{
		{System: drm.Widevine, PSSH: wvPSSH, LicenseURL: "https://license.example.com/widevine"},
		{System: drm.PlayReady, PlayReadyObject: []byte("PRO-object-for-" + kid.String()), LicenseURL: "https://license.example.com/playready"},
	}
	if scheme == drm.SchemeCBCS {
		out = append(out, drm.SystemSignaling{System: drm.FairPlay, KeyURI: "skd://" + kid.String()})
	} else {
		out = append(out, drm.SystemSignaling{System: drm.ClearKey, LicenseURL: "https://license.example.com/clearkey"})
	}
	return out
}

// Protected returns the ladder encrypted with scheme: video and audio with
// separate keys, Widevine and PlayReady always, plus FairPlay for cbcs or
// ClearKey for cenc. Subtitles stay clear.
func Protected(total time.Duration, scheme drm.Scheme) *manifest.Presentation {
	p := Ladder(total)
	for si := range p.Periods[0].Sets {
		set := &p.Periods[0].Sets[si]
		switch set.ContentType {
		case segment.KindVideo:
			set.Protection = &drm.Protection{Scheme: scheme, DefaultKID: KIDVideo, Systems: systems(scheme, KIDVideo)}
		case segment.KindAudio:
			set.Protection = &drm.Protection{Scheme: scheme, DefaultKID: KIDAudio, Systems: systems(scheme, KIDAudio)}
		}
	}
	return p
}

// Rotated is Protected with key rotation every `every` segments: each later
// crypto period of a set uses the set's KID with its last byte replaced by
// the period number.
func Rotated(total time.Duration, scheme drm.Scheme, every int) *manifest.Presentation {
	p := Protected(total, scheme)
	for si := range p.Periods[0].Sets {
		set := &p.Periods[0].Sets[si]
		if set.Protection == nil {
			continue
		}
		for first := every; first < len(set.Representations[0].Segments); first += every {
			kid := set.Protection.DefaultKID
			kid[15] = byte(first / every)
			set.Protection.KeyPeriods = append(set.Protection.KeyPeriods, drm.KeyPeriod{FirstSegment: first, KID: kid, Systems: systems(scheme, kid)})
		}
	}
	return p
}

// SubSecond returns a half-second presentation of one video and one audio
// segment, the case go-dash v3.0.3 formats as an invalid duration.
func SubSecond() *manifest.Presentation {
	p := Ladder(500 * time.Millisecond)
	sets := p.Periods[0].Sets
	p.Periods[0].Sets = []manifest.SwitchingSet{sets[0], sets[1]}
	p.Periods[0].Sets[0].Representations = p.Periods[0].Sets[0].Representations[:1]
	p.MinBufferTime = 250 * time.Millisecond
	p.TargetDuration = 0
	p.FillBandwidth()
	return p
}

// Big returns a presentation of the given length with videoReps video
// representations and audioReps audio languages, 2 s segments and no
// I-frames: the benchmark's 3-hour, 8-representation case.
func Big(total time.Duration, videoReps, audioReps int) *manifest.Presentation {
	vTotal := manifest.DurationToTicks(total, 90000)
	aTotal := manifest.DurationToTicks(total, AudioTimescale)
	video := manifest.SwitchingSet{ID: "video", ContentType: segment.KindVideo, CodecFamily: "avc"}
	for i := 0; i < videoReps; i++ {
		id := fmt.Sprintf("v%d", i)
		h := 1080 - 120*i
		video.Representations = append(video.Representations, manifest.Representation{
			ID: id, Codecs: "avc1.640028", Width: h * 16 / 9, Height: h, FrameRate: segment.Rational{Num: 25, Den: 1},
			Timescale: 90000, Init: manifest.Resource{URI: "v/" + id + "/init.mp4"},
			Segments: segments("v/"+id+"/%d.m4s", vTotal, 180000, 90000, uint64(5_000_000-500_000*i)),
			Template: &manifest.Template{Init: "v/$RepresentationID$/init.mp4", Media: "v/$RepresentationID$/$Number$.m4s"},
		})
	}
	sets := []manifest.SwitchingSet{video}
	for i := 0; i < audioReps; i++ {
		id := fmt.Sprintf("a%d", i)
		sets = append(sets, manifest.SwitchingSet{
			ID: id, ContentType: segment.KindAudio, Lang: fmt.Sprintf("l%d", i), CodecFamily: "aac",
			Representations: []manifest.Representation{{
				ID: id, Codecs: "mp4a.40.2", SampleRate: 48000, Channels: 2, Timescale: AudioTimescale,
				Init:     manifest.Resource{URI: "a/" + id + "/init.mp4"},
				Segments: segments("a/"+id+"/%d.m4s", aTotal, 96000, AudioTimescale, 128_000),
				Template: &manifest.Template{Init: "a/$RepresentationID$/init.mp4", Media: "a/$RepresentationID$/$Number$.m4s"},
			}},
		})
	}
	p := &manifest.Presentation{CMAF: true, TargetDuration: 2 * time.Second, Periods: []manifest.Period{{Sets: sets}}}
	p.FillBandwidth()
	return p
}
