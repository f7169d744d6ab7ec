package abr

import (
	"fmt"
	"math"
)

// Level is one row of a codec's level table, in the units the checks use.
type Level struct {
	// Name as written in a profile/level string, such as "4.1".
	Name string
	// MaxPictureSize is the largest picture in luma samples.
	MaxPictureSize int64
	// MaxWidth and MaxHeight bound each dimension in luma samples.
	MaxWidth, MaxHeight int64
	// MaxSampleRate is the largest luma sample rate (samples per second).
	MaxSampleRate int64
	// MaxBitrate is the largest bitrate in bits per second for the profile
	// and tier the ladder uses.
	MaxBitrate int64
	// MaxBuffer is the largest CPB/VBV size in bits; 0 when the codec sets none.
	MaxBuffer int64
}

// h264Level builds a row of ITU-T H.264 Table A-1 (MaxMBPS, MaxFS in
// macroblocks, MaxBR and MaxCPB in 1000 bits). The High profile multiplies
// MaxBR and MaxCPB by cpbBrVclFactor 1250 instead of 1000 (Table A-2).
func h264Level(name string, maxMBPS, maxFS, maxBR, maxCPB int64) Level {
	side := int64(math.Sqrt(float64(8*maxFS))) * 16 // A.3.1 (f),(g): width/height <= sqrt(8*MaxFS) MBs
	return Level{
		Name:           name,
		MaxPictureSize: maxFS * 256,
		MaxWidth:       side,
		MaxHeight:      side,
		MaxSampleRate:  maxMBPS * 256,
		MaxBitrate:     maxBR * 1250,
		MaxBuffer:      maxCPB * 1250,
	}
}

// h264Levels is ITU-T H.264 (08/2021) Table A-1, High profile (level 1b omitted).
var h264Levels = []Level{
	h264Level("1.0", 1485, 99, 64, 175),
	h264Level("1.1", 3000, 396, 192, 500),
	h264Level("1.2", 6000, 396, 384, 1000),
	h264Level("1.3", 11880, 396, 768, 2000),
	h264Level("2.0", 11880, 396, 2000, 2000),
	h264Level("2.1", 19800, 792, 4000, 4000),
	h264Level("2.2", 20250, 1620, 4000, 4000),
	h264Level("3.0", 40500, 1620, 10000, 10000),
	h264Level("3.1", 108000, 3600, 14000, 14000),
	h264Level("3.2", 216000, 5120, 20000, 20000),
	h264Level("4.0", 245760, 8192, 20000, 25000),
	h264Level("4.1", 245760, 8192, 50000, 62500),
	h264Level("4.2", 522240, 8704, 50000, 62500),
	h264Level("5.0", 589824, 22080, 135000, 135000),
	h264Level("5.1", 983040, 36864, 240000, 240000),
	h264Level("5.2", 2073600, 36864, 240000, 240000),
	h264Level("6.0", 4177920, 139264, 240000, 240000),
	h264Level("6.1", 8355840, 139264, 480000, 480000),
	h264Level("6.2", 16711680, 139264, 800000, 800000),
}

// hevcLevel builds a row of ITU-T H.265 Tables A.8 and A.9 (general tier
// and level limits), Main tier, for Main and Main 10 (CpbVclFactor 1000).
func hevcLevel(name string, maxLumaPs, maxCPB, maxLumaSr, maxBR int64) Level {
	side := int64(math.Sqrt(float64(8 * maxLumaPs))) // A.4.1: width, height <= sqrt(MaxLumaPs*8)
	return Level{
		Name:           name,
		MaxPictureSize: maxLumaPs,
		MaxWidth:       side,
		MaxHeight:      side,
		MaxSampleRate:  maxLumaSr,
		MaxBitrate:     maxBR * 1000,
		MaxBuffer:      maxCPB * 1000,
	}
}

// hevcLevels is ITU-T H.265 (V8) Tables A.8/A.9, Main tier.
var hevcLevels = []Level{
	hevcLevel("1.0", 36864, 350, 552960, 128),
	hevcLevel("2.0", 122880, 1500, 3686400, 1500),
	hevcLevel("2.1", 245760, 3000, 7372800, 3000),
	hevcLevel("3.0", 552960, 6000, 16588800, 6000),
	hevcLevel("3.1", 983040, 10000, 33177600, 10000),
	hevcLevel("4.0", 2228224, 12000, 66846720, 12000),
	hevcLevel("4.1", 2228224, 20000, 133693440, 20000),
	hevcLevel("5.0", 8912896, 25000, 267386880, 25000),
	hevcLevel("5.1", 8912896, 40000, 534773760, 40000),
	hevcLevel("5.2", 8912896, 60000, 1069547520, 60000),
	hevcLevel("6.0", 35651584, 60000, 1069547520, 60000),
	hevcLevel("6.1", 35651584, 120000, 2139095040, 120000),
	hevcLevel("6.2", 35651584, 240000, 4278190080, 240000),
}

// av1Level builds a row of the AV1 specification's Annex A.3 level table
// (MaxPicSize, MaxHSize, MaxVSize, MaxDisplayRate, MainMbps), Main tier and
// Main profile (BitrateProfileFactor 1). AV1 levels set no buffer size.
func av1Level(name string, maxPicSize, maxH, maxV, maxDisplayRate int64, mainMbps float64) Level {
	return Level{
		Name:           name,
		MaxPictureSize: maxPicSize,
		MaxWidth:       maxH,
		MaxHeight:      maxV,
		MaxSampleRate:  maxDisplayRate,
		MaxBitrate:     int64(mainMbps * 1e6),
	}
}

// av1Levels is AV1 Bitstream & Decoding Process Specification (v1.0.0 with
// errata 1) Annex A.3; the undefined levels (2.2, 2.3, 3.2, 3.3, 4.2, 4.3)
// are left out.
var av1Levels = []Level{
	av1Level("2.0", 147456, 2048, 1152, 4423680, 1.5),
	av1Level("2.1", 278784, 2816, 1584, 8363520, 3.0),
	av1Level("3.0", 665856, 4352, 2448, 19975680, 6.0),
	av1Level("3.1", 1065024, 5504, 3096, 31950720, 10.0),
	av1Level("4.0", 2359296, 6144, 3456, 70778880, 12.0),
	av1Level("4.1", 2359296, 6144, 3456, 141557760, 20.0),
	av1Level("5.0", 8912896, 8192, 4352, 267386880, 30.0),
	av1Level("5.1", 8912896, 8192, 4352, 534773760, 40.0),
	av1Level("5.2", 8912896, 8192, 4352, 1069547520, 60.0),
	av1Level("5.3", 8912896, 8192, 4352, 1069547520, 60.0),
	av1Level("6.0", 35651584, 16384, 8704, 1069547520, 60.0),
	av1Level("6.1", 35651584, 16384, 8704, 2139095040, 100.0),
	av1Level("6.2", 35651584, 16384, 8704, 4278190080, 160.0),
	av1Level("6.3", 35651584, 16384, 8704, 4278190080, 160.0),
}

// Levels returns the level table the package uses for c, lowest first.
// The returned slice is a copy.
func Levels(c Codec) ([]Level, error) {
	var t []Level
	switch c {
	case H264:
		t = h264Levels
	case HEVC:
		t = hevcLevels
	case AV1:
		t = av1Levels
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedCodec, c)
	}
	return append([]Level(nil), t...), nil
}

// levelIndex returns the index of the named level in t, accepting "4" and
// "4.0" alike; -1 if absent.
func levelIndex(t []Level, name string) int {
	for i, l := range t {
		if l.Name == name || l.Name+".0" == name || l.Name == name+".0" {
			return i
		}
	}
	return -1
}

// lumaSize returns the picture size a level check counts: H.264 counts whole
// macroblocks, the others count samples.
func lumaSize(c Codec, w, h int) (width, height, size int64) {
	if c == H264 {
		mw, mh := int64((w+15)/16), int64((h+15)/16)
		return mw * 16, mh * 16, mw * mh * 256
	}
	return int64(w), int64(h), int64(w) * int64(h)
}

// admitsPicture reports whether l admits the picture size and sample rate.
func (l Level) admitsPicture(c Codec, w, h int, fps Rational) bool {
	pw, ph, size := lumaSize(c, w, h)
	if pw > l.MaxWidth || ph > l.MaxHeight || size > l.MaxPictureSize {
		return false
	}
	// size*fps <= MaxSampleRate, in integers: size*Num <= MaxSampleRate*Den.
	return float64(size)*float64(fps.Num) <= float64(l.MaxSampleRate)*float64(fps.Den)
}

// admitsRate reports whether l admits the peak bitrate and buffer.
func (l Level) admitsRate(maxBitrate, buffer int) bool {
	if int64(maxBitrate) > l.MaxBitrate {
		return false
	}
	return l.MaxBuffer == 0 || int64(buffer) <= l.MaxBuffer
}

// CheckLevel reports whether rung r fits its declared Level of r.Codec:
// picture size, dimensions, luma sample rate, peak bitrate and buffer size.
func CheckLevel(r Rung) error {
	t, err := Levels(r.Codec)
	if err != nil {
		return err
	}
	i := levelIndex(t, r.Level)
	if i < 0 {
		return &FieldError{Field: "level", Value: r.Level, Err: ErrInvalidLadder, Reason: "not a level of " + string(r.Codec)}
	}
	l := t[i]
	if !l.admitsPicture(r.Codec, r.Width, r.Height, r.FrameRate) {
		return &FieldError{Field: "level", Value: r.Level, Err: ErrInvalidLadder,
			Reason: fmt.Sprintf("%dx%d at %v fps exceeds the level's picture size or sample rate", r.Width, r.Height, r.FrameRate)}
	}
	if !l.admitsRate(r.MaxBitrate, r.BufferSize) {
		return &FieldError{Field: "level", Value: r.Level, Err: ErrInvalidLadder,
			Reason: fmt.Sprintf("peak %d bit/s or buffer %d bits exceeds the level", r.MaxBitrate, r.BufferSize)}
	}
	return nil
}
