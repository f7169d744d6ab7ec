// Package testutil holds what the project's tests share: finding external
// tools (skipped when missing, except in CI), the -update flag for golden
// files, CPU time for cost ratios, and validation of MPDs against the
// official MPEG-DASH schema.
package testutil

import (
	"bytes"
	"flag"
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
	out, err := exec.Command(xmllint, "--noout", "--schema", schema, path).CombinedOutput()
	if err != nil {
		t.Errorf("%s does not validate against %s: %v\n%s", path, schema, err, bytes.TrimSpace(out))
	}
}

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
