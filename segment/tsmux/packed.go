package tsmux

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/cmafkit/cmafkit/segment"
)

// PackedAudioOwner is the owner identifier of the ID3 PRIV frame that
// starts every packed audio segment (RFC 8216 3.4): its data is the
// 33-bit MPEG-2 timestamp (90 kHz) of the segment's first frame, in 8
// bytes big-endian.
const PackedAudioOwner = "com.apple.streaming.transportStreamTimestamp"

// PackedAudioExtension returns the file extension of the packed audio
// segments (RFC 8216 3.4) of the muxer's track: ".aac" for AAC (ADTS
// frames), ".ac3" for AC-3 and ".ec3" for E-AC-3. Video tracks are
// refused with an error wrapping ErrUnsupported.
func (m *Muxer) PackedAudioExtension() (string, error) {
	switch m.codec {
	case codecAAC:
		return ".aac", nil
	case codecAC3:
		return ".ac3", nil
	case codecEAC3:
		return ".ec3", nil
	}
	return "", fmt.Errorf("%w: %s as packed audio (it takes AAC, AC-3 and E-AC-3)", ErrUnsupported, m.track)
}

// WritePackedAudio writes one segment holding samples (consecutive
// samples of an audio track) as packed audio (RFC 8216 3.4): an ID3v2.4
// tag whose PRIV frame (PackedAudioOwner) carries the PTS of the first
// frame, on the timeline of the muxer's MPEG-TS segments (TimestampOffset
// included) so that packed audio lines up with TS video, then the frames
// back to back: ADTS frames for AAC, AC-3 and E-AC-3 sync frames as they
// are. Unlike WriteSegment, segments may be written in any order.
func (m *Muxer) WritePackedAudio(ctx context.Context, w io.Writer, samples []segment.Sample) error {
	if _, err := m.PackedAudioExtension(); err != nil {
		return err
	}
	if len(samples) == 0 {
		return fmt.Errorf("tsmux: %s: segment without samples", m.track)
	}
	m.pes = appendTimestampTag(m.pes[:0], m.pts(&samples[0]))
	for i := range samples {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := m.audioFrame(&samples[i]); err != nil {
			return err
		}
	}
	_, err := w.Write(m.pes)
	return err
}

// appendTimestampTag appends the ID3v2.4 tag of a packed audio segment
// starting at pts (90 kHz): a header and one PRIV frame, whose sizes are
// synchsafe integers (ID3v2.4 6.2).
func appendTimestampTag(dst []byte, pts int64) []byte {
	const frameBody = len(PackedAudioOwner) + 1 + 8
	const frame = 10 + frameBody
	dst = append(dst, 'I', 'D', '3', 4, 0, 0)
	dst = appendSynchsafe(dst, frame)
	dst = append(dst, 'P', 'R', 'I', 'V')
	dst = appendSynchsafe(dst, frameBody)
	dst = append(dst, 0, 0) // frame flags
	dst = append(dst, PackedAudioOwner...)
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint64(dst, uint64(pts)&(1<<33-1))
}

// appendSynchsafe appends n (< 2^28) as a 4-byte synchsafe integer: 7
// bits a byte, the top bit clear.
func appendSynchsafe(dst []byte, n int) []byte {
	return append(dst, byte(n>>21&0x7F), byte(n>>14&0x7F), byte(n>>7&0x7F), byte(n&0x7F))
}
