package manifesttest

import (
	"time"

	"github.com/cmafkit/cmafkit/manifest"
)

// Captioned returns the ladder whose video carries closed captions: CEA-608
// CC1 in English and CC3 in Spanish, and CEA-708 service 1 in English.
func Captioned(total time.Duration) *manifest.Presentation {
	p := Ladder(total)
	p.Periods[0].Sets[0].ClosedCaptions = []manifest.ClosedCaption{
		{Type: manifest.CEA608, Channel: 1, Lang: "eng"},
		{Type: manifest.CEA608, Channel: 3, Lang: "spa", Label: "Español"},
		{Type: manifest.CEA708, Channel: 1, Lang: "eng"},
	}
	return p
}

// TextOnly returns the ladder's subtitles alone.
func TextOnly(total time.Duration) *manifest.Presentation {
	p := Ladder(total)
	p.Periods[0].Sets = p.Periods[0].Sets[3:]
	return p
}
