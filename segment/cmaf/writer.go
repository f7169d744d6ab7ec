package cmaf

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/cmafkit/cmafkit/internal/fastcopy"
	"github.com/cmafkit/cmafkit/internal/mediatime"
	"github.com/cmafkit/cmafkit/internal/mp4util"
	"github.com/cmafkit/cmafkit/segment"
)

// outputTrackID is the track_ID of every CMAF track written: each CMAF track
// file holds exactly one track.
const outputTrackID = 1

// FragmentProtector transforms fragments after segmentation, e.g. to encrypt
// them (package drm). It sees the init segment once and then each fragment
// (one per chunk) with its sample payloads in memory. Fragments may come in
// any order and from several goroutines (several Writers of one
// track), unless the protector also has a method Sequential() bool that
// reports true: then callers hand it the fragments one at a time, in order.
type FragmentProtector interface {
	ProtectInit(init *mp4.InitSegment) error
	// ProtectFragment encrypts f in place. segmentIndex is the 0-based index
	// of the media segment the fragment (chunk) belongs to, firstSample the
	// 0-based index in the track of the fragment's first sample.
	ProtectFragment(ctx context.Context, f *mp4.Fragment, segmentIndex, firstSample int) error
}

// timing describes how a track's source timeline maps to the CMAF output so
// that every track's first presented sample lands at presentation time zero.
type timing struct {
	decodeShift uint64 // added to decode times (a start delay)
	ctoShift    int64  // subtracted from composition offsets (video B-frame delay)
	elstMedia   int64  // media time of the one CMAF edit (audio priming)
}

func trackTiming(t *segment.Track) timing {
	var tm timing
	switch off := t.PresentationOffset; {
	case off < 0:
		tm.decodeShift = uint64(-off)
	case off > 0 && t.Kind == segment.KindVideo:
		tm.ctoShift = off
	case off > 0:
		tm.elstMedia = off
	}
	return tm
}

// WriteInit writes the CMAF init segment (ftyp + moov with mvex/trex and no
// samples) of t to w. The sample entry is copied from the source with its
// codec configuration boxes (avcC/hvcC/av1C/esds/dac3/dec3/dOps, colr, pasp,
// btrt) as it is: Open already turned avc3/hev1 entries whose parameter
// sets do not change into avc1/hvc1 (see resolveParameterSets). A video
// track's display matrix (Track.Matrix: a rotation, say) goes into the
// track header. A protector, when given, turns the entry into encv/enca.
func WriteInit(w io.Writer, t *segment.Track, protector FragmentProtector) error {
	init, err := BuildInit(t)
	if err != nil {
		return err
	}
	if protector != nil {
		if err := protector.ProtectInit(init); err != nil {
			return fmt.Errorf("%s: protect init: %w", t, err)
		}
	}
	return init.Encode(w)
}

// BuildInit builds the init segment of t as mp4ff boxes without writing it.
func BuildInit(t *segment.Track) (*mp4.InitSegment, error) {
	if t.SampleEntry == nil {
		return nil, fmt.Errorf("%s: %w: no sample entry", t, segment.ErrMalformed)
	}
	init := mp4.CreateEmptyInit()
	init.Ftyp = mp4.NewFtyp("cmf2", 0, []string{"cmf2", "cmfc", "iso6", "isom", "dash"})
	init.Children[0] = init.Ftyp
	var mediaType string
	switch t.Kind {
	case segment.KindVideo:
		mediaType = "video"
	case segment.KindAudio:
		mediaType = "audio"
	case segment.KindText:
		mediaType = "text"
		if t.Codec != "wvtt" {
			mediaType = "subtitle" // subt handler, sthd (mp4ff panics on "subtitles")
		}
	default:
		return nil, fmt.Errorf("%s: %w: kind %s", t, segment.ErrUnsupportedCodec, t.Kind)
	}
	lang := t.Language
	if len(lang) != 3 {
		lang = "und"
	}
	trak := init.AddEmptyTrack(t.Timescale, mediaType, lang)
	entry, err := mp4util.CloneBox(t.SampleEntry)
	if err != nil {
		return nil, fmt.Errorf("%s: copy sample entry: %w", t, err)
	}
	if _, ok := entry.(*mp4.VisualSampleEntryBox); ok {
		trak.Tkhd.Width = mp4.Fixed32(uint32(displayWidth(t)) << 16)
		trak.Tkhd.Height = mp4.Fixed32(uint32(t.Height) << 16)
		if t.Matrix != ([9]int32{}) {
			// The display transform (a rotation, say) as the source has it:
			// MP4 players apply it; tkhd width and height stay the size before it.
			trak.Tkhd.Matrix = t.Matrix
		}
	}
	trak.Mdia.Minf.Stbl.Stsd.AddChild(entry)
	tm := trackTiming(t)
	if tm.elstMedia > 0 {
		// CMAF allows one edit list entry offsetting the media (ISO/IEC 23000-19 7.5.13):
		// it removes audio priming so the first audible sample is presented at zero.
		elst := &mp4.ElstBox{Version: 1, Entries: []mp4.ElstEntry{{SegmentDuration: 0, MediaTime: tm.elstMedia, MediaRateInteger: 1}}}
		edts := &mp4.EdtsBox{}
		edts.AddChild(elst)
		trak.Children = append([]mp4.Box{trak.Children[0], edts}, trak.Children[1:]...)
		trak.Edts = edts
	}
	return init, nil
}

// displayWidth is the width after applying the pixel aspect ratio.
func displayWidth(t *segment.Track) int {
	if t.PixelAspect.Den > 0 && t.PixelAspect.Num > 0 {
		return int(int64(t.Width) * t.PixelAspect.Num / t.PixelAspect.Den)
	}
	return t.Width
}

// SegmentInfo reports one written media segment, enough to build manifests
// without re-reading it.
type SegmentInfo struct {
	// Number is the 1-based segment number.
	Number int
	// FirstSample and EndSample delimit the segment's samples in the track index.
	FirstSample, EndSample int
	// DecodeTime is the tfdt of the segment's first fragment (track timescale).
	DecodeTime uint64
	// PresentationTime is the earliest presentation time of the segment on the
	// output timeline (track timescale, zero at the start of the presentation).
	PresentationTime int64
	// MediaTime is the earliest presentation time on the track's media
	// timeline, before the init segment's edit list: what sidx and DASH
	// SegmentTimeline@t carry. It equals PresentationTime unless the track has
	// an edit list (audio priming), where it is larger by the edit's media time.
	MediaTime uint64
	// Duration is the segment's duration (track timescale).
	Duration uint64
	// Offset is the segment's byte offset within its file (non-zero in single-file mode).
	Offset int64
	// Size is the segment's size in bytes.
	Size int64
	// Chunks is the number of moof/mdat pairs in the segment.
	Chunks int
	// FragmentOffset is the offset of the first moof relative to the
	// segment start (the size of the styp box, if any).
	FragmentOffset int64
	// SyncSampleEnd is the byte offset, relative to the segment start, of the
	// end of the first sync sample: the range [FragmentOffset, SyncSampleEnd)
	// holds the first moof and the sync sample, as an I-frame playlist needs;
	// with IsolateSyncSample it is exactly the first moof/mdat pair. Zero
	// for non-video tracks.
	SyncSampleEnd int64
}

// Start returns the segment's presentation start as a time.Duration (for logs).
func (s SegmentInfo) Start(timescale uint32) time.Duration {
	return mediatime.Duration(s.PresentationTime, timescale)
}

// Options configures media segment writing. The zero value writes one
// fragment per segment with a styp box.
type Options struct {
	// ChunkDuration splits each segment into CMAF chunks (moof/mdat pairs) of
	// about this duration, for low-latency delivery. Zero means one chunk.
	// A value shorter than a frame yields one chunk per frame.
	ChunkDuration time.Duration
	// Protector encrypts fragments; nil writes them in the clear.
	Protector FragmentProtector
	// NoStyp leaves out the styp box (single-file mode).
	NoStyp bool
	// IsolateSyncSample writes the first sync sample of each video segment
	// as a chunk of its own, so that a byte range of the segment is a
	// complete moof/mdat holding just that frame: trick play (HLS I-frame
	// playlists, DASH trick-mode adaptation sets) addresses it directly.
	IsolateSyncSample bool
	// WebVTTMPEGTS is the 90 kHz timestamp that the X-TIMESTAMP-MAP of
	// WebVTT segments maps the start of the timeline to: zero for fMP4
	// media, the muxer's offset (tsmux.TimestampOffset) when the media of
	// the presentation are MPEG-TS segments.
	WebVTTMPEGTS uint64
}

// Writer writes the media segments of one track according to a plan.
// Any segment can be written on its own, in any order, from the index alone:
// segment numbers and decode times come from the plan, not from state.
type Writer struct {
	track *segment.Track
	cuts  []int
	opts  Options
	tm    timing
	// first is the number of segment 0 minus one: 0 for a plan's
	// writers, the segment number before cuts[0] for NewWriterAt.
	first int
	// buf holds one segment's payload when it has to pass through memory.
	buf []byte
	// samples holds the index entries of the segment being written, which
	// info read for segment infoOf-1 (0: none) and described as lastInfo.
	samples  []segment.Sample
	infoOf   int
	lastInfo SegmentInfo
	// minKernelRun caches kernelRun's choice for the track's source.
	minKernelRun int
	// pieces and gapScratch are readPieces' working memory.
	pieces     []fastcopy.Piece
	gapScratch []byte
}

// NewWriter prepares writing t's segments as cut by p.
func NewWriter(t *segment.Track, p *segment.Plan, opts Options) (*Writer, error) {
	cuts, err := p.Cuts(t)
	if err != nil {
		return nil, err
	}
	return &Writer{track: t, cuts: cuts, opts: opts, tm: trackTiming(t)}, nil
}

// NewWriterAt prepares writing the segments of t delimited by cuts:
// segment i (0-based) holds samples [cuts[i], cuts[i+1]) of t's index and is
// numbered firstNumber+i (1-based, as in SegmentInfo.Number and the mfhd
// sequence). It is for writers that cut as samples arrive (live
// packaging): t's index may hold only recent samples under their absolute
// numbers, so that sample positions, which cenc IVs derive from, continue
// from segment to segment. cuts must increase and stay within the index.
func NewWriterAt(t *segment.Track, cuts []int, firstNumber int, opts Options) (*Writer, error) {
	if len(cuts) < 2 || firstNumber < 1 {
		return nil, fmt.Errorf("%s: %d cuts from segment %d: need two or more from segment 1", t, len(cuts), firstNumber)
	}
	for i := 1; i < len(cuts); i++ {
		if cuts[i] <= cuts[i-1] || cuts[i-1] < 0 || cuts[i] > t.SampleCount() {
			return nil, fmt.Errorf("%s: cuts %v do not increase within the %d samples of the index", t, cuts, t.SampleCount())
		}
	}
	return &Writer{track: t, cuts: cuts, opts: opts, tm: trackTiming(t), first: firstNumber - 1}, nil
}

// clone returns a writer of the same segments with buffers of its own, so
// that two goroutines can write segments of one track at once without
// planning the track's cuts again.
func (sw *Writer) clone() *Writer {
	return &Writer{track: sw.track, cuts: sw.cuts, opts: sw.opts, tm: sw.tm, first: sw.first, minKernelRun: sw.minKernelRun}
}

// Len returns the number of media segments of the track.
func (sw *Writer) Len() int { return len(sw.cuts) - 1 }

// Track returns the track being written.
func (sw *Writer) Track() *segment.Track { return sw.track }

// Info describes segment i (0-based) without writing it: numbers and times,
// but no sizes.
func (sw *Writer) Info(i int) (SegmentInfo, error) {
	if i < 0 || i >= sw.Len() {
		return SegmentInfo{}, fmt.Errorf("segment %d out of range [0,%d)", i, sw.Len())
	}
	info, _, err := sw.info(i)
	return info, err
}

// Samples describes segment i (0-based) as Info does and returns the index
// entries of its samples, for writers of other segment formats (MPEG-TS).
// The slice is valid until the next call on sw.
func (sw *Writer) Samples(i int) (SegmentInfo, []segment.Sample, error) {
	if i < 0 || i >= sw.Len() {
		return SegmentInfo{}, nil, fmt.Errorf("segment %d out of range [0,%d)", i, sw.Len())
	}
	return sw.info(i)
}

// info describes segment i and returns its samples, read from the index
// into sw.samples.
func (sw *Writer) info(i int) (SegmentInfo, []segment.Sample, error) {
	if sw.infoOf == i+1 {
		// The packager asks for Info (to name the segment) and then writes
		// it: read its index entries once. Nothing changes sw.samples but
		// this function.
		return sw.lastInfo, sw.samples, nil
	}
	sw.infoOf = 0
	t := sw.track
	first, end := sw.cuts[i], sw.cuts[i+1]
	info := SegmentInfo{Number: sw.first + i + 1, FirstSample: first, EndSample: end}
	ss, err := t.AppendSamples(sw.samples[:0], first, end)
	if err != nil {
		return info, nil, err
	}
	sw.samples = ss
	info.DecodeTime = ss[0].DecodeTime + sw.tm.decodeShift
	ept := int64(1<<62 - 1)
	for k := range ss {
		if p := t.PresentationTime(&ss[k]); p < ept {
			ept = p
		}
		info.Duration += uint64(ss[k].Duration)
	}
	info.PresentationTime = ept
	if mt := ept + sw.tm.elstMedia; mt > 0 {
		info.MediaTime = uint64(mt)
	}
	sw.lastInfo, sw.infoOf = info, i+1
	return info, ss, nil
}

// WriteSegment writes media segment i (0-based) to w and reports it.
func (sw *Writer) WriteSegment(ctx context.Context, w io.Writer, i int) (SegmentInfo, error) {
	if i < 0 || i >= sw.Len() {
		return SegmentInfo{}, fmt.Errorf("segment %d out of range [0,%d)", i, sw.Len())
	}
	if err := ctx.Err(); err != nil {
		return SegmentInfo{}, err
	}
	if sw.opts.Protector != nil {
		// Encryption needs the payload in memory anyway.
		p, err := sw.prepare(ctx, i, sw.buf)
		if err != nil {
			return SegmentInfo{}, err
		}
		sw.buf = p.buf
		return p.write(w)
	}
	info, ss, err := sw.info(i)
	if err != nil {
		return info, err
	}
	cw := &countingWriter{w: w}
	if !sw.opts.NoStyp {
		if err := writeStyp(cw); err != nil {
			return info, err
		}
	}
	info.FragmentOffset = cw.n
	first := info.FirstSample
	for _, ch := range sw.chunks(first, ss) {
		syncEnd, err := sw.writeFragment(cw, sw.fragmentSeq(info.Number, ch[0]), ch[0], ss[ch[0]-first:ch[1]-first])
		if err != nil {
			return info, err
		}
		if info.SyncSampleEnd == 0 && syncEnd > 0 && sw.track.Kind == segment.KindVideo {
			info.SyncSampleEnd = syncEnd
		}
		info.Chunks++
	}
	info.Size = cw.n
	return info, nil
}

// writeStyp writes the styp box that starts every media segment.
func writeStyp(w io.Writer) error {
	return mp4.NewStyp("msdh", 0, []string{"msdh", "msix", "cmfs", "cmff", "cmf2", "cmfc", "iso6"}).Encode(w)
}

// fragmentSeq is the mfhd sequence number of a fragment of segment number
// (1-based) whose first sample is first: sequence numbers must increase per
// fragment; with chunks the first sample's number does, and stays derivable
// from the index.
func (sw *Writer) fragmentSeq(number, first int) int {
	if sw.opts.ChunkDuration > 0 || sw.opts.IsolateSyncSample {
		return first + 1
	}
	return number
}

// preparedSegment is a media segment built in memory by prepare: its
// fragments, protected if the writer has a Protector, and their payload.
type preparedSegment struct {
	info  SegmentInfo
	video bool
	styp  bool
	frags []preparedFragment
	buf   []byte
}

type preparedFragment struct {
	frag     *mp4.Fragment
	dataSize uint64
	syncAt   int64 // payload offset of the end of the first sync sample, or -1
}

// prepare reads segment i (0-based) into memory and protects it, without
// writing it: a caller can write one prepared segment (write) while it
// prepares the next, so that reading and encrypting overlap with storing.
// The payload is read into buf's storage (grown if needed); pass its buf
// back once the prepared segment is written, to reuse it. A prepared
// segment does not refer to the writer: its write may run concurrently with
// the writer's next prepare.
func (sw *Writer) prepare(ctx context.Context, i int, buf []byte) (*preparedSegment, error) {
	if i < 0 || i >= sw.Len() {
		return nil, fmt.Errorf("segment %d out of range [0,%d)", i, sw.Len())
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	info, ss, err := sw.info(i)
	if err != nil {
		return nil, err
	}
	t := sw.track
	first := info.FirstSample
	data, err := sw.appendPayload(buf[:0], first, ss)
	if err != nil {
		return nil, err
	}
	p := &preparedSegment{info: info, video: t.Kind == segment.KindVideo, styp: !sw.opts.NoStyp, buf: data}
	off := 0
	for _, ch := range sw.chunks(first, ss) {
		frag, dataSize, syncAt, err := sw.buildFragment(sw.fragmentSeq(info.Number, ch[0]), ch[0], ss[ch[0]-first:ch[1]-first])
		if err != nil {
			return nil, err
		}
		end := off + int(dataSize)
		frag.Mdat.Data = data[off:end:end]
		frag.Mdat.SetLazyDataSize(0)
		off = end
		if sw.opts.Protector != nil {
			if err := sw.opts.Protector.ProtectFragment(ctx, frag, info.Number-1, ch[0]); err != nil {
				return nil, fmt.Errorf("%s: protect segment %d: %w", t, info.Number, err)
			}
		}
		p.frags = append(p.frags, preparedFragment{frag, dataSize, syncAt})
	}
	return p, nil
}

// write writes the prepared segment to w and reports it. Its info before
// that (p.info) is like Writer.Info's: numbers and times, but no sizes.
func (p *preparedSegment) write(w io.Writer) (SegmentInfo, error) {
	info := p.info
	cw := &countingWriter{w: w}
	if p.styp {
		if err := writeStyp(cw); err != nil {
			return info, err
		}
	}
	info.FragmentOffset = cw.n
	for _, f := range p.frags {
		start := cw.n
		if err := f.frag.Encode(cw); err != nil {
			return info, err
		}
		if info.SyncSampleEnd == 0 && f.syncAt >= 0 && p.video {
			info.SyncSampleEnd = start + int64(f.frag.Moof.Size()) + mdatHeaderSize(f.dataSize) + f.syncAt
		}
		info.Chunks++
	}
	info.Size = cw.n
	return info, nil
}

// chunks splits the segment's samples ss, the first of which is sample
// first of the track, into runs [from, to) of about ChunkDuration.
func (sw *Writer) chunks(first int, ss []segment.Sample) [][2]int {
	t := sw.track
	if sw.opts.IsolateSyncSample && t.Kind == segment.KindVideo && len(ss) > 1 && ss[0].Sync {
		return append([][2]int{{first, first + 1}}, sw.timedChunks(first+1, ss[1:])...)
	}
	return sw.timedChunks(first, ss)
}

func (sw *Writer) timedChunks(first int, ss []segment.Sample) [][2]int {
	end := first + len(ss)
	if sw.opts.ChunkDuration <= 0 {
		return [][2]int{{first, end}}
	}
	t := sw.track
	limit := uint64(sw.opts.ChunkDuration) * uint64(t.Timescale) / uint64(time.Second)
	var out [][2]int
	start := first
	var acc uint64
	for k := range ss {
		acc += uint64(ss[k].Duration)
		if acc >= limit || k == len(ss)-1 {
			out = append(out, [2]int{start, first + k + 1})
			start, acc = first+k+1, 0
		}
	}
	return out
}

// sampleFlags for trun (ISO/IEC 14496-12 8.8.3.1).
func sampleFlags(s *segment.Sample) uint32 {
	if s.Sync {
		return sampleFlagDependsOnNone
	}
	return sampleFlagDependsOnMore | sampleFlagNonSync
}

// buildFragment builds the moof (and an empty mdat) of one fragment with
// the samples ss, the first of which is sample first of the track. It
// returns the payload size and the payload offset of the end of the first
// sync sample, or -1.
func (sw *Writer) buildFragment(seq, first int, ss []segment.Sample) (*mp4.Fragment, uint64, int64, error) {
	t := sw.track
	frag, err := mp4.CreateFragment(uint32(seq), outputTrackID)
	if err != nil {
		return nil, 0, 0, err
	}
	var dataSize uint64
	var syncAt int64 = -1
	for k := range ss {
		s := &ss[k]
		cto := int64(s.CompositionOffset) - sw.tm.ctoShift
		if cto < -1<<31 || cto > 1<<31-1 {
			return nil, 0, 0, &segment.FormatError{Source: t.Source, Track: t.ID, Sample: first + k + 1, Offset: -1, Err: segment.ErrMalformed, Detail: "composition offset out of range"}
		}
		frag.AddSample(mp4.NewSample(sampleFlags(s), s.Duration, s.Size, int32(cto)), s.DecodeTime+sw.tm.decodeShift)
		dataSize += uint64(s.Size)
		if syncAt < 0 && s.Sync {
			syncAt = int64(dataSize)
		}
	}
	if t.Subsamples != nil {
		if subs := subsBox(t.Subsamples, ss); subs != nil {
			// Before the trun, where writers put it (ISO/IEC 14496-30 images).
			traf := frag.Moof.Traf
			for i, c := range traf.Children {
				if c == traf.Trun {
					traf.Children = append(traf.Children[:i], append([]mp4.Box{subs}, traf.Children[i:]...)...)
					break
				}
			}
		}
	}
	if t.Kind != segment.KindVideo {
		// Audio and text: every sample is sync and composition offsets are zero;
		// move the flags to tfhd defaults to keep trun small.
		frag.Moof.Traf.Tfhd.Flags |= tfhdDefaultFlags
		frag.Moof.Traf.Tfhd.DefaultSampleFlags = sampleFlagDependsOnNone
		frag.Moof.Traf.Trun.Flags &^= trunSampleFlags | trunSampleCompOffset
		frag.Moof.Traf.Trun.Version = 0
	}
	return frag, dataSize, syncAt, nil
}

// writeFragment writes one clear moof/mdat pair with the samples ss, the
// first of which is sample first of the track, copying the payload from the
// source. It returns the offset (relative to what cw had counted at the
// segment start) of the end of the first sync sample in this fragment, or 0.
func (sw *Writer) writeFragment(cw *countingWriter, seq, first int, ss []segment.Sample) (int64, error) {
	frag, dataSize, syncAt, err := sw.buildFragment(seq, first, ss)
	if err != nil {
		return 0, err
	}
	start := cw.n
	frag.SetTrunDataOffsets()
	if err := frag.Moof.Encode(cw); err != nil {
		return 0, err
	}
	if err := writeMdatHeader(cw, dataSize); err != nil {
		return 0, err
	}
	if err := sw.copySamples(cw, first, ss); err != nil {
		return 0, err
	}
	if syncAt < 0 {
		return 0, nil
	}
	hdr := int64(frag.Moof.Size()) + mdatHeaderSize(dataSize)
	return start + hdr + syncAt, nil
}

func mdatHeaderSize(dataSize uint64) int64 {
	if dataSize+8 > 1<<32-1 {
		return 16
	}
	return 8
}

func writeMdatHeader(w io.Writer, dataSize uint64) error {
	var h [16]byte
	if mdatHeaderSize(dataSize) == 16 {
		h[3] = 1
		copy(h[4:8], "mdat")
		putU64(h[8:], dataSize+16)
		_, err := w.Write(h[:16])
		return err
	}
	putU32(h[:], uint32(dataSize+8))
	copy(h[4:8], "mdat")
	_, err := w.Write(h[:8])
	return err
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}
func putU64(b []byte, v uint64) { putU32(b, uint32(v>>32)); putU32(b[4:], uint32(v)) }

// readSamples reads the payloads of the samples ss (the first is sample
// first of the track) into sw.buf.
func (sw *Writer) readSamples(first int, ss []segment.Sample) ([]byte, error) {
	buf, err := sw.appendPayload(sw.buf[:0], first, ss)
	if err != nil {
		return nil, err
	}
	sw.buf = buf
	return buf, nil
}

// appendPayload appends the payloads of the samples ss (the first is sample
// first of the track) to buf, one read per run of samples that are
// contiguous in the source.
func (sw *Writer) appendPayload(buf []byte, first int, ss []segment.Sample) ([]byte, error) {
	t := sw.track
	// Grow once to what the samples need (plus an eighth, for later and
	// larger segments), rather than doubling run by run.
	var total int
	for i := range ss {
		total += int(ss[i].Size)
	}
	if cap(buf)-len(buf) < total {
		nb := make([]byte, len(buf), len(buf)+total+total/8)
		copy(nb, buf)
		buf = nb
	}
	ra, isRA := t.Data.(interface{ ReaderAt() io.ReaderAt })
	var err error
	for k := 0; k < len(ss); {
		if isRA {
			j := sw.spanPieces(ss, k)
			if buf, err = sw.readPieces(buf, ra.ReaderAt()); err != nil {
				return nil, segment.SampleError(t, first+k, &ss[k], err)
			}
			k = j
			continue
		}
		n := len(buf)
		buf, err = t.Data.AppendSample(buf, &ss[k])
		if err != nil {
			return nil, segment.SampleError(t, first+k, &ss[k], err)
		}
		if len(buf)-n != int(ss[k].Size) {
			return nil, &segment.FormatError{Source: t.Source, Track: t.ID, Sample: first + k + 1, Offset: ss[k].Offset, Err: segment.ErrTruncated, Detail: fmt.Sprintf("read %d of %d bytes", len(buf)-n, ss[k].Size)}
		}
		k++
	}
	return buf, nil
}

// sampleRun returns the source range of the run of samples from ss[k] on
// that are stored back to back, up to max bytes (at least one sample), and
// the index after the run.
func sampleRun(ss []segment.Sample, k int, max int64) (off, size int64, next int) {
	off, size = ss[k].Offset, int64(ss[k].Size)
	j := k + 1
	for j < len(ss) && ss[j].Offset == off+size && size+int64(ss[j].Size) <= max {
		size += int64(ss[j].Size)
		j++
	}
	return off, size, j
}

// maxGap is the most bytes of other data (another track's interleaved
// samples) that spanPieces reads over to join two runs: reading and then
// dropping 16 KiB costs about as much as the pread it saves.
const maxGap = 16 << 10

// spanPieces sets sw.pieces to the runs of samples from ss[k] on that one
// read covers, and returns the index after them: runs of samples stored back
// to back, joined across gaps of up to maxGap bytes while the gaps add up to
// no more than the samples (so a read is at most twice what it keeps). A
// 1 Mb/s video track interleaved frame by frame with audio is then one read
// a segment instead of one a frame; its audio, with larger gaps than frames,
// still reads run by run.
func (sw *Writer) spanPieces(ss []segment.Sample, k int) int {
	off, size, j := sampleRun(ss, k, 1<<62)
	sw.pieces = append(sw.pieces[:0], fastcopy.Piece{Off: off, N: size})
	end, data := off+size, size
	for j < len(ss) {
		roff, rsize, rj := sampleRun(ss, j, 1<<62)
		gap := roff - end
		if gap < 0 || gap > maxGap || end-off-data+gap > data+rsize {
			break
		}
		sw.pieces = append(sw.pieces, fastcopy.Piece{Off: roff, N: rsize})
		end, data, j = roff+rsize, data+rsize, rj
	}
	return j
}

// readPieces appends the bytes of sw.pieces (see spanPieces) to buf: from
// a file with one preadv that drops the gaps, otherwise with one ReadAt of
// the whole span and then the gaps closed in memory.
func (sw *Writer) readPieces(buf []byte, r io.ReaderAt) ([]byte, error) {
	ps := sw.pieces
	var total int64
	for _, p := range ps {
		total += p.N
	}
	n := len(buf)
	if len(ps) > 1 {
		if sw.gapScratch == nil {
			sw.gapScratch = make([]byte, maxGap)
		}
		out := growBy(buf, int(total))
		if handled, err := fastcopy.ReadPieces(out[n:], r, ps, sw.gapScratch); handled {
			return out, err
		}
	}
	start, last := ps[0].Off, ps[len(ps)-1]
	span := last.Off + last.N - start
	buf = growBy(buf, int(span))
	if m, err := r.ReadAt(buf[n:], start); int64(m) < span {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(ps) == 1 {
		return buf, nil
	}
	// Close the gaps: move each later run down to follow the previous one.
	w := n
	for _, p := range ps {
		from := n + int(p.Off-start)
		w += copy(buf[w:], buf[from:from+int(p.N)])
	}
	return buf[:w], nil
}

// copySamples copies payloads of the samples ss (the first is sample first
// of the track) to cw. Runs of samples that are contiguous in the source are
// copied as one range: from file to file in the kernel when both ends are
// files (copy_file_range), handed to an io.ReaderFrom destination as an
// io.SectionReader (which may do the same), or read into a reused buffer —
// so the cost is close to a file copy.
func (sw *Writer) copySamples(cw *countingWriter, first int, ss []segment.Sample) error {
	t := sw.track
	if m, ok := t.Data.(*memSegment); ok {
		if b, ok := m.span(ss); ok {
			// A live segment already in memory, back to back: written
			// as it is, not copied into a buffer of its size first.
			_, err := cw.Write(b)
			return err
		}
	}
	ra, ok := t.Data.(interface{ ReaderAt() io.ReaderAt })
	if !ok || !copiesRuns(cw.w) || meanRun(ss) < sw.kernelRun(ra.ReaderAt()) {
		// No file to copy from, a destination that would take each run
		// through a buffer anyway (a network connection behind an
		// http.ResponseWriter wrapper), or many small runs: reading them
		// into memory (joined across small gaps, one preadv) and one write
		// cost less than a copy each, whose per-call cost dominates. At most
		// maxThrough bytes at a time, so that a clear segment does not need
		// a buffer of its size (4 MiB and more at 8 Mb/s).
		for k := 0; k < len(ss); {
			j, n := k+1, int64(ss[k].Size)
			for j < len(ss) && n+int64(ss[j].Size) <= maxThrough {
				n += int64(ss[j].Size)
				j++
			}
			buf, err := sw.readSamples(first+k, ss[k:j])
			if err != nil {
				return err
			}
			if _, err := cw.Write(buf); err != nil {
				return err
			}
			k = j
		}
		return nil
	}
	r := ra.ReaderAt()
	const maxRun = 4 << 20 // bounds the buffer of the last resort
	for k := 0; k < len(ss); {
		off, size, j := sampleRun(ss, k, maxRun)
		n, err := sw.copyRun(cw.w, r, off, size)
		cw.n += n
		if err == nil && n < size {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return segment.SampleError(t, first+k, &ss[k], err)
		}
		k = j
	}
	return nil
}

// copiesRuns reports whether w takes a run of samples without a buffer of
// the writer's: a file (copy_file_range) or an io.ReaderFrom.
func copiesRuns(w io.Writer) bool {
	switch w.(type) {
	case *os.File, io.ReaderFrom:
		return true
	}
	return false
}

// smallRun and diskRun are the mean run lengths (bytes of samples stored
// back to back in the source) below which copySamples reads a segment's runs
// into memory rather than copying each in the kernel; the extra copy through
// memory costs about 0.15 ns a byte. On tmpfs copy_file_range costs about a
// microsecond a call more than pread (1 GiB 1080p source at 1 Mb/s, 4 KiB a
// frame: 0.88 s → 0.78 s through memory; at 6 Mb/s, 27 KiB a frame, the
// kernel copy is faster: 0.36 s against 0.40 s). On disk file systems a call
// costs several microseconds more (ext4 at 6 Mb/s: 0.54 → 0.48 s and
// 0.48 → 0.44 s through memory, in two series of alternating runs).
const (
	smallRun = 8 << 10
	diskRun  = 64 << 10
)

// maxThrough bounds the bytes of samples that copySamples reads into
// memory for one write (at least one sample): large enough that the
// reads stay few (a 1 Mb/s segment is one), small enough that clear
// packaging holds no segment-sized buffer per worker.
const maxThrough = 1 << 20

// kernelRun returns the mean run length from which copySamples copies runs
// from r in the kernel (see smallRun).
func (sw *Writer) kernelRun(r io.ReaderAt) int {
	if sw.minKernelRun == 0 {
		sw.minKernelRun = diskRun
		if fastcopy.CheapPerCall(r) {
			sw.minKernelRun = smallRun
		}
	}
	return sw.minKernelRun
}

// meanRun returns the mean length of the runs of samples ss that are
// contiguous in the source.
func meanRun(ss []segment.Sample) int {
	if len(ss) == 0 {
		return 0
	}
	runs, total := 1, int64(ss[0].Size)
	for k := 1; k < len(ss); k++ {
		if ss[k].Offset != ss[k-1].Offset+int64(ss[k-1].Size) {
			runs++
		}
		total += int64(ss[k].Size)
	}
	return int(total / int64(runs))
}

// copyRun writes the size bytes of r at off to w.
func (sw *Writer) copyRun(w io.Writer, r io.ReaderAt, off, size int64) (int64, error) {
	if n, handled, err := fastcopy.CopyRange(w, r, off, size); handled {
		return n, err
	}
	if _, isFile := w.(*os.File); !isFile { // os.File.ReadFrom would copy through a fresh buffer
		if rf, ok := w.(io.ReaderFrom); ok {
			return rf.ReadFrom(io.NewSectionReader(r, off, size))
		}
	}
	if cap(sw.buf) < int(size) {
		sw.buf = make([]byte, size)
	}
	b := sw.buf[:size]
	if n, err := r.ReadAt(b, off); int64(n) < size {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Sequential reports whether protector p needs its fragments one at a time,
// in decode order (see FragmentProtector).
func Sequential(p FragmentProtector) bool {
	s, ok := p.(interface{ Sequential() bool })
	return ok && s.Sequential()
}
