package dash

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cmafkit/cmafkit/manifest"
)

// keyServerXML sets the children of cp to a key server's XML after checking
// that the MPD stays well-formed and valid with it: the elements close in
// order, no text outside them, every prefix declared in the XML or one of
// cenc, mspr, dashif and clearkey (which the MPD then declares), and the
// top-level elements in a namespace other than the MPD's (DescriptorType
// allows only those).
func (b *builder) keyServerXML(cp *contentProtectionXML, data string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), manifest.ErrProtection)
	}
	dec := xml.NewDecoder(strings.NewReader(data))
	dec.Strict = true
	type scope struct {
		name     xml.Name
		prefixes map[string]string // declared on this element; "" is xmlns
	}
	var open []scope
	lookup := func(prefix string) (string, bool) {
		for i := len(open) - 1; i >= 0; i-- {
			if ns, ok := open[i].prefixes[prefix]; ok {
				return ns, true
			}
		}
		return "", false
	}
	used := map[string]bool{}
	usePrefix := func(prefix string) error {
		if _, ok := lookup(prefix); ok || prefix == "" || prefix == "xml" || prefix == "xmlns" {
			return nil
		}
		switch prefix {
		case "cenc", "mspr", "dashif", "clearkey":
			used[prefix] = true
			return nil
		}
		return bad("prefix %q is not declared", prefix)
	}
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return bad("not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			sc := scope{name: t.Name, prefixes: map[string]string{}}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					sc.prefixes[a.Name.Local] = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					sc.prefixes[""] = a.Value
				}
			}
			open = append(open, sc)
			if len(open) == 1 {
				// DescriptorType's children must be in another namespace.
				ns, ok := lookup(t.Name.Space)
				if t.Name.Space != "" && !ok {
					ns = "(" + t.Name.Space + ")" // one of the MPD's prefixes
				}
				if ns == "" || ns == nsMPD {
					return bad("<%s> is in the MPD's namespace or none", t.Name.Local)
				}
			}
			if err := usePrefix(t.Name.Space); err != nil {
				return err
			}
			for _, a := range t.Attr {
				if a.Name.Space != "xmlns" {
					if err := usePrefix(a.Name.Space); err != nil {
						return err
					}
				}
			}
		case xml.EndElement:
			if len(open) == 0 || open[len(open)-1].name != t.Name {
				return bad("not well-formed XML: unexpected </%s>", t.Name.Local)
			}
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) == 0 && len(bytes.TrimSpace(t)) > 0 {
				return bad("text %q outside an element", string(t))
			}
		case xml.ProcInst, xml.Directive:
			return bad("a processing instruction or directive")
		}
	}
	if len(open) > 0 {
		return bad("not well-formed XML: <%s> is not closed", open[len(open)-1].name.Local)
	}
	b.ns.cenc = b.ns.cenc || used["cenc"]
	b.ns.mspr = b.ns.mspr || used["mspr"]
	b.ns.dashif = b.ns.dashif || used["dashif"]
	b.ns.clearkey = b.ns.clearkey || used["clearkey"]
	cp.Data = data
	return nil
}
