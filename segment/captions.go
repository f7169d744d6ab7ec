package segment

import (
	"context"
	"errors"
	"math"
	"math/bits"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/Eyevinn/mp4ff/sei"
)

// Closed captions carried in the video.
//
// US broadcast video carries CEA-608 and CEA-708 (CTA-608/708) closed
// captions inside the coded pictures, in SEI messages of type 4
// (user_data_registered_itu_t_t35) with the ATSC A/53 identification:
// country code 0xB5, provider code 0x0031, user identifier "GA94" and
// user_data_type_code 3, followed by a cc_data() structure (ATSC A/53 Part 4
// 6.2.2, CTA-708-E 4.3). H.264 puts SEI NAL units before the first slice of
// an access unit (H.264 7.4.1.2.3) and HEVC uses prefix SEI NAL units, but
// some packagers append the caption SEI after the slices and decoders take
// it there too, so every NAL unit of a sample is looked at (HEVC suffix SEI
// included). The packager copies samples unchanged, so the captions reach
// the output; players only look for them when the manifests say they are
// there, which needs to know which services exist.
//
// cc_data() holds cc_count triples (cc_valid, cc_type, two bytes). cc_type 0
// and 1 are the CEA-608 byte pairs of NTSC field 1 and field 2, each field
// carrying two data channels: CC1 and CC2 in field 1, CC3 and CC4 in field 2.
// Which channel a pair belongs to is told by the control codes, whose first
// byte (parity bit removed) is 0x10-0x17 for the field's first channel and
// 0x18-0x1F for its second. A channel is counted as present when it carries
// a command that starts captioning: resume caption loading (pop-on), roll-up
// with 2, 3 or 4 rows, or resume direct captioning (paint-on); text mode
// (TR, RTD) and XDS are not captions. cc_type 3 and 2 start and continue a
// CEA-708 DTVCC packet, whose service blocks name their service (1-63); a
// service is present when a block of it carries data.

// DefaultCaptionScan is how far into a video track DetectCaptions looks when
// it is given no window.
const DefaultCaptionScan = 30 * time.Second

// Captions lists the closed-caption services found in a video track.
type Captions struct {
	// Found reports that the scanned samples carry ATSC A/53 caption data
	// (cc_data) at all, even where no service could be identified (a
	// stream that sends only padding until its first caption).
	Found bool
	// CEA608 lists the CEA-608 channels seen, 1-4 for CC1-CC4, ascending.
	CEA608 []int
	// CEA708 lists the CEA-708 services seen, 1-63, ascending.
	CEA708 []int
}

// IsZero reports whether no caption data was found.
func (c Captions) IsZero() bool { return !c.Found && len(c.CEA608) == 0 && len(c.CEA708) == 0 }

// DetectCaptions looks for CEA-608/708 captions in the SEI messages of an
// H.264 or HEVC video track (see above): in the samples whose decode time is
// within window of the track's first sample; a window of zero or less means
// DefaultCaptionScan. Other tracks yield a zero Captions. Samples are read
// through t.Data, one at a time; where the source exposes its file (MP4
// input) only a sample's first 4 KiB, the length fields of the NAL units
// beyond and its SEI NAL units are read. Damaged NAL unit or SEI syntax ends
// the search in that sample without an error, since packaging copies
// samples unchanged anyway; a failure to read a sample is returned.
func DetectCaptions(ctx context.Context, t *Track, window time.Duration) (Captions, error) {
	vse, ok := t.SampleEntry.(*mp4.VisualSampleEntryBox)
	if !ok || t.Kind != KindVideo || t.Data == nil || t.SampleCount() == 0 || t.Timescale == 0 {
		return Captions{}, nil
	}
	var c nalSyntax
	switch {
	case vse.HvcC != nil:
		c = nalSyntax{hevc: true, lengthSize: int(vse.HvcC.LengthSizeMinusOne) + 1}
	case vse.AvcC != nil:
		c = nalSyntax{lengthSize: 4} // mp4ff accepts no other avcC length size
	default:
		return Captions{}, nil
	}
	if window <= 0 {
		window = DefaultCaptionScan
	}
	var d ccDetector
	head := &sampleHead{t: t, c: c, all: true}
	isSEI := func(typ byte) bool { return typ == 6 && !c.hevc || (typ == 39 || typ == 40) && c.hevc }
	onSEI := func(nal []byte) { d.sei(nal[c.headerLen():]) }
	span := durationToTicks(window, t.Timescale)
	var first uint64
	sc := t.Scan(0, t.SampleCount())
	for sc.Next() {
		s := sc.Sample()
		if sc.Index() == 0 {
			first = s.DecodeTime
		} else if s.DecodeTime-first >= span {
			break
		}
		if sc.Index()%256 == 0 {
			if err := ctx.Err(); err != nil {
				return Captions{}, err
			}
		}
		if err := head.walk(s, isSEI, onSEI); err != nil && !errors.Is(err, ErrMalformed) {
			return Captions{}, SampleError(t, sc.Index(), s, err)
		}
	}
	if err := sc.Err(); err != nil {
		return Captions{}, err
	}
	return d.result(), nil
}

// durationToTicks converts a positive d to ticks of timescale, rounding
// down and saturating at the largest uint64.
func durationToTicks(d time.Duration, timescale uint32) uint64 {
	sec, ns := uint64(d/time.Second), uint64(d%time.Second)
	hi, lo := bits.Mul64(sec, uint64(timescale))
	if hi != 0 || lo > math.MaxUint64-uint64(timescale) {
		return math.MaxUint64
	}
	return lo + ns*uint64(timescale)/uint64(time.Second)
}

// ccDetector collects the services of the cc_data it is fed.
type ccDetector struct {
	found  bool
	cea608 uint8  // bit n-1: channel CCn
	cea708 uint64 // bit n: service n
	rbsp   []byte // scratch: an SEI NAL unit without emulation prevention
	dtvcc  []byte // the DTVCC packet being assembled
}

func (d *ccDetector) result() Captions {
	out := Captions{Found: d.found}
	for ch := 1; ch <= 4; ch++ {
		if d.cea608&(1<<(ch-1)) != 0 {
			out.CEA608 = append(out.CEA608, ch)
		}
	}
	for svc := 1; svc <= 63; svc++ {
		if d.cea708&(1<<svc) != 0 {
			out.CEA708 = append(out.CEA708, svc)
		}
	}
	return out
}

// sei reads the SEI messages of an SEI NAL unit payload (after the NAL unit
// header, still with emulation prevention bytes). mp4ff's
// sei.ExtractSEIData is not used: it allocates each message's declared size
// before checking that the bytes exist, and reads bit by bit.
func (d *ccDetector) sei(ebsp []byte) {
	d.rbsp = appendRBSP(d.rbsp[:0], ebsp)
	b := d.rbsp
	for len(b) > 0 && !(len(b) == 1 && b[0] == 0x80) { // rbsp_trailing_bits
		var typ, size int
		var ok bool
		if typ, b, ok = seiValue(b); !ok {
			return
		}
		if size, b, ok = seiValue(b); !ok || size > len(b) {
			return
		}
		if typ == sei.SEIUserDataRegisteredITUtT35Type {
			d.t35(b[:size])
		}
		b = b[size:]
	}
}

// seiValue reads an SEI payload type or size: 0xFF bytes each adding 255,
// then a last byte.
func seiValue(b []byte) (v int, rest []byte, ok bool) {
	for i, x := range b {
		v += int(x)
		if x != 0xff {
			return v, b[i+1:], true
		}
	}
	return 0, nil, false
}

// appendRBSP appends ebsp to dst without its emulation prevention bytes
// (the 0x03 of each 0x00 0x00 0x03 sequence).
func appendRBSP(dst, ebsp []byte) []byte {
	zeros := 0
	for _, x := range ebsp {
		if zeros >= 2 && x == 3 {
			zeros = 0
			continue
		}
		if x == 0 {
			zeros++
		} else {
			zeros = 0
		}
		dst = append(dst, x)
	}
	return dst
}

// a53 is the start of an ATSC A/53 caption payload.
var a53 = sei.CTA608ITUData().Encode()

// t35 reads a user_data_registered_itu_t_t35 payload.
func (d *ccDetector) t35(p []byte) {
	if len(p) < len(a53)+2 || string(p[:len(a53)]) != string(a53) {
		return
	}
	cc := p[len(a53):]
	// process_em_data_flag, process_cc_data_flag, additional_data_flag,
	// cc_count; em_data; then the triples.
	if cc[0]&0x40 == 0 {
		return
	}
	d.found = true
	n := int(cc[0] & 0x1f)
	cc = cc[2:]
	for i := 0; i < n && len(cc) >= 3; i, cc = i+1, cc[3:] {
		valid, typ := cc[0]&0x04 != 0, cc[0]&0x03
		switch {
		case typ <= 1 && valid:
			d.cea608Pair(int(typ), cc[1], cc[2])
		case typ == 3 || typ == 2 && valid && len(d.dtvcc) > 0:
			if typ == 3 {
				d.endPacket()
				if !valid {
					continue
				}
			}
			d.dtvcc = append(d.dtvcc, cc[1], cc[2])
			if len(d.dtvcc) >= packetSize(d.dtvcc[0]) {
				d.endPacket()
			}
		}
	}
}

// cea608Pair notes the channel of a CEA-608 byte pair of field (0 or 1)
// when it is a command that starts captioning.
func (d *ccDetector) cea608Pair(field int, b1, b2 byte) {
	// Each byte has odd parity in bit 7; a pair with a parity error is
	// dropped (CEA-608-E 8.2 lets decoders ignore a damaged control code).
	if bits.OnesCount8(b1)&1 == 0 || bits.OnesCount8(b2)&1 == 0 {
		return
	}
	c1, c2 := b1&0x7f, b2&0x7f
	// Miscellaneous control codes: 0x14 (field 1) or 0x15 (field 2; many
	// encoders use 0x14 there too), plus 0x08 for the second channel.
	if c1&^0x09 != 0x14 || c2 < 0x20 || c2 > 0x2f {
		return
	}
	switch c2 {
	case 0x20, 0x25, 0x26, 0x27, 0x29: // RCL, RU2, RU3, RU4, RDC
		ch := field*2 + int(c1>>3&1) // 0-3: CC1-CC4
		d.cea608 |= 1 << ch
	}
}

// packetSize returns the size of a DTVCC packet, header included, from its
// first byte (CTA-708-E 5: packet_size_code 0 means 128 bytes).
func packetSize(hdr byte) int {
	if code := int(hdr & 0x3f); code != 0 {
		return code * 2
	}
	return 128
}

// endPacket reads the service blocks of the DTVCC packet assembled so far
// (those that fit, if it was cut short) and starts a new one.
func (d *ccDetector) endPacket() {
	p := d.dtvcc
	d.dtvcc = d.dtvcc[:0]
	if len(p) == 0 {
		return
	}
	p = p[1:min(len(p), packetSize(p[0]))]
	for len(p) > 0 {
		svc, size := int(p[0]>>5), int(p[0]&0x1f)
		p = p[1:]
		if svc == 0 {
			return // null block: the rest is padding
		}
		if svc == 7 { // extended_service_number
			if len(p) == 0 {
				return
			}
			svc, p = int(p[0]&0x3f), p[1:]
		}
		if size > len(p) {
			return
		}
		if size > 0 && svc >= 1 && svc <= 63 {
			d.cea708 |= 1 << svc
		}
		p = p[size:]
	}
}
