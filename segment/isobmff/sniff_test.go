package isobmff_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/internal/mp4fixture"
)

// adtsFrame returns an ADTS frame (AAC-LC, 48 kHz, stereo, no CRC) with n
// payload bytes.
func adtsFrame(n int) []byte {
	fl := 7 + n
	h := []byte{0xff, 0xf1, 0x4c, 0x80 | byte(fl>>11)&3, byte(fl >> 3), byte(fl&7)<<5 | 0x1f, 0xfc}
	return append(h, bytes.Repeat([]byte{0x21}, n)...)
}

// mp3Frame returns an MPEG-1 layer III frame, 128 kb/s at 44.1 kHz (417 bytes).
func mp3Frame() []byte {
	return append([]byte{0xff, 0xfb, 0x90, 0x64}, make([]byte, 413)...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestSniffOtherFormats: inputs that are no MP4 are refused with
// ErrUnsupportedFormat naming what they look like, not taken for damaged
// MP4s ("truncated input: box of 1229206276 bytes").
func TestSniffOtherFormats(t *testing.T) {
	id3 := cat([]byte("ID3\x04\x00\x00\x00\x00\x00\x0a"), make([]byte, 10))
	ebml := func(doctype string) []byte {
		return cat([]byte{0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0xf7, 0x81, 0x01, 0x42, 0xf2, 0x81, 0x04, 0x42, 0xf3, 0x81, 0x08,
			0x42, 0x82, 0x80 | byte(len(doctype))}, []byte(doctype), []byte{0x18, 0x53, 0x80, 0x67, 0x01, 0, 0, 0, 0, 0, 0, 0})
	}
	cases := []struct {
		name  string
		input []byte
		want  []string
	}{
		{"ADTS", cat(adtsFrame(200), adtsFrame(180), adtsFrame(190)), []string{"raw ADTS AAC", "ffmpeg -i bad.aac -c copy bad.mp4"}},
		{"ADTS one frame", adtsFrame(300), []string{"raw ADTS AAC"}},
		{"ID3 and ADTS", cat(id3, adtsFrame(200), adtsFrame(200)), []string{"raw ADTS AAC", "with an ID3 tag"}},
		{"MP3", cat(id3, mp3Frame(), mp3Frame()), []string{"MP3", "with an ID3 tag"}},
		{"MP3 after padding", cat(id3, make([]byte, 20), mp3Frame(), mp3Frame()), []string{"MP3", "with an ID3 tag"}},
		{"AC-3", cat([]byte{0x0b, 0x77, 0x12, 0x34, 0x14, 0x40}, make([]byte, 100)), []string{"raw AC-3"}},
		{"Annex B H.264", cat([]byte{0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x64, 0, 0x1f, 0xac}, make([]byte, 64)), []string{"Annex B H.264", "-framerate"}},
		{"Annex B H.264 3-byte start code", cat([]byte{0, 0, 1, 0x67, 0x42, 0xc0, 0x1e, 0xd9}, make([]byte, 64)), []string{"Annex B H.264"}},
		{"Annex B HEVC", cat([]byte{0, 0, 0, 1, 0x40, 0x01, 0x0c, 0x01, 0xff, 0xff}, make([]byte, 64)), []string{"Annex B HEVC"}},
		{"Annex B HEVC AUD", cat([]byte{0, 0, 0, 1, 0x46, 0x01, 0x50, 0, 0, 0, 1, 0x40, 0x01}, make([]byte, 64)), []string{"Annex B HEVC"}},
		{"length-prefixed H.264", cat([]byte{0, 0, 0, 2, 0x09, 0x10, 0, 0, 0, 4, 0x67, 0x42, 0, 0x1e}, []byte{0, 0, 0, 2, 0x68, 0xce}), []string{"length prefixes"}},
		{"WebM", ebml("webm"), []string{"WebM", "ffmpeg -i bad.aac -c copy bad.mp4"}},
		{"Matroska", ebml("matroska"), []string{"Matroska"}},
		{"Matroska cluster", cat([]byte{0x1f, 0x43, 0xb6, 0x75, 0x01, 0xff}, make([]byte, 32)), []string{"Matroska or WebM"}},
		{"MPEG-PS", cat([]byte{0, 0, 1, 0xba, 0x44, 0, 4, 0, 4, 1}, make([]byte, 64)), []string{"program stream"}},
		{"WAV", cat([]byte("RIFF\x24\x08\x00\x00WAVEfmt "), make([]byte, 32)), []string{"WAV"}},
		{"AMR-WB", cat([]byte("#!AMR-WB\n"), make([]byte, 64)), []string{"AMR file", "-c:a aac"}},
		{"AMR-NB", cat([]byte("#!AMR\n"), make([]byte, 64)), []string{"AMR file"}},
		{"SRT", []byte("1\n00:00:00,000 --> 00:00:02,000\nHello\n\n2\n"), []string{"SubRip (SRT)", "out.vtt"}},
		{"SRT CRLF BOM", []byte("\xef\xbb\xbf12\r\n00:01:00.000 --> 00:01:02.500\r\nHello\r\n"), []string{"SubRip (SRT)"}},
		{"HLS playlist", []byte("#EXTM3U\n#EXT-X-VERSION:3\n"), []string{"HLS playlist"}},
		{"MPD", []byte(`<?xml version="1.0"?>` + "\n" + `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">`), []string{"DASH manifest"}},
		{"MPEG-TS", cat([]byte{0x47, 0x40, 0, 0x10}, make([]byte, 184), []byte{0x47, 0x40, 0, 0x11}, make([]byte, 184)), []string{"MPEG-TS", "segment/ts"}},
		{"random", []byte{0x6b, 0x1b, 0x2d, 0xf3, 0xed, 0x94, 0xc8, 0x2f, 1, 2, 3, 4}, []string{"does not start with an MP4 box", "6b 1b 2d f3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := segment.Open(context.Background(), bytes.NewReader(c.input), int64(len(c.input)), "bad.aac", nil)
			if !errors.Is(err, segment.ErrUnsupportedFormat) {
				t.Fatalf("got %v, want ErrUnsupportedFormat", err)
			}
			var fe *segment.FormatError
			if !errors.As(err, &fe) || fe.Source != "bad.aac" || fe.Offset != 0 {
				t.Errorf("%v is not a *FormatError naming the source and byte 0", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestSniffKeepsMP4: MP4 inputs are not sniffed away, whatever their
// first box; a box type that is unknown but printable is left to the parser.
func TestSniffKeepsMP4(t *testing.T) {
	for _, name := range []string{"ladder_360p.mp4", "fragmented.mp4", "moov_end.mp4"} {
		if err := open(readTestFile(t, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	free := cat([]byte{0, 0, 0, 16}, []byte("abcd"), make([]byte, 8), readTestFile(t, "ladder_360p.mp4"))
	if err := open(free); err != nil {
		t.Errorf("unknown printable first box: %v", err)
	}
	// A large-size mdat first (00 00 00 01 is also an Annex B start code).
	large := cat([]byte{0, 0, 0, 1}, []byte("free"), []byte{0, 0, 0, 0, 0, 0, 0, 16}, readTestFile(t, "ladder_360p.mp4"))
	if err := open(large); err != nil {
		t.Errorf("large-size first box: %v", err)
	}
}

// TestSegmentWithoutInit: movie fragments with no moov are described as a
// media segment missing its init segment.
func TestSegmentWithoutInit(t *testing.T) {
	b := mp4fixture.FMP4(t, 48000, "audio", mp4fixture.AAC(t), []mp4fixture.Sample{{Data: []byte{1, 2, 3}, Dur: 1024, Sync: true}})
	seg := b[bytes.Index(b, []byte("moof"))-4:]
	err := open(seg)
	if !errors.Is(err, segment.ErrMalformed) || !strings.Contains(err.Error(), "without its init segment") {
		t.Fatalf("got %v", err)
	}
}

// TestInitWithoutSegments: an init segment alone is described as such.
func TestInitWithoutSegments(t *testing.T) {
	err := open(mp4fixture.FMP4(t, 48000, "audio", mp4fixture.AAC(t), nil))
	if !errors.Is(err, segment.ErrMalformed) || !strings.Contains(err.Error(), "init segment without media segments") {
		t.Fatalf("got %v", err)
	}
}

// TestAudioObjectTypeIndication: mp4a entries of other audio formats name them.
func TestAudioObjectTypeIndication(t *testing.T) {
	b := mp4fixture.FMP4(t, 48000, "audio", func(_ *mp4.InitSegment, trak *mp4.TrakBox) {
		esds := mp4.CreateEsdsBox([]byte{0x12, 0x10})
		esds.DecConfigDescriptor.ObjectType = 0x6b
		trak.Mdia.Minf.Stbl.Stsd.AddChild(mp4.CreateAudioSampleEntryBox("mp4a", 2, 16, 48000, esds))
	}, []mp4fixture.Sample{{Data: []byte{1, 2, 3}, Dur: 1152, Sync: true}})
	err := open(b)
	if !errors.Is(err, segment.ErrUnsupportedCodec) || !strings.Contains(err.Error(), "0x6b (MPEG-1 audio: MP3 or MP2)") {
		t.Fatalf("got %v", err)
	}
}

// TestEncryptedInput: a protected sample entry is reported as encrypted,
// with its scheme and original format, not as an unsupported codec "encv".
func TestEncryptedInput(t *testing.T) {
	for _, scheme := range []string{"cenc", "cbcs"} {
		t.Run(scheme, func(t *testing.T) {
			b := mp4fixture.FMP4(t, 48000, "audio", func(init *mp4.InitSegment, trak *mp4.TrakBox) {
				mp4fixture.AAC(t)(init, trak)
				kid, _ := mp4.NewUUIDFromString("00112233445566778899aabbccddeeff")
				if _, err := mp4.InitProtect(init, make([]byte, 16), make([]byte, 16), scheme, kid, nil); err != nil {
					t.Fatal(err)
				}
			}, []mp4fixture.Sample{{Data: []byte{1, 2, 3}, Dur: 1024, Sync: true}})
			err := open(b)
			if !errors.Is(err, segment.ErrEncrypted) || errors.Is(err, segment.ErrUnsupportedCodec) {
				t.Fatalf("got %v, want ErrEncrypted", err)
			}
			var fe *segment.FormatError
			if !errors.As(err, &fe) || fe.Track != 1 || !strings.HasSuffix(fe.Box, "/enca") {
				t.Errorf("%v does not name the track and sample entry", err)
			}
			for _, w := range []string{`scheme "` + scheme + `"`, `original format "mp4a"`, "decrypt it first"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestExtendedAudioObjectType: object types behind the escape value 31
// (xHE-AAC is 42, ALS 36) are named as unsupported codecs, not reported as
// a malformed "object type 31".
func TestExtendedAudioObjectType(t *testing.T) {
	cases := []struct {
		name string
		asc  []byte // AudioSpecificConfig
		want []string
	}{
		// 11111 001010 (32+10 = 42), 48 kHz (3), stereo (2), then USAC config bits.
		{"xHE-AAC", []byte{0xf9, 0x46, 0x40, 0x00}, []string{"mp4a.40.42", "xHE-AAC"}},
		// 11111 000100 (32+4 = 36), 48 kHz, stereo.
		{"ALS", []byte{0xf8, 0x86, 0x40, 0x00}, []string{"mp4a.40.36", "ALS"}},
		// AAC Main (1) has no escape but is not supported either.
		{"AAC Main", []byte{0x09, 0x90}, []string{"mp4a.40.1", "AAC Main"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := mp4fixture.FMP4(t, 48000, "audio", func(_ *mp4.InitSegment, trak *mp4.TrakBox) {
				trak.Mdia.Minf.Stbl.Stsd.AddChild(mp4.CreateAudioSampleEntryBox("mp4a", 2, 16, 48000, mp4.CreateEsdsBox(c.asc)))
			}, []mp4fixture.Sample{{Data: []byte{1, 2, 3}, Dur: 2048, Sync: true}})
			err := open(b)
			if !errors.Is(err, segment.ErrUnsupportedCodec) {
				t.Fatalf("got %v, want ErrUnsupportedCodec", err)
			}
			var fe *segment.FormatError
			if !errors.As(err, &fe) || fe.Track != 1 {
				t.Errorf("%v does not name the track", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "31") {
				t.Errorf("error %q still names the escape value", err)
			}
		})
	}
}

// FuzzSniff feeds the signatures of other formats, mutated, to Open: it
// must return an error or a source, never panic or read out of bounds.
func FuzzSniff(f *testing.F) {
	id3 := cat([]byte("ID3\x04\x00\x00\x00\x00\x00\x0a"), make([]byte, 10))
	for _, seed := range [][]byte{
		cat(adtsFrame(20), adtsFrame(18)), cat(id3, adtsFrame(20)), cat(id3, mp3Frame()[:40]),
		{0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x64}, {0, 0, 1, 0x40, 0x01, 0x0c}, {0, 0, 0, 2, 0x09, 0x10, 0, 0, 0, 2, 0x68, 0xce},
		{0x1a, 0x45, 0xdf, 0xa3, 0x42, 0x82, 0x84, 'w', 'e', 'b', 'm'}, []byte("RIFF\x24\x08\x00\x00WAVE"), []byte("#EXTM3U\n"),
		{0x0b, 0x77, 0x12, 0x34, 0x14, 0x40}, {0x47, 0x40, 0, 0x10},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := segment.Open(context.Background(), bytes.NewReader(b), int64(len(b)), "fuzz", nil)
		if err == nil && len(src.Tracks) == 0 {
			t.Fatal("no error and no tracks")
		}
	})
}
