// Package scte35 reads and writes SCTE 35 splice_info_sections: the cue
// messages that mark ad breaks and programme boundaries in broadcast and
// streaming video.
//
// Parse decodes a section (from an MPEG-TS PID of stream type 0x86, an emsg
// box of scheme urn:scte:scte35:2013:bin, or base64 from a cue list) and
// checks its CRC-32; Encode writes one back. The commands a packager acts on
// are decoded (splice_null, splice_insert, time_signal), as are
// segmentation descriptors; other commands and descriptors are kept as
// their bytes, so a section passes through unchanged.
//
//	sec, err := scte35.Parse(b)
//	if err != nil { ... }
//	switch c := sec.Command.(type) {
//	case *scte35.SpliceInsert:
//		if c.OutOfNetwork && c.BreakDuration != nil { ... }
//	case *scte35.TimeSignal:
//		for _, d := range sec.Descriptors {
//			if sd, ok := d.(*scte35.SegmentationDescriptor); ok { ... }
//		}
//	}
package scte35

import (
	"errors"
	"fmt"
	"time"
)

// Errors Parse returns, wrapped in a *SyntaxError that names the field and
// the byte offset.
var (
	// ErrTruncated: the section ends inside a field, or a length field
	// points past the end.
	ErrTruncated = errors.New("scte35: truncated section")
	// ErrCRC: the CRC-32 does not match the section's bytes.
	ErrCRC = errors.New("scte35: CRC-32 mismatch")
	// ErrSyntax: a field has a value the syntax does not allow.
	ErrSyntax = errors.New("scte35: invalid section")
)

// SyntaxError is the error Parse returns for a section it cannot read.
type SyntaxError struct {
	Offset int    // byte offset in the section
	Field  string // the field being read
	Err    error  // ErrTruncated, ErrCRC or ErrSyntax
	Detail string // what was wrong, if more than Err says
}

func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("%v: %s at byte %d", e.Err, e.Field, e.Offset)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// TableID is the table_id of every splice_info_section.
const TableID = 0xFC

// Command types (splice_command_type).
const (
	TypeSpliceNull           = 0x00
	TypeSpliceSchedule       = 0x04
	TypeSpliceInsert         = 0x05
	TypeTimeSignal           = 0x06
	TypeBandwidthReservation = 0x07
	TypePrivateCommand       = 0xFF
)

// Descriptor tags (splice_descriptor_tag) of the CUEI identifier.
const (
	TagAvail        = 0x00
	TagDTMF         = 0x01
	TagSegmentation = 0x02
	TagTime         = 0x03
	TagAudio        = 0x04
)

// IdentifierCUEI is the identifier of SCTE's own splice descriptors.
const IdentifierCUEI = 0x43554549

// Ticks is the 90 kHz clock of every time in a section.
const Ticks = 90000

// Duration converts 90 kHz ticks to a time.Duration.
func Duration(ticks uint64) time.Duration {
	return time.Duration(ticks) * time.Second / Ticks
}

// Section is one splice_info_section.
type Section struct {
	SAPType         uint8  // 2 bits; 3 means unspecified
	ProtocolVersion uint8  // 0 for every version of SCTE 35 to date
	PTSAdjustment   uint64 // 33 bits, added to every time in the section
	CWIndex         uint8
	Tier            uint16 // 12 bits; 0xFFF means unrestricted

	// Encrypted sections are kept as they are: EncryptionAlgorithm and the
	// encrypted bytes from splice_command_type to E_CRC_32 in Encrypted.
	// Command and Descriptors are then nil.
	EncryptionAlgorithm uint8
	Encrypted           []byte

	// Command is *SpliceNull, *SpliceInsert, *TimeSignal, or *RawCommand
	// for the other commands.
	Command Command
	// Descriptors holds the splice descriptors: *SegmentationDescriptor,
	// or *RawDescriptor for the others.
	Descriptors []Descriptor
}

// Command is a splice command.
type Command interface {
	// Type is the splice_command_type.
	Type() uint8
}

// SpliceNull is splice_null: a heartbeat with no splice.
type SpliceNull struct{}

// Type returns TypeSpliceNull.
func (*SpliceNull) Type() uint8 { return TypeSpliceNull }

// SpliceTime is a splice_time(): a 33-bit PTS, or nil for "not specified"
// (an immediate splice).
type SpliceTime = *uint64

// SpliceInsert is splice_insert: the start (out of network) or end (back
// into the network) of a break.
type SpliceInsert struct {
	EventID           uint32
	Cancel            bool // splice_event_cancel_indicator: the fields below are absent
	OutOfNetwork      bool // true at the start of a break, false at its end
	ProgramSplice     bool // one time for the whole programme (else per component)
	Immediate         bool // splice as soon as possible; no times
	EventIDCompliance bool
	// SpliceTime is the programme's splice time, when ProgramSplice and
	// not Immediate.
	SpliceTime SpliceTime
	// Components are the per-component splice times otherwise.
	Components []Component
	// BreakDuration is the break's duration when signalled.
	BreakDuration   *BreakDuration
	UniqueProgramID uint16
	AvailNum        uint8
	AvailsExpected  uint8
}

// Type returns TypeSpliceInsert.
func (*SpliceInsert) Type() uint8 { return TypeSpliceInsert }

// Component is the splice time of one component of a splice_insert.
type Component struct {
	Tag        uint8
	SpliceTime SpliceTime // nil when Immediate
}

// BreakDuration is break_duration().
type BreakDuration struct {
	AutoReturn bool   // the splicer returns to the network at the end by itself
	Duration   uint64 // 33 bits, 90 kHz
}

// TimeSignal is time_signal: a time that segmentation descriptors describe.
type TimeSignal struct {
	SpliceTime SpliceTime
}

// Type returns TypeTimeSignal.
func (*TimeSignal) Type() uint8 { return TypeTimeSignal }

// RawCommand is a command this package does not decode, kept as its bytes.
type RawCommand struct {
	CommandType uint8
	Data        []byte
}

// Type returns the command's type.
func (c *RawCommand) Type() uint8 { return c.CommandType }

// Descriptor is a splice descriptor.
type Descriptor interface {
	// Tag is the splice_descriptor_tag.
	Tag() uint8
}

// RawDescriptor is a descriptor this package does not decode: its tag,
// identifier and the bytes after the identifier.
type RawDescriptor struct {
	DescriptorTag uint8
	Identifier    uint32
	Data          []byte
}

// Tag returns the descriptor's tag.
func (d *RawDescriptor) Tag() uint8 { return d.DescriptorTag }

// Segmentation type IDs (segmentation_type_id) a packager acts on.
const (
	SegProgramStart                         = 0x10
	SegProgramEnd                           = 0x11
	SegChapterStart                         = 0x20
	SegChapterEnd                           = 0x21
	SegProviderAdvertisementStart           = 0x30
	SegProviderAdvertisementEnd             = 0x31
	SegDistributorAdvertisementStart        = 0x32
	SegDistributorAdvertisementEnd          = 0x33
	SegProviderPlacementOpportunityStart    = 0x34
	SegProviderPlacementOpportunityEnd      = 0x35
	SegDistributorPlacementOpportunityStart = 0x36
	SegDistributorPlacementOpportunityEnd   = 0x37
	SegProviderAdBlockStart                 = 0x44
	SegProviderAdBlockEnd                   = 0x45
	SegDistributorAdBlockStart              = 0x46
	SegDistributorAdBlockEnd                = 0x47
)

// SegmentationDescriptor is segmentation_descriptor() (tag 0x02).
type SegmentationDescriptor struct {
	EventID           uint32
	Cancel            bool // the fields below are absent
	EventIDCompliance bool
	// ProgramSegmentation is set when the descriptor applies to the whole
	// programme; otherwise Components lists the components and their
	// offsets.
	ProgramSegmentation bool
	Components          []SegmentationComponent
	// Duration is segmentation_duration (40 bits, 90 kHz), when signalled.
	Duration *uint64
	// Delivery restrictions: when DeliveryNotRestricted is set the other
	// four are absent.
	DeliveryNotRestricted bool
	WebDeliveryAllowed    bool
	NoRegionalBlackout    bool
	ArchiveAllowed        bool
	DeviceRestrictions    uint8 // 2 bits
	UPIDType              uint8
	UPID                  []byte
	TypeID                uint8
	SegmentNum            uint8
	SegmentsExpected      uint8
	// SubSegments holds sub_segment_num and sub_segments_expected, present
	// for placement opportunity and ad block starts when the sender wrote
	// them (SCTE 35 2016 and later).
	SubSegments *[2]uint8
}

// Tag returns TagSegmentation.
func (*SegmentationDescriptor) Tag() uint8 { return TagSegmentation }

// SegmentationComponent is one component of a segmentation descriptor.
type SegmentationComponent struct {
	Tag       uint8
	PTSOffset uint64 // 33 bits
}

// BreakStart reports whether the segmentation type opens an opportunity
// for other content: a break, an advertisement, a placement opportunity or
// an ad block (SCTE 35 table 23; the matching end is TypeID+1).
func (d *SegmentationDescriptor) BreakStart() bool {
	switch d.TypeID {
	case 0x22, 0x30, 0x32, 0x34, 0x36, 0x38, 0x3A, 0x3C, 0x3E, 0x44, 0x46:
		return true
	}
	return false
}

// BreakEnd reports whether the segmentation type closes what BreakStart
// opens.
func (d *SegmentationDescriptor) BreakEnd() bool {
	switch d.TypeID {
	case 0x23, 0x31, 0x33, 0x35, 0x37, 0x39, 0x3B, 0x3D, 0x3F, 0x45, 0x47:
		return true
	}
	return false
}

// maxSection is the largest section: section_length is 12 bits.
const maxSection = 3 + 0xFFF
