package abr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/internal/testutil"
)

func readProbesFile(t testing.TB, name string) []Probe {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "probes", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := ReadProbes(f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type goldenCase struct {
	name string
	calc Calculator
	src  Source
}

func goldenCases(t testing.TB) []goldenCase {
	fps30 := R(30, 1)
	src1080 := Source{Width: 1920, Height: 1080, FrameRate: fps30}
	src720p60 := Source{Width: 1280, Height: 720, FrameRate: R(60, 1)}
	src4kHDR := Source{Width: 3840, Height: 2160, FrameRate: R(24000, 1001), Codec: HEVC, HDR: true}
	vertical := Source{Width: 1080, Height: 1920, FrameRate: fps30}
	anamorphic := Source{Width: 1440, Height: 1080, PixelAspect: R(4, 3), FrameRate: R(25, 1)}
	probes := readProbesFile(t, "ladder_720p.csv")
	return []goldenCase{
		{"apple_1080p30_h264", &Apple{}, src1080},
		{"apple_1080p30_hevc", &Apple{}, Source{Width: 1920, Height: 1080, FrameRate: fps30, Codec: HEVC}},
		{"apple_720p60_h264", &Apple{}, src720p60},
		{"apple_2160p24_hevc_hdr", &Apple{}, src4kHDR},
		{"apple_2160p60_h264_level42", &Apple{}, Source{Width: 3840, Height: 2160, FrameRate: R(60, 1)}},
		{"apple_2160p60_hevc", &Apple{}, Source{Width: 3840, Height: 2160, FrameRate: R(60, 1), Codec: HEVC}},
		{"apple_vertical_1080x1920", &Apple{}, vertical},
		{"apple_anamorphic_1440x1080", &Apple{}, anamorphic},
		{"apple_anamorphic_1440x1080_keep_par", &Apple{Constraints: Constraints{KeepPixelAspect: true}}, anamorphic},
		{"apple_scope_1920x804", &Apple{}, Source{Width: 1920, Height: 804, FrameRate: R(24, 1)}},
		{"geometric_1080p30_h264", &Geometric{}, src1080},
		{"geometric_720p60_h264", &Geometric{}, src720p60},
		{"geometric_2160p24_hevc_hdr", &Geometric{}, src4kHDR},
		{"geometric_vertical_1080x1920", &Geometric{}, vertical},
		{"geometric_anamorphic_1440x1080", &Geometric{}, anamorphic},
		{"geometric_1080p60_av1_max6", &Geometric{Constraints: Constraints{MaxRungs: 6}}, Source{Width: 1920, Height: 1080, FrameRate: R(60, 1), Codec: AV1}},
		{"hull_720p30_psnr", &Hull{}, Source{Width: 1280, Height: 720, FrameRate: R(30000, 1001), Probes: probes}},
		{"hull_720p30_psnr_step2_max3", &Hull{MinStep: 2, Constraints: Constraints{MaxRungs: 3}}, Source{Width: 1280, Height: 720, FrameRate: R(30000, 1001), Probes: probes}},
		{"hull_720p30_psnr_cap50", &Hull{MaxQuality: 50}, Source{Width: 1280, Height: 720, FrameRate: R(30000, 1001), Probes: probes}},
	}
}

func TestGoldenLadders(t *testing.T) {
	for _, tc := range goldenCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			l, err := tc.calc.Calculate(context.Background(), tc.src)
			if err != nil {
				t.Fatal(err)
			}
			checkLadder(t, tc.src, Constraints{}, l)
			got, err := json.MarshalIndent(l, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", tc.name+".json")
			if testutil.Update() {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if !bytes.Equal(got, want) {
				var tbl strings.Builder
				l.WriteTable(&tbl)
				t.Errorf("ladder differs from %s (run with -update if intended); got:\n%s\n%s", path, got, tbl.String())
			}
			// The golden file reads back as the same ladder.
			back, err := ReadLadder(bytes.NewReader(want))
			if err != nil {
				t.Fatal(err)
			}
			again, _ := json.MarshalIndent(back, "", "  ")
			if !bytes.Equal(append(again, '\n'), want) {
				t.Errorf("ReadLadder(%s) does not round-trip", path)
			}
		})
	}
}

// checkLadder asserts the invariants every calculator promises.
func checkLadder(t testing.TB, src Source, c Constraints, l Ladder) {
	t.Helper()
	if err := l.Validate(); err != nil {
		t.Fatalf("invalid ladder: %v", err)
	}
	if n := len(l.Rungs); n > c.maxRungs() {
		t.Fatalf("%d rungs, at most %d allowed", n, c.maxRungs())
	}
	table, _ := Levels(src.codec())
	maxIdx := len(table) - 1
	if c.MaxLevel != "" {
		maxIdx = levelIndex(table, c.MaxLevel)
	}
	a := src.DisplayAspect()
	for i, r := range l.Rungs {
		if r.Width > src.Width || r.Height > src.Height {
			t.Errorf("rung %d %dx%d upscales the %dx%d source", i, r.Width, r.Height, src.Width, src.Height)
		}
		if r.Width%c.align() != 0 || r.Height%c.align() != 0 {
			t.Errorf("rung %d %dx%d not aligned to %d", i, r.Width, r.Height, c.align())
		}
		if src.FrameRate.Less(r.FrameRate) {
			t.Errorf("rung %d frame rate %v above the source's %v", i, r.FrameRate, src.FrameRate)
		}
		if err := CheckLevel(r); err != nil {
			t.Errorf("rung %d: %v", i, err)
		}
		if li := levelIndex(table, r.Level); li > maxIdx {
			t.Errorf("rung %d level %s above max %s", i, r.Level, c.MaxLevel)
		}
		if r.Codec != src.codec() {
			t.Errorf("rung %d codec %s, want %s", i, r.Codec, src.codec())
		}
		par := 1.0
		if !r.PixelAspect.IsZero() {
			par = r.PixelAspect.Float()
		}
		// Display aspect kept within the rounding of one alignment step.
		wantW := float64(r.Height) * a / par
		tol := float64(c.align())*max(1, a/par) + 1
		if d := float64(r.Width) - wantW; d > tol || d < -tol {
			t.Errorf("rung %d %dx%d (par %v): width should be about %.1f for aspect %.4f", i, r.Width, r.Height, r.PixelAspect, wantW, a)
		}
	}
}

func TestLevelSelection(t *testing.T) {
	for _, tc := range []struct {
		codec Codec
		w, h  int
		fps   Rational
		want  string
	}{
		{H264, 1920, 1080, R(30, 1), "4.0"},
		{H264, 1920, 1080, R(60, 1), "4.2"},
		{H264, 1280, 720, R(30, 1), "3.1"},
		{H264, 1280, 720, R(60, 1), "3.2"},
		{H264, 640, 360, R(30, 1), "3.0"},
		{H264, 3840, 2160, R(30, 1), "5.1"},
		{HEVC, 1920, 1080, R(60, 1), "4.1"},
		{HEVC, 3840, 2160, R(30, 1), "5.0"},
		{HEVC, 3840, 2160, R(60, 1), "5.1"},
		{AV1, 1280, 720, R(30, 1), "3.1"},
		{AV1, 1920, 1080, R(30, 1), "4.0"},
		{AV1, 1920, 1080, R(60, 1), "4.1"},
		{AV1, 3840, 2160, R(60, 1), "5.1"},
	} {
		table, _ := Levels(tc.codec)
		got := ""
		for _, l := range table {
			if l.admitsPicture(tc.codec, tc.w, tc.h, tc.fps) {
				got = l.Name
				break
			}
		}
		if got != tc.want {
			t.Errorf("%s %dx%d@%v: level %s, want %s", tc.codec, tc.w, tc.h, tc.fps, got, tc.want)
		}
	}
}

func TestCheckLevel(t *testing.T) {
	r := Rung{Width: 1920, Height: 1080, FrameRate: R(60, 1), Codec: H264, Level: "4.0", Bitrate: 6e6, MaxBitrate: 6.6e6, BufferSize: 13.2e6}
	if err := CheckLevel(r); !errors.Is(err, ErrInvalidLadder) {
		t.Errorf("1080p60 at H.264 level 4.0: %v, want ErrInvalidLadder", err)
	}
	r.Level = "4.2"
	if err := CheckLevel(r); err != nil {
		t.Errorf("1080p60 at H.264 level 4.2: %v", err)
	}
	r.MaxBitrate = 70e6 // above 4.2's 62.5 Mbit/s High-profile MaxBR
	if err := CheckLevel(r); !errors.Is(err, ErrInvalidLadder) {
		t.Errorf("70 Mbit/s at level 4.2: %v, want ErrInvalidLadder", err)
	}
	r.Level = "9.9"
	var fe *FieldError
	if err := CheckLevel(r); !errors.As(err, &fe) || fe.Field != "level" {
		t.Errorf("unknown level: %v, want a FieldError on level", err)
	}
}

func TestMaxLevelDropsAndClamps(t *testing.T) {
	// H.264 4K60 with Apple's defaults: the H.264 table stops at 1080p, which keeps 60 fps (level 4.2).
	l, err := (&Apple{}).Calculate(context.Background(), Source{Width: 3840, Height: 2160, FrameRate: R(60, 1)})
	if err != nil {
		t.Fatal(err)
	}
	top := l.Rungs[len(l.Rungs)-1]
	if top.Width != 1920 || top.Height != 1080 || top.FrameRate != R(60, 1) || top.Level != "4.2" {
		t.Errorf("top rung %+v, want 1920x1080@60 level 4.2", top)
	}
	// A bitrate beyond the level's MaxBR is clamped, not dropped.
	g := &Geometric{MaxBitrate: 200e6, Constraints: Constraints{MaxLevel: "4.0"}}
	l, err = g.Calculate(context.Background(), Source{Width: 1920, Height: 1080, FrameRate: R(30, 1)})
	if err != nil {
		t.Fatal(err)
	}
	top = l.Rungs[len(l.Rungs)-1]
	if top.MaxBitrate != 25_000_000 || top.Bitrate > top.MaxBitrate || top.BufferSize > 31_250_000 {
		t.Errorf("top rung %+v, want max bitrate clamped to level 4.0's 25 Mbit/s", top)
	}
	checkLadder(t, Source{Width: 1920, Height: 1080, FrameRate: R(30, 1)}, g.Constraints, l)
	// Nothing fits: an error naming the reason.
	_, err = (&Apple{Constraints: Constraints{MaxLevel: "1.0"}}).Calculate(context.Background(), Source{Width: 1920, Height: 1080, FrameRate: R(30, 1)})
	if !errors.Is(err, ErrNoRungs) {
		t.Errorf("level 1.0: %v, want ErrNoRungs", err)
	}
}

// TestAppleFrameRates checks the frame-rate rules of the Apple ladder: the
// "≤ 30 fps" rows, no rung above 60 fps (item 1.19), and the HEVC table's
// bit rates reduced by 20% at 24 fps and below (the note under the tables).
func TestAppleFrameRates(t *testing.T) {
	top := func(src Source) Rung {
		t.Helper()
		l, err := (&Apple{}).Calculate(context.Background(), src)
		if err != nil {
			t.Fatal(err)
		}
		checkLadder(t, src, Constraints{}, l)
		return l.Rungs[len(l.Rungs)-1]
	}
	for _, tc := range []struct {
		src     Source
		bitrate int
		fps     Rational
	}{
		{Source{Width: 1920, Height: 1080, FrameRate: R(24, 1), Codec: HEVC}, 4_640_000, R(24, 1)},
		{Source{Width: 1920, Height: 1080, FrameRate: R(24000, 1001), Codec: HEVC, HDR: true}, 5_600_000, R(24000, 1001)},
		{Source{Width: 1920, Height: 1080, FrameRate: R(25, 1), Codec: HEVC}, 5_800_000, R(25, 1)},
		{Source{Width: 1920, Height: 1080, FrameRate: R(24, 1)}, 7_800_000, R(24, 1)}, // H.264: no reduction
		{Source{Width: 1920, Height: 1080, FrameRate: R(24, 1), Codec: AV1}, 4_640_000, R(24, 1)},
		{Source{Width: 1280, Height: 720, FrameRate: R(120, 1)}, 4_500_000, R(60, 1)},
		{Source{Width: 3840, Height: 2160, FrameRate: R(100, 1), Codec: HEVC}, 16_800_000, R(50, 1)},
	} {
		r := top(tc.src)
		if r.Bitrate != tc.bitrate || r.FrameRate != tc.fps {
			t.Errorf("%s %v fps (hdr %v): top rung %s at %v fps, want %d bit/s at %v fps",
				tc.src.codec(), tc.src.FrameRate, tc.src.HDR, r.Name, r.FrameRate, tc.bitrate, tc.fps)
		}
	}
	// A 48 fps HEVC source: the "≤ 30 fps" rows run at 24 fps and so get
	// 80% of the table; the others keep 48 fps and the full rate.
	l, err := (&Apple{}).Calculate(context.Background(), Source{Width: 1280, Height: 720, FrameRate: R(48, 1), Codec: HEVC})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		bitrate int
		fps     Rational
	}{{116e3, R(24, 1)}, {240e3, R(24, 1)}, {480e3, R(24, 1)}, {720e3, R(24, 1)}, {1600e3, R(48, 1)}, {2400e3, R(48, 1)}, {3400e3, R(48, 1)}}
	if len(l.Rungs) != len(want) {
		t.Fatalf("48 fps HEVC 720p: %d rungs, want %d", len(l.Rungs), len(want))
	}
	for i, w := range want {
		if r := l.Rungs[i]; r.Bitrate != w.bitrate || r.FrameRate != w.fps {
			t.Errorf("48 fps HEVC 720p rung %d: %s at %v fps, want %d bit/s at %v fps", i, r.Name, r.FrameRate, w.bitrate, w.fps)
		}
	}
}

func TestGeometricHalvesFrameRate(t *testing.T) {
	src := Source{Width: 1920, Height: 1080, FrameRate: R(60000, 1001)}
	l, err := (&Geometric{}).Calculate(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	checkLadder(t, src, Constraints{}, l)
	var halved, full int
	for _, r := range l.Rungs {
		switch r.FrameRate {
		case R(30000, 1001):
			halved++
			if min(r.Width, r.Height) > 720 {
				t.Errorf("rung %s halved although its short side is above 720", r.Name)
			}
		case R(60000, 1001):
			full++
		default:
			t.Errorf("rung %s has frame rate %v", r.Name, r.FrameRate)
		}
	}
	if halved == 0 || full == 0 {
		t.Errorf("want both halved and full frame-rate rungs, got %d and %d", halved, full)
	}
	// A 30 fps source is never halved.
	l, _ = (&Geometric{}).Calculate(context.Background(), Source{Width: 1920, Height: 1080, FrameRate: R(30, 1)})
	for _, r := range l.Rungs {
		if r.FrameRate != R(30, 1) {
			t.Errorf("30 fps source: rung %s at %v", r.Name, r.FrameRate)
		}
	}
}

func TestHullIgnoresUpscaledProbes(t *testing.T) {
	probes := readProbesFile(t, "ladder_720p.csv")
	src := Source{Width: 1280, Height: 720, FrameRate: R(30000, 1001), Probes: probes}
	l, err := (&Hull{}).Calculate(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	byBitrate := map[int]Probe{}
	for _, p := range probes {
		byBitrate[p.Bitrate] = p
	}
	for _, r := range l.Rungs {
		p, ok := byBitrate[r.Bitrate]
		if !ok {
			t.Fatalf("rung %s is not a probe", r.Name)
		}
		if p.Width > 1280 {
			t.Errorf("rung %s comes from an upscaled probe", r.Name)
		}
		// No probe at or below this bitrate has a better quality (Pareto).
		for _, q := range probes {
			if q.Width <= 1280 && q.Bitrate <= p.Bitrate && q.Quality > p.Quality {
				t.Errorf("rung %s (q %.2f) is dominated by %dx%d@%d (q %.2f)", r.Name, p.Quality, q.Width, q.Height, q.Bitrate, q.Quality)
			}
		}
	}
	for i := 1; i < len(l.Rungs); i++ {
		if float64(l.Rungs[i].Bitrate) < 1.5*float64(l.Rungs[i-1].Bitrate) {
			t.Errorf("rungs %d and %d closer than the 1.5 minimum step", i-1, i)
		}
	}
	// Only upscaled probes: nothing usable.
	_, err = (&Hull{}).Calculate(context.Background(), Source{Width: 640, Height: 360, FrameRate: R(30, 1),
		Probes: []Probe{{Width: 1280, Height: 720, Bitrate: 1e6, Quality: 90}}})
	if !errors.Is(err, ErrNoProbes) {
		t.Errorf("only upscaled probes: %v, want ErrNoProbes", err)
	}
}

func TestUpperHull(t *testing.T) {
	mk := func(br int, q float64) Probe { return Probe{Width: 640, Height: 360, Bitrate: br, Quality: q} }
	// 400k (65) is below the chord from 200k (60) to 800k (80), which passes 66.7 there;
	// 1600k is worse than 800k.
	src := Source{Width: 640, Height: 360, FrameRate: R(25, 1), Probes: []Probe{
		mk(200e3, 60), mk(400e3, 65), mk(800e3, 80), mk(1600e3, 79), mk(3200e3, 90),
	}}
	l, err := (&Hull{MinStep: 1}).Calculate(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	got := l.Bitrates()
	want := []int{200e3, 800e3, 3200e3}
	if len(got) != len(want) {
		t.Fatalf("bitrates %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("bitrates %v, want %v", got, want)
		}
	}
}

func TestThin(t *testing.T) {
	var rs []Rung
	for _, b := range []int{100, 150, 225, 340, 500, 760, 1100, 1700, 2500, 3800} {
		rs = append(rs, Rung{Bitrate: b * 1000})
	}
	got := thin(rs, 4)
	if len(got) != 4 || got[0].Bitrate != 100e3 || got[3].Bitrate != 3800e3 {
		t.Fatalf("thin kept %v", got)
	}
	// Evenly spaced in log-rate from 100k to 3.8M: targets ≈ 336k and 1.13M.
	if got[1].Bitrate != 340e3 || got[2].Bitrate != 1100e3 {
		t.Errorf("thin chose %d and %d, want 340000 and 1100000", got[1].Bitrate, got[2].Bitrate)
	}
	if got := thin(rs, 1); len(got) != 1 || got[0].Bitrate != 3800e3 {
		t.Errorf("thin to 1 kept %v", got)
	}
}

func TestSourceValidate(t *testing.T) {
	ok := Source{Width: 1920, Height: 1080, FrameRate: R(30, 1)}
	for name, mut := range map[string]func(*Source){
		"width":        func(s *Source) { s.Width = 0 },
		"height":       func(s *Source) { s.Height = 100000 },
		"frame_rate":   func(s *Source) { s.FrameRate = Rational{} },
		"codec":        func(s *Source) { s.Codec = "vp9" },
		"hdr":          func(s *Source) { s.HDR = true },
		"pixel_aspect": func(s *Source) { s.PixelAspect = Rational{100, 1} },
	} {
		s := ok
		mut(&s)
		err := s.Validate()
		var fe *FieldError
		if !errors.Is(err, ErrInvalidSource) || !errors.As(err, &fe) || fe.Field != name {
			t.Errorf("%s: got %v, want a FieldError on %s", name, err, name)
		}
		for _, c := range []Calculator{&Apple{}, &Geometric{}, &Hull{}} {
			if _, err := c.Calculate(context.Background(), s); !errors.Is(err, ErrInvalidSource) {
				t.Errorf("%T with bad %s: %v", c, name, err)
			}
		}
	}
	if err := ok.Validate(); err != nil {
		t.Error(err)
	}
}

func TestParseRational(t *testing.T) {
	for in, want := range map[string]Rational{
		"30": {30, 1}, "29.97": {30000, 1001}, "23.976": {24000, 1001}, "59.94": {60000, 1001},
		"30000/1001": {30000, 1001}, "4:3": {4, 3}, "50/2": {25, 1}, "12.5": {25, 2},
	} {
		got, err := ParseRational(in)
		if err != nil || got != want {
			t.Errorf("ParseRational(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "a/b", "1/0", "NaN", "1e9",
		"0.0001",    // positive, but rounds to 0/1000
		"2000001/2", // 1000000.5: over 1e6, though 2000001/2 == 1000000 in integers
	} {
		if _, err := ParseRational(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseRational(%q): %v, want ErrMalformed", in, err)
		}
	}
	b, _ := json.Marshal(Source{Width: 2, Height: 2, FrameRate: R(30000, 1001)})
	if !strings.Contains(string(b), `"frame_rate":"30000/1001"`) || strings.Contains(string(b), "pixel_aspect") {
		t.Errorf("JSON %s", b)
	}
}

func TestReadProbes(t *testing.T) {
	csvIn := "# probes\nheight,width,bitrate_kbps,vmaf,fps\n360,640,800,71.5,25\n720,1280,3000,88,\n"
	got, err := ReadProbes(strings.NewReader(csvIn))
	if err != nil {
		t.Fatal(err)
	}
	want := []Probe{{Width: 640, Height: 360, Bitrate: 800e3, Quality: 71.5, FrameRate: R(25, 1)}, {Width: 1280, Height: 720, Bitrate: 3e6, Quality: 88}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ReadProbes = %+v, want %+v", got, want)
	}
	js := `{"probes":[{"width":640,"height":360,"frame_rate":"25","bitrate":800000,"quality":71.5}]}`
	if got, err := ReadProbes(strings.NewReader(js)); err != nil || len(got) != 1 || got[0] != want[0] {
		t.Errorf("ReadProbes(JSON) = %+v, %v", got, err)
	}
	var pe *ParseError
	_, err = ReadProbes(strings.NewReader("640,360,800000,70\n640,x,1,2\n"))
	if !errors.As(err, &pe) || pe.Line != 2 || !errors.Is(err, ErrMalformed) {
		t.Errorf("bad line 2: %v", err)
	}
	if _, err := ReadProbes(strings.NewReader("w,h,quality\n1,2,3\n")); !errors.Is(err, ErrMalformed) {
		t.Errorf("header without bitrate: %v", err)
	}
}

func TestNew(t *testing.T) {
	for _, n := range []string{"apple", "geometric", "HULL"} {
		if _, err := New(n); err != nil {
			t.Errorf("New(%q): %v", n, err)
		}
	}
	if _, err := New("netflix"); !errors.Is(err, ErrUnknownCalculator) {
		t.Errorf("New(netflix): %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []Calculator{&Apple{}, &Geometric{}} {
		if _, err := c.Calculate(ctx, Source{Width: 1920, Height: 1080, FrameRate: R(30, 1)}); !errors.Is(err, context.Canceled) {
			t.Errorf("%T: %v, want context.Canceled", c, err)
		}
	}
}

func BenchmarkCalculators(b *testing.B) {
	probes := readProbesFile(b, "ladder_720p.csv")
	src := Source{Width: 1920, Height: 1080, FrameRate: R(30, 1), Probes: probes}
	for _, c := range []Calculator{&Apple{}, &Geometric{}, &Hull{}} {
		b.Run(fmt.Sprintf("%T", c)[5:], func(b *testing.B) {
			for b.Loop() {
				if _, err := c.Calculate(context.Background(), src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestBufferNeverRaisesLevel: the default 2 s buffer of a 1080p30 HEVC rung
// peaking at 6.38 Mbit/s (12.76 Mbit) is above level 4.0's 12 Mbit CPB; the
// rung stays at 4.0, which its picture, frame rate and peak need, with the
// buffer cut to 12 Mbit.
func TestBufferNeverRaisesLevel(t *testing.T) {
	src := Source{Width: 1920, Height: 1080, FrameRate: R(30, 1), Codec: HEVC}
	l, err := (&Geometric{MaxBitrate: 5_800_000, Constraints: Constraints{MaxRungs: 1}}).Calculate(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	r := l.Rungs[len(l.Rungs)-1]
	if r.Width != 1920 || r.MaxBitrate != 6_380_000 || r.Level != "4.0" || r.BufferSize != 12_000_000 {
		t.Errorf("top rung %+v, want 1920x1080 peak 6380000 at level 4.0 with a 12000000-bit buffer", r)
	}
	if err := CheckLevel(r); err != nil {
		t.Error(err)
	}
}
