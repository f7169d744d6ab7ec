package manifest

import "strings"

// CodecFamily maps an RFC 6381 codec string to the short family name the
// packagers use in representation IDs, labels and HLS group IDs ("avc",
// "hevc", "av1", "aac", "ac3", "ec3", else the codec's first element).
func CodecFamily(codec string) string {
	prefix, _, _ := strings.Cut(codec, ".")
	switch prefix {
	case "avc1", "avc3":
		return "avc"
	case "hvc1", "hev1":
		return "hevc"
	case "av01":
		return "av1"
	case "mp4a":
		return "aac"
	case "ac-3":
		return "ac3"
	case "ec-3":
		return "ec3"
	}
	return prefix
}
