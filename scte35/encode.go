package scte35

import "fmt"

// Encode writes s as a splice_info_section with its CRC-32. Reserved bits
// are written as 1, as SCTE 35 requires, so a section read from a
// conforming sender encodes back to the same bytes.
func (s *Section) Encode() ([]byte, error) {
	var cmd bitWriter
	var cmdType uint8
	if s.Encrypted == nil {
		if s.Command == nil {
			return nil, fmt.Errorf("%w: a section needs a command (SpliceNull for none)", ErrSyntax)
		}
		cmdType = s.Command.Type()
		if err := encodeCommand(&cmd, s.Command); err != nil {
			return nil, err
		}
	}
	var desc bitWriter
	for _, d := range s.Descriptors {
		if err := encodeDescriptor(&desc, d); err != nil {
			return nil, err
		}
	}
	if len(cmd.b) > 0xFFE || len(desc.b) > 0xFFFF {
		return nil, fmt.Errorf("%w: command of %d bytes or descriptors of %d bytes too long", ErrSyntax, len(cmd.b), len(desc.b))
	}

	var w bitWriter
	w.write(8, TableID)
	w.write(1, 0) // section_syntax_indicator
	w.write(1, 0) // private_indicator
	w.write(2, uint64(s.SAPType&3))
	w.write(12, 0) // section_length, set below
	w.write(8, uint64(s.ProtocolVersion))
	w.flag(s.Encrypted != nil)
	w.write(6, uint64(s.EncryptionAlgorithm))
	w.write(33, s.PTSAdjustment)
	w.write(8, uint64(s.CWIndex))
	w.write(12, uint64(s.Tier))
	if s.Encrypted != nil {
		w.write(12, 0xFFF) // the length is inside the ciphertext
		w.bytes(s.Encrypted)
	} else {
		w.write(12, uint64(len(cmd.b)))
		w.write(8, uint64(cmdType))
		w.bytes(cmd.b)
		w.write(16, uint64(len(desc.b)))
		w.bytes(desc.b)
	}
	n := len(w.b) + 4 - 3
	if n > 0xFFF {
		return nil, fmt.Errorf("%w: section of %d bytes exceeds section_length", ErrSyntax, n+3)
	}
	w.b[1] |= byte(n >> 8)
	w.b[2] = byte(n)
	crc := crc32MPEG(w.b)
	return append(w.b, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)), nil
}

func encodeSpliceTime(w *bitWriter, t SpliceTime) {
	if t == nil {
		w.write(1, 0)
		w.reserved(7)
		return
	}
	w.write(1, 1)
	w.reserved(6)
	w.write(33, *t)
}

func encodeCommand(w *bitWriter, c Command) error {
	switch c := c.(type) {
	case *SpliceNull:
	case *TimeSignal:
		encodeSpliceTime(w, c.SpliceTime)
	case *SpliceInsert:
		w.write(32, uint64(c.EventID))
		w.flag(c.Cancel)
		w.reserved(7)
		if c.Cancel {
			return nil
		}
		w.flag(c.OutOfNetwork)
		w.flag(c.ProgramSplice)
		w.flag(c.BreakDuration != nil)
		w.flag(c.Immediate)
		w.flag(c.EventIDCompliance)
		w.reserved(3)
		if c.ProgramSplice && !c.Immediate {
			encodeSpliceTime(w, c.SpliceTime)
		}
		if !c.ProgramSplice {
			if len(c.Components) > 255 {
				return fmt.Errorf("%w: %d splice_insert components", ErrSyntax, len(c.Components))
			}
			w.write(8, uint64(len(c.Components)))
			for _, comp := range c.Components {
				w.write(8, uint64(comp.Tag))
				if !c.Immediate {
					encodeSpliceTime(w, comp.SpliceTime)
				}
			}
		}
		if d := c.BreakDuration; d != nil {
			w.flag(d.AutoReturn)
			w.reserved(6)
			w.write(33, d.Duration)
		}
		w.write(16, uint64(c.UniqueProgramID))
		w.write(8, uint64(c.AvailNum))
		w.write(8, uint64(c.AvailsExpected))
	case *RawCommand:
		w.bytes(c.Data)
	default:
		return fmt.Errorf("%w: command type %T", ErrSyntax, c)
	}
	return nil
}

func encodeDescriptor(w *bitWriter, d Descriptor) error {
	var body bitWriter
	var id uint32
	switch d := d.(type) {
	case *SegmentationDescriptor:
		id = IdentifierCUEI
		if err := encodeSegmentation(&body, d); err != nil {
			return err
		}
	case *RawDescriptor:
		id = d.Identifier
		body.bytes(d.Data)
	default:
		return fmt.Errorf("%w: descriptor type %T", ErrSyntax, d)
	}
	if len(body.b)+4 > 255 {
		return fmt.Errorf("%w: descriptor 0x%02x of %d bytes", ErrSyntax, d.Tag(), len(body.b)+4)
	}
	w.write(8, uint64(d.Tag()))
	w.write(8, uint64(len(body.b)+4))
	w.write(32, uint64(id))
	w.bytes(body.b)
	return nil
}

func encodeSegmentation(w *bitWriter, d *SegmentationDescriptor) error {
	w.write(32, uint64(d.EventID))
	w.flag(d.Cancel)
	w.flag(d.EventIDCompliance)
	w.reserved(6)
	if d.Cancel {
		return nil
	}
	w.flag(d.ProgramSegmentation)
	w.flag(d.Duration != nil)
	w.flag(d.DeliveryNotRestricted)
	if d.DeliveryNotRestricted {
		w.reserved(5)
	} else {
		w.flag(d.WebDeliveryAllowed)
		w.flag(d.NoRegionalBlackout)
		w.flag(d.ArchiveAllowed)
		w.write(2, uint64(d.DeviceRestrictions))
	}
	if !d.ProgramSegmentation {
		if len(d.Components) > 255 {
			return fmt.Errorf("%w: %d segmentation components", ErrSyntax, len(d.Components))
		}
		w.write(8, uint64(len(d.Components)))
		for _, c := range d.Components {
			w.write(8, uint64(c.Tag))
			w.reserved(7)
			w.write(33, c.PTSOffset)
		}
	}
	if d.Duration != nil {
		w.write(40, *d.Duration)
	}
	if len(d.UPID) > 255 {
		return fmt.Errorf("%w: segmentation UPID of %d bytes", ErrSyntax, len(d.UPID))
	}
	w.write(8, uint64(d.UPIDType))
	w.write(8, uint64(len(d.UPID)))
	w.bytes(d.UPID)
	w.write(8, uint64(d.TypeID))
	w.write(8, uint64(d.SegmentNum))
	w.write(8, uint64(d.SegmentsExpected))
	if d.SubSegments != nil {
		w.write(8, uint64(d.SubSegments[0]))
		w.write(8, uint64(d.SubSegments[1]))
	}
	return nil
}
