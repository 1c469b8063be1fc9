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

// A raw frame is written in chunks of rawBlocksAtOne blocks (chunkContent content bytes, the
// last chunk holding the rest), each one write; the frame header is a write of its own. These
// writes are the frame's extents: extent 0 is the header, extent k the chunk k-1. A stopped
// write is taken up at a chunk's start (Writer.Continue).
const (
	chunkContent = rawBlocksAtOne * rawBlockMax
	chunkFrame   = rawBlocksAtOne * (3 + rawBlockMax)
)

// chunks is the number of chunks of a raw frame of content bytes (an empty frame has one).
func chunks(content int64) int64 { return max(1, (content+chunkContent-1)/chunkContent) }

// extent returns where extent k of the raw frame of content bytes lies, relative to the frame's
// start, and the content bytes it ends at (0 for the header).
func extent(k int, content int64) (off, n, contentEnd int64) {
	if k == 0 {
		return 0, rawHeaderLen, 0
	}
	start := int64(k-1) * chunkContent
	c := min(chunkContent, content-start)
	blocks := max(1, (c+rawBlockMax-1)/rawBlockMax)
	return rawHeaderLen + int64(k-1)*chunkFrame, c + 3*blocks, start + c
}

// rawBufs are the buffers of writeRawFrame: rawBlocksAtOne blocks with their headers.
var rawBufs = sync.Pool{New: func() any { b := make([]byte, chunkFrame); return &b }}

// wroteFunc is told of every extent writeRawFrame wrote: its file offset, its bytes, the
// content bytes written so far and whether it was the last. An error stops the write.
type wroteFunc func(at int64, p []byte, content int64, last bool) error

// writeRawFrame writes at off, through w, the raw frame of exactly size bytes read from src
// followed by the tar padding; then it reads src to io.EOF, so that a verifying src fails
// there on a mismatch, and so does writeRawFrame. Bytes reach w before src is verified: the
// caller writes into a file that is not trusted until complete. from, a multiple of
// chunkContent, is where src starts in the content: the header and the chunks before it are
// left as they are. wrote, if not nil, is told of every extent once written.
func writeRawFrame(w io.WriterAt, off, size, from int64, src io.Reader, wrote wroteFunc) error {
	content := size + padding(size)
	if from < 0 || from%chunkContent != 0 || (from > 0 && from >= content) {
		return fmt.Errorf("raw frame of %d bytes taken up at %d: not the start of a chunk", content, from)
	}
	if from == 0 {
		var hdr [rawHeaderLen]byte
		binary.LittleEndian.PutUint32(hdr[0:], zstdMagic)
		hdr[4], hdr[5] = rawDescriptor, rawWindow
		binary.LittleEndian.PutUint64(hdr[6:], uint64(content))
		if _, err := w.WriteAt(hdr[:], off); err != nil {
			return err
		}
		if wrote != nil {
			if err := wrote(off, hdr[:], 0, false); err != nil {
				return err
			}
		}
	}
	at, _, _ := extent(int(from/chunkContent)+1, content)
	off += at
	bp := rawBufs.Get().(*[]byte)
	defer rawBufs.Put(bp)
	buf := *bp
	lim := &io.LimitedReader{R: src, N: size - from}
	data := io.MultiReader(lim, zeros{}) // never at EOF: its errors are src's
	for done, last := from, false; !last; {
		n := 0
		for k := 0; k < rawBlocksAtOne && !last; k++ {
			blk := min(content-done, rawBlockMax)
			last = done+blk == content
			h := blockHeader(blk, last)
			copy(buf[n:], h[:])
			if _, err := io.ReadFull(data, buf[n+3:n+3+int(blk)]); err != nil {
				return err
			}
			n += 3 + int(blk)
			done += blk
		}
		if _, err := w.WriteAt(buf[:n], off); err != nil {
			return err
		}
		if wrote != nil {
			if err := wrote(off, buf[:n], done, last); err != nil {
				return err
			}
		}
		off += int64(n)
	}
	if lim.N > 0 {
		return sizeError{size - lim.N, size}
	}
	var one [1]byte
	if m, err := src.Read(one[:]); m > 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = sizeError{size + 1, size}
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
