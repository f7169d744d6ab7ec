package segment

import (
	"strings"

	"github.com/Eyevinn/mp4ff/mp4"
)

// TTML in MP4 (stpp, ISO/IEC 14496-30): the codec string of an stpp track
// names the TTML profile its documents follow (RFC 6381 with the short
// names of the W3C TTML Profile Registry): stpp.ttml.im1t for IMSC1 text,
// stpp.ttml.im1i for IMSC1 images, and so on.

// ttmlProfiles maps TTML profile designators to their registered short names.
var ttmlProfiles = map[string]string{
	"http://www.w3.org/ns/ttml/profile/imsc1/text":    "im1t",
	"http://www.w3.org/ns/ttml/profile/imsc1/image":   "im1i",
	"http://www.w3.org/ns/ttml/profile/imsc1.1/text":  "im2t",
	"http://www.w3.org/ns/ttml/profile/imsc1.1/image": "im2i",
	"http://www.w3.org/ns/ttml/profile/imsc1.2/text":  "im3t",
	"urn:ebu:tt:distribution:2014-01":                 "etd1",
}

// profilePreference orders the short names when a track names several:
// the first profile a player is most likely to support wins.
var profilePreference = []string{"im1t", "im1i", "im2t", "im2i", "im3t", "etd1"}

// stppCodecFromEntry returns the codec string the stpp sample entry e
// declares, or "" when it declares none.
func stppCodecFromEntry(e *mp4.StppBox) string {
	for _, c := range e.Children {
		m, ok := c.(*mp4.MimeBox)
		if !ok {
			continue
		}
		for _, param := range strings.Split(m.ContentType, ";")[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
			if !strings.EqualFold(k, "codecs") {
				continue
			}
			v = strings.Trim(strings.TrimSpace(v), `"`)
			if !validCodecParam(v) {
				continue
			}
			if strings.HasPrefix(v, "stpp.") || v == "stpp" {
				return v
			}
			return "stpp.ttml." + v
		}
	}
	if name := TTMLProfile(strings.Fields(e.SchemaLocation)); name != "" {
		return "stpp.ttml." + name
	}
	return ""
}

// validCodecParam reports whether v is a plausible codecs value: short
// names, dots and the registry's combination operators, nothing that could
// break a manifest attribute.
func validCodecParam(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".|+-", c)) {
			return false
		}
	}
	return true
}

// TTMLProfile returns the short name (W3C TTML Profile Registry, e.g.
// "im1t") of the profile a player is most likely to support among TTML
// profile designators, or "" when none is an IMSC1 or EBU-TT-D profile.
// Readers that find designators in an stpp track's documents use it to
// complete the track's codec string ("stpp.ttml." + name).
func TTMLProfile(designators []string) string {
	have := map[string]bool{}
	for _, d := range designators {
		if name, ok := ttmlProfiles[d]; ok {
			have[name] = true
		}
	}
	for _, name := range profilePreference {
		if have[name] {
			return name
		}
	}
	return ""
}

// SubsampleIndex gives the subsample structure (ISO/IEC 14496-12 8.7.7)
// of a track's samples. In stpp tracks a sample is a TTML document followed
// by the images it references as urn:mpeg:14496-30:subs:N (ISO/IEC
// 14496-30 6.1): players find the images through it, so writers carry it
// into a subs box in each fragment.
type SubsampleIndex interface {
	// Subsamples returns the subsamples of s, nil when it has none. The
	// returned slice must not be modified.
	Subsamples(s *Sample) []mp4.SubsSample
}
