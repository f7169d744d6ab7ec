// Package emsg reads the DASH event message box (emsg, ISO/IEC 23009-1
// 5.10.3.3) of fMP4/CMAF segments, as carried by SCTE-35 in-band events
// (scheme urn:scte:scte35:2013:bin, SCTE 214-3): the ingests and demuxers
// that turn such events into cues share it.
package emsg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// SchemeSCTE35 is the scheme of emsg boxes whose message_data is an SCTE-35
// splice_info_section.
const SchemeSCTE35 = "urn:scte:scte35:2013:bin"

// ErrMalformed is wrapped by the errors of a box that cannot be read.
var ErrMalformed = errors.New("malformed emsg box")

// Message is one event message.
type Message struct {
	Version uint8
	Scheme  string
	Value   string
	// Timescale of the times below, in ticks per second (never zero).
	Timescale uint32
	// PresentationTime is the event's start (version 1): on the media
	// timeline of the track, in Timescale ticks.
	PresentationTime uint64
	// PresentationTimeDelta is the event's start (version 0): after the
	// earliest presentation time of the segment the box is in.
	PresentationTimeDelta uint32
	Duration              uint32 // 0xFFFFFFFF: unknown
	ID                    uint32
	Data                  []byte // aliases the payload passed to Parse
}

// Parse reads the payload of an emsg box (what follows its 8- or 16-byte
// header).
func Parse(p []byte) (*Message, error) {
	bad := func(f string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(f, args...))
	}
	if len(p) < 4 {
		return nil, bad("%d bytes, no version", len(p))
	}
	m := &Message{Version: p[0]}
	b := p[4:]
	str := func(what string) (string, error) {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return "", bad("%s not terminated", what)
		}
		s := string(b[:i])
		b = b[i+1:]
		return s, nil
	}
	u32 := func() uint32 { v := binary.BigEndian.Uint32(b); b = b[4:]; return v }
	var err error
	switch m.Version {
	case 0:
		if m.Scheme, err = str("scheme_id_uri"); err != nil {
			return nil, err
		}
		if m.Value, err = str("value"); err != nil {
			return nil, err
		}
		if len(b) < 16 {
			return nil, bad("version 0 fields cut short")
		}
		m.Timescale, m.PresentationTimeDelta, m.Duration, m.ID = u32(), u32(), u32(), u32()
	case 1:
		if len(b) < 20 {
			return nil, bad("version 1 fields cut short")
		}
		m.Timescale = u32()
		m.PresentationTime = uint64(u32())<<32 | uint64(u32())
		m.Duration, m.ID = u32(), u32()
		if m.Scheme, err = str("scheme_id_uri"); err != nil {
			return nil, err
		}
		if m.Value, err = str("value"); err != nil {
			return nil, err
		}
	default:
		return nil, bad("version %d", m.Version)
	}
	if m.Timescale == 0 {
		return nil, bad("timescale 0")
	}
	m.Data = b
	return m, nil
}

// Append appends the whole box (header included) of m to dst: for tests
// and writers.
func Append(dst []byte, m *Message) []byte {
	var body []byte
	body = append(body, m.Version, 0, 0, 0)
	u32 := func(v uint32) { body = binary.BigEndian.AppendUint32(body, v) }
	if m.Version == 1 {
		u32(m.Timescale)
		body = binary.BigEndian.AppendUint64(body, m.PresentationTime)
		u32(m.Duration)
		u32(m.ID)
	}
	body = append(append(body, m.Scheme...), 0)
	body = append(append(body, m.Value...), 0)
	if m.Version != 1 {
		u32(m.Timescale)
		u32(m.PresentationTimeDelta)
		u32(m.Duration)
		u32(m.ID)
	}
	body = append(body, m.Data...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(8+len(body)))
	return append(append(dst, "emsg"...), body...)
}
