// Package cctest makes video with CEA-608/708 closed captions in its SEI
// messages, for tests: it writes caption data as a caption encoder would
// (pop-on CEA-608 captions, CEA-708 service blocks) and re-muxes a video
// track as a fragmented MP4 with that data added to its samples. The SEI
// NAL units are built by mp4ff (sei.CreateCTA608SEIMessage and
// avc/hevc.CreateSEINalu), not by the code under test.
package cctest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/bits"
	"slices"

	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/Eyevinn/mp4ff/sei"

	"github.com/cmafkit/cmafkit/segment"
)

// Stream queues caption data and hands it out one video frame at a time,
// as cc_data(): each frame carries one CEA-608 byte pair per field
// (padding when none is queued) and up to four DTVCC (CEA-708) byte pairs.
type Stream struct {
	fields [2][][2]byte // queued CEA-608 pairs, parity added
	dtvcc  [][2]byte    // queued DTVCC pairs; the first of a packet has start set
	starts []bool
	seq    byte
}

// parity sets bit 7 of b so that it has odd parity (CEA-608 6.1).
func parity(b byte) byte {
	b &= 0x7f
	if bits.OnesCount8(b)%2 == 0 {
		b |= 0x80
	}
	return b
}

// PopOn queues a pop-on caption on CEA-608 channel ch (1-4, CC1-CC4):
// resume caption loading, a preamble address code for row 15, the text
// (basic characters only), and end of caption, which displays it. Each
// control code is sent twice, as CEA-608 recommends.
func (s *Stream) PopOn(ch int, text string) {
	field, second := (ch-1)/2, byte((ch-1)%2)<<3
	// Miscellaneous control codes start with 0x14 in field 1 and 0x15 in
	// field 2 (CEA-608-E), plus 0x08 on the field's second channel.
	misc := 0x14 | byte(field) | second
	pac := 0x14 | second // row 15, white, column 0
	pairs := [][2]byte{{misc, 0x20}, {misc, 0x20}, {pac, 0x60}, {pac, 0x60}}
	for i := 0; i < len(text); i += 2 {
		p := [2]byte{text[i], 0}
		if i+1 < len(text) {
			p[1] = text[i+1]
		}
		pairs = append(pairs, p)
	}
	pairs = append(pairs, [2]byte{misc, 0x2f}, [2]byte{misc, 0x2f})
	s.queue(field, pairs)
}

// Erase queues erase displayed memory on channel ch, which ends the caption
// shown.
func (s *Stream) Erase(ch int) {
	field, second := (ch-1)/2, byte((ch-1)%2)<<3
	misc := 0x14 | byte(field) | second
	s.queue(field, [][2]byte{{misc, 0x2c}, {misc, 0x2c}})
}

// TextMode queues a switch of channel ch to text mode with some text: a
// CEA-608 text service (T1-T4), which is not a caption service.
func (s *Stream) TextMode(ch int, text string) {
	field, second := (ch-1)/2, byte((ch-1)%2)<<3
	misc := 0x14 | byte(field) | second
	pairs := [][2]byte{{misc, 0x2a}, {misc, 0x2a}} // TR
	for i := 0; i+1 < len(text); i += 2 {
		pairs = append(pairs, [2]byte{text[i], text[i+1]})
	}
	s.queue(field, pairs)
}

func (s *Stream) queue(field int, pairs [][2]byte) {
	for _, p := range pairs {
		s.fields[field] = append(s.fields[field], [2]byte{parity(p[0]), parity(p[1])})
	}
}

// Service queues a DTVCC packet holding one service block of CEA-708
// service n (1-63) with the given bytes (e.g. text), padded with a null
// block to an even length.
func (s *Stream) Service(n int, data []byte) {
	var pkt []byte
	if n < 7 {
		pkt = append(pkt, 0, byte(n)<<5|byte(len(data)))
	} else {
		pkt = append(pkt, 0, 7<<5|byte(len(data)), byte(n))
	}
	pkt = append(pkt, data...)
	if len(pkt)%2 != 0 {
		pkt = append(pkt, 0) // null block header
	}
	pkt[0] = s.seq<<6 | byte(len(pkt)/2)
	s.seq = (s.seq + 1) % 4
	for i := 0; i < len(pkt); i += 2 {
		s.dtvcc = append(s.dtvcc, [2]byte{pkt[i], pkt[i+1]})
		s.starts = append(s.starts, i == 0)
	}
}

// Pending reports whether data is still queued.
func (s *Stream) Pending() bool {
	return len(s.fields[0])+len(s.fields[1])+len(s.dtvcc) > 0
}

// Next returns the cc_data() of the next frame.
func (s *Stream) Next() []byte {
	var triples [][3]byte
	for f := 0; f < 2; f++ {
		p := [2]byte{0x80, 0x80} // padding: two zero bytes with parity
		if len(s.fields[f]) > 0 {
			p, s.fields[f] = s.fields[f][0], s.fields[f][1:]
		}
		triples = append(triples, [3]byte{0xfc | byte(f), p[0], p[1]}) // cc_valid, cc_type 0/1
	}
	for i := 0; i < 4 && len(s.dtvcc) > 0; i++ {
		typ := byte(2)
		if s.starts[0] {
			typ = 3
		}
		p := s.dtvcc[0]
		s.dtvcc, s.starts = s.dtvcc[1:], s.starts[1:]
		triples = append(triples, [3]byte{0xf8 | 0x04 | typ, p[0], p[1]})
	}
	// process_em_data_flag 1, process_cc_data_flag 1, additional_data_flag
	// 0, cc_count; em_data 0xFF; the triples; marker bits 0xFF.
	out := []byte{0xc0 | byte(len(triples)), 0xff}
	for _, t := range triples {
		out = append(out, t[:]...)
	}
	return append(out, 0xff)
}

// SEI returns an SEI NAL unit (header included, H.264 or HEVC prefix SEI)
// carrying the messages before, then ccData as ATSC A/53 caption data.
func SEI(ccData []byte, isHEVC bool, before ...sei.SEIMessage) ([]byte, error) {
	msgs := append(before, sei.CreateCTA608SEIMessage(ccData))
	if isHEVC {
		return hevc.CreateSEINalu(msgs)
	}
	return avc.CreateSEINalu(msgs)
}

// Frames returns the cc_data of n frames: queue(i, s) is called before the
// data of frame i is taken, so it can queue captions from that frame on.
func (s *Stream) Frames(n int, queue func(i int, s *Stream)) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		queue(i, s)
		out[i] = s.Next()
	}
	return out
}

// Remux writes the video track t as a fragmented MP4 (one fragment per
// GOP) whose samples each get the NAL units extra(i) returns for the
// sample presented i-th (nil for none) inserted before their first slice,
// where H.264 and HEVC put SEI, or with afterSlices at their end, where
// some packagers put caption SEI. Caption data travels in presentation
// order (decoders reorder it with the pictures), so frame i is the i-th
// picture shown, while extra is called in decode order. The edit list is
// not carried over.
func Remux(ctx context.Context, t *segment.Track, afterSlices bool, extra func(i int) [][]byte) ([]byte, error) {
	vse, ok := t.SampleEntry.(*mp4.VisualSampleEntryBox)
	if !ok || (vse.AvcC == nil && vse.HvcC == nil) {
		return nil, fmt.Errorf("cctest: %s is not H.264 or HEVC", t)
	}
	isHEVC := vse.HvcC != nil
	init := mp4.CreateEmptyInit()
	trak := init.AddEmptyTrack(t.Timescale, "video", "und")
	trak.Tkhd.Width, trak.Tkhd.Height = mp4.Fixed32(t.Width<<16), mp4.Fixed32(t.Height<<16)
	trak.Mdia.Minf.Stbl.Stsd.AddChild(vse)
	var out bytes.Buffer
	if err := init.Encode(&out); err != nil {
		return nil, err
	}
	var frag *mp4.Fragment
	flush := func() error {
		if frag == nil {
			return nil
		}
		return frag.Encode(&out)
	}
	rank, err := presentationRanks(t)
	if err != nil {
		return nil, err
	}
	var seq uint32
	var buf []byte
	sc := t.Scan(0, t.SampleCount())
	for sc.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s := sc.Sample()
		if s.Sync || frag == nil {
			if err := flush(); err != nil {
				return nil, err
			}
			seq++
			var err error
			if frag, err = mp4.CreateFragment(seq, trak.Tkhd.TrackID); err != nil {
				return nil, err
			}
		}
		var err error
		if buf, err = t.Data.AppendSample(buf[:0], s); err != nil {
			return nil, err
		}
		var data []byte
		nals := extra(rank[sc.Index()])
		if afterSlices {
			data = append([]byte(nil), buf...)
			for _, nal := range nals {
				data = appendNAL(data, nal)
			}
		} else {
			data = insertBeforeSlice(buf, nals, isHEVC)
		}
		flags := mp4.NonSyncSampleFlags
		if s.Sync {
			flags = mp4.SyncSampleFlags
		}
		frag.AddFullSample(mp4.FullSample{
			Sample: mp4.Sample{Flags: flags, Dur: s.Duration, Size: uint32(len(data)),
				CompositionTimeOffset: s.CompositionOffset},
			DecodeTime: s.DecodeTime,
			Data:       data,
		})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// insertBeforeSlice returns a copy of the length-prefixed (4 bytes) sample
// with nals inserted before its first slice NAL unit.
func insertBeforeSlice(sample []byte, nals [][]byte, isHEVC bool) []byte {
	out := make([]byte, 0, len(sample)+64)
	inserted := len(nals) == 0
	for pos := 0; pos+4 < len(sample); {
		n := int(uint32(sample[pos])<<24 | uint32(sample[pos+1])<<16 | uint32(sample[pos+2])<<8 | uint32(sample[pos+3]))
		end := min(pos+4+n, len(sample))
		typ := sample[pos+4] & 0x1f
		vcl := typ >= 1 && typ <= 5
		if isHEVC {
			typ = sample[pos+4] >> 1 & 0x3f
			vcl = typ < 32
		}
		if vcl && !inserted {
			for _, nal := range nals {
				out = appendNAL(out, nal)
			}
			inserted = true
		}
		out = append(out, sample[pos:end]...)
		pos = end
	}
	return out
}

// appendNAL appends nal with a 4-byte length prefix.
func appendNAL(dst, nal []byte) []byte {
	l := len(nal)
	dst = append(dst, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
	return append(dst, nal...)
}

// presentationRanks returns, for each sample in decode order, its position
// in presentation order.
func presentationRanks(t *segment.Track) ([]int, error) {
	type pts struct {
		t int64
		i int
	}
	var all []pts
	sc := t.Scan(0, t.SampleCount())
	for sc.Next() {
		all = append(all, pts{sc.Sample().PresentationTime(), sc.Index()})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(all, func(a, b pts) int { return cmp.Compare(a.t, b.t) })
	rank := make([]int, len(all))
	for r, p := range all {
		rank[p.i] = r
	}
	return rank, nil
}
