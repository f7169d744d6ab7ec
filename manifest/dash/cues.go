package dash

import (
	"encoding/base64"
	"time"

	"github.com/cmafkit/cmafkit/manifest"
)

// SchemeSCTE35 is the EventStream scheme of SCTE-35 cues in the MPD (SCTE
// 214-1 section 6.7.4): each Event holds the splice_info_section base64 in
// scte35:Signal/scte35:Binary.
const SchemeSCTE35 = "urn:scte:scte35:2014:xml+bin"

// cueTimescale is the EventStream timescale: the 90 kHz clock of SCTE-35.
const cueTimescale = 90000

// eventStream returns the EventStream of a period's cues, or nil. Every cue
// is one Event, numbered from 1 in cue order (Event@id is an unsigned
// integer); presentationTime is relative to the period start and duration
// is the break's duration when the cue has one.
func (b *builder) eventStream(cues []manifest.Cue) *eventStreamXML {
	if len(cues) == 0 {
		return nil
	}
	es := &eventStreamXML{SchemeIDURI: SchemeSCTE35, Timescale: cueTimescale}
	for i, c := range cues {
		ev := eventXML{
			PresentationTime: cueTicks(c.Start),
			Duration:         cueTicks(c.Duration),
			ID:               uint32(i + 1),
		}
		if c.EventID != 0 {
			ev.ID = c.EventID
		}
		if len(c.SCTE35) > 0 {
			ev.Signal = &signalXML{Binary: base64.StdEncoding.EncodeToString(c.SCTE35)}
			b.ns.scte35 = true
		}
		es.Events = append(es.Events, ev)
	}
	return es
}

// cueTicks converts d to the nearest 90 kHz tick without overflow.
func cueTicks(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	s, ns := uint64(d/time.Second), uint64(d%time.Second)
	return s*cueTimescale + (ns*cueTimescale+5e8)/1e9
}
