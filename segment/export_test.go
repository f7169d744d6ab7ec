package segment

// CaptionsOfSEI feeds SEI NAL unit payloads (after the NAL unit header), in
// order, to one caption detector and returns what it found.
func CaptionsOfSEI(payloads ...[]byte) Captions {
	var d ccDetector
	for _, p := range payloads {
		d.sei(p)
	}
	return d.result()
}
