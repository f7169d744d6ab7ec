package manifest

import (
	"errors"
	"strconv"
	"strings"
)

// errBadTemplate is wrapped by ExpandTemplate errors.
var errBadTemplate = errors.New("bad template identifier")

// ExpandTemplate expands a DASH template (ISO/IEC 23009-1 5.3.9.4.4) for one
// segment: $RepresentationID$, $Number$, $Time$, $Bandwidth$, each with an
// optional printf width such as $Number%05d$, and $$ for a dollar sign.
func ExpandTemplate(tmpl, repID string, bandwidth, number, time uint64) (string, error) {
	b, err := appendTemplate(nil, tmpl, repID, bandwidth, number, time)
	return string(b), err
}

// appendTemplate appends the expansion of tmpl to dst.
func appendTemplate(dst []byte, tmpl, repID string, bandwidth, number, time uint64) ([]byte, error) {
	for {
		i := strings.IndexByte(tmpl, '$')
		if i < 0 {
			return append(dst, tmpl...), nil
		}
		dst = append(dst, tmpl[:i]...)
		tmpl = tmpl[i+1:]
		j := strings.IndexByte(tmpl, '$')
		if j < 0 {
			return dst, errBadTemplate
		}
		id := tmpl[:j]
		tmpl = tmpl[j+1:]
		if id == "" { // $$
			dst = append(dst, '$')
			continue
		}
		name, format, _ := strings.Cut(id, "%")
		var v uint64
		switch name {
		case "RepresentationID":
			if format != "" {
				return dst, errBadTemplate
			}
			dst = append(dst, repID...)
			continue
		case "Number":
			v = number
		case "Time":
			v = time
		case "Bandwidth":
			v = bandwidth
		default:
			return dst, errBadTemplate
		}
		width := 0
		if format != "" {
			// Only %0[width]d is allowed.
			if len(format) < 3 || format[0] != '0' || format[len(format)-1] != 'd' {
				return dst, errBadTemplate
			}
			w, err := strconv.Atoi(format[1 : len(format)-1])
			if err != nil || w < 1 || w > 32 {
				return dst, errBadTemplate
			}
			width = w
		}
		var num [20]byte
		digits := strconv.AppendUint(num[:0], v, 10)
		for k := len(digits); k < width; k++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	}
}

// TemplateUses reports whether tmpl contains the identifier name
// ("Number", "Time", ...), with or without a width format.
func TemplateUses(tmpl, name string) bool {
	return strings.Contains(tmpl, "$"+name+"$") || strings.Contains(tmpl, "$"+name+"%")
}
