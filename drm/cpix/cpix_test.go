package cpix

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/segment"

	"github.com/cmafkit/cmafkit/drm"
)

func mustRead(t *testing.T, name string) *Document {
	t.Helper()
	d, err := ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestReadLadder(t *testing.T) {
	d := mustRead(t, "ladder.xml")
	ctx := context.Background()
	th := drm.Thresholds{}
	for _, tc := range []struct {
		req  drm.KeyRequest
		want string
	}{
		{drm.KeyRequest{Kind: segment.KindVideo, Width: 640, Height: 360}, "5a4e3a5f-0b4c-4c43-9d6b-1f2e3d4c5b6a"},
		{drm.KeyRequest{Kind: segment.KindVideo, Width: 1280, Height: 720}, "e82f184c-3aaa-57b4-ace8-606b5e3febad"},
		{drm.KeyRequest{Kind: segment.KindVideo, Width: 1920, Height: 1080}, "e82f184c-3aaa-57b4-ace8-606b5e3febad"},
		{drm.KeyRequest{Kind: segment.KindAudio, Channels: 6}, "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"},
	} {
		tc.req.Class = th.Classify(tc.req.Kind, tc.req.Width, tc.req.Height)
		k, err := d.ContentKey(ctx, tc.req)
		if err != nil || k.KID.String() != tc.want {
			t.Fatalf("%+v: %s %v", tc.req, k.KID, err)
		}
	}
	// UHD has no rule.
	if _, err := d.ContentKey(ctx, drm.KeyRequest{Kind: segment.KindVideo, Width: 3840, Height: 2160}); !errors.Is(err, drm.ErrNoKey) {
		t.Fatal(err)
	}
	hd, _ := d.Key(drm.MustParseKID("e82f184c3aaa57b4ace8606b5e3febad"))
	if hd.Systems[drm.FairPlay].URIExtXKey != "skd://hd-key" || len(hd.Systems[drm.Widevine].PSSH) != 0x46 {
		t.Fatalf("systems %+v", hd.Systems)
	}
	if !bytes.Equal(hd.IV, append(make([]byte, 15), 1)) || d.Schemes[hd.KID] != drm.SchemeCBCS || d.ContentID != "ladder-1" {
		t.Fatalf("IV %x scheme %s", hd.IV, d.Schemes[hd.KID])
	}
	if !bytes.Equal(hd.Key.Secret(), []byte{16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}) {
		t.Fatal("key value")
	}
	// The document's DRMSystemList names Widevine, then FairPlay.
	if got := d.SystemList(); !slices.Equal(got, []drm.System{drm.Widevine, drm.FairPlay}) {
		t.Fatalf("SystemList = %v", got)
	}
}

func TestReadRotation(t *testing.T) {
	d := mustRead(t, "rotation.xml")
	for p, want := range []string{"11111111-1111-1111-1111-111111111111", "33333333-3333-3333-3333-333333333333"} {
		k, err := d.ContentKey(context.Background(), drm.KeyRequest{Kind: segment.KindAudio, Period: p})
		if err != nil || k.KID.String() != want {
			t.Fatalf("period %d: %s %v", p, k.KID, err)
		}
	}
	if _, err := d.ContentKey(context.Background(), drm.KeyRequest{Kind: segment.KindVideo, Period: 2}); !errors.Is(err, drm.ErrNoKey) {
		t.Fatal(err)
	}
}

func TestReadErrors(t *testing.T) {
	_, err := ReadFile(filepath.Join("testdata", "missing_kid.xml"))
	var nf *drm.KIDNotFoundError
	var pe *ParseError
	if !errors.As(err, &nf) || nf.KID.String() != "99999999-9999-9999-9999-999999999999" || !errors.Is(err, drm.ErrKIDNotFound) || !errors.As(err, &pe) {
		t.Fatalf("missing KID: %v", err)
	}
	if _, err := ReadFile(filepath.Join("testdata", "encrypted.xml")); !errors.Is(err, drm.ErrUnsupported) {
		t.Fatalf("encrypted: %v", err)
	}
	for _, doc := range []string{
		"", "<notcpix/>", "<CPIX><ContentKeyList><ContentKey kid='zz'/></ContentKeyList></CPIX>",
		"<CPIX><ContentKeyList><ContentKey kid='11111111111111111111111111111111'><Data><Secret><PlainValue>AAEC</PlainValue></Secret></Data></ContentKey></ContentKeyList></CPIX>",
		"<CPIX><ContentKeyList><ContentKey kid='11111111111111111111111111111111'/><ContentKey kid='11111111-1111-1111-1111-111111111111'/></ContentKeyList></CPIX>",
		"<CPIX><ContentKeyList><ContentKey kid='11111111111111111111111111111111'/></ContentKeyList><ContentKeyUsageRuleList><ContentKeyUsageRule kid='11111111111111111111111111111111'><VideoFilter minPixels='9' maxPixels='3'/></ContentKeyUsageRule></ContentKeyUsageRuleList></CPIX>",
		"<CPIX><unclosed>",
	} {
		if _, err := Read(strings.NewReader(doc)); err == nil {
			t.Errorf("accepted %q", doc)
		}
	}
	big := strings.NewReader(strings.Repeat(" ", MaxDocumentSize+1))
	if _, err := Read(big); !errors.Is(err, drm.ErrUnsupported) {
		t.Fatal(err)
	}
	// Ambiguous rules.
	amb := `<CPIX><ContentKeyList><ContentKey kid='11111111111111111111111111111111'><Data><Secret><PlainValue>ABEiM0RVZneImaq7zN3u/w==</PlainValue></Secret></Data></ContentKey><ContentKey kid='22222222222222222222222222222222'><Data><Secret><PlainValue>ABEiM0RVZneImaq7zN3u/w==</PlainValue></Secret></Data></ContentKey></ContentKeyList>
	<ContentKeyUsageRuleList><ContentKeyUsageRule kid='11111111111111111111111111111111'/><ContentKeyUsageRule kid='22222222222222222222222222222222'><VideoFilter/></ContentKeyUsageRule></ContentKeyUsageRuleList></CPIX>`
	d, err := Read(strings.NewReader(amb))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ContentKey(context.Background(), drm.KeyRequest{Kind: segment.KindVideo}); !errors.Is(err, drm.ErrMalformed) {
		t.Fatalf("ambiguous: %v", err)
	}
	if k, err := d.ContentKey(context.Background(), drm.KeyRequest{Kind: segment.KindAudio}); err != nil || k.KID.Hex() != "11111111111111111111111111111111" {
		t.Fatalf("audio: %v", err)
	}
}

// equalDocs compares documents including key secrets.
func equalDocs(a, b *Document) bool {
	if len(a.Keys) != len(b.Keys) {
		return false
	}
	for i := range a.Keys {
		if a.Keys[i].KID != b.Keys[i].KID || !a.Keys[i].Key.Equal(b.Keys[i].Key) || !bytes.Equal(a.Keys[i].IV, b.Keys[i].IV) {
			return false
		}
	}
	return a.ContentID == b.ContentID && reflect.DeepEqual(a.Systems, b.Systems) && reflect.DeepEqual(a.Rules, b.Rules) &&
		reflect.DeepEqual(a.Periods, b.Periods) && reflect.DeepEqual(a.Schemes, b.Schemes)
}

func TestWriteRoundTrip(t *testing.T) {
	for _, name := range []string{"ladder.xml", "rotation.xml"} {
		d := mustRead(t, name)
		var b bytes.Buffer
		if err := d.Write(&b); err != nil {
			t.Fatal(err)
		}
		d2, err := Read(&b)
		if err != nil {
			t.Fatalf("%s: re-read: %v\n%s", name, err, b.String())
		}
		if !equalDocs(d, d2) {
			t.Fatalf("%s: round trip differs", name)
		}
	}
}

func TestWriteRequestGolden(t *testing.T) {
	req := Request{
		ContentID: "movie & trailer",
		Scheme:    drm.SchemeCBCS,
		Keys: map[drm.TrackClass]drm.KID{
			drm.ClassAudio: drm.MustParseKID("a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"),
			drm.ClassSD:    drm.MustParseKID("5a4e3a5f-0b4c-4c43-9d6b-1f2e3d4c5b6a"),
			drm.ClassHD:    drm.MustParseKID("e82f184c-3aaa-57b4-ace8-606b5e3febad"),
		},
		Systems: []drm.System{drm.Widevine, drm.PlayReady, drm.FairPlay},
	}
	var b bytes.Buffer
	if err := WriteRequest(&b, req); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join("testdata", "request.golden.xml")
	if testutil.Update() {
		_ = os.WriteFile(p, b.Bytes(), 0o644)
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Fatalf("request differs:\n%s", b.String())
	}
	// The request parses back; its usage rules select the proposed KIDs.
	d, err := Read(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Keys) != 3 || len(d.Systems) != 9 || len(d.Rules) != 3 || d.ContentID != "movie & trailer" {
		t.Fatalf("parsed request: %d keys %d systems %d rules", len(d.Keys), len(d.Systems), len(d.Rules))
	}
	if strings.Contains(b.String(), "PlainValue") {
		t.Fatal("request carries key values")
	}
	req.Scheme = drm.SchemeCENC
	if err := WriteRequest(&b, req); !errors.Is(err, drm.ErrUnsupportedScheme) {
		t.Fatalf("FairPlay with cenc: %v", err)
	}
}

// TestProvider: as a key provider the document serves each track the key
// its usage rules select, with the key server's signalling attached.
func TestProvider(t *testing.T) {
	d := mustRead(t, "ladder.xml")
	var p drm.KeyProvider = d
	k, err := p.ContentKey(context.Background(), drm.KeyRequest{Kind: segment.KindVideo, Class: drm.ClassHD, Width: 1280, Height: 720})
	if err != nil {
		t.Fatal(err)
	}
	if k.KID != drm.MustParseKID("e82f184c3aaa57b4ace8606b5e3febad") || k.Systems[drm.FairPlay].URIExtXKey != "skd://hd-key" ||
		!strings.HasSuffix(base64.StdEncoding.EncodeToString(k.Systems[drm.Widevine].PSSH), "AAAAEhIQ6C8YTDqqV7Ss6GBrXj/rrQ==") {
		t.Fatalf("%+v", k)
	}
}

func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.xml"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := d.Write(&b); err != nil {
			t.Fatal(err)
		}
		d2, err := Read(&b)
		if err != nil {
			t.Fatalf("written document does not re-read: %v\n%s", err, b.String())
		}
		if !equalDocs(d, d2) {
			t.Fatalf("round trip differs\n%s", b.String())
		}
		_, _ = d.ContentKey(context.Background(), drm.KeyRequest{Kind: segment.KindVideo, Width: 1280, Height: 720})
	})
}

// TestReadKeyServerSignalling reads documents in the shapes key servers
// send (a SPEKE v2 response, CPIX 2.3; Unified Streaming's standalone XML)
// and checks that every DRMSystem's signalling is kept as sent.
func TestReadKeyServerSignalling(t *testing.T) {
	d := mustRead(t, "speke_v2.xml")
	if len(d.Systems) != 9 {
		t.Fatalf("%d DRMSystem entries, want 9", len(d.Systems))
	}
	for _, s := range d.Systems {
		k, err := d.Key(s.KID)
		if err != nil {
			t.Fatal(err)
		}
		switch s.SystemID {
		case drm.SystemIDWidevine, drm.SystemIDPlayReady:
			sys := map[drm.KID]drm.System{drm.SystemIDWidevine: drm.Widevine, drm.SystemIDPlayReady: drm.PlayReady}[s.SystemID]
			sd := k.Systems[sys]
			p, err := drm.ParsePSSH(sd.PSSH)
			if err != nil || p.SystemID != s.SystemID {
				t.Fatalf("%s %s pssh: %+v %v", s.KID, sys, p, err)
			}
			if !strings.HasPrefix(sd.ContentProtectionData, "<cenc:pssh>") || !strings.Contains(sd.ContentProtectionData, base64.StdEncoding.EncodeToString(sd.PSSH)) {
				t.Errorf("%s %s ContentProtectionData %q", s.KID, sys, sd.ContentProtectionData)
			}
			if sys == drm.PlayReady && !strings.Contains(sd.ContentProtectionData, "<mspr:pro>"+base64.StdEncoding.EncodeToString(p.Data)+"</mspr:pro>") {
				t.Errorf("%s PlayReady ContentProtectionData without the pssh's PRO: %q", s.KID, sd.ContentProtectionData)
			}
			if !strings.HasPrefix(sd.HLSSignalingMedia, "#EXT-X-KEY:METHOD=SAMPLE-AES,") || !strings.HasPrefix(sd.HLSSignalingMaster, "#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,") {
				t.Errorf("%s %s HLS signalling %q / %q", s.KID, sys, sd.HLSSignalingMedia, sd.HLSSignalingMaster)
			}
		case drm.SystemIDFairPlay:
			sd := k.Systems[drm.FairPlay]
			skd := "skd://fps.keyserver.example/v1/" + s.KID.Hex() + "?asset=speke-v2-ladder"
			// The media playlist data has no @playlist attribute.
			if sd.URIExtXKey != skd || !strings.Contains(sd.HLSSignalingMedia, `URI="`+skd+`"`) || !strings.HasPrefix(sd.HLSSignalingMaster, "#EXT-X-SESSION-KEY:") {
				t.Errorf("%s FairPlay %+v", s.KID, sd)
			}
		default:
			t.Errorf("system %s", s.SystemID)
		}
	}

	// ClearKey's two system IDs complete each other: the pssh comes from
	// the W3C common entry, the DASH signalling from the DASH-IF one.
	d = mustRead(t, "standalone.xml")
	k, err := d.ContentKey(context.Background(), drm.KeyRequest{Kind: segment.KindAudio})
	if err != nil {
		t.Fatal(err)
	}
	ck := k.Systems[drm.ClearKey]
	if p, err := drm.ParsePSSH(ck.PSSH); err != nil || p.SystemID != drm.SystemIDCommon || len(p.KIDs) != 1 || p.KIDs[0] != k.KID {
		t.Errorf("ClearKey pssh %+v %v", p, err)
	}
	if !strings.HasPrefix(ck.ContentProtectionData, `<dashif:Laurl xmlns:dashif="https://dashif.org/CPS">https://clearkey.keyserver.example/`) {
		t.Errorf("ClearKey ContentProtectionData %q", ck.ContentProtectionData)
	}
	wv := k.Systems[drm.Widevine]
	if !strings.HasPrefix(wv.ContentProtectionData, `<cenc:pssh xmlns:cenc="urn:mpeg:cenc:2013">`) || !strings.HasSuffix(wv.HLSSignalingMedia, "#EXT-X-USP-WIDEVINE:asset=standalone-1\n") || wv.HLSSignalingMaster != "" {
		t.Errorf("Widevine %+v", wv)
	}
	if got := d.SystemList(); !slices.Equal(got, []drm.System{drm.Widevine, drm.ClearKey}) {
		t.Errorf("SystemList = %v", got)
	}
}

// TestReadHLSSignalingPlaylist: CPIX 2.3 names the multivariant playlist
// "master", 2.4 "multiVariant"; without @playlist the data is for media
// playlists; anything else, or two for one playlist, is refused.
func TestReadHLSSignalingPlaylist(t *testing.T) {
	const kid = "11111111-1111-1111-1111-111111111111"
	doc := func(hls string) string {
		return `<CPIX xmlns="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"><ContentKeyList><ContentKey kid="` + kid +
			`"><Data><pskc:Secret><pskc:PlainValue>ABEiM0RVZneImaq7zN3u/w==</pskc:PlainValue></pskc:Secret></Data></ContentKey></ContentKeyList>` +
			`<DRMSystemList><DRMSystem kid="` + kid + `" systemId="94ce86fb-07ff-4f43-adb8-93d2fa968ca2">` + hls + `</DRMSystem></DRMSystemList></CPIX>`
	}
	media, master := base64.StdEncoding.EncodeToString([]byte("#EXT-X-KEY:A\n")), base64.StdEncoding.EncodeToString([]byte("#EXT-X-SESSION-KEY:B\n"))
	for _, c := range []struct {
		hls                 string
		wantMedia, wantMain string
	}{
		{`<HLSSignalingData>` + media + `</HLSSignalingData>`, "#EXT-X-KEY:A\n", ""},
		{`<HLSSignalingData playlist="media">` + media + `</HLSSignalingData><HLSSignalingData playlist="master">` + master + `</HLSSignalingData>`, "#EXT-X-KEY:A\n", "#EXT-X-SESSION-KEY:B\n"},
		{`<HLSSignalingData playlist="multiVariant">` + master + `</HLSSignalingData>`, "", "#EXT-X-SESSION-KEY:B\n"},
	} {
		d, err := Read(strings.NewReader(doc(c.hls)))
		if err != nil {
			t.Fatalf("%s: %v", c.hls, err)
		}
		if sd := d.Systems[0].SystemData; sd.HLSSignalingMedia != c.wantMedia || sd.HLSSignalingMaster != c.wantMain {
			t.Errorf("%s: media %q master %q", c.hls, sd.HLSSignalingMedia, sd.HLSSignalingMaster)
		}
	}
	for _, bad := range []string{
		`<HLSSignalingData playlist="variant">` + media + `</HLSSignalingData>`,
		`<HLSSignalingData>` + media + `</HLSSignalingData><HLSSignalingData playlist="media">` + media + `</HLSSignalingData>`,
		`<HLSSignalingData playlist="master">` + master + `</HLSSignalingData><HLSSignalingData playlist="multiVariant">` + master + `</HLSSignalingData>`,
		// ContentProtectionData that is not well-formed XML.
		`<ContentProtectionData>` + base64.StdEncoding.EncodeToString([]byte("<cenc:pssh>AAAA</cenc:psh>")) + `</ContentProtectionData>`,
		`<ContentProtectionData>` + base64.StdEncoding.EncodeToString([]byte("<a>")) + `</ContentProtectionData>`,
		// A pssh box that is not one, or of another system.
		`<PSSH>AAAA</PSSH>`,
		`<PSSH>` + base64.StdEncoding.EncodeToString(drm.ClearKeyPSSH([]drm.KID{drm.MustParseKID(kid)})) + `</PSSH>`,
	} {
		_, err := Read(strings.NewReader(doc(bad)))
		var pe *ParseError
		if !errors.Is(err, drm.ErrMalformed) || !errors.As(err, &pe) || !strings.HasPrefix(pe.Where, "DRMSystem 1") {
			t.Errorf("%s: %v, want a ParseError at DRMSystem 1 wrapping drm.ErrMalformed", bad, err)
		}
	}
}

// TestReadLimits: documents beyond MaxDocumentSize, MaxDepth,
// MaxAttributes or MaxElementCount are refused with a *LimitError before
// they are decoded, so a hostile 16 MiB document costs little memory (it
// took 400 to 575 MB, and seconds, when only the size was limited).
func TestReadLimits(t *testing.T) {
	head := `<CPIX xmlns="urn:dashif:org:cpix"><ContentKeyList>`
	nest := func(n int) string { return strings.Repeat("<a>", n) + strings.Repeat("</a>", n) }
	attrs := func(n int) string {
		var b strings.Builder
		b.WriteString("<a")
		for i := range n {
			fmt.Fprintf(&b, ` x%d="="`, i)
		}
		return b.String() + "/>"
	}
	for _, c := range []struct {
		name, doc string
		limit     string // "" when accepted
	}{
		{"depth at the limit", head + nest(MaxDepth-2) + "</ContentKeyList></CPIX>", ""},
		{"depth beyond", head + nest(MaxDepth-1) + "</ContentKeyList></CPIX>", "depth"},
		{"attributes at the limit", head + attrs(MaxAttributes) + "</ContentKeyList></CPIX>", ""},
		{"attributes beyond", head + attrs(MaxAttributes+1) + "</ContentKeyList></CPIX>", "attributes"},
		{"elements beyond", head + strings.Repeat("<a/>", MaxElementCount-1) + "</ContentKeyList></CPIX>", "elements"},
		{"markup in comments, CDATA and values is not counted", head + "<!--" + nest(MaxDepth) + "--><![CDATA[" + nest(MaxDepth) + `]]><a b="` + strings.Repeat("=", 2*MaxAttributes) + `"/>` + "</ContentKeyList></CPIX>", ""},
		{"size beyond", head + strings.Repeat(" ", MaxDocumentSize), "size"},
		{"16 MiB of nesting", head + strings.Repeat("<a>", (MaxDocumentSize-len(head))/3), "depth"},
	} {
		_, err := Read(strings.NewReader(c.doc))
		var le *LimitError
		if c.limit == "" {
			if errors.As(err, &le) {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.As(err, &le) || le.Limit != c.limit || !errors.Is(err, ErrLimit) || !errors.Is(err, drm.ErrUnsupported) {
			t.Errorf("%s: %v, want a *LimitError for %s", c.name, err, c.limit)
		}
	}
	// At the element limit the scan passes (decoding that many elements
	// takes a second or two).
	if err := checkLimits([]byte(head + strings.Repeat("<a/>", MaxElementCount-2) + "</ContentKeyList></CPIX>")); err != nil {
		t.Errorf("elements at the limit: %v", err)
	}
	if _, err := Read(strings.NewReader(`<!DOCTYPE CPIX [<!ENTITY a "b">]><CPIX/>`)); !errors.Is(err, drm.ErrMalformed) {
		t.Errorf("document type declaration: %v, want drm.ErrMalformed", err)
	}

	// Memory: a 16 MiB document of nested elements, and one of elements
	// with thousands of attributes, each cost a small multiple of their size.
	for name, doc := range map[string][]byte{
		"nested":     []byte(head + strings.Repeat("<a>", (MaxDocumentSize-len(head))/3)),
		"attributes": []byte("<CPIX" + strings.Repeat(` a=""`, (MaxDocumentSize-8)/5) + "/>"),
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := Read(bytes.NewReader(doc)); !errors.Is(err, ErrLimit) {
			t.Fatalf("%s: %v", name, err)
		}
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > 3*MaxDocumentSize {
			t.Errorf("%s: reading a %d-byte document allocated %d bytes", name, len(doc), got)
		}
	}
}

// FuzzLimits checks that the scan before decoding never counts less than
// the decoder sees: whatever checkLimits accepts, encoding/xml tokenizes
// within MaxDepth, MaxAttributes and MaxElementCount.
func FuzzLimits(f *testing.F) {
	for _, s := range []string{"<a><b c='1' d=\"2\"/></a>", "<!-- <a><a> --><a/>", "<![CDATA[<a>]]><a b='>'/>", "<?pi <a>?><a/>", "<a\nb\t=\n'x'></a>"} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.xml"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if checkLimits(data) != nil {
			return
		}
		dec := xml.NewDecoder(bytes.NewReader(data))
		dec.Strict = true
		depth, elements := 0, 0
		for {
			tok, err := dec.RawToken()
			if err != nil {
				return
			}
			switch tk := tok.(type) {
			case xml.StartElement:
				depth++
				elements++
				if depth > MaxDepth || elements > MaxElementCount || len(tk.Attr) > MaxAttributes {
					t.Fatalf("accepted by checkLimits, but the decoder sees depth %d, %d elements, %d attributes", depth, elements, len(tk.Attr))
				}
			case xml.EndElement:
				depth--
			}
		}
	})
}
