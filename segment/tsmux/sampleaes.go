package tsmux

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"

	"github.com/cmafkit/cmafkit/segment"
)

// sampleAES is the state of HLS sample encryption (Apple's "MPEG-2 Stream
// Encryption Format for HTTP Live Streaming", METHOD=SAMPLE-AES).
type sampleAES struct {
	block cipher.Block
	iv    [16]byte // the segment's IV; every NAL unit and audio frame restarts from it
	setup []byte   // AAC: the audio setup information of the PMT
}

// NewSampleAES returns a Muxer like New that encrypts its segments with
// HLS SAMPLE-AES under the 16-byte key: H.264 NAL units of type 1 and 5
// longer than 48 bytes keep a 32-byte clear leader, then one 16-byte block
// in ten is encrypted (AES-128-CBC, restarting from the IV in each NAL
// unit; the last 1-16 bytes stay clear) and emulation prevention is applied
// to the result; AAC frames keep the ADTS header and 16 bytes clear and
// have their whole blocks encrypted (CBC from the IV in each frame). The
// PMT announces the encrypted streams (stream types 0xDB and 0xCF, the
// 'zavc' and 'aacd' private data indicators, and for AAC the 'apad'
// registration with the audio setup information). Other codecs are
// refused with ErrUnsupported. Call SetIV before each segment.
func NewSampleAES(t *segment.Track, key []byte) (*Muxer, error) {
	m, err := New(t)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("tsmux: SAMPLE-AES key: %w", err)
	}
	m.enc = &sampleAES{block: b}
	switch m.codec {
	case codecH264:
		m.streamType = 0xDB
	case codecAAC:
		m.streamType = 0xCF
		asc := m.asc
		audioType := "zaac"
		switch asc[0] >> 3 {
		case 5:
			audioType = "zach" // HE-AAC
		case 29:
			audioType = "zacp" // HE-AACv2
		}
		// audio_setup_information: type, priming (none: the timestamps
		// already place the first sample), version 1, setup data (the
		// AudioSpecificConfig).
		m.enc.setup = append([]byte(audioType), 0, 0, 1, byte(len(asc)))
		m.enc.setup = append(m.enc.setup, asc...)
	default:
		return nil, fmt.Errorf("%w: %s: SAMPLE-AES of %s in MPEG-TS (H.264 and AAC only)", ErrUnsupported, t, t.Codec)
	}
	return m, nil
}

// SequenceIV returns the IV HLS derives from a segment's media sequence
// number when EXT-X-KEY has no IV attribute (RFC 8216 5.2).
func SequenceIV(seq uint64) [16]byte {
	var iv [16]byte
	binary.BigEndian.PutUint64(iv[8:], seq)
	return iv
}

// SetIV sets the IV of the following segments (SAMPLE-AES muxers only).
func (m *Muxer) SetIV(iv [16]byte) {
	if m.enc != nil {
		m.enc.iv = iv
	}
}

// descriptors returns the PMT ES descriptors of the encrypted stream.
func (e *sampleAES) descriptors(c codec) []byte {
	if c == codecH264 {
		return []byte{0x0F, 4, 'z', 'a', 'v', 'c'} // private_data_indicator_descriptor
	}
	d := []byte{0x0F, 4, 'a', 'a', 'c', 'd', 0x05, byte(4 + len(e.setup)), 'a', 'p', 'a', 'd'}
	return append(d, e.setup...)
}

// cbc encrypts the 16-byte blocks at data[off], data[off+stride], ... of
// count blocks as one CBC chain from the IV.
func (e *sampleAES) cbc(data []byte, off, stride, count int) {
	prev := e.iv
	for i := 0; i < count; i++ {
		blk := data[off+i*stride : off+i*stride+16]
		for k := range blk {
			blk[k] ^= prev[k]
		}
		e.block.Encrypt(blk, blk)
		copy(prev[:], blk)
	}
}

// appendNAL appends the H.264 NAL unit nal with a start code, encrypted
// when it is a slice (type 1 or 5) of more than 48 bytes. scratch is
// reused memory for the encrypted copy; the updated one is returned.
func (e *sampleAES) appendNAL(dst, nal, scratch []byte) ([]byte, []byte) {
	if t := nal[0] & 0x1F; (t != 1 && t != 5) || len(nal) <= 48 {
		return appendNAL(dst, nal), scratch
	}
	scratch = append(scratch[:0], nal...)
	// 32 bytes clear, then while more than 16 bytes remain one encrypted
	// block and up to nine clear ones: blocks start every 160 bytes, and
	// the last 1-16 bytes always stay clear.
	n := 0
	for off := 32; len(scratch)-off > 16; off += 160 {
		n++
	}
	e.cbc(scratch, 32, 160, n)
	dst = append(dst, 0, 0, 0, 1)
	// Emulation prevention over the whole encrypted NAL unit: 0x03 after
	// two zero bytes before any byte <= 3 (the decryptor removes one
	// layer, then decrypts).
	zeros := 0
	for _, c := range scratch {
		if zeros >= 2 && c <= 3 {
			dst = append(dst, 3)
			zeros = 0
		}
		dst = append(dst, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return dst, scratch
}

// encryptFrame encrypts an AAC frame's payload (after its ADTS header) in
// place: 16 bytes clear, then the whole blocks, the rest clear.
func (e *sampleAES) encryptFrame(payload []byte) {
	if len(payload) <= 16 {
		return
	}
	e.cbc(payload, 16, 16, (len(payload)-16)/16)
}
