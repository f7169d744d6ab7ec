package webvtt

import (
	"encoding/binary"
	"fmt"
	"sort"
	"time"
)

// Sample is one wvtt sample: the cues active during [Start, End). No cues
// means an empty sample (a vtte box).
type Sample struct {
	Start, End time.Duration
	Cues       []Cue
}

// ToSamples cuts the timeline [0, end) at every cue start and end and
// returns the samples in order, gaps included as empty samples, so that
// the samples are contiguous from 0 (ISO/IEC 14496-30 5.3: samples do not
// overlap, and a cue active over several samples is repeated in each).
// end is extended to the last cue end if it is earlier. Zero-length cues
// are dropped.
func ToSamples(cues []Cue, end time.Duration) []Sample {
	var cuts []time.Duration
	cuts = append(cuts, 0)
	for _, c := range cues {
		if c.End > c.Start && c.Start >= 0 {
			cuts = append(cuts, c.Start, c.End)
			end = max(end, c.End)
		}
	}
	cuts = append(cuts, end)
	sort.Slice(cuts, func(i, j int) bool { return cuts[i] < cuts[j] })
	var out []Sample
	for i := 0; i+1 < len(cuts); i++ {
		a, b := cuts[i], cuts[i+1]
		if a == b {
			continue
		}
		s := Sample{Start: a, End: b}
		for _, c := range cues {
			if c.Start <= a && c.End >= b && c.End > c.Start {
				s.Cues = append(s.Cues, c)
			}
		}
		out = append(out, s)
	}
	return out
}

// Box types of ISO/IEC 14496-30.
const (
	boxVTTC = "vttc" // a cue
	boxVTTE = "vtte" // no cue
	boxVTTA = "vtta" // additional text (comments)
	boxIDEN = "iden" // cue identifier
	boxSTTG = "sttg" // cue settings
	boxPAYL = "payl" // cue payload
)

// AppendSample appends the wvtt sample payload for cues (their times are
// not part of it) to dst: one vttc box per cue, or one vtte box when there
// is none.
func AppendSample(dst []byte, cues []Cue) []byte {
	if len(cues) == 0 {
		return appendBox(dst, boxVTTE, nil)
	}
	for _, c := range cues {
		var inner []byte
		if c.ID != "" {
			inner = appendBox(inner, boxIDEN, []byte(c.ID))
		}
		if c.Settings != "" {
			inner = appendBox(inner, boxSTTG, []byte(c.Settings))
		}
		inner = appendBox(inner, boxPAYL, []byte(c.Text))
		dst = appendBox(dst, boxVTTC, inner)
	}
	return dst
}

func appendBox(dst []byte, typ string, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(8+len(payload)))
	dst = append(dst, typ...)
	return append(dst, payload...)
}

// DecodeSample reads the cues of a wvtt sample payload (without times). An
// empty sample (vtte) yields no cues; vtta boxes and unknown boxes are
// skipped.
func DecodeSample(b []byte) ([]Cue, error) {
	var cues []Cue
	err := boxes(b, func(typ string, payload []byte) error {
		if typ != boxVTTC {
			return nil
		}
		var c Cue
		err := boxes(payload, func(typ string, p []byte) error {
			switch typ {
			case boxIDEN:
				c.ID = string(p)
			case boxSTTG:
				c.Settings = string(p)
			case boxPAYL:
				c.Text = string(p)
			}
			return nil
		})
		if err != nil {
			return err
		}
		cues = append(cues, c)
		return nil
	})
	return cues, err
}

func boxes(b []byte, f func(typ string, payload []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return fmt.Errorf("%w: %d trailing bytes in a wvtt sample", ErrSyntax, len(b))
		}
		size := binary.BigEndian.Uint32(b)
		if size < 8 || uint64(size) > uint64(len(b)) {
			return fmt.Errorf("%w: box size %d in a wvtt sample of %d bytes", ErrSyntax, size, len(b))
		}
		if err := f(string(b[4:8]), b[8:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

// Merge turns a run of timed samples back into cues: a cue repeated in
// consecutive samples (same identifier, settings and text) becomes one cue
// spanning them. Cues come out sorted by start time.
func Merge(samples []Sample) []Cue {
	var out []Cue
	open := map[int]bool{} // indexes into out of cues still running
	for _, s := range samples {
		next := map[int]bool{}
		for _, c := range s.Cues {
			found := -1
			for i := range out {
				o := &out[i]
				if open[i] && !next[i] && o.End == s.Start && o.ID == c.ID && o.Settings == c.Settings && o.Text == c.Text {
					found = i
					break
				}
			}
			if found >= 0 {
				out[found].End = s.End
				next[found] = true
				continue
			}
			c.Start, c.End = s.Start, s.End
			out = append(out, c)
			next[len(out)-1] = true
		}
		open = next
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}
