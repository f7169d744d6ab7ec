// Package cmaf writes CMAF tracks (ISO/IEC 23000-19) from a segment.Track:
// the init segment (BuildInit, WriteInit), media segments and their chunks
// (Writer, one per track or per goroutine writing it), a whole track as one
// file with a sidx (WriteSingleFile), and, for HLS, WebVTT segments of a
// wvtt track (Writer.WriteWebVTT). Segment boundaries come from a
// segment.Plan, or from explicit cuts (NewWriterAt). Samples a live source
// holds in memory are written with WriteSamples, without an index over a
// file. Writer.WriteSegments writes all of a track's segments two at a
// time (or pipelined for a Sequential protector). Each written segment is
// reported as a SegmentInfo, enough to build manifests without reading it
// back. A FragmentProtector (package drm) encrypts each fragment in memory.
//
// Every track's first presented sample is at presentation time zero: video
// B-frame delay becomes negative composition offsets (trun v1), audio
// priming the one edit-list entry CMAF allows.
package cmaf
