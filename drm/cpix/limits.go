package cpix

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cmafkit/cmafkit/drm"
)

// Limits that bound the time and memory Read spends on an untrusted
// document. A document beyond one of them is refused with a *LimitError
// before it is decoded, so decoding costs a small multiple of
// MaxDocumentSize at most. Real CPIX documents nest about ten elements
// deep, have a handful of attributes per element and a few dozen elements
// per content key.
const (
	// MaxDocumentSize is the largest document Read accepts, in bytes.
	MaxDocumentSize = 16 << 20
	// MaxDepth is the deepest nesting of elements Read accepts (the CPIX
	// element is at depth 1).
	MaxDepth = 32
	// MaxAttributes is the largest number of attributes one element may have.
	MaxAttributes = 64
	// MaxElementCount is the largest number of elements in a document.
	MaxElementCount = 200000
	// MaxElements bounds the number of keys, DRM system entries, periods
	// and usage rules each.
	MaxElements = 100000
)

// ErrLimit means a document exceeds one of the limits above. It is
// returned wrapped in a *LimitError, which also matches drm.ErrUnsupported.
var ErrLimit = errors.New("cpix: document exceeds a limit")

// LimitError reports a document that exceeds a limit, and where.
type LimitError struct {
	// Limit names the limit: "size", "depth", "attributes", "elements" or
	// "list" (MaxElements).
	Limit string
	// Max is the limit's value.
	Max int
	// Offset is the byte offset at which the limit was exceeded, or -1
	// when it concerns the whole document.
	Offset int64
}

func (e *LimitError) Error() string {
	what := map[string]string{
		"size":       "bytes",
		"depth":      "levels of nested elements",
		"attributes": "attributes on one element",
		"elements":   "elements",
		"list":       "entries in a list",
	}[e.Limit]
	if e.Offset < 0 {
		return fmt.Sprintf("cpix: document has more than %d %s", e.Max, what)
	}
	return fmt.Sprintf("cpix: document has more than %d %s (at byte %d)", e.Max, what, e.Offset)
}

// Unwrap returns ErrLimit and drm.ErrUnsupported.
func (e *LimitError) Unwrap() []error { return []error{ErrLimit, drm.ErrUnsupported} }

// checkLimits scans data for markup beyond the limits before an XML
// decoder allocates for it: element nesting, elements in total and
// attributes per element (counted as '=' signs outside quoted values, which
// never counts fewer than a decoder sees). Comments, CDATA sections and
// processing instructions are skipped; document type declarations are
// refused (CPIX has no use for them). It does not check well-formedness;
// the decoder does.
func checkLimits(data []byte) error {
	depth, elements := 0, 0
	malformed := func(at int, what string) error {
		return fmt.Errorf("%s at byte %d: %w", what, at, drm.ErrMalformed)
	}
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '<')
		if j < 0 {
			break
		}
		i += j
		rest := data[i:]
		var end []byte
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			end = []byte("-->")
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end = []byte("]]>")
		case bytes.HasPrefix(rest, []byte("<?")):
			end = []byte("?>")
		case bytes.HasPrefix(rest, []byte("<!")):
			return malformed(i, "document type declaration or other directive")
		case bytes.HasPrefix(rest, []byte("</")):
			end = []byte(">")
			depth--
		}
		if end != nil {
			k := bytes.Index(rest[2:], end)
			if k < 0 {
				return malformed(i, "unterminated markup")
			}
			i += 2 + k + len(end)
			continue
		}
		// A start tag: count it and its attributes up to its '>'.
		elements++
		depth++
		if elements > MaxElementCount {
			return &LimitError{Limit: "elements", Max: MaxElementCount, Offset: int64(i)}
		}
		if depth > MaxDepth {
			return &LimitError{Limit: "depth", Max: MaxDepth, Offset: int64(i)}
		}
		attrs, k := 0, 1
	tag:
		for ; k < len(rest); k++ {
			switch c := rest[k]; c {
			case '"', '\'':
				q := bytes.IndexByte(rest[k+1:], c)
				if q < 0 {
					return malformed(i, "unterminated attribute value")
				}
				k += 1 + q
			case '=':
				if attrs++; attrs > MaxAttributes {
					return &LimitError{Limit: "attributes", Max: MaxAttributes, Offset: int64(i + k)}
				}
			case '>':
				if rest[k-1] == '/' {
					depth--
				}
				break tag
			}
		}
		if k == len(rest) {
			return malformed(i, "unterminated tag")
		}
		i += k + 1
	}
	return nil
}
