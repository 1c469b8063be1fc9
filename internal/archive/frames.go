package archive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// An entry's bytes are exactly two zstd frames: its tar header, then its data and padding
// (docs/bundle-format.md). A zstd decoder reads concatenated frames as one stream, and skips
// skippable frames, so a decoder alone would take more frames, or more decoded bytes, after an
// entry's data: bytes that `zstd -dc | tar -x` extracts and a reader that stops at the data
// never sees. frameReader finds each frame's end from the frame's own structure (its header,
// its block headers, its checksum), without decoding it, so that each frame is decoded alone
// and an entry's range holds nothing else.

// maxBlock is the largest block a zstd frame may hold (Block_Maximum_Size).
const maxBlock = 128 << 10

// frameReader hands on the bytes of one zstd frame of src: Read returns io.EOF at the frame's
// end. Next moves on to the frame that follows. Not safe for concurrent use.
type frameReader struct {
	src     io.Reader
	what    string // names the frame in errors: "header frame"
	hdr     [18]byte
	pending []byte // header bytes parsed and not yet handed on
	body    int64  // bytes of the current block (or checksum) still to hand on
	state   int
	sum     bool // the frame ends with a 4-byte checksum
	err     error
	srcErr  error // an error of src itself (not of the frame's structure): an I/O error
}

const (
	frameStart = iota
	frameBlocks
	frameChecksum
	frameDone
)

func newFrameReader(src io.Reader, what string) *frameReader {
	return &frameReader{src: src, what: what}
}

// Next starts the next frame of src.
func (f *frameReader) Next(what string) {
	f.what, f.state, f.pending, f.body, f.sum = what, frameStart, nil, 0, false
}

// Done reports whether the current frame was read to its end.
func (f *frameReader) Done() bool { return f.state == frameDone && f.body == 0 && len(f.pending) == 0 }

func (f *frameReader) Read(p []byte) (int, error) {
	for {
		if f.err != nil {
			return 0, f.err
		}
		if len(f.pending) > 0 {
			n := copy(p, f.pending)
			f.pending = f.pending[n:]
			return n, nil
		}
		if f.body > 0 {
			n, err := f.src.Read(p[:min(int64(len(p)), f.body)])
			f.body -= int64(n)
			switch {
			case err == io.EOF && f.body > 0:
				err = f.fail("ends early (truncated?)")
			case err == io.EOF:
				err = nil
			case err != nil:
				f.srcErr = err
			}
			if n > 0 || err != nil {
				return n, err
			}
			continue
		}
		if f.state == frameDone {
			return 0, io.EOF
		}
		if err := f.step(); err != nil {
			f.err = err
		}
	}
}

// step reads the next structural part of the frame: its header, a block header, its checksum.
func (f *frameReader) step() error {
	switch f.state {
	case frameStart:
		return f.start()
	case frameBlocks:
		h := f.hdr[:3]
		if _, err := io.ReadFull(f.src, h); err != nil {
			return f.fail("ends early (truncated?)")
		}
		v := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16
		last, typ, size := v&1 == 1, (v>>1)&3, int64(v>>3)
		switch {
		case typ == 3:
			return f.fail("a block of the reserved type")
		case size > maxBlock:
			return f.fail(fmt.Sprintf("a block of %d bytes, more than zstd's %d", size, maxBlock))
		case typ == 1: // RLE: one byte, repeated
			f.body = 1
		default:
			f.body = size
		}
		f.pending = h
		if last {
			f.state = frameChecksum
		}
	case frameChecksum:
		f.state = frameDone
		if f.sum {
			f.body = 4
		}
	}
	return nil
}

// start reads and checks the frame header: a zstd frame, not a skippable one, with no
// dictionary and no reserved bit set.
func (f *frameReader) start() error {
	h := f.hdr[:5]
	if _, err := io.ReadFull(f.src, h); err != nil {
		if err == io.EOF {
			return f.fail("is missing")
		}
		return f.fail("ends early (truncated?)")
	}
	switch magic := binary.LittleEndian.Uint32(h); {
	case magic&^0xF == 0x184D2A50:
		return f.fail("is a skippable frame: no encoder puts one inside an entry")
	case magic != zstdMagic:
		return f.fail(fmt.Sprintf("has magic %#08x, not a zstd frame", magic))
	}
	fhd := h[4]
	single := fhd>>5&1 == 1
	if fhd>>3&1 == 1 || fhd&3 != 0 {
		return f.fail("has a reserved bit or a dictionary set")
	}
	n := 0 // window descriptor and frame content size bytes that follow
	if !single {
		n++
	}
	switch fhd >> 6 {
	case 0:
		if single {
			n++
		}
	case 1:
		n += 2
	case 2:
		n += 4
	case 3:
		n += 8
	}
	if _, err := io.ReadFull(f.src, f.hdr[5:5+n]); err != nil {
		return f.fail("ends early (truncated?)")
	}
	f.sum = fhd>>2&1 == 1
	f.pending = f.hdr[:5+n]
	f.state = frameBlocks
	return nil
}

func (f *frameReader) fail(why string) error {
	return fmt.Errorf("%w: %s %s", ErrCorrupt, f.what, why)
}

// decoded hands on what a decoder reads from fr, its errors named: one of the decoder's own
// (not an I/O error of the file under fr) means the frame is corrupt.
type decoded struct {
	r  io.Reader
	fr *frameReader
}

func (d decoded) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF && d.fr.srcErr == nil && !errors.Is(err, ErrCorrupt) {
		err = fmt.Errorf("%w: %s: %v", ErrCorrupt, d.fr.what, err)
	}
	return n, err
}

// atEOF checks that r holds nothing more.
func atEOF(r io.Reader) bool {
	var one [1]byte
	n, err := io.ReadFull(r, one[:])
	return n == 0 && err == io.EOF
}
