// Package testutil holds what the project's tests share: finding external
// tools (skipped when missing, except in CI), the -update flag for golden
// files, CPU time for cost ratios, and validation of MPDs against the
// official MPEG-DASH schema.
package testutil

import (
	"bytes"
	"errors"
	"flag"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// update is registered once for every test binary that imports testutil.
var update = flag.Bool("update", false, "rewrite golden files in testdata")

// Update reports whether the test binary runs with -update: golden files
// are rewritten instead of compared (review the diff before committing).
func Update() bool { return *update }

// InCI reports whether the tests run in CI (CI=true), where a missing tool
// is a failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// NeedTool returns the path of an external tool such as ffmpeg. Without it
// the test is skipped, except in CI, where it fails.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if InCI() {
			t.Fatalf("%s is required in CI (.ci/run installs it): %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// DASHSchema returns the path of the MPEG-DASH MPD schema (DASH-MPD.xsd):
// $CMAFKIT_DASH_SCHEMA, or shared/dash-schema/DASH-MPD.xsd in the nearest
// directory above the module root that has it (../shared beside a checkout).
// It returns "" when there is none.
func DASHSchema() string {
	if p := os.Getenv("CMAFKIT_DASH_SCHEMA"); p != "" {
		return p
	}
	root := moduleRoot()
	if root == "" {
		return ""
	}
	for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "shared", "dash-schema", "DASH-MPD.xsd")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// moduleRoot is the directory holding this module's go.mod.
func moduleRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// ValidateMPD checks an MPD file against the MPEG-DASH schema with xmllint
// and fails t with xmllint's messages when it does not validate. Without the
// schema it logs that and returns; without xmllint it does the same, except
// in CI, where xmllint is required.
func ValidateMPD(t testing.TB, path string) {
	t.Helper()
	schema := DASHSchema()
	if schema == "" {
		t.Logf("not validating %s: no DASH schema (set CMAFKIT_DASH_SCHEMA or provide ../shared/dash-schema)", path)
		return
	}
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if InCI() {
			t.Fatalf("xmllint is required in CI (.ci/run installs libxml2-utils): %v", err)
		}
		t.Logf("not validating %s: xmllint not installed", path)
		return
	}
	used, err := withContentSteering(t, schema)
	if err != nil {
		t.Fatalf("DASH schema %s: %v", schema, err)
	}
	out, err := exec.Command(xmllint, "--noout", "--schema", used, path).CombinedOutput()
	if err != nil {
		t.Errorf("%s does not validate against %s (+ ContentSteering, 23009-1 6th edition): %v\n%s", path, schema, err, bytes.TrimSpace(out))
	}
}

// The official schema in shared/dash-schema (MPEGGroup/DASHSchema at
// fb663fd, 5th edition with amendment 1) predates content steering: the
// ContentSteering element came with the 6th edition of ISO/IEC 23009-1
// (from DASH-IF's Content Steering for DASH). withContentSteering returns
// the path of a copy of that schema that adds exactly that element, as
// the 6th edition defines it: at most one, last in the MPD's sequence
// (after LeapSecondInformation, before elements of other namespaces), an
// xs:anyURI (the steering server) with the attributes
// defaultServiceLocation, queryBeforeStart and clientRequirement. Every
// other element and attribute is checked by the official text. A schema
// that already declares ContentSteering is used as it is.
func withContentSteering(t testing.TB, schema string) (string, error) {
	b, err := os.ReadFile(schema)
	if err != nil {
		return "", err
	}
	s := string(b)
	if strings.Contains(s, `name="ContentSteering"`) {
		return schema, nil
	}
	const leap = `<xs:element name="LeapSecondInformation" type="LeapSecondInformationType" minOccurs="0"/>`
	const imp = `schemaLocation="xlink.xsd"`
	if strings.Count(s, leap) != 1 || strings.Count(s, imp) != 1 || !strings.Contains(s, "</xs:schema>") {
		return "", errors.New("not the expected DASH-MPD.xsd: cannot add the ContentSteering element")
	}
	s = strings.Replace(s, leap, leap+`
			<xs:element name="ContentSteering" type="ContentSteeringType" minOccurs="0"/>`, 1)
	s = strings.Replace(s, "</xs:schema>", contentSteeringType+"</xs:schema>", 1)
	xlink := filepath.Join(filepath.Dir(schema), "xlink.xsd")
	s = strings.Replace(s, imp, `schemaLocation="`+(&url.URL{Scheme: "file", Path: filepath.ToSlash(xlink)}).String()+`"`, 1)
	p := filepath.Join(t.TempDir(), "DASH-MPD-contentsteering.xsd")
	return p, os.WriteFile(p, []byte(s), 0o644)
}

// contentSteeringType is the 6th edition's ContentSteeringType.
const contentSteeringType = `	<!-- Content Steering (ISO/IEC 23009-1 6th edition), added for cmafkit's tests -->
	<xs:complexType name="ContentSteeringType">
		<xs:simpleContent>
			<xs:extension base="xs:anyURI">
				<xs:attribute name="defaultServiceLocation" type="xs:string"/>
				<xs:attribute name="queryBeforeStart" type="xs:boolean" default="false"/>
				<xs:attribute name="clientRequirement" type="xs:boolean" default="true"/>
			</xs:extension>
		</xs:simpleContent>
	</xs:complexType>
`

// ValidateMPDBytes is ValidateMPD for an MPD in memory.
func ValidateMPDBytes(t testing.TB, name string, mpd []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), filepath.Base(name))
	if !strings.HasSuffix(p, ".mpd") {
		p += ".mpd"
	}
	if err := os.WriteFile(p, mpd, 0o644); err != nil {
		t.Fatal(err)
	}
	ValidateMPD(t, p)
}

// ValidateMPDs validates every .mpd file under dir.
func ValidateMPDs(t testing.TB, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".mpd") {
			ValidateMPD(t, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
