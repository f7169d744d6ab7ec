package scte35

import "fmt"

// Parse decodes one splice_info_section: b must hold exactly the section,
// from table_id to CRC_32 (any bytes after section_length are ignored). It
// checks the CRC-32 first, so a damaged section is refused with ErrCRC
// before any field is trusted.
func Parse(b []byte) (*Section, error) {
	if len(b) < 3 {
		return nil, &SyntaxError{Offset: 0, Field: "section header", Err: ErrTruncated}
	}
	if b[0] != TableID {
		return nil, &SyntaxError{Offset: 0, Field: "table_id", Err: ErrSyntax, Detail: fmt.Sprintf("0x%02x, want 0xfc", b[0])}
	}
	n := 3 + (int(b[1]&0x0F)<<8 | int(b[2]))
	if n > len(b) {
		return nil, &SyntaxError{Offset: 1, Field: "section_length", Err: ErrTruncated, Detail: fmt.Sprintf("%d bytes, %d present", n, len(b))}
	}
	b = b[:n]
	if n < 3+11+4+2 {
		return nil, &SyntaxError{Offset: 1, Field: "section_length", Err: ErrSyntax, Detail: fmt.Sprintf("%d bytes is shorter than an empty section", n)}
	}
	if crc32MPEG(b) != 0 {
		return nil, &SyntaxError{Offset: n - 4, Field: "CRC_32", Err: ErrCRC}
	}
	r := &bitReader{b: b[:n-4]}
	r.skip(24) // table_id, section_syntax_indicator, private_indicator, sap_type, section_length
	s := &Section{SAPType: uint8(b[1] >> 4 & 3)}
	s.ProtocolVersion = uint8(r.read(8, "protocol_version"))
	encrypted := r.flag("encrypted_packet")
	s.EncryptionAlgorithm = uint8(r.read(6, "encryption_algorithm"))
	s.PTSAdjustment = r.read(33, "pts_adjustment")
	s.CWIndex = uint8(r.read(8, "cw_index"))
	s.Tier = uint16(r.read(12, "tier"))
	cmdLen := int(r.read(12, "splice_command_length"))
	if encrypted {
		// Everything from splice_command_type to E_CRC_32 is ciphertext.
		s.Encrypted = r.bytes(len(r.b)-r.offset(), "encrypted payload")
		return s, r.syntaxErr()
	}
	cmdType := uint8(r.read(8, "splice_command_type"))
	if cmdLen == 0xFFF {
		// Legacy senders: the length is "unknown"; only the decoded
		// commands can be read then.
		cmdLen = -1
	}
	start := r.offset()
	switch cmdType {
	case TypeSpliceNull:
		s.Command = &SpliceNull{}
	case TypeSpliceInsert:
		s.Command = parseSpliceInsert(r)
	case TypeTimeSignal:
		s.Command = &TimeSignal{SpliceTime: parseSpliceTime(r)}
	default:
		if cmdLen < 0 {
			return nil, &SyntaxError{Offset: start, Field: "splice_command_length", Err: ErrSyntax, Detail: fmt.Sprintf("0xfff (unknown) with command type 0x%02x", cmdType)}
		}
		s.Command = &RawCommand{CommandType: cmdType, Data: r.bytes(cmdLen, "splice_command")}
	}
	if err := r.syntaxErr(); err != nil {
		return nil, err
	}
	if cmdLen >= 0 && r.offset()-start != cmdLen {
		return nil, &SyntaxError{Offset: start, Field: "splice_command_length", Err: ErrSyntax, Detail: fmt.Sprintf("%d, the command has %d bytes", cmdLen, r.offset()-start)}
	}
	loopLen := int(r.read(16, "descriptor_loop_length"))
	end := r.offset() + loopLen
	if end > len(r.b) {
		return nil, &SyntaxError{Offset: r.offset() - 2, Field: "descriptor_loop_length", Err: ErrTruncated, Detail: fmt.Sprintf("%d bytes, %d left", loopLen, len(r.b)-r.offset())}
	}
	for r.err == nil && r.offset() < end {
		d, err := parseDescriptor(r, end)
		if err != nil {
			return nil, err
		}
		s.Descriptors = append(s.Descriptors, d)
	}
	// Alignment stuffing may follow; it carries nothing.
	return s, r.syntaxErr()
}

func (r *bitReader) syntaxErr() error {
	if r.err == nil {
		return nil
	}
	return &SyntaxError{Offset: r.offset(), Field: r.field, Err: r.err}
}

func parseSpliceTime(r *bitReader) SpliceTime {
	if !r.flag("time_specified_flag") {
		r.skip(7)
		return nil
	}
	r.skip(6)
	t := r.read(33, "pts_time")
	return &t
}

func parseSpliceInsert(r *bitReader) *SpliceInsert {
	c := &SpliceInsert{EventID: uint32(r.read(32, "splice_event_id"))}
	c.Cancel = r.flag("splice_event_cancel_indicator")
	r.skip(7)
	if c.Cancel {
		return c
	}
	c.OutOfNetwork = r.flag("out_of_network_indicator")
	c.ProgramSplice = r.flag("program_splice_flag")
	duration := r.flag("duration_flag")
	c.Immediate = r.flag("splice_immediate_flag")
	c.EventIDCompliance = r.flag("event_id_compliance_flag")
	r.skip(3)
	if c.ProgramSplice && !c.Immediate {
		c.SpliceTime = parseSpliceTime(r)
	}
	if !c.ProgramSplice {
		n := int(r.read(8, "component_count"))
		for i := 0; i < n && r.err == nil; i++ {
			comp := Component{Tag: uint8(r.read(8, "component_tag"))}
			if !c.Immediate {
				comp.SpliceTime = parseSpliceTime(r)
			}
			c.Components = append(c.Components, comp)
		}
	}
	if duration {
		c.BreakDuration = &BreakDuration{AutoReturn: r.flag("auto_return")}
		r.skip(6)
		c.BreakDuration.Duration = r.read(33, "duration")
	}
	c.UniqueProgramID = uint16(r.read(16, "unique_program_id"))
	c.AvailNum = uint8(r.read(8, "avail_num"))
	c.AvailsExpected = uint8(r.read(8, "avails_expected"))
	return c
}

// parseDescriptor reads one splice descriptor; end is where the descriptor
// loop ends.
func parseDescriptor(r *bitReader, end int) (Descriptor, error) {
	at := r.offset()
	tag := uint8(r.read(8, "splice_descriptor_tag"))
	n := int(r.read(8, "descriptor_length"))
	if r.err != nil {
		return nil, r.syntaxErr()
	}
	if n < 4 || r.offset()+n > end {
		return nil, &SyntaxError{Offset: at + 1, Field: "descriptor_length", Err: ErrSyntax, Detail: fmt.Sprintf("%d for descriptor 0x%02x, %d bytes left in the loop", n, tag, end-r.offset())}
	}
	body := r.bytes(n, "splice_descriptor")
	id := uint32(body[0])<<24 | uint32(body[1])<<16 | uint32(body[2])<<8 | uint32(body[3])
	if tag != TagSegmentation || id != IdentifierCUEI {
		return &RawDescriptor{DescriptorTag: tag, Identifier: id, Data: body[4:]}, nil
	}
	br := &bitReader{b: body[4:]}
	d := parseSegmentation(br)
	if br.err != nil {
		return nil, &SyntaxError{Offset: at + 6 + br.offset(), Field: "segmentation_descriptor " + br.field, Err: br.err}
	}
	return d, nil
}

func parseSegmentation(r *bitReader) *SegmentationDescriptor {
	d := &SegmentationDescriptor{EventID: uint32(r.read(32, "segmentation_event_id"))}
	d.Cancel = r.flag("segmentation_event_cancel_indicator")
	d.EventIDCompliance = r.flag("segmentation_event_id_compliance_indicator")
	r.skip(6)
	if d.Cancel {
		return d
	}
	d.ProgramSegmentation = r.flag("program_segmentation_flag")
	hasDuration := r.flag("segmentation_duration_flag")
	d.DeliveryNotRestricted = r.flag("delivery_not_restricted_flag")
	if d.DeliveryNotRestricted {
		r.skip(5)
	} else {
		d.WebDeliveryAllowed = r.flag("web_delivery_allowed_flag")
		d.NoRegionalBlackout = r.flag("no_regional_blackout_flag")
		d.ArchiveAllowed = r.flag("archive_allowed_flag")
		d.DeviceRestrictions = uint8(r.read(2, "device_restrictions"))
	}
	if !d.ProgramSegmentation {
		n := int(r.read(8, "component_count"))
		for i := 0; i < n && r.err == nil; i++ {
			c := SegmentationComponent{Tag: uint8(r.read(8, "component_tag"))}
			r.skip(7)
			c.PTSOffset = r.read(33, "pts_offset")
			d.Components = append(d.Components, c)
		}
	}
	if hasDuration {
		v := r.read(40, "segmentation_duration")
		d.Duration = &v
	}
	d.UPIDType = uint8(r.read(8, "segmentation_upid_type"))
	d.UPID = r.bytes(int(r.read(8, "segmentation_upid_length")), "segmentation_upid")
	d.TypeID = uint8(r.read(8, "segmentation_type_id"))
	d.SegmentNum = uint8(r.read(8, "segment_num"))
	d.SegmentsExpected = uint8(r.read(8, "segments_expected"))
	if hasSubSegments(d.TypeID) && r.err == nil && len(r.b)-r.offset() >= 2 {
		d.SubSegments = &[2]uint8{uint8(r.read(8, "sub_segment_num")), uint8(r.read(8, "sub_segments_expected"))}
	}
	return d
}

// hasSubSegments: the types whose descriptor may end with sub_segment_num
// and sub_segments_expected.
func hasSubSegments(typeID uint8) bool {
	switch typeID {
	case 0x34, 0x36, 0x38, 0x3A, 0x44, 0x46:
		return true
	}
	return false
}
