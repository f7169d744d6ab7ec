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
	parts, err := compileTemplate(tmpl)
	if err != nil {
		return dst, err
	}
	return appendParts(dst, parts, repID, bandwidth, number, time), nil
}

// templatePart is a literal followed by an optional identifier.
type templatePart struct {
	lit   string
	ident byte // 0 none, 'R' RepresentationID, 'N' Number, 'T' Time, 'B' Bandwidth
	width int
}

// compileTemplate splits tmpl into parts once, so that expanding it for
// thousands of segments does no parsing.
func compileTemplate(tmpl string) ([]templatePart, error) {
	var parts []templatePart
	var lit []byte
	for {
		i := strings.IndexByte(tmpl, '$')
		if i < 0 {
			lit = append(lit, tmpl...)
			return append(parts, templatePart{lit: string(lit)}), nil
		}
		lit = append(lit, tmpl[:i]...)
		tmpl = tmpl[i+1:]
		j := strings.IndexByte(tmpl, '$')
		if j < 0 {
			return nil, errBadTemplate
		}
		id := tmpl[:j]
		tmpl = tmpl[j+1:]
		if id == "" { // $$
			lit = append(lit, '$')
			continue
		}
		name, format, _ := strings.Cut(id, "%")
		p := templatePart{lit: string(lit)}
		lit = lit[:0]
		switch name {
		case "RepresentationID":
			if format != "" {
				return nil, errBadTemplate
			}
			p.ident = 'R'
		case "Number":
			p.ident = 'N'
		case "Time":
			p.ident = 'T'
		case "Bandwidth":
			p.ident = 'B'
		default:
			return nil, errBadTemplate
		}
		if format != "" {
			// Only %0[width]d is allowed.
			if len(format) < 3 || format[0] != '0' || format[len(format)-1] != 'd' {
				return nil, errBadTemplate
			}
			w, err := strconv.Atoi(format[1 : len(format)-1])
			if err != nil || w < 1 || w > 32 {
				return nil, errBadTemplate
			}
			p.width = w
		}
		parts = append(parts, p)
	}
}

func appendParts(dst []byte, parts []templatePart, repID string, bandwidth, number, time uint64) []byte {
	for i := range parts {
		p := &parts[i]
		dst = append(dst, p.lit...)
		var v uint64
		switch p.ident {
		case 0:
			continue
		case 'R':
			dst = append(dst, repID...)
			continue
		case 'N':
			v = number
		case 'T':
			v = time
		case 'B':
			v = bandwidth
		}
		var num [20]byte
		digits := strconv.AppendUint(num[:0], v, 10)
		for k := len(digits); k < p.width; k++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	}
	return dst
}

// TemplateUses reports whether tmpl contains the identifier name
// ("Number", "Time", ...), with or without a width format.
func TemplateUses(tmpl, name string) bool {
	return strings.Contains(tmpl, "$"+name+"$") || strings.Contains(tmpl, "$"+name+"%")
}
