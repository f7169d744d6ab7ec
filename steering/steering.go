// Package steering delivers a presentation through several CDNs with
// content steering: it adds the signalling to manifests (HLS
// EXT-X-CONTENT-STEERING with a copy of every variant per pathway, marked
// with PATHWAY-ID; DASH ContentSteering with a BaseURL per
// serviceLocation) and serves the steering manifest (VERSION, TTL,
// RELOAD-URI, PATHWAY-PRIORITY, PATHWAY-CLONES) from a Policy the service
// changes at run time: weights per CDN, a CDN marked down.
//
// The manifests of packaged output and those of the just-in-time origin
// (package origin) take the signalling alike: HLS and DASH rewrite a
// rendered multivariant playlist or MPD.
package steering

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Pathway is one delivery path: a CDN, named by ID (HLS PATHWAY-ID, DASH
// serviceLocation), and the absolute URL under which it serves the
// presentation's directory.
type Pathway struct {
	ID      string
	BaseURL string
}

// Config is the steering signalling of a presentation.
type Config struct {
	// ServerURI is the URL of the steering manifest (a Handler): absolute,
	// or relative to the manifest.
	ServerURI string
	// Pathways lists the CDNs; the first is the default one, used until
	// the steering server answers.
	Pathways []Pathway
	// QueryBeforeStart makes DASH players ask the steering server before
	// playback starts (ContentSteering@queryBeforeStart).
	QueryBeforeStart bool
}

// ErrConfig is wrapped by the errors of Config.Check.
var ErrConfig = errors.New("steering: bad configuration")

var pathwayID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Check reports whether c is usable: a server URI, one or more pathways
// with distinct IDs of letters, digits, '.', '_' and '-', and absolute
// http(s) base URLs.
func (c *Config) Check() error {
	if c.ServerURI == "" || strings.ContainsAny(c.ServerURI, "\"<>&\n\r") {
		return fmt.Errorf("%w: server URI %q", ErrConfig, c.ServerURI)
	}
	if len(c.Pathways) == 0 {
		return fmt.Errorf("%w: no pathways", ErrConfig)
	}
	seen := map[string]bool{}
	for _, p := range c.Pathways {
		if !pathwayID.MatchString(p.ID) || seen[p.ID] {
			return fmt.Errorf("%w: pathway ID %q (unique, [A-Za-z0-9._-])", ErrConfig, p.ID)
		}
		seen[p.ID] = true
		u, err := url.Parse(p.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(p.BaseURL, "\"<>&\n\r") {
			return fmt.Errorf("%w: pathway %s: base URL %q is not an absolute http(s) URL", ErrConfig, p.ID, p.BaseURL)
		}
	}
	return nil
}

// base returns the base URL of p for a presentation at prefix (a path
// relative to the pathway's base URL, "" or ending with "/").
func base(p Pathway, prefix string) string {
	b := p.BaseURL
	if !strings.HasSuffix(b, "/") {
		b += "/"
	}
	return b + prefix
}

// HLS adds content steering to a multivariant playlist: an
// EXT-X-CONTENT-STEERING tag naming the server and the default pathway,
// and for each pathway a copy of every variant stream, I-frame stream and
// rendition group (group IDs suffixed with "-" and the pathway ID), with
// PATHWAY-ID and URIs made absolute under the pathway's base URL plus
// prefix (the presentation's directory there: "" or ending with "/").
// Media playlists need no change: their URIs resolve against their own.
func (c *Config) HLS(master []byte, prefix string) ([]byte, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(master), "\n"), "\n")
	if len(lines) == 0 || strings.TrimSpace(lines[0]) != "#EXTM3U" {
		return nil, errors.New("steering: not an HLS playlist")
	}
	var head, media, variants, iframes []string
	// Groups with URIs are copied per pathway and renamed.
	renamed := map[string]bool{}
	for i := 1; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], "\r")
		switch {
		case strings.HasPrefix(l, "#EXT-X-CONTENT-STEERING"):
			return nil, errors.New("steering: the playlist already has EXT-X-CONTENT-STEERING")
		case strings.HasPrefix(l, "#EXT-X-MEDIA:"):
			media = append(media, l)
			a := parseAttrs(strings.TrimPrefix(l, "#EXT-X-MEDIA:"))
			if a.get("URI") != "" {
				renamed[a.get("GROUP-ID")] = true
			}
		case strings.HasPrefix(l, "#EXT-X-STREAM-INF:"):
			if i+1 >= len(lines) {
				return nil, errors.New("steering: EXT-X-STREAM-INF without a URI")
			}
			variants = append(variants, l, strings.TrimRight(lines[i+1], "\r"))
			i++
		case strings.HasPrefix(l, "#EXT-X-I-FRAME-STREAM-INF:"):
			iframes = append(iframes, l)
		case strings.HasPrefix(l, "#EXT-X-MEDIA-SEQUENCE"), strings.HasPrefix(l, "#EXTINF"), strings.HasPrefix(l, "#EXT-X-TARGETDURATION"):
			return nil, errors.New("steering: a media playlist, not a multivariant playlist")
		default:
			head = append(head, l)
		}
	}
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n")
	for _, l := range head {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "#EXT-X-CONTENT-STEERING:SERVER-URI=%q,PATHWAY-ID=%q\n", c.ServerURI, c.Pathways[0].ID)
	group := func(g string, p Pathway) string {
		if renamed[g] {
			return g + "-" + p.ID
		}
		return g
	}
	abs := func(uri string, p Pathway) string {
		if u, err := url.Parse(uri); err == nil && u.IsAbs() {
			return uri
		}
		return base(p, prefix) + uri
	}
	for _, p := range c.Pathways {
		for _, l := range media {
			a := parseAttrs(strings.TrimPrefix(l, "#EXT-X-MEDIA:"))
			if a.get("URI") == "" {
				if p.ID == c.Pathways[0].ID {
					b.WriteString(l + "\n") // closed captions: one group for all
				}
				continue
			}
			a.set("GROUP-ID", strconvQuote(group(a.get("GROUP-ID"), p)))
			a.set("URI", strconvQuote(abs(a.get("URI"), p)))
			b.WriteString("#EXT-X-MEDIA:" + a.String() + "\n")
		}
	}
	for _, p := range c.Pathways {
		for i := 0; i < len(variants); i += 2 {
			a := parseAttrs(strings.TrimPrefix(variants[i], "#EXT-X-STREAM-INF:"))
			for _, k := range []string{"AUDIO", "VIDEO", "SUBTITLES"} {
				if g := a.get(k); g != "" {
					a.set(k, strconvQuote(group(g, p)))
				}
			}
			a.set("PATHWAY-ID", strconvQuote(p.ID))
			b.WriteString("#EXT-X-STREAM-INF:" + a.String() + "\n")
			b.WriteString(abs(variants[i+1], p) + "\n")
		}
		for _, l := range iframes {
			a := parseAttrs(strings.TrimPrefix(l, "#EXT-X-I-FRAME-STREAM-INF:"))
			a.set("PATHWAY-ID", strconvQuote(p.ID))
			a.set("URI", strconvQuote(abs(a.get("URI"), p)))
			b.WriteString("#EXT-X-I-FRAME-STREAM-INF:" + a.String() + "\n")
		}
	}
	return b.Bytes(), nil
}

// DASH adds content steering to an MPD: an MPD-level BaseURL per pathway
// (serviceLocation = pathway ID) under which the relative segment URLs
// resolve, at the pathway's base URL plus prefix, and a ContentSteering
// element naming the server and the default service location.
//
// The elements go where the MPD schema's sequence puts them: the BaseURLs
// after any ProgramInformation, ContentSteering (ISO/IEC 23009-1 6th
// edition, from DASH-IF's Content Steering for DASH) last, after
// UTCTiming and LeapSecondInformation.
func (c *Config) DASH(mpd []byte, prefix string) ([]byte, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	if bytes.Contains(mpd, []byte("<ContentSteering")) || bytes.Contains(mpd, []byte("<BaseURL")) {
		return nil, errors.New("steering: the MPD already has ContentSteering or BaseURL elements")
	}
	start := bytes.Index(mpd, []byte("<MPD"))
	if start < 0 {
		return nil, errors.New("steering: not an MPD")
	}
	end := bytes.IndexByte(mpd[start:], '>')
	closing := bytes.LastIndex(mpd, []byte("</MPD>"))
	if end < 0 || mpd[start+end-1] == '/' || closing < start+end {
		return nil, errors.New("steering: not an MPD")
	}
	at := start + end + 1
	if i := bytes.LastIndex(mpd[:closing], []byte("</ProgramInformation>")); i >= 0 {
		at = i + len("</ProgramInformation>")
	}
	const indent = "\n  "
	var b bytes.Buffer
	b.Write(mpd[:at])
	for _, p := range c.Pathways {
		fmt.Fprintf(&b, "%s<BaseURL serviceLocation=\"%s\">%s</BaseURL>", indent, p.ID, xmlEscape(base(p, prefix)))
	}
	tail := mpd[at:closing]
	b.Write(tail)
	// The closing tag's own line break and indentation stay before it.
	trimmed := bytes.TrimRight(tail, " \t\r\n")
	ws := tail[len(trimmed):]
	b.Truncate(b.Len() - len(ws))
	fmt.Fprintf(&b, "%s<ContentSteering defaultServiceLocation=\"%s\" queryBeforeStart=\"%t\">%s</ContentSteering>", indent, c.Pathways[0].ID, c.QueryBeforeStart, xmlEscape(c.ServerURI))
	b.Write(ws)
	b.Write(mpd[closing:])
	return b.Bytes(), nil
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

func strconvQuote(s string) string { return `"` + s + `"` }

// attrs is an HLS attribute list in order; values keep their quotes.
type attrs struct{ keys, vals []string }

func parseAttrs(s string) *attrs {
	a := &attrs{}
	for len(s) > 0 {
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				v, rest = rest, ""
			} else {
				v, rest = rest[:end+2], rest[end+2:]
			}
		} else {
			v, rest, _ = strings.Cut(rest, ",")
			rest = "," + rest
		}
		a.keys, a.vals = append(a.keys, strings.TrimSpace(k)), append(a.vals, v)
		s = strings.TrimPrefix(rest, ",")
	}
	return a
}

// get returns the unquoted value of k, or "".
func (a *attrs) get(k string) string {
	for i, x := range a.keys {
		if x == k {
			return strings.Trim(a.vals[i], `"`)
		}
	}
	return ""
}

// set sets k to v (given with its quotes, if any), appending it when absent.
func (a *attrs) set(k, v string) {
	for i, x := range a.keys {
		if x == k {
			a.vals[i] = v
			return
		}
	}
	a.keys, a.vals = append(a.keys, k), append(a.vals, v)
}

func (a *attrs) String() string {
	var b strings.Builder
	for i, k := range a.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + a.vals[i])
	}
	return b.String()
}
