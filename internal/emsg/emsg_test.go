package emsg

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, m := range []*Message{
		{Version: 0, Scheme: SchemeSCTE35, Value: "1", Timescale: 90000, PresentationTimeDelta: 4500, Duration: 0xFFFFFFFF, ID: 7, Data: []byte{0xFC, 0x30}},
		{Version: 1, Scheme: SchemeSCTE35, Timescale: 1000, PresentationTime: 1 << 40, Duration: 30000, ID: 8, Data: []byte{0xFC}},
	} {
		box := Append(nil, m)
		got, err := Parse(box[8:])
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != m.Version || got.Scheme != m.Scheme || got.Value != m.Value || got.Timescale != m.Timescale ||
			got.PresentationTime != m.PresentationTime || got.PresentationTimeDelta != m.PresentationTimeDelta ||
			got.Duration != m.Duration || got.ID != m.ID || !bytes.Equal(got.Data, m.Data) {
			t.Errorf("got %+v, want %+v", got, m)
		}
	}
}

func TestBad(t *testing.T) {
	good := Append(nil, &Message{Version: 1, Scheme: SchemeSCTE35, Timescale: 1000})[8:]
	for name, p := range map[string][]byte{
		"empty":       nil,
		"version 2":   {2, 0, 0, 0},
		"short v1":    good[:20],
		"no nul":      good[:len(good)-1],
		"timescale 0": Append(nil, &Message{Version: 0, Scheme: "a"})[8:],
		"short v0":    Append(nil, &Message{Version: 0, Scheme: "a", Timescale: 1})[8 : 8+10],
	} {
		if _, err := Parse(p); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Append(nil, &Message{Version: 1, Scheme: SchemeSCTE35, Timescale: 1000, Data: []byte{1}})[8:])
	f.Add(Append(nil, &Message{Version: 0, Scheme: SchemeSCTE35, Timescale: 1000, Data: []byte{1}})[8:])
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := Parse(p)
		if err == nil {
			if m.Timescale == 0 {
				t.Fatal("timescale 0 accepted")
			}
			if _, err := Parse(Append(nil, m)[8:]); err != nil {
				t.Fatalf("re-encoded box does not parse: %v", err)
			}
		}
	})
}
