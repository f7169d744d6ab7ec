package scte35_test

import (
	"encoding/base64"
	"fmt"

	"github.com/cmafkit/cmafkit/scte35"
)

func ExampleParse() {
	// The splice_insert sample of SCTE 35 section 14.2.
	b, _ := base64.StdEncoding.DecodeString("/DAvAAAAAAAA///wFAVIAACPf+/+c2nALv4AUsz1AAAAAAAKAAhDVUVJAAABNWLbowo=")
	sec, err := scte35.Parse(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	if c, ok := sec.Command.(*scte35.SpliceInsert); ok {
		fmt.Printf("event %#x out=%v at %v for %v\n", c.EventID, c.OutOfNetwork,
			scte35.Duration(*c.SpliceTime), scte35.Duration(c.BreakDuration.Duration))
	}
	// Output: event 0x4800008f out=true at 5h58m34.559088888s for 1m0.293566666s
}

func ExampleSection_Encode() {
	start, dur := uint64(10*scte35.Ticks), uint64(30*scte35.Ticks)
	sec := &scte35.Section{SAPType: 3, Tier: 0xFFF, Command: &scte35.SpliceInsert{
		EventID: 1, OutOfNetwork: true, ProgramSplice: true, SpliceTime: &start,
		BreakDuration: &scte35.BreakDuration{AutoReturn: true, Duration: dur},
	}}
	b, err := sec.Encode()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(base64.StdEncoding.EncodeToString(b))
	// Output: /DAlAAAAAAAAAP/wFAUAAAABf+f+AA27oP4AKTLgAAAAAAAA6HPlaQ==
}

func ExampleSection_Role() {
	for _, b64 := range []string{
		// SCTE 35 section 14: splice_insert, and time_signals opening and
		// closing a placement opportunity, and ending a programme.
		"/DAvAAAAAAAA///wFAVIAACPf+/+c2nALv4AUsz1AAAAAAAKAAhDVUVJAAABNWLbowo=",
		"/DA0AAAAAAAA///wBQb+cr0AUAAeAhxDVUVJSAAAjn/PAAGlmbAICAAAAAAsoKGKNAIAmsnRfg==",
		"/DAvAAAAAAAA///wBQb+dGKQoAAZAhdDVUVJSAAAjn+fCAgAAAAALKChijUCAKnMZ1g=",
		"/DAvAAAAAAAA///wBQb+rvF8TAAZAhdDVUVJSAAAB3+fCAgAAAAALKVslxEAAMSHai4=",
	} {
		b, _ := base64.StdEncoding.DecodeString(b64)
		sec, err := scte35.Parse(b)
		if err != nil {
			fmt.Println(err)
			return
		}
		role, event, dur := sec.Role()
		fmt.Println(role, event, dur)
	}
	// Output:
	// out splice-1207959695 1m0.293566666s
	// out seg-1207959694 5m7s
	// in seg-1207959694 0s
	// signal seg-1207959559 0s
}
