package archive

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// A layer's data frame is a zstd frame of raw (stored) blocks: layers are gzip or zstd already,
// and zstd's fastest level saves under 0.2 % on them (docs/performance.md). Its length is then
// a function of the size alone, so every offset of the bundle is known before a layer is
// pulled, and layers are written in parallel, each at its place (Writer.WriteEntry).
//
// Frame (RFC 8878): magic, a header descriptor (8-byte content size, no checksum: the entry's
// sha256 covers it), a window descriptor of 128 KiB, the content size, then blocks of at most
// 128 KiB, each a 3-byte header (last flag, type raw, size) and the bytes as they are.
const (
	zstdMagic      = 0xFD2FB528
	rawHeaderLen   = 4 + 1 + 1 + 8
	rawBlockMax    = 128 << 10
	rawDescriptor  = 0xC0           // content size field of 8 bytes, no checksum, no dictionary
	rawWindow      = (17 - 10) << 3 // window 2^17 = 128 KiB, the largest block
	rawBlocksAtOne = 8              // blocks gathered into one write
)

// rawFrameLen is the length of the raw frame holding content bytes.
func rawFrameLen(content int64) int64 {
	blocks := (content + rawBlockMax - 1) / rawBlockMax
	if blocks == 0 {
		blocks = 1 // an empty frame still has one (empty, last) block
	}
	return rawHeaderLen + 3*blocks + content
}

// rawBufs are the buffers of writeRawFrame: rawBlocksAtOne blocks with their headers.
var rawBufs = sync.Pool{New: func() any { b := make([]byte, rawBlocksAtOne*(3+rawBlockMax)); return &b }}

// writeRawFrame writes at off, through w, the raw frame of exactly size bytes read from src
// followed by the tar padding; then it reads src to io.EOF, so that a verifying src fails
// there on a mismatch, and so does writeRawFrame. Bytes reach w before src is verified: the
// caller writes into a file that is not trusted until complete.
func writeRawFrame(w io.WriterAt, off, size int64, src io.Reader) error {
	content := size + padding(size)
	var hdr [rawHeaderLen]byte
	binary.LittleEndian.PutUint32(hdr[0:], zstdMagic)
	hdr[4], hdr[5] = rawDescriptor, rawWindow
	binary.LittleEndian.PutUint64(hdr[6:], uint64(content))
	if _, err := w.WriteAt(hdr[:], off); err != nil {
		return err
	}
	off += rawHeaderLen
	bp := rawBufs.Get().(*[]byte)
	defer rawBufs.Put(bp)
	buf := *bp
	lim := &io.LimitedReader{R: src, N: size}
	data := io.MultiReader(lim, zeros{}) // never at EOF: its errors are src's
	for done, last := int64(0), false; !last; {
		n := 0
		for k := 0; k < rawBlocksAtOne && !last; k++ {
			blk := min(content-done, rawBlockMax)
			last = done+blk == content
			h := uint32(blk) << 3 // block type 0: raw
			if last {
				h |= 1
			}
			buf[n], buf[n+1], buf[n+2] = byte(h), byte(h>>8), byte(h>>16)
			if _, err := io.ReadFull(data, buf[n+3:n+3+int(blk)]); err != nil {
				return err
			}
			n += 3 + int(blk)
			done += blk
		}
		if _, err := w.WriteAt(buf[:n], off); err != nil {
			return err
		}
		off += int64(n)
	}
	if lim.N > 0 {
		return fmt.Errorf("%d bytes, want %d", size-lim.N, size)
	}
	var one [1]byte
	if m, err := src.Read(one[:]); m > 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("more than the declared %d bytes", size)
		}
		return err
	}
	return nil
}

// padding is the number of zero bytes that end a tar entry of size bytes.
func padding(size int64) int64 { return (blockSize - size%blockSize) % blockSize }

// zeros reads as an endless run of zero bytes (the tar padding after an entry's data).
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
