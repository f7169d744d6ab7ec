package packager

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/manifest"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/segment/cmaf"
	"github.com/cmafkit/cmafkit/segment/tsmux"
)

// hlsTS reports whether the job writes MPEG-TS segments for HLS.
func (r *runner) hlsTS() bool {
	return r.job.HLSSegmentType == HLSSegmentTS && r.job.Formats&HLS != 0
}

// checkSegmentType refuses unknown HLS segment types and the options that
// MPEG-TS segments do not support yet.
func (r *runner) checkSegmentType() error {
	switch r.job.HLSSegmentType {
	case "", HLSSegmentFMP4:
		if r.job.HLSAES128 != nil {
			return fmt.Errorf("%w: HLS AES-128 with fMP4 segments (it encrypts MPEG-TS segments)", ErrCombination)
		}
		if r.job.HLSPackedAudio {
			return fmt.Errorf("%w: HLS packed audio with fMP4 segments (it replaces MPEG-TS audio segments)", ErrCombination)
		}
		if r.job.HLSSampleAES != nil {
			return fmt.Errorf("%w: HLS SAMPLE-AES of MPEG-TS with fMP4 segments (for fMP4 use Encryption with cbcs)", ErrCombination)
		}
		return nil
	case HLSSegmentTS:
		if k := r.job.HLSAES128; k != nil && k.Key.IsZero() {
			return fmt.Errorf("packager: HLS AES-128 without a key")
		}
		if k := r.job.HLSSampleAES; k != nil && k.Key.IsZero() {
			return fmt.Errorf("packager: HLS SAMPLE-AES without a key")
		}
		if k := r.job.HLSSampleAES; k != nil && len(k.IV) != 0 && len(k.IV) != 16 {
			return fmt.Errorf("packager: HLS SAMPLE-AES IV of %d bytes, want 16", len(k.IV))
		}
		if k := r.job.HLSAES128; k != nil && len(k.IV) != 0 {
			return fmt.Errorf("%w: HLS AES-128 with a fixed IV (not implemented: the IV is the media sequence number)", ErrCombination)
		}
		if r.job.HLSAES128 != nil && r.job.HLSSampleAES != nil {
			return fmt.Errorf("%w: HLS AES-128 and SAMPLE-AES together", ErrCombination)
		}
		if r.job.HLSPackedAudio && r.job.HLSSampleAES != nil {
			return fmt.Errorf("%w: HLS packed audio with SAMPLE-AES (not implemented: packed audio is written clear)", ErrCombination)
		}
	default:
		return fmt.Errorf("packager: HLS segment type %q: want %q or %q", r.job.HLSSegmentType, HLSSegmentFMP4, HLSSegmentTS)
	}
	if r.job.Formats&HLS == 0 {
		return nil
	}
	if e := r.job.Encryption; e != nil {
		return fmt.Errorf("%w: HLS with MPEG-TS segments and %s encryption (Common Encryption is for CMAF segments; use HLSAES128 or HLSSampleAES)", ErrCombination, e.Scheme)
	}
	if r.job.SingleFile {
		return fmt.Errorf("%w: HLS with MPEG-TS segments and single-file output", ErrCombination)
	}
	if r.job.ChunkDuration > 0 {
		return fmt.Errorf("%w: HLS with MPEG-TS segments and CMAF chunks", ErrCombination)
	}
	return nil
}

// checkTSTracks refuses, before anything is written, audio and video
// tracks that MPEG-TS segments (or packed audio) cannot carry, naming the
// combination: AV1, Opus, ...
func (r *runner) checkTSTracks() error {
	if !r.hlsTS() {
		return nil
	}
	for _, rep := range r.reps {
		t := rep.track
		if t.Kind != segment.KindVideo && t.Kind != segment.KindAudio {
			continue
		}
		m, err := tsmux.New(t)
		if err == nil && r.packedAudio(rep) {
			_, err = m.PackedAudioExtension()
		}
		if err != nil {
			what := "MPEG-TS segments"
			if r.packedAudio(rep) {
				what = "packed audio"
			}
			return fmt.Errorf("%w: HLS with %s and %s (%s): %w", ErrCombination, what, t, t.Codec, err)
		}
	}
	return nil
}

// checkHLSScheme refuses HLS output of a scheme HLS has no EXT-X-KEY
// METHOD for: RFC 8216bis defines SAMPLE-AES for cbcs and SAMPLE-AES-CTR
// for cenc; cens and cbc1 are for DASH only.
func (r *runner) checkHLSScheme() error {
	e := r.job.Encryption
	if e == nil || r.job.Formats&HLS == 0 {
		return nil
	}
	if e.Scheme == drm.SchemeCENS || e.Scheme == drm.SchemeCBC1 {
		return fmt.Errorf("%w: HLS with %s encryption (HLS signals cbcs as SAMPLE-AES and cenc as SAMPLE-AES-CTR, and has no method for %s; write DASH only)", ErrCombination, e.Scheme, e.Scheme)
	}
	return nil
}

// packedAudio reports whether rep's HLS segments are packed audio
// (Job.HLSPackedAudio).
func (r *runner) packedAudio(rep *repJob) bool {
	return r.job.HLSPackedAudio && r.hlsTS() && rep.track.Kind == segment.KindAudio
}

// tsTemplate is the naming template of rep's HLS segments with MPEG-TS
// segments: Naming.TS, its extension replaced by the codec's for packed
// audio (.aac, .ac3, .ec3).
func (r *runner) tsTemplate(rep *repJob) string {
	if !r.packedAudio(rep) {
		return r.naming.TS
	}
	m, err := tsmux.New(rep.track)
	if err != nil {
		return r.naming.TS // refused by checkTSTracks
	}
	ext, err := m.PackedAudioExtension()
	if err != nil {
		return r.naming.TS
	}
	return strings.TrimSuffix(r.naming.TS, path.Ext(r.naming.TS)) + ext
}

// webvttID is the ID of the WebVTT (HLS) representation made from the
// wvtt track of rep.
func webvttID(rep *repJob) string {
	if id := strings.Replace(rep.id, "_wvtt", "_webvtt", 1); id != rep.id {
		return id
	}
	return rep.id + "_webvtt"
}

// writeWebVTT writes the segments of a wvtt track as WebVTT documents for
// HLS (RFC 8216 3.5), at the same boundaries as its CMAF segments.
func (r *runner) writeWebVTT(ctx context.Context, rep *repJob) error {
	opts := cmaf.Options{}
	if r.hlsTS() {
		opts.WebVTTMPEGTS = tsmux.TimestampOffset
	}
	sw, err := cmaf.NewWriter(rep.track, r.plan, opts)
	if err != nil {
		return err
	}
	id := webvttID(rep)
	for i := 0; i < sw.Len(); i++ {
		pre, err := sw.Info(i)
		if err != nil {
			return err
		}
		name, err := manifest.ExpandTemplate(r.naming.WebVTT, id, 0, uint64(pre.Number), pre.MediaTime)
		if err != nil {
			return err
		}
		var info cmaf.SegmentInfo
		if _, err := r.put(ctx, name, func(w io.Writer) error {
			var err error
			info, err = sw.WriteWebVTT(ctx, w, i)
			return err
		}); err != nil {
			return err
		}
		rep.webvtt = append(rep.webvtt, manifest.SegmentRef{URI: name, Number: uint64(info.Number), Start: info.MediaTime, Duration: info.Duration, Size: uint64(info.Size)})
	}
	return nil
}

// writeTS writes the segments of an audio or video track as MPEG-TS for
// HLS, at the same boundaries as its CMAF segments. They are written in
// order: the continuity counters run on from segment to segment.
func (r *runner) writeTS(ctx context.Context, rep *repJob) error {
	var m *tsmux.Muxer
	var err error
	if k := r.job.HLSSampleAES; k != nil {
		m, err = tsmux.NewSampleAES(rep.track, k.Key.Secret())
	} else {
		m, err = tsmux.New(rep.track)
	}
	if err != nil {
		return err
	}
	sw, err := cmaf.NewWriter(rep.track, r.plan, cmaf.Options{})
	if err != nil {
		return err
	}
	packed := r.packedAudio(rep)
	tmpl := r.tsTemplate(rep)
	write := m.WriteSegment
	if packed {
		write = m.WritePackedAudio
	}
	var block cipher.Block
	var buf bytes.Buffer
	if k := r.job.HLSAES128; k != nil {
		if block, err = aes.NewCipher(k.Key.Secret()); err != nil {
			return err
		}
	}
	for i := 0; i < sw.Len(); i++ {
		info, ss, err := sw.Samples(i)
		if err != nil {
			return err
		}
		name, err := manifest.ExpandTemplate(tmpl, rep.id, 0, uint64(info.Number), info.MediaTime)
		if err != nil {
			return err
		}
		iv := tsmux.SequenceIV(uint64(info.Number))
		if k := r.job.HLSSampleAES; k != nil && len(k.IV) == 16 {
			iv = [16]byte(k.IV)
		}
		m.SetIV(iv)
		n, err := r.put(ctx, name, func(w io.Writer) error {
			if block != nil {
				buf.Reset()
				if err := write(ctx, &buf, ss); err != nil {
					return err
				}
				_, err := w.Write(encryptAES128(block, buf.Bytes(), uint64(info.Number)))
				return err
			}
			bw := bufio.NewWriterSize(w, 64<<10)
			if err := write(ctx, bw, ss); err != nil {
				return err
			}
			return bw.Flush()
		})
		if err != nil {
			return err
		}
		rep.ts = append(rep.ts, manifest.SegmentRef{URI: name, Number: uint64(info.Number), Start: info.MediaTime, Duration: info.Duration, Size: uint64(n)})
		if r.job.Formats&DASH == 0 {
			r.progress(rep, i+1, sw.Len()) // else the CMAF segments count
		}
	}
	return nil
}

// encryptAES128 encrypts a whole segment as HLS METHOD=AES-128 does
// (RFC 8216 4.3.2.4, 5.2): AES-128-CBC with PKCS7 padding, the IV the
// media sequence number seq as a 128-bit big-endian integer.
func encryptAES128(block cipher.Block, b []byte, seq uint64) []byte {
	pad := aes.BlockSize - len(b)%aes.BlockSize
	out := make([]byte, len(b)+pad)
	copy(out, b)
	for i := len(b); i < len(out); i++ {
		out[i] = byte(pad)
	}
	var iv [aes.BlockSize]byte
	binary.BigEndian.PutUint64(iv[8:], seq)
	cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(out, out)
	return out
}

// tsKey returns the key of the job's TS segment encryption (AES-128 or
// SAMPLE-AES), its scheme, and the EXT-X-KEY URI; nil without one.
func (r *runner) tsKey() (*AES128Key, drm.Scheme, string) {
	k, scheme, name := r.job.HLSAES128, drm.SchemeAES128, DefaultAES128KeyName
	if r.job.HLSSampleAES != nil {
		k, scheme, name = r.job.HLSSampleAES, drm.SchemeSampleAES, DefaultSampleAESKeyName
	}
	if k == nil {
		return nil, "", ""
	}
	if k.URI != "" {
		name = k.URI
	}
	return k, scheme, name
}

// writeAES128Key writes the key object of AES-128 or SAMPLE-AES
// encryption unless the job names a URI of its own.
func (r *runner) writeAES128Key(ctx context.Context) error {
	k, _, name := r.tsKey()
	if !r.hlsTS() || k == nil || k.URI != "" {
		return nil
	}
	_, err := r.put(ctx, name, func(w io.Writer) error {
		_, err := w.Write(k.Key.Secret())
		return err
	})
	return err
}
