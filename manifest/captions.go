package manifest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cmafkit/cmafkit/segment"
)

// CaptionType is the kind of closed captions carried inside a video stream.
type CaptionType string

// Caption types.
const (
	// CEA608 captions (CTA-608): channels CC1-CC4.
	CEA608 CaptionType = "cea-608"
	// CEA708 captions (CTA-708): services 1-63.
	CEA708 CaptionType = "cea-708"
)

// ClosedCaption is one closed-caption service carried inside the video of a
// switching set (CEA-608/708 in SEI messages), which players decode from the
// video segments. HLS signals it as an EXT-X-MEDIA rendition of
// TYPE=CLOSED-CAPTIONS named by the variants' CLOSED-CAPTIONS attribute,
// DASH as an Accessibility descriptor of the video AdaptationSet
// (urn:scte:dash:cc:cea-608:2015 or urn:scte:dash:cc:cea-708:2015, SCTE
// 214-1).
type ClosedCaption struct {
	Type CaptionType
	// Channel is the CEA-608 channel, 1-4 for CC1-CC4, or the CEA-708
	// service number, 1-63.
	Channel int
	// Lang is the language, such as "eng"; "und" when unknown. SCTE 214-1
	// asks for ISO 639-2 codes in DASH. Letters, digits and '-' only.
	Lang string
	// Label is the HLS NAME; empty means the InstreamID ("CC1").
	Label string
}

// InstreamID returns the HLS INSTREAM-ID of the service: "CC1"-"CC4" or
// "SERVICE1"-"SERVICE63".
func (c ClosedCaption) InstreamID() string {
	if c.Type == CEA708 {
		return "SERVICE" + strconv.Itoa(c.Channel)
	}
	return "CC" + strconv.Itoa(c.Channel)
}

// ParseInstreamID parses an HLS INSTREAM-ID, "CC1"-"CC4" or
// "SERVICE1"-"SERVICE63" (case-insensitive), into a caption type and
// channel or service number.
func ParseInstreamID(s string) (CaptionType, int, error) {
	u := strings.ToUpper(s)
	typ, hi, num := CEA608, 4, ""
	switch {
	case strings.HasPrefix(u, "CC"):
		num = u[2:]
	case strings.HasPrefix(u, "SERVICE"):
		typ, hi, num = CEA708, 63, u[7:]
	default:
		return "", 0, fmt.Errorf("%w: %q is not CC1-CC4 or SERVICE1-SERVICE63", ErrCaptions, s)
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > hi || num[0] == '0' || num[0] == '+' {
		return "", 0, fmt.Errorf("%w: %q is not CC1-CC4 or SERVICE1-SERVICE63", ErrCaptions, s)
	}
	return typ, n, nil
}

// Check returns an error wrapping ErrCaptions when c cannot be signalled:
// an unknown type, a channel or service number out of range, or a
// language that is empty or holds more than letters, digits and '-' (DASH
// writes it inside a "CC1=eng;CC3=spa" value).
func (c ClosedCaption) Check() error {
	switch {
	case c.Type == CEA608 && (c.Channel < 1 || c.Channel > 4):
		return fmt.Errorf("%w: CEA-608 channel %d (want 1-4)", ErrCaptions, c.Channel)
	case c.Type == CEA708 && (c.Channel < 1 || c.Channel > 63):
		return fmt.Errorf("%w: CEA-708 service %d (want 1-63)", ErrCaptions, c.Channel)
	case c.Type != CEA608 && c.Type != CEA708:
		return fmt.Errorf("%w: caption type %q", ErrCaptions, c.Type)
	}
	if c.Lang == "" || strings.IndexFunc(c.Lang, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
	}) >= 0 {
		return fmt.Errorf("%w: %s: language %q (want a code such as \"eng\", or \"und\")", ErrCaptions, c.InstreamID(), c.Lang)
	}
	return nil
}

// captions checks the closed captions of a set: video only, each service
// valid (ClosedCaption.Check) and listed once.
func (v *validator) captions(pid string, set *SwitchingSet) {
	errAt := func(detail string) {
		v.add(&ValidationError{Period: pid, Set: set.ID, Segment: -1, Err: ErrCaptions, Detail: detail})
	}
	if len(set.ClosedCaptions) > 0 && set.ContentType != segment.KindVideo {
		errAt(fmt.Sprintf("closed captions on a %s set", set.ContentType))
		return
	}
	for i, c := range set.ClosedCaptions {
		if err := c.Check(); err != nil {
			errAt(strings.TrimPrefix(err.Error(), ErrCaptions.Error()+": "))
		}
		for _, o := range set.ClosedCaptions[:i] {
			if o.Type == c.Type && o.Channel == c.Channel {
				errAt(fmt.Sprintf("%s listed twice", c.InstreamID()))
			}
		}
	}
}
