package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Salvage walks the frames of an unfinished bundle (what a killed bundle create left in
// NAME.partial) and hands keep every blob whose data frame is complete: its digest (from the
// entry's name), its size, and a reader of exactly its data frame. Nothing is verified here:
// the frames come from a file that was never finished, so keep must store them where they are
// verified before use (the pull cache does that). It stops quietly at the first frame that is
// cut short or unreadable.
func Salvage(path string, keep func(digest string, size int64, frame io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	dec, err := newDecoder()
	if err != nil {
		return err
	}
	defer dec.Close()
	var off int64
	for {
		hend, err := frameEnd(f, off, st.Size())
		if err != nil {
			return nil
		}
		if err := dec.Reset(io.NewSectionReader(f, off, hend-off)); err != nil {
			return nil
		}
		hdr, err := tar.NewReader(dec).Next()
		if err != nil || hdr.Typeflag != tar.TypeReg {
			return nil
		}
		dend, err := frameEnd(f, hend, st.Size())
		if err != nil {
			return nil
		}
		if hex, ok := strings.CutPrefix(hdr.Name, blobPrefix); ok && len(hex) == 64 {
			if err := keep("sha256:"+hex, hdr.Size, io.NewSectionReader(f, hend, dend-hend)); err != nil {
				return err
			}
		}
		off = dend
	}
}

var errFrame = errors.New("not a complete zstd frame")

// frameEnd returns where the zstd frame starting at off ends, by walking its block headers
// (RFC 8878, section 3.1.1) without decoding it.
func frameEnd(r io.ReaderAt, off, size int64) (int64, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(r, off, size-off), 64<<10)
	var hdr [6]byte
	if _, err := io.ReadFull(br, hdr[:5]); err != nil {
		return 0, errFrame
	}
	if !bytes.Equal(hdr[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return 0, errFrame
	}
	fhd := hdr[4]
	single := fhd&0x20 != 0
	n := int64(5)
	skip := int64(0)
	if !single {
		skip++ // window descriptor
	}
	skip += []int64{0, 1, 2, 4}[fhd&3] // dictionary id
	switch fcs := fhd >> 6; {
	case fcs == 0 && single:
		skip++
	case fcs > 0:
		skip += []int64{0, 2, 4, 8}[fcs]
	}
	if _, err := br.Discard(int(skip)); err != nil {
		return 0, errFrame
	}
	n += skip
	for {
		if _, err := io.ReadFull(br, hdr[:3]); err != nil {
			return 0, errFrame
		}
		bh := uint32(hdr[0]) | uint32(hdr[1])<<8 | uint32(hdr[2])<<16
		last, typ, bsize := bh&1 == 1, (bh>>1)&3, int64(bh>>3)
		switch typ {
		case 1: // RLE: one byte
			bsize = 1
		case 3:
			return 0, errFrame
		}
		if _, err := br.Discard(int(bsize)); err != nil {
			return 0, errFrame
		}
		n += 3 + bsize
		if last {
			break
		}
	}
	if fhd&4 != 0 { // content checksum
		if _, err := br.Discard(4); err != nil {
			return 0, errFrame
		}
		n += 4
	}
	if off+n > size {
		return 0, fmt.Errorf("%w: past the end", errFrame)
	}
	return off + n, nil
}
