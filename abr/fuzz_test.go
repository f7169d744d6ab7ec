package abr

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/internal/mediatime"
	"github.com/cmafkit/cmafkit/internal/testutil"
)

// FuzzCalculators drives every built-in calculator with arbitrary sources
// and constraints and checks the promised invariants: no upscaling, aligned
// dimensions that keep the display aspect, strictly increasing bitrates,
// non-decreasing size and frame rate, every rung within its declared level
// and MaxLevel, and the rung count bound. Failures must be the package's
// sentinel errors, never panics.
func FuzzCalculators(f *testing.F) {
	f.Add(uint8(0), uint16(1920), uint16(1080), uint8(1), uint8(1), uint16(30), uint16(1), uint8(0), false, uint8(0), uint8(0), false, uint8(0), uint8(0), uint64(1))
	f.Add(uint8(1), uint16(1280), uint16(720), uint8(1), uint8(1), uint16(60), uint16(1), uint8(0), false, uint8(4), uint8(1), false, uint8(0), uint8(0), uint64(2))
	f.Add(uint8(0), uint16(3840), uint16(2160), uint8(1), uint8(1), uint16(24000), uint16(1001), uint8(1), true, uint8(0), uint8(0), false, uint8(0), uint8(7), uint64(3))
	f.Add(uint8(1), uint16(1080), uint16(1920), uint8(1), uint8(1), uint16(30), uint16(1), uint8(2), false, uint8(3), uint8(3), false, uint8(0), uint8(0), uint64(4))
	f.Add(uint8(0), uint16(1440), uint16(1080), uint8(4), uint8(3), uint16(25), uint16(1), uint8(0), false, uint8(0), uint8(0), true, uint8(0), uint8(0), uint64(5))
	f.Add(uint8(2), uint16(1280), uint16(720), uint8(1), uint8(1), uint16(30000), uint16(1001), uint8(0), false, uint8(5), uint8(2), false, uint8(3), uint8(0), uint64(6))
	f.Add(uint8(2), uint16(720), uint16(480), uint8(8), uint8(9), uint16(30000), uint16(1001), uint8(2), false, uint8(0), uint8(0), true, uint8(9), uint8(0), uint64(7))
	f.Fuzz(func(t *testing.T, calc uint8, w, h uint16, parN, parD uint8, fpsN, fpsD uint16, codec uint8, hdr bool,
		maxRungs, alignSel uint8, keep bool, nProbes uint8, maxLevelSel uint8, seed uint64) {
		src := Source{
			Width: int(w), Height: int(h), PixelAspect: Rational{int64(parN), int64(parD)},
			FrameRate: Rational{int64(fpsN), int64(fpsD)}, Codec: []Codec{H264, HEVC, AV1}[codec%3], HDR: hdr,
		}
		if parN == 0 && parD == 0 {
			src.PixelAspect = Rational{}
		}
		c := Constraints{MaxRungs: int(maxRungs % 16), Align: []int{0, 2, 4, 8, 16}[alignSel%5], KeepPixelAspect: keep}
		table, _ := Levels(src.codec())
		if maxLevelSel%3 == 1 {
			c.MaxLevel = table[int(maxLevelSel/3)%len(table)].Name
		}
		// Deterministic pseudo-random probes for the hull.
		x := seed | 1
		next := func(n int) int {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			return int(x % uint64(n))
		}
		for range int(nProbes % 40) {
			pw := 16 + 2*next(2000)
			src.Probes = append(src.Probes, Probe{Width: pw, Height: 16 + 2*next(1200), Bitrate: 1 + next(30_000_000), Quality: float64(next(10000)) / 100})
		}
		var calculator Calculator
		switch calc % 3 {
		case 0:
			calculator = &Apple{Constraints: c}
			if c.MaxLevel == "" {
				c.MaxLevel = map[Codec]string{H264: appleMaxLevelH264, HEVC: appleMaxLevelHEVC, AV1: appleMaxLevelAV1}[src.codec()]
			}
		case 1:
			calculator = &Geometric{Constraints: c, StepRatio: 1.05 + float64(seed%300)/100}
		case 2:
			calculator = &Hull{Constraints: c, MinStep: 1 + float64(seed%300)/100}
		}
		l, err := calculator.Calculate(context.Background(), src)
		if err != nil {
			if !errors.Is(err, ErrInvalidSource) && !errors.Is(err, ErrNoRungs) && !errors.Is(err, ErrNoProbes) {
				t.Fatalf("%T: unexpected error %v", calculator, err)
			}
			return
		}
		checkLadder(t, src, c, l)
	})
}

func FuzzReadProbes(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "probes", "*.csv"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`[{"width":640,"height":360,"bitrate":800000,"quality":71.5,"frame_rate":"25"}]`))
	f.Add([]byte("w,h,kbps,vmaf,fps\n640,360,800,70,29.97\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		probes, err := ReadProbes(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		for i, p := range probes {
			if err := p.check(); err != nil {
				t.Fatalf("probe %d accepted but invalid: %v", i, err)
			}
		}
	})
}

// FuzzReadLadder feeds ReadLadder damaged ladders: one of the golden
// ladders with byte edits applied where the fuzzer says (editBytes), or, for
// the last base, the fuzzer's bytes as they are. A refusal wraps
// ErrMalformed or ErrInvalidLadder; an accepted ladder passes Validate.
//
// The fuzzer's input is the short edit list, not the document: the Go
// fuzzer minimizes every input that finds new coverage by removing each byte
// range (quadratic in the input's length) and runs nothing else meanwhile, so
// whole golden files as inputs stalled it (26 execs in 10 s).
func FuzzReadLadder(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	var bases [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		bases = append(bases, b)
	}
	for i := range bases {
		f.Add(uint8(i), []byte{})
		// A changed digit, a dropped byte and a cut end.
		f.Add(uint8(i), []byte{0, 64, 0, '7', 3, 128, 0, 0, 4, 240, 0, 0})
	}
	f.Add(uint8(len(bases)), []byte(`{"rungs":[{"width":640,"height":360,"bitrate":800000}]}`))
	f.Fuzz(func(t *testing.T, base uint8, edits []byte) {
		if len(edits) > maxEdits {
			return
		}
		b := edits
		if i := int(base) % (len(bases) + 1); i < len(bases) {
			b = editBytes(bases[i], edits)
		}
		l, err := ReadLadder(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalidLadder) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrInvalidLadder", err)
			}
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("accepted ladder fails Validate: %v", err)
		}
	})
}

// maxEdits is the longest edit list (or raw document) FuzzReadLadder takes;
// longer inputs are skipped, so they find no coverage and are never
// minimized.
const maxEdits = 256

// editBytes returns a copy of b with edits applied. Each edit is four bytes:
// an operation, a 16-bit position scaled to the document and a value. The
// operations overwrite a byte, flip a bit, insert a byte, delete a run of
// bytes, cut the document, overwrite a byte with a digit, repeat a run of
// bytes and swap two bytes.
func editBytes(b, edits []byte) []byte {
	return testutil.ApplyEdits(b, edits, func(b []byte, e testutil.Edit) []byte {
		i, v := e.At(len(b)), e.Value
		switch e.Op % 8 {
		case 5:
			b[i] = '0' + v%10
		case 6:
			b = slices.Insert(b, i, bytes.Clone(b[i:min(i+1+int(v), len(b))])...)
		case 7:
			j := int(v) * len(b) >> 8
			b[i], b[j] = b[j], b[i]
		}
		return b
	})
}

// FuzzParseCodec checks the --codec parser: an accepted spelling names a
// known family, and the family's own name parses back to it, also in upper
// case and padded; a refusal wraps ErrUnsupportedCodec and yields no codec.
func FuzzParseCodec(f *testing.F) {
	for _, s := range []string{"h264", "H.265", " avc1 ", "libsvtav1", "vp9", "", "HEVC\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCodec(s)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedCodec) || c != "" {
				t.Fatalf("%q: %q, %v", s, c, err)
			}
			return
		}
		if !c.known() {
			t.Fatalf("%q: unknown family %q", s, c)
		}
		for _, form := range []string{string(c), strings.ToUpper(string(c)), " " + string(c) + "\n"} {
			if back, err := ParseCodec(form); err != nil || back != c {
				t.Fatalf("%q: %q does not parse back from %q: %q, %v", s, c, form, back, err)
			}
		}
	})
}

// FuzzParseRational checks the --fps and --par parser (and the JSON form
// of frame rates): an accepted value is positive, reduced, at most 1e6, and
// parses back from its String form and through UnmarshalText; a refusal
// wraps ErrMalformed and yields the zero Rational.
func FuzzParseRational(f *testing.F) {
	for _, s := range []string{"30000/1001", "4:3", "25", "29.97", "23.976", "0.5", "1e6", "0/1", "1/0", "-3", "NaN", "1000000001/1", "0.0001", "2000001/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRational(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || r != (Rational{}) {
				t.Fatalf("%q: %v, %v", s, r, err)
			}
			return
		}
		if r.IsZero() || r.Float() > 1e6 || mediatime.GCD(r.Num, r.Den) != 1 {
			t.Fatalf("%q: %d/%d is not a positive reduced value up to 1e6", s, r.Num, r.Den)
		}
		back, err := ParseRational(r.String())
		if err != nil || back != r {
			t.Fatalf("%q: %v parses back as %v, %v", s, r, back, err)
		}
		var u Rational
		if err := u.UnmarshalText([]byte(s)); err != nil || u != r {
			t.Fatalf("%q: UnmarshalText %v, %v", s, u, err)
		}
	})
}
