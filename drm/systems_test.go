package drm

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"
)

// Published Widevine PSSH boxes from Unified Streaming's python-cpix
// example script widevine_pssh.py ("Examples" in its docstring): key_ids
// only (version 1), and three key_ids plus content_id "uspwvtest3".
const (
	uspWidevineOneKey   = "AAAARnBzc2gBAAAA7e+LqXnWSs6jyCfc1R0h7QAAAAHoLxhMOqpXtKzoYGteP+utAAAAEhIQ6C8YTDqqV7Ss6GBrXj/rrQ=="
	uspWidevineThreeKey = "AAAAlnBzc2gBAAAA7e+LqXnWSs6jyCfc1R0h7QAAAAPoLxhMOqpXtKzoYGteP+utCHvPxvelVxa4QGqm66M2ng1rQCONoV51r2h1xRTFm2MAAABCEhDoLxhMOqpXtKzoYGteP+utEhAIe8/G96VXFrhAaqbrozaeEhANa0AjjaFeda9odcUUxZtjIgp1c3B3dnRlc3Qz"
)

// W3C web-platform-tests encrypted-media/content/content-metadata.js,
// "mp4-basic": a Widevine pssh followed by a PlayReady pssh whose WRMHEADER
// 4.0.0.0 carries KID ad13f9ea-2be6-98b8-75f5-04a8e3ccea64 with the CHECKSUM
// of key be7df8a3667a6a8fd564d0ed81339a95.
const wptInitData = "AAAAcXBzc2gAAAAA7e+LqXnWSs6jyCfc1R0h7QAAAFEIARIQrRP56ivmmLh19QSo48zqZBoIY2FzdGxhYnMiKGV5SmhjM05sZEVsa0lqb2laVzFsTFhSbGMzUXRjMmx1WjJ4bEluMD0yB2RlZmF1bHQAAAMacHNzaAAAAACaBPB5mEBChquS5lvgiF+VAAAC+voCAAABAAEA8AI8AFcAUgBNAEgARQBBAEQARQBSACAAeABtAGwAbgBzAD0AIgBoAHQAdABwADoALwAvAHMAYwBoAGUAbQBhAHMALgBtAGkAYwByAG8AcwBvAGYAdAAuAGMAbwBtAC8ARABSAE0ALwAyADAAMAA3AC8AMAAzAC8AUABsAGEAeQBSAGUAYQBkAHkASABlAGEAZABlAHIAIgAgAHYAZQByAHMAaQBvAG4APQAiADQALgAwAC4AMAAuADAAIgA+ADwARABBAFQAQQA+ADwAUABSAE8AVABFAEMAVABJAE4ARgBPAD4APABLAEUAWQBMAEUATgA+ADEANgA8AC8ASwBFAFkATABFAE4APgA8AEEATABHAEkARAA+AEEARQBTAEMAVABSADwALwBBAEwARwBJAEQAPgA8AC8AUABSAE8AVABFAEMAVABJAE4ARgBPAD4APABLAEkARAA+ADYAdgBrAFQAcgBlAFkAcgB1AEoAaAAxADkAUQBTAG8ANAA4AHoAcQBaAEEAPQA9ADwALwBLAEkARAA+ADwAQwBIAEUAQwBLAFMAVQBNAD4AagBZAEYATgBmADAAeQBmADQAaQBzAD0APAAvAEMASABFAEMASwBTAFUATQA+ADwATABBAF8AVQBSAEwAPgBoAHQAdABwADoALwAvAHAAbABhAHkAcgBlAGEAZAB5AC4AZABpAHIAZQBjAHQAdABhAHAAcwAuAG4AZQB0AC8AcAByAC8AcwB2AGMALwByAGkAZwBoAHQAcwBtAGEAbgBhAGcAZQByAC4AYQBzAG0AeAA/AFAAbABhAHkAUgBpAGcAaAB0AD0AMQAmAGEAbQBwADsAVQBzAGUAUwBpAG0AcABsAGUATgBvAG4AUABlAHIAcwBpAHMAdABlAG4AdABMAGkAYwBlAG4AcwBlAD0AMQA8AC8ATABBAF8AVQBSAEwAPgA8AC8ARABBAFQAQQA+ADwALwBXAFIATQBIAEUAQQBEAEUAUgA+AA=="

// PlayReady Header Specification (learn.microsoft.com/playready/specifications/
// playready-header-specification, §3.6.1 "Base64-encoded PlayReady Object
// containing a PlayReady Header 4.0.0.0").
const msPRO40 = "XAMAAAEAAQBSAzwAVwBSAE0ASABFAEEARABFAFIAIAB4AG0AbABuAHMAPQAiAGgAdAB0AHAAOgAvAC8AcwBjAGgAZQBtAGEAcwAuAG0AaQBjAHIAbwBzAG8AZgB0AC4AYwBvAG0ALwBEAFIATQAvADIAMAAwADcALwAwADMALwBQAGwAYQB5AFIAZQBhAGQAeQBIAGUAYQBkAGUAcgAiACAAdgBlAHIAcwBpAG8AbgA9ACIANAAuADAALgAwAC4AMAAiAD4APABEAEEAVABBAD4APABQAFIATwBUAEUAQwBUAEkATgBGAE8APgA8AEsARQBZAEwARQBOAD4AMQA2ADwALwBLAEUAWQBMAEUATgA+ADwAQQBMAEcASQBEAD4AQQBFAFMAQwBUAFIAPAAvAEEATABHAEkARAA+ADwALwBQAFIATwBUAEUAQwBUAEkATgBGAE8APgA8AEsASQBEAD4AcQA1AEgAZwBDAFQAagA0ADAAawBHAGUATgBWAGgAVABIADkARwBlAHgAdwA9AD0APAAvAEsASQBEAD4APABDAEgARQBDAEsAUwBVAE0APgB3ACsATwBaAFYAcgA4AHYAegByAFEAPQA8AC8AQwBIAEUAQwBLAFMAVQBNAD4APABMAEEAXwBVAFIATAA+AGgAdAB0AHAAcwA6AC8ALwBwAHIAbwBmAGYAaQBjAGkAYQBsAHMAaQB0AGUALgBrAGUAeQBkAGUAbABpAHYAZQByAHkALgBtAGUAZABpAGEAcwBlAHIAdgBpAGMAZQBzAC4AdwBpAG4AZABvAHcAcwAuAG4AZQB0AC8AUABsAGEAeQBSAGUAYQBkAHkALwA8AC8ATABBAF8AVQBSAEwAPgA8AEMAVQBTAFQATwBNAEEAVABUAFIASQBCAFUAVABFAFMAPgA8AEkASQBTAF8ARABSAE0AXwBWAEUAUgBTAEkATwBOAD4AOAAuADAALgAxADcAMAA1AC4AMQA5ADwALwBJAEkAUwBfAEQAUgBNAF8AVgBFAFIAUwBJAE8ATgA+ADwALwBDAFUAUwBUAE8ATQBBAFQAVABSAEkAQgBVAFQARQBTAD4APAAvAEQAQQBUAEEAPgA8AC8AVwBSAE0ASABFAEEARABFAFIAPgA="

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWidevinePSSHPublished(t *testing.T) {
	k1 := MustParseKID("e82f184c-3aaa-57b4-ace8-606b5e3febad")
	k2 := MustParseKID("087bcfc6-f7a5-5716-b840-6aa6eba3369e")
	k3 := MustParseKID("0d6b4023-8da1-5e75-af68-75c514c59b63")
	got, err := PSSHBox(1, SystemIDWidevine, []KID{k1}, WidevinePSSHData(WidevineData{KeyIDs: []KID{k1}}))
	if err != nil {
		t.Fatal(err)
	}
	if want := b64(t, uspWidevineOneKey); !bytes.Equal(got, want) {
		t.Fatalf("one key:\n got %x\nwant %x", got, want)
	}
	kids := []KID{k1, k2, k3}
	got, _ = PSSHBox(1, SystemIDWidevine, kids, WidevinePSSHData(WidevineData{KeyIDs: kids, ContentID: []byte("uspwvtest3")}))
	if want := b64(t, uspWidevineThreeKey); !bytes.Equal(got, want) {
		t.Fatalf("three keys:\n got %x\nwant %x", got, want)
	}
}

// pbField is one decoded protobuf field.
type pbField struct {
	num   int
	wire  int
	value uint64
	bytes []byte
}

// decodeProtobuf is an independent proto wire-format decoder (varint and
// length-delimited fields only, which is all WidevinePsshData uses).
func decodeProtobuf(b []byte) ([]pbField, error) {
	var out []pbField
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("bad key varint")
		}
		b = b[n:]
		f := pbField{num: int(key >> 3), wire: int(key & 7)}
		switch f.wire {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return nil, fmt.Errorf("bad varint")
			}
			f.value, b = v, b[n:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, fmt.Errorf("bad length")
			}
			f.bytes, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return nil, fmt.Errorf("wire type %d", f.wire)
		}
		out = append(out, f)
	}
	return out, nil
}

func TestWidevinePSSHDataDecodes(t *testing.T) {
	data := WidevinePSSHData(WidevineData{KeyIDs: []KID{videoKey.KID, audioKey.KID}, Provider: "cmafkit",
		ContentID: []byte("movie-1"), Scheme: SchemeCBCS, CryptoPeriodIndex: 7, HasCryptoPeriod: true})
	fields, err := decodeProtobuf(data)
	if err != nil {
		t.Fatal(err)
	}
	var kids [][]byte
	got := map[int]pbField{}
	for _, f := range fields {
		if f.num == 2 {
			kids = append(kids, f.bytes)
		}
		got[f.num] = f
	}
	if len(kids) != 2 || !bytes.Equal(kids[0], videoKey.KID[:]) || !bytes.Equal(kids[1], audioKey.KID[:]) {
		t.Fatalf("key_ids %x", kids)
	}
	if string(got[3].bytes) != "cmafkit" || string(got[4].bytes) != "movie-1" {
		t.Fatalf("provider %q content_id %q", got[3].bytes, got[4].bytes)
	}
	if got[9].value != 0x63626373 || got[7].value != 7 {
		t.Fatalf("protection_scheme %#x crypto_period_index %d", got[9].value, got[7].value)
	}
	// The W3C vector decodes with the same decoder (algorithm=1, key_id, provider, content_id, track_type).
	all := b64(t, wptInitData)
	wv := all[:binary.BigEndian.Uint32(all)]
	fields, err = decodeProtobuf(wv[32:])
	if err != nil || len(fields) != 5 || fields[0].num != 1 || fields[0].value != 1 || string(fields[2].bytes) != "castlabs" {
		t.Fatalf("W3C Widevine data: %+v %v", fields, err)
	}
}

// wrmHeader is decoded with encoding/xml, independently of the builder.
type wrmHeader struct {
	XMLName xml.Name `xml:"WRMHEADER"`
	Version string   `xml:"version,attr"`
	Data    struct {
		ProtectInfo struct {
			KeyLen string `xml:"KEYLEN"`
			AlgID  string `xml:"ALGID"`
			KIDs   []struct {
				AlgID    string `xml:"ALGID,attr"`
				Checksum string `xml:"CHECKSUM,attr"`
				Value    string `xml:"VALUE,attr"`
			} `xml:"KIDS>KID"`
		} `xml:"PROTECTINFO"`
		KID      string `xml:"KID"`
		Checksum string `xml:"CHECKSUM"`
		LAURL    string `xml:"LA_URL"`
	} `xml:"DATA"`
}

// decodePRO parses a PlayReady Object independently: little-endian sizes,
// one type-1 record, UTF-16LE XML.
func decodePRO(t *testing.T, pro []byte) (string, wrmHeader) {
	t.Helper()
	if int(binary.LittleEndian.Uint32(pro)) != len(pro) || binary.LittleEndian.Uint16(pro[4:]) != 1 || binary.LittleEndian.Uint16(pro[6:]) != 1 {
		t.Fatalf("PRO header %x", pro[:8])
	}
	n := int(binary.LittleEndian.Uint16(pro[8:]))
	if 10+n != len(pro) {
		t.Fatalf("record length %d of %d", n, len(pro))
	}
	u := make([]uint16, n/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(pro[10+2*i:])
	}
	s := string(utf16.Decode(u))
	var h wrmHeader
	if err := xml.Unmarshal([]byte(s), &h); err != nil {
		t.Fatalf("%v in %s", err, s)
	}
	return s, h
}

func TestPlayReadyPublished(t *testing.T) {
	// Checksum vector from the W3C test content: KID/key and CHECKSUM jYFNf0yf4is=.
	kid := MustParseKID("ad13f9ea2be698b875f504a8e3ccea64")
	key := mustKey("be7df8a3667a6a8fd564d0ed81339a95")
	all := b64(t, wptInitData)
	prBox := all[binary.BigEndian.Uint32(all):]
	h := PlayReadyHeader{Keys: []PlayReadyKey{{KID: kid, Key: key}}, Scheme: SchemeCENC,
		LAURL: "http://playready.directtaps.net/pr/svc/rightsmanager.asmx?PlayRight=1&UseSimpleNonPersistentLicense=1"}
	x, err := h.XML()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := PSSHBox(0, SystemIDPlayReady, nil, PlayReadyObject(x))
	if !bytes.Equal(got, prBox) {
		s, _ := decodePRO(t, prBox[32:])
		t.Fatalf("PlayReady pssh differs from the W3C vector\n got %s\nwant %s", x, s)
	}
	_, wh := decodePRO(t, got[32:])
	if wh.Version != "4.0.0.0" || wh.Data.Checksum != "jYFNf0yf4is=" || wh.Data.KID != "6vkTreYruJh19QSo48zqZA==" || wh.Data.ProtectInfo.AlgID != "AESCTR" {
		t.Fatalf("decoded %+v", wh)
	}
	// A second checksum vector (PlayReady test key seed derived key).
	if c := PlayReadyChecksum(MustParseKID("8ba94ade-6eb9-449d-b44f-a5beefaf43b0"), mustKey("DBFD6922C321C4BB486F4A1C44097ED6")); c != "Me48z71nuqY=" {
		t.Fatalf("checksum %s", c)
	}
	g := MustParseKID("8ba94ade-6eb9-449d-b44f-a5beefaf43b0").PlayReadyGUID()
	if base64.StdEncoding.EncodeToString(g[:]) != "3kqpi7lunUS0T6W+769DsA==" {
		t.Fatalf("GUID %x", g)
	}
	// Microsoft's published PRO: the PRO framing of its XML is byte-exact.
	ms := b64(t, msPRO40)
	s, wh := decodePRO(t, ms)
	if !bytes.Equal(PlayReadyObject(s), ms) {
		t.Fatal("PRO framing differs from Microsoft's example")
	}
	// And the builder reproduces that XML given the same KID, checksum-less
	// fields and custom attributes, once CHECKSUM is spliced in.
	msKID := prGUIDToKID(t, wh.Data.KID)
	x, _ = PlayReadyHeader{Keys: []PlayReadyKey{{KID: msKID}}, Scheme: SchemeCENC, LAURL: wh.Data.LAURL,
		CustomAttributes: "<IIS_DRM_VERSION>8.0.1705.19</IIS_DRM_VERSION>"}.XML()
	x = strings.Replace(x, "</KID>", "</KID><CHECKSUM>"+wh.Data.Checksum+"</CHECKSUM>", 1)
	if x != s {
		t.Fatalf("XML differs\n got %s\nwant %s", x, s)
	}
}

func prGUIDToKID(t *testing.T, s string) KID {
	b := b64(t, s)
	var g KID
	copy(g[:], b)
	return KID(g.PlayReadyGUID()) // the swap is its own inverse
}

func TestPlayReadyVersions(t *testing.T) {
	for _, tc := range []struct {
		scheme   Scheme
		keys     []PlayReadyKey
		version  string
		alg      string
		checksum bool
	}{
		{SchemeCENC, []PlayReadyKey{{KID: videoKey.KID, Key: videoKey.Key}}, "4.0.0.0", "AESCTR", true},
		{SchemeCBCS, []PlayReadyKey{{KID: videoKey.KID, Key: videoKey.Key}}, "4.3.0.0", "AESCBC", false},
		{SchemeCENC, []PlayReadyKey{{KID: videoKey.KID, Key: videoKey.Key}, {KID: audioKey.KID, Key: audioKey.Key}}, "4.3.0.0", "AESCTR", true},
		{SchemeCBCS, []PlayReadyKey{{KID: videoKey.KID, Key: videoKey.Key}, {KID: audioKey.KID}}, "4.3.0.0", "AESCBC", false},
	} {
		x, err := PlayReadyHeader{Keys: tc.keys, Scheme: tc.scheme, LAURL: "https://pr.example/x?a=1&b=2"}.XML()
		if err != nil {
			t.Fatal(err)
		}
		_, h := decodePRO(t, PlayReadyObject(x))
		if h.Version != tc.version || h.Data.LAURL != "https://pr.example/x?a=1&b=2" {
			t.Fatalf("%s/%d: version %s la %q", tc.scheme, len(tc.keys), h.Version, h.Data.LAURL)
		}
		if tc.version == "4.0.0.0" {
			if h.Data.ProtectInfo.AlgID != tc.alg || (h.Data.Checksum != "") != tc.checksum {
				t.Fatalf("4.0: %+v", h.Data)
			}
			continue
		}
		if len(h.Data.ProtectInfo.KIDs) != len(tc.keys) {
			t.Fatalf("KIDs %+v", h.Data.ProtectInfo.KIDs)
		}
		for i, k := range h.Data.ProtectInfo.KIDs {
			g := tc.keys[i].KID.PlayReadyGUID()
			if k.AlgID != tc.alg || k.Value != base64.StdEncoding.EncodeToString(g[:]) || (k.Checksum != "") != tc.checksum {
				t.Fatalf("%s KID %d: %+v", tc.scheme, i, k)
			}
		}
		if strings.Contains(x, "CHECKSUM") && tc.alg == "AESCBC" {
			t.Fatal("CHECKSUM with AESCBC")
		}
	}
}

func TestClearKeyPSSHAndFairPlay(t *testing.T) {
	p := ClearKeyPSSH([]KID{videoKey.KID, audioKey.KID})
	sys, kids, data, err := parsePSSH(p[8:])
	if err != nil || sys != SystemIDCommon || len(kids) != 2 || kids[1] != audioKey.KID || len(data) != 0 || p[8] != 1 {
		t.Fatalf("clearkey pssh %x: %v", p, err)
	}
	if got, err := FairPlayURI("skd://keys.example/{KID}?u={KID_UUID}", videoKey.KID); err != nil || got != "skd://keys.example/11111111111111111111111111111111?u=11111111-1111-1111-1111-111111111111" {
		t.Fatal(got, err)
	}
	if got, err := FairPlayURI("", audioKey.KID); err != nil || got != "skd://"+audioKey.KID.Hex() {
		t.Fatal(got, err)
	}
	var se *SchemeError
	if err := CheckSystems(SchemeCENC, []System{Widevine, FairPlay}); !errors.As(err, &se) || se.System != FairPlay || !errors.Is(err, ErrUnsupportedScheme) {
		t.Fatalf("FairPlay with cenc: %v", err)
	}
	if _, err := ParseSystems("widevine, FairPlay,clearkey,widevine"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSystems("marlin"); !errors.Is(err, ErrUnsupported) {
		t.Fatal(err)
	}
	if hex.EncodeToString(SystemIDClearKeyDASHIF[:]) != "e2719d58a985b3c9781ab030af78d30e" {
		t.Fatal("DASH-IF ClearKey system ID")
	}
}

// TestFairPlayURIPlaceholders: every documented placeholder is replaced, and
// any other {…} is refused with a *PlaceholderError naming it (the CLI
// once documented {kid}, which was left in the playlist as it was).
func TestFairPlayURIPlaceholders(t *testing.T) {
	kid := MustParseKID("00112233-4455-6677-8899-aabbccddeeff")
	want := map[string]string{
		"{KID}": kid.Hex(), "{KID_HEX}": kid.Hex(), "{KID_UUID}": kid.String(), "{KID_BASE64}": kid.Base64(),
	}
	if len(FairPlayURIPlaceholders()) != len(want) {
		t.Fatalf("placeholders %v, want %d", FairPlayURIPlaceholders(), len(want))
	}
	for _, p := range FairPlayURIPlaceholders() {
		got, err := FairPlayURI("skd://k.example/"+p+"/x", kid)
		if err != nil || got != "skd://k.example/"+want[p]+"/x" {
			t.Errorf("%s: %q, %v; want %q", p, got, err, want[p])
		}
	}
	for tmpl, bad := range map[string]string{
		"skd://k.example/{kid}":           "{kid}",
		"skd://{KID}/{ASSET}":             "{ASSET}",
		"skd://k.example/{KID":            "{KID",
		"skd://k.example/{}?id={KID_HEX}": "{}",
	} {
		got, err := FairPlayURI(tmpl, kid)
		var pe *PlaceholderError
		if !errors.As(err, &pe) || pe.Placeholder != bad || pe.Template != tmpl || !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %q, %v; want a *PlaceholderError naming %q", tmpl, got, err, bad)
			continue
		}
		if !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: error %q does not name %q", tmpl, err, bad)
		}
		// Refused when the job is configured, before any work.
		cfg := Config{Scheme: SchemeCBCS, Keys: &StaticKeys{Default: []ContentKey{videoKey}},
			SignalingOptions: SignalingOptions{Systems: []System{FairPlay}, FairPlayURI: tmpl}}
		if err := cfg.Validate(); !errors.As(err, &pe) {
			t.Errorf("Config.Validate with %q: %v, want a *PlaceholderError", tmpl, err)
		}
	}
}
