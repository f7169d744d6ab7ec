package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// mediaExt lists the extensions taken as candidate inputs. ".ts" files are
// kept only when they sniff as MPEG-TS (most are TypeScript).
var mediaExt = map[string]bool{}

func init() {
	for _, e := range strings.Fields(`mp4 m4s m4a m4v mov ts mts m2ts aac vtt ttml dfxp srt
		cmfv cmfa cmft cmfm ismv isma ismt mkv mka webm 264 h264 265 hevc h265 hvc av1 obu ivf
		ac3 ec3 eac3 ac4 mp3 3gp 3g2 f4v ogg opus flac mpg mpeg ps adts dts amr iamf avif heic
		heif mp4v`) {
		mediaExt[e] = true
	}
}

// sniffExt lists extensions (besides none at all) whose files are kept only
// when their bytes look like MP4 or MPEG-TS.
var sniffExt = map[string]bool{"": true, "bin": true, "dat": true, "seg": true, "m4f": true, "frag": true}

type candidate struct {
	source, origin string // source name, path inside the source
	data           []byte
}

func collect(args []string) error {
	fl := flag.NewFlagSet("collect", flag.ContinueOnError)
	out := fl.String("o", "", "corpus directory to write (files go to DIR/NAME/PATH, the list to DIR/files.tsv)")
	maxSize := fl.Int64("max-size", 64<<20, "skip files larger than this many bytes")
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), "usage: wild collect -o DIR NAME=PATH ...\n\nPATH is a git directory (its HEAD tree is read) or a plain directory.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *out == "" || fl.NArg() == 0 {
		fl.Usage()
		return errors.New("need -o and at least one NAME=PATH")
	}
	seen := map[[32]byte]string{}
	var rows []string
	for _, arg := range fl.Args() {
		name, p, ok := strings.Cut(arg, "=")
		if !ok {
			return fmt.Errorf("%q: want NAME=PATH", arg)
		}
		cands, err := readSource(name, p, *maxSize)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var mp4s []*mp4File
		for _, c := range cands {
			dst := filepath.Join(*out, name, filepath.FromSlash(c.origin))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(dst, c.data, 0o644); err != nil {
				return err
			}
			rel := filepath.ToSlash(filepath.Join(name, c.origin))
			kind := sniff(c.data)
			if kind == "mp4" {
				mf := parseTop(c.data)
				mf.rel, mf.origin = rel, c.origin
				mp4s = append(mp4s, mf)
				continue
			}
			h := sha256.Sum256(c.data)
			if prev, dup := seen[h]; dup {
				fmt.Fprintf(os.Stderr, "skip %s: same bytes as %s\n", rel, prev)
				continue
			}
			seen[h] = rel
			rows = append(rows, strings.Join([]string{rel, name, c.origin, kindOf(kind, c.origin), strconv.Itoa(len(c.data)), ""}, "\t"))
		}
		joined, singles := joinSegments(mp4s)
		for _, mf := range singles {
			data, err := os.ReadFile(filepath.Join(*out, filepath.FromSlash(mf.rel)))
			if err != nil {
				return err
			}
			h := sha256.Sum256(data)
			if prev, dup := seen[h]; dup {
				fmt.Fprintf(os.Stderr, "skip %s: same bytes as %s\n", mf.rel, prev)
				continue
			}
			seen[h] = mf.rel
			rows = append(rows, strings.Join([]string{mf.rel, name, mf.origin, mf.kind(), strconv.Itoa(len(data)), ""}, "\t"))
		}
		for _, j := range joined {
			var buf bytes.Buffer
			for _, part := range append([]*mp4File{j.init}, j.segs...) {
				data, err := os.ReadFile(filepath.Join(*out, filepath.FromSlash(part.rel)))
				if err != nil {
					return err
				}
				buf.Write(data)
			}
			h := sha256.Sum256(buf.Bytes())
			stem := strings.TrimSuffix(path.Base(j.init.origin), path.Ext(j.init.origin))
			rel := path.Join(path.Dir(j.init.rel), stem+".joined.mp4")
			if prev, dup := seen[h]; dup {
				fmt.Fprintf(os.Stderr, "skip %s: same bytes as %s\n", rel, prev)
				continue
			}
			seen[h] = rel
			if err := os.WriteFile(filepath.Join(*out, filepath.FromSlash(rel)), buf.Bytes(), 0o644); err != nil {
				return err
			}
			note := fmt.Sprintf("init + %d segments (%s ... %s)", len(j.segs), path.Base(j.segs[0].origin), path.Base(j.segs[len(j.segs)-1].origin))
			rows = append(rows, strings.Join([]string{rel, name, j.init.origin, "joined", strconv.Itoa(buf.Len()), note}, "\t"))
		}
	}
	slices.Sort(rows)
	list := "file\tsource\torigin\tkind\tbytes\tnote\n" + strings.Join(rows, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(*out, "files.tsv"), []byte(list), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d inputs listed in %s\n", len(rows), filepath.Join(*out, "files.tsv"))
	return nil
}

func kindOf(sniffed, origin string) string {
	if sniffed != "" {
		return sniffed
	}
	return "other:" + extOf(origin)
}

func extOf(p string) string {
	return strings.ToLower(strings.TrimPrefix(path.Ext(path.Base(p)), "."))
}

// readSource lists the candidate media files of a git directory's HEAD tree
// or of a plain directory.
func readSource(name, p string, maxSize int64) ([]candidate, error) {
	var cands []candidate
	keep := func(origin string, size int64, read func() ([]byte, error)) error {
		ext := extOf(origin)
		if size <= 0 || size > maxSize || (!mediaExt[ext] && !sniffExt[ext]) {
			return nil
		}
		data, err := read()
		if err != nil {
			return err
		}
		if bytes.HasPrefix(data, []byte("version https://git-lfs")) {
			return nil
		}
		k := sniff(data)
		if (ext == "ts" || sniffExt[ext]) && k == "" {
			return nil
		}
		cands = append(cands, candidate{source: name, origin: origin, data: data})
		return nil
	}
	if isGitDir(p) {
		out, err := exec.Command("git", "--git-dir", p, "ls-tree", "-r", "-l", "-z", "HEAD").Output()
		if err != nil {
			return nil, fmt.Errorf("git ls-tree: %w", err)
		}
		for _, rec := range bytes.Split(out, []byte{0}) {
			meta, origin, ok := strings.Cut(string(rec), "\t")
			f := strings.Fields(meta)
			if !ok || len(f) != 4 || f[1] != "blob" {
				continue
			}
			size, _ := strconv.ParseInt(f[3], 10, 64)
			sha := f[2]
			err := keep(origin, size, func() ([]byte, error) {
				return exec.Command("git", "--git-dir", p, "cat-file", "blob", sha).Output()
			})
			if err != nil {
				// Large objects can be missing from a snapshot.
				fmt.Fprintf(os.Stderr, "skip %s/%s: %v\n", name, origin, err)
			}
		}
		return cands, nil
	}
	err := filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(p, fp)
		return keep(filepath.ToSlash(rel), info.Size(), func() ([]byte, error) { return os.ReadFile(fp) })
	})
	return cands, err
}

func isGitDir(p string) bool {
	out, err := exec.Command("git", "--git-dir", p, "rev-parse", "--is-bare-repository").Output()
	return err == nil && len(out) > 0 && !strings.HasPrefix(p, "/dev/")
}

// sniff says "mp4", "ts" (188-byte packets), "m2ts" (192) or "".
func sniff(b []byte) string {
	if len(b) >= 8 {
		switch string(b[4:8]) {
		case "ftyp", "styp", "moov", "moof", "sidx", "free", "mdat", "skip", "wide", "pnot", "emsg", "prft", "uuid":
			return "mp4"
		}
	}
	for _, pk := range []int{188, 192} {
		for off := 0; off < pk && off+2*pk < len(b); off++ {
			if b[off] == 0x47 && b[off+pk] == 0x47 && b[off+2*pk] == 0x47 {
				if pk == 188 {
					return "ts"
				}
				return "m2ts"
			}
		}
	}
	return ""
}

// mp4File is what the top-level boxes of an MP4 file say about it.
type mp4File struct {
	rel, origin           string
	moov, moof, mdat, mvx bool
	tracks                []uint32 // moov/trak/tkhd track IDs, or moof/traf/tfhd ones
	firstTrack            uint32
	tfdt                  uint64
	hasTfdt               bool
}

func (m *mp4File) kind() string {
	switch {
	case m.moov && m.mvx && !m.moof:
		return "mp4-init"
	case m.moof && !m.moov:
		return "mp4-segment"
	case m.moof:
		return "mp4-fragmented"
	}
	return "mp4"
}

func boxes(b []byte, fn func(typ string, payload []byte)) {
	for len(b) >= 8 {
		size := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		hdr := uint64(8)
		if size == 1 && len(b) >= 16 {
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		} else if size == 0 {
			size = uint64(len(b))
		}
		if size < hdr || size > uint64(len(b)) {
			size = uint64(len(b)) // truncated: take what is there
			if size < hdr {
				return
			}
		}
		fn(typ, b[hdr:size])
		b = b[size:]
	}
}

func parseTop(b []byte) *mp4File {
	m := &mp4File{}
	boxes(b, func(typ string, p []byte) {
		switch typ {
		case "moov":
			m.moov = true
			boxes(p, func(typ string, p []byte) {
				switch typ {
				case "mvex":
					m.mvx = true
				case "trak":
					boxes(p, func(typ string, p []byte) {
						if typ == "tkhd" && len(p) >= 24 {
							off := 12
							if p[0] == 1 {
								off = 20
							}
							m.tracks = append(m.tracks, binary.BigEndian.Uint32(p[off:]))
						}
					})
				}
			})
		case "moof":
			m.moof = true
			boxes(p, func(typ string, p []byte) {
				if typ != "traf" {
					return
				}
				boxes(p, func(typ string, p []byte) {
					switch {
					case typ == "tfhd" && len(p) >= 8:
						id := binary.BigEndian.Uint32(p[4:])
						if !slices.Contains(m.tracks, id) {
							m.tracks = append(m.tracks, id)
						}
						if m.firstTrack == 0 {
							m.firstTrack = id
						}
					case typ == "tfdt" && len(p) >= 8 && !m.hasTfdt:
						m.hasTfdt = true
						if p[0] == 1 && len(p) >= 12 {
							m.tfdt = binary.BigEndian.Uint64(p[4:])
						} else {
							m.tfdt = uint64(binary.BigEndian.Uint32(p[4:]))
						}
					}
				})
			})
		case "mdat":
			m.mdat = true
		}
	})
	return m
}

type joinedSet struct {
	init *mp4File
	segs []*mp4File
}

// joinSegments gives each media segment (moof, no moov) to the init segment
// in its directory whose track IDs cover its own and whose name shares the
// longest prefix (then suffix) with it, and orders each init's segments by
// tfdt, then by name. Inits and segments so joined are not inputs on their
// own; the rest are.
func joinSegments(files []*mp4File) (joined []joinedSet, singles []*mp4File) {
	byInit := map[*mp4File][]*mp4File{}
	var inits []*mp4File
	for _, f := range files {
		if f.kind() == "mp4-init" {
			inits = append(inits, f)
		}
	}
	for _, f := range files {
		if f.kind() != "mp4-segment" {
			continue
		}
		var best *mp4File
		bestP, bestS := -1, -1
		for _, in := range inits {
			if path.Dir(in.rel) != path.Dir(f.rel) || !covers(in.tracks, f.tracks) {
				continue
			}
			p, s := nameScore(path.Base(in.rel), path.Base(f.rel))
			if p > bestP || (p == bestP && s > bestS) {
				best, bestP, bestS = in, p, s
			}
		}
		if best != nil {
			byInit[best] = append(byInit[best], f)
		}
	}
	used := map[*mp4File]bool{}
	for _, in := range inits {
		segs := byInit[in]
		if len(segs) == 0 {
			continue
		}
		slices.SortFunc(segs, func(a, b *mp4File) int {
			if a.hasTfdt && b.hasTfdt && a.firstTrack == b.firstTrack && a.tfdt != b.tfdt {
				if a.tfdt < b.tfdt {
					return -1
				}
				return 1
			}
			return naturalCmp(a.rel, b.rel)
		})
		// Segments with the same first track and tfdt as an earlier one are
		// alternatives (clear and encrypted copies, test variants): keep
		// the first, list the others on their own.
		type key struct {
			track uint32
			t     uint64
		}
		seenT := map[key]bool{}
		kept := segs[:0:0]
		for _, s := range segs {
			k := key{s.firstTrack, s.tfdt}
			if s.hasTfdt && seenT[k] {
				continue
			}
			seenT[k] = true
			kept = append(kept, s)
		}
		joined = append(joined, joinedSet{init: in, segs: kept})
		used[in] = true
		for _, s := range kept {
			used[s] = true
		}
	}
	for _, f := range files {
		if !used[f] {
			singles = append(singles, f)
		}
	}
	return joined, singles
}

func covers(have, want []uint32) bool {
	for _, id := range want {
		if !slices.Contains(have, id) {
			return false
		}
	}
	return len(want) > 0
}

// nameScore rates how well a segment's name fits an init segment's: best
// when the init's name without "init" and extension starts the segment's,
// then by the longest common substring, then by the common prefix.
func nameScore(initName, segName string) (int, int) {
	stem := strings.TrimSuffix(initName, path.Ext(initName))
	if i := strings.Index(strings.ToLower(stem), "init"); i >= 0 {
		stem = stem[:i] + stem[i+4:]
	}
	if strings.HasPrefix(segName, stem) {
		return 1000 + len(stem), 0
	}
	return longestCommonSubstring(stem, segName), prefixLen(initName, segName)
}

func prefixLen(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func longestCommonSubstring(a, b string) int {
	best := 0
	for i := range a {
		for j := range b {
			n := 0
			for i+n < len(a) && j+n < len(b) && a[i+n] == b[j+n] {
				n++
			}
			best = max(best, n)
		}
	}
	return best
}

// naturalCmp compares strings with digit runs compared as numbers.
func naturalCmp(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, _ := strconv.ParseUint(strings.TrimLeft(a[:da], "0")+"0", 10, 64)
			nb, _ := strconv.ParseUint(strings.TrimLeft(b[:db], "0")+"0", 10, 64)
			if na != nb {
				if na < nb {
					return -1
				}
				return 1
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			if a[0] < b[0] {
				return -1
			}
			return 1
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
