package violations

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The few MP4 boxes iocd reads or rewrites itself: the video sample entry
// (which codec a clip holds, and hev1 → hvc1 for H.265) inside
// moov/trak/mdia/minf/stbl/stsd. mediacommon's muxer writes H.265 as
// hev1 (parameter sets may also be in-band); Safari plays only hvc1
// (parameter sets in the hvcC box alone).

// Clip codecs as the media answer names them.
const (
	CodecH264 = "h264"
	CodecH265 = "h265"
)

// maxMoov bounds the header iocd reads from a clip to find its codec: a
// clip's moov is a few hundred KB at most (its sample tables).
const maxMoov = 32 << 20

// box is one MP4 box found in a buffer: its type and where its payload
// lies in the buffer.
type box struct {
	typ        string
	start, end int // the whole box
	body       int // its payload's start
}

// boxes lists the boxes laid end to end in b[from:to].
func boxes(b []byte, from, to int) ([]box, error) {
	var out []box
	for at := from; at < to; {
		if to-at < 8 {
			return nil, fmt.Errorf("truncated box header at %d", at)
		}
		size := int(binary.BigEndian.Uint32(b[at:]))
		typ := string(b[at+4 : at+8])
		body := at + 8
		switch size {
		case 0:
			size = to - at
		case 1:
			if to-at < 16 {
				return nil, fmt.Errorf("truncated %s box at %d", typ, at)
			}
			large := binary.BigEndian.Uint64(b[at+8:])
			if large > uint64(to-at) {
				return nil, fmt.Errorf("%s box at %d overruns its parent", typ, at)
			}
			size, body = int(large), at+16
		}
		if size < body-at || size > to-at {
			return nil, fmt.Errorf("%s box at %d has bad size %d", typ, at, size)
		}
		out = append(out, box{typ: typ, start: at, end: at + size, body: body})
		at += size
	}
	return out, nil
}

// child returns the first box of type typ directly inside parent.
func child(b []byte, parent box, typ string) (box, error) {
	bs, err := boxes(b, parent.body, parent.end)
	if err != nil {
		return box{}, err
	}
	for _, c := range bs {
		if c.typ == typ {
			return c, nil
		}
	}
	return box{}, fmt.Errorf("no %s box in %s", typ, parent.typ)
}

// visualEntryHeader is a VisualSampleEntry's fixed part after its box
// header (ISO/IEC 14496-12 12.1.3): its child boxes (avcC, hvcC) follow.
const visualEntryHeader = 78

// videoSampleEntry finds the first video track's first sample entry in b,
// which holds at least the file's moov box.
func videoSampleEntry(b []byte) (box, error) {
	top, err := boxes(b, 0, len(b))
	if err != nil {
		return box{}, err
	}
	for _, moov := range top {
		if moov.typ != "moov" {
			continue
		}
		traks, err := boxes(b, moov.body, moov.end)
		if err != nil {
			return box{}, err
		}
		for _, trak := range traks {
			if trak.typ != "trak" {
				continue
			}
			mdia, err := child(b, trak, "mdia")
			if err != nil {
				return box{}, err
			}
			hdlr, err := child(b, mdia, "hdlr")
			if err != nil {
				return box{}, err
			}
			// hdlr: version/flags (4), pre_defined (4), handler_type (4).
			if hdlr.end-hdlr.body < 12 || string(b[hdlr.body+8:hdlr.body+12]) != "vide" {
				continue
			}
			stbl := mdia
			for _, typ := range []string{"minf", "stbl", "stsd"} {
				if stbl, err = child(b, stbl, typ); err != nil {
					return box{}, err
				}
			}
			stsd := stbl
			// stsd: version/flags (4), entry_count (4), entries.
			entries, err := boxes(b, stsd.body+8, stsd.end)
			if err != nil || len(entries) == 0 {
				return box{}, fmt.Errorf("empty stsd: %v", err)
			}
			return entries[0], nil
		}
		return box{}, errors.New("no video track")
	}
	return box{}, errors.New("no moov box before the media data")
}

// readHeader reads a progressive MP4's boxes up to and including moov.
func readHeader(r io.ReaderAt) ([]byte, error) {
	var buf []byte
	var at int64
	for {
		var h [16]byte
		n, err := r.ReadAt(h[:], at)
		if n < 8 {
			if err == nil || errors.Is(err, io.EOF) {
				err = errors.New("no moov box")
			}
			return nil, err
		}
		size := int64(binary.BigEndian.Uint32(h[:]))
		typ := string(h[4:8])
		if size == 1 && n == 16 {
			size = int64(binary.BigEndian.Uint64(h[8:]))
		}
		if size < 8 {
			return nil, fmt.Errorf("%s box at %d: bad size %d", typ, at, size)
		}
		if typ == "mdat" {
			return nil, errors.New("mdat before moov: not a progressive MP4")
		}
		if at+size > maxMoov {
			return nil, fmt.Errorf("MP4 header larger than %d bytes", maxMoov)
		}
		part := make([]byte, size)
		if _, err := r.ReadAt(part, at); err != nil {
			return nil, fmt.Errorf("reading %s box: %w", typ, err)
		}
		buf = append(buf, part...)
		if typ == "moov" {
			return buf, nil
		}
		at += size
	}
}

// clipCodec reads which codec an MP4 clip holds and its sample entry
// ("avc1", "hvc1", "hev1").
func clipCodec(r io.ReaderAt) (codec, entry string, err error) {
	b, err := readHeader(r)
	if err != nil {
		return "", "", err
	}
	e, err := videoSampleEntry(b)
	if err != nil {
		return "", "", err
	}
	switch e.typ {
	case "avc1", "avc3":
		return CodecH264, e.typ, nil
	case "hvc1", "hev1":
		return CodecH265, e.typ, nil
	}
	return "", e.typ, fmt.Errorf("unknown video sample entry %q", e.typ)
}

// H.265 parameter set NAL unit types.
const (
	h265VPS = 32
	h265SPS = 33
	h265PPS = 34
)

// toHvc1 rewrites, in b (ftyp and moov, as the muxer writes them in one
// piece), the video sample entry hev1 as hvc1, and marks the hvcC box's
// parameter set arrays complete (array_completeness = 1: no parameter
// set is in-band), which is what hvc1 means (ISO/IEC 14496-15 8.4.1).
// The caller has removed the in-band parameter sets from the samples.
func toHvc1(b []byte) error {
	e, err := videoSampleEntry(b)
	if err != nil {
		return err
	}
	if e.typ != "hev1" {
		return fmt.Errorf("video sample entry is %q, not hev1", e.typ)
	}
	if e.body+visualEntryHeader > e.end {
		return errors.New("truncated hev1 sample entry")
	}
	kids, err := boxes(b, e.body+visualEntryHeader, e.end)
	if err != nil {
		return err
	}
	for _, k := range kids {
		if k.typ != "hvcC" {
			continue
		}
		// HEVCDecoderConfigurationRecord: 22 bytes, numOfArrays, arrays.
		at := k.body + 22
		if at >= k.end {
			return errors.New("truncated hvcC")
		}
		n := int(b[at])
		at++
		for range n {
			if at+3 > k.end {
				return errors.New("truncated hvcC array")
			}
			switch b[at] & 0x3f {
			case h265VPS, h265SPS, h265PPS:
				b[at] |= 0x80
			}
			nalus := int(binary.BigEndian.Uint16(b[at+1:]))
			at += 3
			for range nalus {
				if at+2 > k.end {
					return errors.New("truncated hvcC NAL unit")
				}
				at += 2 + int(binary.BigEndian.Uint16(b[at:]))
			}
			if at > k.end {
				return errors.New("truncated hvcC NAL unit")
			}
		}
		copy(b[e.start+4:], "hvc1")
		return nil
	}
	return errors.New("no hvcC box in the hev1 sample entry")
}

// hvc1Writer passes a muxer's output through, rewriting its first write
// (ftyp and moov) with toHvc1.
type hvc1Writer struct {
	w       io.Writer
	patched bool
}

func (h *hvc1Writer) Write(p []byte) (int, error) {
	if !h.patched {
		h.patched = true
		b := bytes.Clone(p)
		if err := toHvc1(b); err != nil {
			return 0, fmt.Errorf("writing the hvc1 sample entry: %w", err)
		}
		return h.w.Write(b)
	}
	return h.w.Write(p)
}

// h265ParamSets splits an AVCC access unit (4-byte lengths) into its
// parameter sets (VPS, SPS, PPS, in order of appearance) and the rest.
func h265ParamSets(au []byte) (params [][]byte, rest []byte, err error) {
	rest = make([]byte, 0, len(au))
	for at := 0; at < len(au); {
		if len(au)-at < 4 {
			return nil, nil, errors.New("truncated NAL unit length")
		}
		n := int(binary.BigEndian.Uint32(au[at:]))
		if n < 2 || n > len(au)-at-4 {
			return nil, nil, fmt.Errorf("bad NAL unit length %d", n)
		}
		nalu := au[at+4 : at+4+n]
		switch (nalu[0] >> 1) & 0x3f {
		case h265VPS, h265SPS, h265PPS:
			params = append(params, nalu)
		default:
			rest = append(rest, au[at:at+4+n]...)
		}
		at += 4 + n
	}
	return params, rest, nil
}
