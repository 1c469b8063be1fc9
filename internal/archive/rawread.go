package archive

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// openRaw opens an entry whose data frame is a raw frame (rawframe.go) without a zstd decoder:
// the header frame is decoded, the data is read from the file block by block, as it is. It
// returns nil, nil when the entry's data frame is not a raw frame, for the caller to decode it.
func (b *Bundle) openRaw(e entry) (io.ReadCloser, error) {
	content := e.Size + padding(e.Size)
	rawLen := rawFrameLen(content)
	hdrLen := e.Length - rawLen
	if hdrLen <= 0 {
		return nil, nil
	}
	var fh [rawHeaderLen]byte
	if _, err := b.f.ReadAt(fh[:], e.Offset+hdrLen); err != nil {
		return nil, nil
	}
	if binary.LittleEndian.Uint32(fh[0:]) != zstdMagic || fh[4] != rawDescriptor || fh[5] != rawWindow ||
		binary.LittleEndian.Uint64(fh[6:]) != uint64(content) {
		return nil, nil
	}
	if err := b.checkHeaderFrame(e, io.NewSectionReader(b.f, e.Offset, hdrLen)); err != nil {
		return nil, err
	}
	start := e.Offset + hdrLen + rawHeaderLen
	rr := &rawReader{f: b.f, off: start, end: e.Offset + e.Length, data: e.Size, pad: padding(e.Size)}
	return &entryReader{Reader: verify.NewReader(rr, e.Digest, e.Size), b: b, name: e.Name}, nil
}

// checkHeaderFrame decodes a frame that must hold exactly the tar header of e.
func (b *Bundle) checkHeaderFrame(e entry, src io.Reader) error {
	dec, err := b.decoder()
	if err != nil {
		return err
	}
	defer b.release(dec)
	if err := dec.Reset(src); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	hdr, err := io.ReadAll(io.LimitReader(dec, 64<<10))
	if err != nil {
		return fmt.Errorf("%w: tar header: %v", ErrCorrupt, err)
	}
	h, err := tar.NewReader(bytes.NewReader(hdr)).Next()
	if err != nil {
		return fmt.Errorf("%w: tar header: %v", ErrCorrupt, err)
	}
	return checkHeader(h, e.Name, e.Size)
}

// rawReader reads the data of a raw frame, from just after its frame header: data bytes, then
// it checks that the rest is the tar padding (zeros), in raw blocks that end the frame at end.
type rawReader struct {
	f        io.ReaderAt
	off, end int64 // next byte in the file; the end of the frame
	left     int64 // of the current block
	last     bool  // the current block is the frame's last
	data     int64 // data bytes still to hand out
	pad      int64 // then padding bytes
}

func (r *rawReader) Read(p []byte) (int, error) {
	if r.data == 0 {
		if err := r.checkPadding(); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	if err := r.nextBlock(); err != nil {
		return 0, err
	}
	if r.left == 0 {
		return 0, fmt.Errorf("%w: shorter than declared", ErrCorrupt)
	}
	n := int(min(int64(len(p)), r.left, r.data))
	n, err := r.f.ReadAt(p[:n], r.off)
	r.off += int64(n)
	r.left -= int64(n)
	r.data -= int64(n)
	if err == io.EOF {
		err = fmt.Errorf("%w: file ends inside it", ErrCorrupt)
	}
	return n, err
}

// nextBlock moves to the next block that has bytes left, if the current one has none; at the
// end of the frame it leaves left at 0.
func (r *rawReader) nextBlock() error {
	for r.left == 0 && !r.last {
		var h [3]byte
		if _, err := r.f.ReadAt(h[:], r.off); err != nil {
			return fmt.Errorf("%w: block header: %v", ErrCorrupt, err)
		}
		v := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16
		size := int64(v >> 3)
		if (v>>1)&3 != 0 || size > rawBlockMax || r.off+3+size > r.end {
			return fmt.Errorf("%w: bad block in a raw frame", ErrCorrupt)
		}
		r.off += 3
		r.left, r.last = size, v&1 == 1
	}
	return nil
}

func (r *rawReader) checkPadding() error {
	var buf [blockSize]byte
	for {
		if err := r.nextBlock(); err != nil {
			return err
		}
		if r.left == 0 {
			break
		}
		n := min(r.left, blockSize)
		if _, err := r.f.ReadAt(buf[:n], r.off); err != nil || !bytes.Equal(buf[:n], make([]byte, n)) {
			return fmt.Errorf("%w: bad tar padding", ErrCorrupt)
		}
		r.off += n
		r.left -= n
		r.pad -= n
	}
	if r.pad != 0 || r.off != r.end {
		return fmt.Errorf("%w: raw frame of %d padding bytes too many, ending at %d, the table says %d", ErrCorrupt, -r.pad, r.off, r.end)
	}
	return nil
}
