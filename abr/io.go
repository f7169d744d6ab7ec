package abr

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// maxFileSize bounds what ReadProbes and ReadLadder read: probe and ladder
// files are small, and the bound keeps a hostile file from exhausting memory.
const maxFileSize = 8 << 20

// ParseError locates a problem in a probe or ladder file.
type ParseError struct {
	Line   int // 1-based; 0 when unknown
	Err    error
	Detail string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %v: %s", e.Line, e.Err, e.Detail)
	}
	return fmt.Sprintf("%v: %s", e.Err, e.Detail)
}

func (e *ParseError) Unwrap() error { return e.Err }

func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, &ParseError{Err: ErrMalformed, Detail: fmt.Sprintf("larger than %d bytes", maxFileSize)}
	}
	return b, nil
}

// ReadProbes reads probe encodes for the Hull calculator, either as JSON (an
// array of Probe, or an object with a "probes" array) or as CSV with the
// columns width, height, bitrate (bit/s), quality and optionally
// frame_rate. A CSV header line naming the columns is optional and may put
// them in any order; a "bitrate_kbps" column is read in kbit/s. Lines
// starting with '#' are comments.
func ReadProbes(r io.Reader) ([]Probe, error) {
	b, err := readLimited(r)
	if err != nil {
		return nil, err
	}
	trim := bytes.TrimSpace(b)
	if len(trim) > 0 && (trim[0] == '[' || trim[0] == '{') {
		return readProbesJSON(trim)
	}
	return readProbesCSV(b)
}

func readProbesJSON(b []byte) ([]Probe, error) {
	var probes []Probe
	if b[0] == '{' {
		var wrap struct {
			Probes []Probe `json:"probes"`
		}
		if err := json.Unmarshal(b, &wrap); err != nil {
			return nil, &ParseError{Err: ErrMalformed, Detail: err.Error()}
		}
		probes = wrap.Probes
	} else if err := json.Unmarshal(b, &probes); err != nil {
		return nil, &ParseError{Err: ErrMalformed, Detail: err.Error()}
	}
	if len(probes) > maxProbes {
		return nil, &ParseError{Err: ErrMalformed, Detail: fmt.Sprintf("more than %d probes", maxProbes)}
	}
	for i, p := range probes {
		if err := p.check(); err != nil {
			return nil, &ParseError{Err: ErrMalformed, Detail: fmt.Sprintf("probe %d: %s", i, err)}
		}
	}
	return probes, nil
}

func (p Probe) check() error {
	switch {
	case p.Width <= 0 || p.Height <= 0 || p.Width > maxDimension || p.Height > maxDimension:
		return fmt.Errorf("size %dx%d out of range", p.Width, p.Height)
	case p.Bitrate <= 0 || p.Bitrate > maxBitrate:
		return fmt.Errorf("bitrate %d out of range", p.Bitrate)
	case math.IsNaN(p.Quality) || math.IsInf(p.Quality, 0):
		return errors.New("quality is not a number")
	}
	return nil
}

func readProbesCSV(b []byte) ([]Probe, error) {
	cr := csv.NewReader(bytes.NewReader(b))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	col := map[string]int{"width": 0, "height": 1, "bitrate": 2, "quality": 3, "frame_rate": 4}
	kbps := false
	var probes []Probe
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			if pe, ok := err.(*csv.ParseError); ok {
				line = pe.Line
			}
			return nil, &ParseError{Line: line, Err: ErrMalformed, Detail: err.Error()}
		}
		line, _ := cr.FieldPos(0) // safe: a successful Read has at least one field
		if first {
			first = false
			if _, err := strconv.Atoi(strings.TrimSpace(rec[0])); err != nil { // a header
				col = map[string]int{}
				for i, name := range rec {
					name = strings.ToLower(strings.TrimSpace(name))
					switch name {
					case "bitrate_kbps", "kbps":
						name, kbps = "bitrate", true
					case "fps", "framerate":
						name = "frame_rate"
					case "vmaf", "score":
						name = "quality"
					case "w":
						name = "width"
					case "h":
						name = "height"
					}
					col[name] = i
				}
				for _, need := range []string{"width", "height", "bitrate", "quality"} {
					if _, ok := col[need]; !ok {
						return nil, &ParseError{Line: line, Err: ErrMalformed, Detail: "header lacks a " + need + " column"}
					}
				}
				continue
			}
		}
		if len(probes) >= maxProbes {
			return nil, &ParseError{Line: line, Err: ErrMalformed, Detail: fmt.Sprintf("more than %d probes", maxProbes)}
		}
		field := func(name string) (string, bool) {
			i, ok := col[name]
			if !ok || i >= len(rec) {
				return "", false
			}
			return strings.TrimSpace(rec[i]), true
		}
		var p Probe
		var errs []string
		num := func(name string) float64 {
			s, ok := field(name)
			if !ok {
				errs = append(errs, "missing "+name)
				return 0
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e12 {
				errs = append(errs, fmt.Sprintf("%s %q is not a number", name, s))
				return 0
			}
			return v
		}
		p.Width, p.Height = int(num("width")), int(num("height"))
		br := num("bitrate")
		if kbps {
			br *= 1000
		}
		p.Bitrate = int(math.Round(br))
		p.Quality = num("quality")
		if s, ok := field("frame_rate"); ok && s != "" {
			fr, err := ParseRational(s)
			if err != nil {
				errs = append(errs, err.Error())
			}
			p.FrameRate = fr
		}
		if len(errs) == 0 {
			if err := p.check(); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			return nil, &ParseError{Line: line, Err: ErrMalformed, Detail: strings.Join(errs, "; ")}
		}
		probes = append(probes, p)
	}
	return probes, nil
}

// ReadLadder decodes a JSON ladder, as written by encoding/json from a
// Ladder, and checks it with Validate.
func ReadLadder(r io.Reader) (Ladder, error) {
	b, err := readLimited(r)
	if err != nil {
		return Ladder{}, err
	}
	var l Ladder
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&l); err != nil {
		return Ladder{}, &ParseError{Err: ErrMalformed, Detail: err.Error()}
	}
	if err := l.Validate(); err != nil {
		return Ladder{}, err
	}
	return l, nil
}

// WriteTable writes the ladder as an aligned text table, one rung a line.
func (l Ladder) WriteTable(w io.Writer) error {
	bw := bufio.NewWriter(w)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "#\tresolution\tpar\tfps\tcodec\tprofile\tlevel\tbitrate\tmaxrate\tbufsize\n")
	for i, r := range l.Rungs {
		par := "1:1"
		if !r.PixelAspect.IsZero() {
			par = fmt.Sprintf("%d:%d", r.PixelAspect.Num, r.PixelAspect.Den)
		}
		fmt.Fprintf(tw, "%d\t%dx%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, r.Width, r.Height, par,
			formatFPS(r.FrameRate), r.Codec, r.Profile, r.Level, kbit(r.Bitrate), kbit(r.MaxBitrate), kbit(r.BufferSize))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

func kbit(v int) string { return strconv.Itoa((v+500)/1000) + "k" }

func formatFPS(r Rational) string {
	if r.Den == 1 {
		return strconv.FormatInt(r.Num, 10)
	}
	return strconv.FormatFloat(r.Float(), 'f', 3, 64)
}
