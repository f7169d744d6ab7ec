package packager_test

import (
	"bytes"
	"encoding/xml"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/drm/cpix"
	"github.com/cmafkit/cmafkit/internal/testutil"
	"github.com/cmafkit/cmafkit/packager"
)

// mpdCP is a ContentProtection element with its children as written.
type mpdCP struct {
	SchemeIDURI string `xml:"schemeIdUri,attr"`
	DefaultKID  string `xml:"urn:mpeg:cenc:2013 default_KID,attr"`
	Inner       string `xml:",innerxml"`
}

// mpdProtection lists the ContentProtection elements of every
// Representation of an MPD, by representation ID (those of its
// AdaptationSet included).
func mpdProtection(t *testing.T, b []byte) map[string][]mpdCP {
	t.Helper()
	type rep struct {
		ID string  `xml:"id,attr"`
		CP []mpdCP `xml:"ContentProtection"`
	}
	var m struct {
		Periods []struct {
			Sets []struct {
				CP   []mpdCP `xml:"ContentProtection"`
				Reps []rep   `xml:"Representation"`
			} `xml:"AdaptationSet"`
		} `xml:"Period"`
	}
	if err := xml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	out := map[string][]mpdCP{}
	for _, p := range m.Periods {
		for _, s := range p.Sets {
			for _, r := range s.Reps {
				out[r.ID] = append(append([]mpdCP(nil), s.CP...), r.CP...)
			}
		}
	}
	return out
}

// TestCPIXSignalling packages the ladder with CPIX documents in the shapes
// key servers send and checks that each DRMSystem's signalling reaches the
// output as sent: its PSSH in the init segments, its ContentProtectionData
// as the children of the system's ContentProtection element, its
// HLSSignalingData as the key lines of the media and multivariant
// playlists (and nothing of the packager's own for those systems). The
// MPDs stay valid.
func TestCPIXSignalling(t *testing.T) {
	for _, c := range []struct {
		file   string
		scheme drm.Scheme
	}{{"speke_v2.xml", drm.SchemeCBCS}, {"standalone.xml", drm.SchemeCENC}} {
		t.Run(c.file, func(t *testing.T) {
			doc, err := cpix.ReadFile(filepath.Join("../drm/cpix/testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			dir := runJob(t, packager.Job{Inputs: ladderInputs(),
				Encryption: &drm.Config{Scheme: c.scheme, Keys: doc, SignalingOptions: drm.SignalingOptions{Systems: doc.SystemList()}}})
			files := storageFiles(t, dir)
			testutil.ValidateMPD(t, filepath.Join(dir, "manifest.mpd"))
			reps := mpdProtection(t, files["manifest.mpd"])
			checked := map[string]int{}
			for id, cps := range reps {
				kid := drm.MustParseKID(cps[0].DefaultKID)
				// Init segment: the key server's pssh boxes, byte for byte.
				init, err := mp4.DecodeFile(bytes.NewReader(files[id+"/init.mp4"]))
				if err != nil {
					t.Fatal(err)
				}
				var psshs [][]byte
				for _, p := range init.Init.Moov.Psshs {
					var b bytes.Buffer
					if err := p.Encode(&b); err != nil {
						t.Fatal(err)
					}
					psshs = append(psshs, b.Bytes())
				}
				media := string(files[id+".m3u8"])
				for _, s := range doc.Systems {
					if s.KID != kid {
						continue
					}
					if len(s.PSSH) > 0 && !containsBytes(psshs, s.PSSH) {
						t.Errorf("%s: init segment lacks the %s pssh of the key server", id, s.SystemID)
					}
					if s.ContentProtectionData != "" {
						found := false
						for _, cp := range cps {
							if cp.SchemeIDURI == "urn:uuid:"+s.SystemID.String() {
								found = true
								if cp.Inner != s.ContentProtectionData {
									t.Errorf("%s: ContentProtection of %s holds\n%s\nwant the key server's\n%s", id, s.SystemID, cp.Inner, s.ContentProtectionData)
								}
								checked["ContentProtectionData"]++
							}
						}
						if !found {
							t.Errorf("%s: no ContentProtection for %s", id, s.SystemID)
						}
					}
					if s.HLSSignalingMedia != "" {
						if !strings.Contains(media, s.HLSSignalingMedia) {
							t.Errorf("%s.m3u8 lacks the key server's lines\n%s", id, s.HLSSignalingMedia)
						}
						checked["HLSSignalingData media"]++
					}
					if s.HLSSignalingMaster != "" {
						if !strings.Contains(string(files["master.m3u8"]), s.HLSSignalingMaster) {
							t.Errorf("master.m3u8 lacks the key server's lines\n%s", s.HLSSignalingMaster)
						}
						checked["HLSSignalingData master"]++
					}
					if s.URIExtXKey != "" && !strings.Contains(media, `URI="`+s.URIExtXKey+`"`) {
						t.Errorf("%s.m3u8 lacks the key server's URI %s", id, s.URIExtXKey)
					}
				}
				// Every key line is the key server's: the packager adds its
				// own only for systems the document says nothing about.
				for _, line := range strings.Split(media, "\n") {
					if strings.HasPrefix(line, "#EXT-X-KEY:") && !strings.Contains(line, "org.w3.clearkey") {
						own := true
						for _, s := range doc.Systems {
							own = own && !(s.KID == kid && strings.Contains(s.HLSSignalingMedia, line))
						}
						if own {
							t.Errorf("%s.m3u8: key line not from the key server: %s", id, line)
						}
					}
				}
			}
			if len(checked) == 0 {
				t.Fatal("nothing checked")
			}
			t.Logf("checked %v", checked)
		})
	}
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}
