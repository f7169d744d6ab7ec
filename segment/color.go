package segment

import (
	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/cmafkit/cmafkit/internal/avcsps"
)

// Color describes the colour of a video track with ITU-T H.273 (ISO/IEC
// 23091-2, CICP) code points; zero means unspecified.
type Color struct {
	Primaries uint8 // colour_primaries: 1 BT.709, 9 BT.2020
	Transfer  uint8 // transfer_characteristics: 1 BT.709, 14 BT.2020, 16 PQ, 18 HLG
	Matrix    uint8 // matrix_coefficients: 1 BT.709, 9 BT.2020 non-constant
}

// VideoRange is the HLS VIDEO-RANGE of the transfer characteristics:
// "PQ", "HLG" or "SDR".
func (c *Color) VideoRange() string {
	if c == nil {
		return "SDR"
	}
	switch c.Transfer {
	case 16:
		return "PQ"
	case 18:
		return "HLG"
	}
	return "SDR"
}

// NewColor returns the colour of three CICP code points, or nil when all
// are unspecified (0 or 2) or out of range.
func NewColor(primaries, transfer, matrix uint) *Color {
	spec := func(v uint) uint8 {
		if v == 2 || v > 255 {
			return 0
		}
		return uint8(v)
	}
	c := Color{spec(primaries), spec(transfer), spec(matrix)}
	if c == (Color{}) {
		return nil
	}
	return &c
}

// sampleEntryColor returns the colour a visual sample entry declares: its
// colr box of type nclx, or else the VUI of its first SPS (encoders such as
// x264 and x265 write the colour only there). It returns nil when neither
// says anything.
func sampleEntryColor(e *mp4.VisualSampleEntryBox) *Color {
	for _, c := range e.Children {
		if colr, ok := c.(*mp4.ColrBox); ok && colr.ColorType == "nclx" {
			return NewColor(uint(colr.ColorPrimaries), uint(colr.TransferCharacteristics), uint(colr.MatrixCoefficients))
		}
	}
	return spsColor(e)
}

// spsColor reads the colour description of the VUI of the first SPS in an
// avcC or hvcC. A parameter set mp4ff cannot parse gives nil: the colour
// is optional information, never a reason to refuse a track.
func spsColor(e *mp4.VisualSampleEntryBox) (c *Color) {
	defer func() {
		if recover() != nil {
			c = nil
		}
	}()
	switch {
	case e.AvcC != nil && len(e.AvcC.SPSnalus) > 0:
		sps, err := avcsps.Parse(e.AvcC.SPSnalus[0])
		if err != nil || sps.VUI == nil || !sps.VUI.ColourDescriptionFlag {
			return nil
		}
		return NewColor(sps.VUI.ColourPrimaries, sps.VUI.TransferCharacteristics, sps.VUI.MatrixCoefficients)
	case e.HvcC != nil:
		nalus := e.HvcC.GetNalusForType(hevc.NALU_SPS)
		if len(nalus) == 0 {
			return nil
		}
		sps, err := hevc.ParseSPSNALUnit(nalus[0])
		if err != nil || sps.VUI == nil {
			return nil
		}
		v := sps.VUI
		return NewColor(uint(v.ColourPrimaries), uint(v.TransferCharacteristics), uint(v.MatrixCoefficients))
	}
	return nil
}

// spsSize reads the picture size (after cropping) from the first SPS in an
// avcC or hvcC, or returns 0, 0 when there is none mp4ff can parse.
func spsSize(e *mp4.VisualSampleEntryBox) (width, height int) {
	defer func() {
		if recover() != nil {
			width, height = 0, 0
		}
	}()
	switch {
	case e.AvcC != nil && len(e.AvcC.SPSnalus) > 0:
		if sps, err := avcsps.Parse(e.AvcC.SPSnalus[0]); err == nil {
			return int(sps.Width), int(sps.Height)
		}
	case e.HvcC != nil:
		if nalus := e.HvcC.GetNalusForType(hevc.NALU_SPS); len(nalus) > 0 {
			if sps, err := hevc.ParseSPSNALUnit(nalus[0]); err == nil {
				w, h := sps.ImageSize()
				return int(w), int(h)
			}
		}
	}
	return 0, 0
}
