package piff_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	_ "github.com/cmafkit/cmafkit/segment/isobmff"
	"github.com/cmafkit/cmafkit/segment/piff"
)

func openLadder(t *testing.T) (*segment.Source, *segment.Plan) {
	t.Helper()
	src, err := segment.OpenFile(context.Background(), "../../testdata/ladder_360p.mp4", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	plan, err := segment.PlanSegments(src.Tracks, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return src, plan
}

// children returns the types of the boxes of b (a sequence of boxes).
func children(t *testing.T, b []byte) []string {
	t.Helper()
	var types []string
	for len(b) >= 8 {
		n := binary.BigEndian.Uint32(b)
		if n < 8 || int(n) > len(b) {
			t.Fatalf("bad box size %d of %d bytes", n, len(b))
		}
		types = append(types, string(b[4:8]))
		b = b[n:]
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes after the last box", len(b))
	}
	return types
}

// box returns the payload (after the header) of the first box of type typ
// in b, and its offset in b.
func box(t *testing.T, b []byte, typ string) ([]byte, int) {
	t.Helper()
	off := 0
	for off+8 <= len(b) {
		n := int(binary.BigEndian.Uint32(b[off:]))
		if string(b[off+4:off+8]) == typ {
			return b[off+8 : off+n], off
		}
		off += n
	}
	t.Fatalf("no %s box", typ)
	return nil, 0
}

func TestFragment(t *testing.T) {
	src, plan := openLadder(t)
	for _, tr := range src.Tracks {
		w, err := cmaf.NewWriter(tr, plan, cmaf.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < w.Len(); i++ {
			var seg bytes.Buffer
			info, err := w.WriteSegment(context.Background(), &seg, i)
			if err != nil {
				t.Fatal(err)
			}
			out, err := piff.Fragment(seg.Bytes(), info.DecodeTime, info.Duration)
			if err != nil {
				t.Fatalf("%s segment %d: %v", tr, i, err)
			}
			if got := strings.Join(children(t, out), ","); got != "moof,mdat" {
				t.Fatalf("%s segment %d: top-level boxes %s, want moof,mdat", tr, i, got)
			}
			moof, _ := box(t, out, "moof")
			if got := strings.Join(children(t, moof), ","); got != "mfhd,traf" {
				t.Fatalf("moof holds %s, want mfhd,traf", got)
			}
			traf, _ := box(t, moof, "traf")
			if got := strings.Join(children(t, traf), ","); got != "tfhd,trun,uuid" {
				t.Fatalf("traf holds %s, want tfhd,trun,uuid (tfxd)", got)
			}
			// MS-SSTR 2.2.4.4: uuid, version 1, flags 0, 64-bit time and duration.
			tfxd, _ := box(t, traf, "uuid")
			if len(tfxd) != 16+4+16 {
				t.Fatalf("tfxd payload %d bytes, want 36", len(tfxd))
			}
			if got := hex.EncodeToString(tfxd[:16]); got != "6d1d9b0542d544e680e2141daff757b2" {
				t.Errorf("tfxd uuid %s", got)
			}
			if tfxd[16] != 1 {
				t.Errorf("tfxd version %d, want 1", tfxd[16])
			}
			if got := binary.BigEndian.Uint64(tfxd[20:]); got != info.DecodeTime {
				t.Errorf("segment %d: tfxd time %d, want %d", i, got, info.DecodeTime)
			}
			if got := binary.BigEndian.Uint64(tfxd[28:]); got != info.Duration {
				t.Errorf("segment %d: tfxd duration %d, want %d", i, got, info.Duration)
			}
			// The trun's data offset (from the moof start, as default-base-is-moof
			// says) must land on the first payload byte, which is unchanged.
			trun, _ := box(t, traf, "trun")
			if trun[3]&1 == 0 {
				t.Fatal("trun has no data offset")
			}
			off := int(int32(binary.BigEndian.Uint32(trun[8:])))
			mdat, mdatAt := box(t, out, "mdat")
			if off != mdatAt+8 {
				t.Errorf("trun data offset %d, want %d", off, mdatAt+8)
			}
			orig, _ := box(t, seg.Bytes(), "mdat")
			if !bytes.Equal(mdat, orig) {
				t.Errorf("segment %d: mdat changed", i)
			}
		}
	}
}

func TestFragmentRefusesChunks(t *testing.T) {
	src, plan := openLadder(t)
	w, err := cmaf.NewWriter(src.Tracks[0], plan, cmaf.Options{ChunkDuration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var seg bytes.Buffer
	info, err := w.WriteSegment(context.Background(), &seg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := piff.Fragment(seg.Bytes(), info.DecodeTime, info.Duration); !errors.Is(err, piff.ErrUnsupported) {
		t.Fatalf("segment of %d chunks: err %v, want ErrUnsupported", info.Chunks, err)
	}
}

func TestCodecPrivateData(t *testing.T) {
	src, _ := openLadder(t)
	for _, tr := range src.Tracks {
		cpd, err := piff.CodecPrivateData(tr)
		if err != nil {
			t.Fatal(err)
		}
		fourCC, err := piff.FourCC(tr)
		if err != nil {
			t.Fatal(err)
		}
		switch tr.Kind {
		case segment.KindVideo:
			if fourCC != "H264" {
				t.Errorf("video FourCC %s", fourCC)
			}
			// 00000001 SPS (nal_unit_type 7, then profile, constraints, level as
			// in the codec string) 00000001 PPS (type 8).
			h := hex.EncodeToString(cpd)
			if !strings.HasPrefix(h, "00000001") || cpd[4]&0x1f != 7 || "avc1."+h[10:16] != tr.Codec {
				t.Errorf("H.264 CodecPrivateData %s does not start with the SPS of %s", h, tr.Codec)
			}
			at := bytes.Index(cpd[5:], []byte{0, 0, 0, 1})
			if at < 0 || cpd[5+at+4]&0x1f != 8 {
				t.Errorf("H.264 CodecPrivateData %s: no PPS after the SPS", h)
			}
		case segment.KindAudio:
			if fourCC != "AACL" {
				t.Errorf("audio FourCC %s", fourCC)
			}
			// AudioSpecificConfig: 5 bits object type 2, 4 bits frequency index,
			// 4 bits channel configuration.
			if len(cpd) < 2 || cpd[0]>>3 != 2 || int(cpd[1]>>3&0xf) != tr.Channels {
				t.Errorf("AAC CodecPrivateData %x for %d channels", cpd, tr.Channels)
			}
		}
	}
}

func TestFourCCRefuses(t *testing.T) {
	tr := &segment.Track{Codec: "hvc1.1.6.L93.B0", Kind: segment.KindVideo}
	if _, err := piff.FourCC(tr); !errors.Is(err, piff.ErrUnsupported) || !strings.Contains(err.Error(), "hvc1") {
		t.Fatalf("HEVC: err %v, want ErrUnsupported naming the codec", err)
	}
}

// TestLiveFragment announces the next two fragments of each video
// fragment in a tfrf box (MS-SSTR 2.2.4.5): the traf ends with tfxd then
// tfrf (uuid d4807ef2-ca39-4695-8e54-26cb9e46a79f, version 1, flags 0, a
// count, 64-bit time and duration pairs); the trun still points at the
// unchanged payload. The last fragments announce fewer, and a tfrf of
// more than 255 entries is refused.
func TestLiveFragment(t *testing.T) {
	src, plan := openLadder(t)
	tr := src.Tracks[0]
	w, err := cmaf.NewWriter(tr, plan, cmaf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var infos []cmaf.SegmentInfo
	for i := 0; i < w.Len(); i++ {
		info, err := w.Info(i)
		if err != nil {
			t.Fatal(err)
		}
		infos = append(infos, info)
	}
	for i := range infos {
		var seg bytes.Buffer
		info, err := w.WriteSegment(context.Background(), &seg, i)
		if err != nil {
			t.Fatal(err)
		}
		var next []piff.Next
		for _, n := range infos[i+1 : min(i+3, len(infos))] {
			next = append(next, piff.Next{Time: n.DecodeTime, Duration: n.Duration})
		}
		out, err := piff.LiveFragment(seg.Bytes(), info.DecodeTime, info.Duration, next)
		if err != nil {
			t.Fatal(err)
		}
		moof, _ := box(t, out, "moof")
		traf, _ := box(t, moof, "traf")
		if got := strings.Join(children(t, traf), ","); got != "tfhd,trun,uuid,uuid" {
			t.Fatalf("segment %d: traf holds %s, want tfhd,trun,uuid (tfxd),uuid (tfrf)", i, got)
		}
		// The second uuid: skip the first (tfxd, 8+36 bytes).
		tfxdAt := bytes.Index(traf, []byte("uuid")) - 4
		tfrf := traf[tfxdAt+44+8:]
		if got := hex.EncodeToString(tfrf[:16]); got != "d4807ef2ca3946958e5426cb9e46a79f" {
			t.Fatalf("segment %d: second uuid %s, want tfrf's", i, got)
		}
		if tfrf[16] != 1 || binary.BigEndian.Uint32(tfrf[16:])&0xffffff != 0 {
			t.Errorf("segment %d: tfrf version/flags % x, want 1 and 0", i, tfrf[16:20])
		}
		if int(tfrf[20]) != len(next) || len(tfrf) != 21+16*len(next) {
			t.Fatalf("segment %d: tfrf count %d in %d bytes, want %d entries", i, tfrf[20], len(tfrf), len(next))
		}
		for k, n := range next {
			e := tfrf[21+16*k:]
			if binary.BigEndian.Uint64(e) != n.Time || binary.BigEndian.Uint64(e[8:]) != n.Duration {
				t.Errorf("segment %d: tfrf entry %d: %d/%d, want %d/%d", i, k, binary.BigEndian.Uint64(e), binary.BigEndian.Uint64(e[8:]), n.Time, n.Duration)
			}
		}
		trun, _ := box(t, traf, "trun")
		off := int(int32(binary.BigEndian.Uint32(trun[8:])))
		mdat, mdatAt := box(t, out, "mdat")
		if off != mdatAt+8 {
			t.Errorf("segment %d: trun data offset %d, want %d", i, off, mdatAt+8)
		}
		orig, _ := box(t, seg.Bytes(), "mdat")
		if !bytes.Equal(mdat, orig) {
			t.Errorf("segment %d: mdat changed", i)
		}
	}
	var seg bytes.Buffer
	info, err := w.WriteSegment(context.Background(), &seg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := piff.LiveFragment(seg.Bytes(), info.DecodeTime, info.Duration, make([]piff.Next, 256)); !errors.Is(err, piff.ErrUnsupported) {
		t.Errorf("256 look-ahead entries: err %v, want ErrUnsupported", err)
	}
}
