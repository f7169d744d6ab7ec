package ts

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/hevc"

	"github.com/cmafkit/cmafkit/internal/avcsps"
	"github.com/cmafkit/cmafkit/segment"
)

// Parameter set kinds.
const (
	psVPS = iota
	psSPS
	psPPS
)

type psEntry struct {
	id uint32
	b  []byte
}

// videoConfig holds the parameter sets of a video stream (the first one seen
// for each id) and what the first SPS says.
type videoConfig struct {
	codec         codec
	ps            [3][]psEntry
	width, height int
	sarW, sarH    uint
	color         *segment.Color
	codecStr      string
	// changed is set when a parameter set ID was re-sent with other bytes
	// (or a parameter set could not be read): one sample entry cannot
	// describe the stream, so it stays avc3/hev1 and, from sample keepFrom
	// on, every parameter set stays in band. why says what changed.
	changed  bool
	why      string
	keepFrom int
	// fields is set when an H.264 SPS allows field pictures
	// (frame_mbs_only_flag 0); fieldsKnown once an SPS was read.
	fields, fieldsKnown bool
}

func (c *videoConfig) ready() bool {
	ok := len(c.ps[psSPS]) > 0 && len(c.ps[psPPS]) > 0
	if c.codec == codecHEVC {
		ok = ok && len(c.ps[psVPS]) > 0
	}
	return ok && c.width > 0
}

// naluKind classifies a NAL unit: its parameter-set kind (-1 if none),
// whether it is dropped when written (AUD, filler data), and whether it
// makes the access unit a sync sample (IDR for H.264, IRAP for HEVC).
func naluKind(c codec, n []byte) (ps int, drop, sync bool) {
	if c == codecH264 {
		switch n[0] & 0x1f {
		case 5:
			return -1, false, true
		case 7:
			return psSPS, false, false
		case 8:
			return psPPS, false, false
		case 9, 12:
			return -1, true, false
		}
		return -1, false, false
	}
	if len(n) < 2 {
		return -1, false, false
	}
	switch t := n[0] >> 1 & 0x3f; {
	case t >= 16 && t <= 23:
		return -1, false, true
	case t == 32:
		return psVPS, false, false
	case t == 33:
		return psSPS, false, false
	case t == 34:
		return psPPS, false, false
	case t == 35 || t == 38:
		return -1, true, false
	}
	return -1, false, false
}

// nextStartCode returns the index of the next 00 00 01 at or after from, or -1.
func nextStartCode(b []byte, from int) int {
	i := bytes.Index(b[from:], []byte{0, 0, 1})
	if i < 0 {
		return -1
	}
	return from + i
}

// forEachNALU calls fn with each NAL unit of an Annex B access unit, without
// start codes and trailing zero bytes. Bytes before the first start code are
// not part of any NAL unit.
func forEachNALU(b []byte, fn func(n []byte) error) error {
	i := nextStartCode(b, 0)
	for i >= 0 {
		start := i + 3
		j := nextStartCode(b, start)
		end := j
		if j < 0 {
			end = len(b)
		}
		n := b[start:end]
		for len(n) > 0 && n[len(n)-1] == 0 {
			n = n[:len(n)-1]
		}
		if len(n) > 0 {
			if err := fn(n); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}

// analyze computes the written size and sync flag of an access unit and
// records new parameter sets (the first of each ID, for the sample entry).
//
// This is the rule segment applies to avc3/hev1 MP4 input (see
// segment/paramsets.go): while the parameter sets do not change, the sample
// entry is avc1/hvc1 and holds every parameter set of the stream, so none
// may stay in the samples (hvc1 sets array_completeness to 1): each is
// dropped wherever it is repeated. Once an ID is re-sent with other bytes
// (an encoder reconfiguration, a resolution change) the stream cannot be
// described by one sample entry: it becomes avc3/hev1 and from that access
// unit on every parameter set stays in band, so that the decoder always
// gets the active one (dropping a re-sent earlier version would leave the
// changed one active).
func (c *videoConfig) analyze(au []byte) (size int, sync bool) {
	was := c.changed
	size, sync = c.scan(au, was)
	if c.changed && !was {
		size, sync = c.scan(au, true) // this access unit already keeps them
	}
	return size, sync
}

func (c *videoConfig) scan(au []byte, keepAll bool) (size int, sync bool) {
	_ = forEachNALU(au, func(n []byte) error {
		k, drop, irap := naluKind(c.codec, n)
		if drop {
			return nil
		}
		sync = sync || irap
		if k >= 0 && !c.addPS(k, n) && !keepAll {
			return nil
		}
		size += 4 + len(n)
		return nil
	})
	return size, sync
}

// isConfigured reports whether n is one of the configured parameter sets.
func (c *videoConfig) isConfigured(k int, n []byte) bool {
	for _, e := range c.ps[k] {
		if bytes.Equal(e.b, n) {
			return true
		}
	}
	return false
}

// appendSample converts an Annex B access unit, sample i of the track, into
// length-prefixed NAL units, with the same choices as analyze made while
// indexing.
func (c *videoConfig) appendSample(dst, au []byte, i int) ([]byte, error) {
	keepAll := c.changed && i >= c.keepFrom
	err := forEachNALU(au, func(n []byte) error {
		k, drop, _ := naluKind(c.codec, n)
		if drop || k >= 0 && !keepAll && c.isConfigured(k, n) {
			return nil
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(n)))
		dst = append(dst, n...)
		return nil
	})
	return dst, err
}

type spsInfo struct {
	id            uint32
	fields        bool // H.264 frame_mbs_only_flag 0
	width, height int
	sarW, sarH    uint
	color         *segment.Color
	codec         string
}

// addPS records parameter set n of kind k and reports whether it must stay
// in the sample: true when it changes the stream's configuration (see
// analyze) or cannot be read.
func (c *videoConfig) addPS(k int, n []byte) (keep bool) {
	id, info, err := c.parsePS(k, n)
	if err != nil {
		c.change("a parameter set cannot be read")
		return true
	}
	for _, e := range c.ps[k] {
		if e.id != id {
			continue
		}
		if bytes.Equal(e.b, n) {
			return false
		}
		if info != nil && (info.width != c.width || info.height != c.height) {
			c.change(fmt.Sprintf("SPS %d changes the resolution from %dx%d to %dx%d", id, c.width, c.height, info.width, info.height))
		} else {
			c.change(fmt.Sprintf("%s %d re-sent with other content", [...]string{"VPS", "SPS", "PPS"}[k], id))
		}
		return true
	}
	keep = false
	if info != nil {
		c.fields, c.fieldsKnown = c.fields || info.fields, true
		if c.width == 0 {
			c.width, c.height = info.width, info.height
			c.sarW, c.sarH, c.color, c.codecStr = info.sarW, info.sarH, info.color, info.codec
		} else if info.width != c.width || info.height != c.height {
			c.change(fmt.Sprintf("SPS %d has resolution %dx%d, the stream started with %dx%d", id, info.width, info.height, c.width, c.height))
			keep = true
		}
	}
	c.ps[k] = append(c.ps[k], psEntry{id: id, b: bytes.Clone(n)})
	return keep
}

// change marks the configuration as changing mid-stream (the first reason
// is kept).
func (c *videoConfig) change(why string) {
	if !c.changed {
		c.changed, c.why = true, why
	}
}

// entryName is the sample entry type: avc1/hvc1 while the parameter sets
// do not change, else avc3/hev1.
func (c *videoConfig) entryName() string {
	switch {
	case c.codec == codecH264 && c.changed:
		return "avc3"
	case c.codec == codecH264:
		return "avc1"
	case c.changed:
		return "hev1"
	}
	return "hvc1"
}

// parsePS returns the id of a parameter set and, for an SPS, what it
// describes. mp4ff's parsers are guarded: bad input must not panic here.
func (c *videoConfig) parsePS(k int, n []byte) (id uint32, info *spsInfo, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: parameter set parser: %v", segment.ErrMalformed, r)
		}
	}()
	hdr := 1
	if c.codec == codecHEVC {
		hdr = 2
	}
	if len(n) <= hdr {
		return 0, nil, segment.ErrMalformed
	}
	switch {
	case k == psVPS:
		return uint32(n[2] >> 4), nil, nil
	case k == psPPS:
		r := bits.NewEBSPReader(bytes.NewReader(n[hdr:]))
		id := r.ReadExpGolomb()
		return uint32(id), nil, r.AccError()
	case c.codec == codecH264:
		sps, err := avcsps.Parse(n)
		if err != nil {
			return 0, nil, err
		}
		in := &spsInfo{id: sps.ParameterID, width: int(sps.Width), height: int(sps.Height), sarW: 1, sarH: 1,
			fields: !sps.FrameMbsOnlyFlag,
			codec:  fmt.Sprintf("avc1.%02x%02x%02x", sps.Profile, sps.ProfileCompatibility, sps.Level)}
		if v := sps.VUI; v != nil {
			if v.SampleAspectRatioWidth > 0 && v.SampleAspectRatioHeight > 0 {
				in.sarW, in.sarH = v.SampleAspectRatioWidth, v.SampleAspectRatioHeight
			}
			if v.ColourDescriptionFlag {
				in.color = segment.NewColor(v.ColourPrimaries, v.TransferCharacteristics, v.MatrixCoefficients)
			}
		}
		return in.id, in, nil
	default:
		sps, err := hevc.ParseSPSNALUnit(n)
		if err != nil {
			return 0, nil, err
		}
		w, h := sps.ImageSize()
		in := &spsInfo{id: uint32(sps.SpsID), width: int(w), height: int(h), sarW: 1, sarH: 1,
			codec: hevc.CodecString("hvc1", sps)}
		if v := sps.VUI; v != nil {
			if v.SampleAspectRatioWidth > 0 && v.SampleAspectRatioHeight > 0 {
				in.sarW, in.sarH = v.SampleAspectRatioWidth, v.SampleAspectRatioHeight
			}
			in.color = segment.NewColor(uint(v.ColourPrimaries), uint(v.TransferCharacteristics), uint(v.MatrixCoefficients))
		}
		return in.id, in, nil
	}
}

// fieldPairs reports whether the stream may send the two fields of a frame
// as two pictures (H.264 whose SPS has frame_mbs_only_flag 0). Before any
// SPS was recorded, the open access unit au is searched for one.
func (c *videoConfig) fieldPairs(au []byte) bool {
	if c.codec != codecH264 {
		return false
	}
	if !c.fieldsKnown {
		_ = forEachNALU(au, func(n []byte) error {
			if k, _, _ := naluKind(c.codec, n); k == psSPS {
				if _, info, err := c.parsePS(k, n); err == nil && info != nil {
					c.fields = c.fields || info.fields
				}
			}
			return nil
		})
	}
	return c.fields
}

func (c *videoConfig) nalus(k int) [][]byte {
	out := make([][]byte, len(c.ps[k]))
	for i, e := range c.ps[k] {
		out[i] = e.b
	}
	return out
}
