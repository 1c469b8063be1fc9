package archive

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/element-hq/ess-airgap/internal/verify"
	"github.com/klauspost/compress/zstd"
)

// maxHeaderFrame bounds the frame holding an entry's tar header (512 bytes, or a few more
// with a PAX record; compressed).
const maxHeaderFrame = 4 << 10

// maxFrameLen bounds the frames of an entry of size bytes: its header frame, then its data in
// at most the raw layout's bytes plus 1/4096. A zstd encoder never writes more than the raw
// layout and a checksum; a longer frame can only be padded with empty blocks, which would make
// a reader crawl, so the offset table's check refuses it before any entry is read.
func maxFrameLen(size int64) int64 {
	content := size + padding(size)
	return maxHeaderFrame + rawFrameLen(content) + content>>12 + 64
}

// openStream opens e from src, its frames (e.Length bytes, read in order): a raw data frame is
// read without a zstd decoder (rawReader), any other frame through one. It serves the random
// reads (src a section of the file) and the one pass of Verify (src the file read in order).
// Either way the entry must be exactly its two frames (frames.go): the reader fails, instead of
// ending, unless the header frame holds exactly the entry's tar header, the data frame exactly
// its data and zero padding, and nothing follows them within the entry's range.
func (b *Bundle) openStream(e entry, src io.Reader) (*entryReader, error) {
	content := e.Size + padding(e.Size)
	hdrLen := e.Length - rawFrameLen(content)
	if hdrLen > 0 && hdrLen <= maxHeaderFrame {
		head := make([]byte, hdrLen+rawHeaderLen)
		if _, err := io.ReadFull(src, head); err != nil {
			return nil, fmt.Errorf("%w: frame header: %v", ErrCorrupt, err)
		}
		if isRawHeader(head[hdrLen:], content) {
			if err := b.checkHeaderFrame(e, bytes.NewReader(head[:hdrLen])); err != nil {
				return nil, err
			}
			rr := newRawReader(src, e.Size)
			r := &entryReader{Reader: verify.NewReader(rr, e.Digest, e.Size), b: b, raw: rr, name: e.Name}
			r.finish = func() error { return endOfEntry(src) }
			return r, nil
		}
		src = io.MultiReader(bytes.NewReader(head), src)
	}
	return b.openFrame(e, src)
}

// endOfEntry checks that an entry's range holds nothing after its data frame.
func endOfEntry(src io.Reader) error {
	if !atEOF(src) {
		return fmt.Errorf("%w: more bytes after the entry's data frame, within its range", ErrCorrupt)
	}
	return nil
}

// isRawHeader reports whether h starts the raw frame (rawframe.go) of content bytes.
func isRawHeader(h []byte, content int64) bool {
	return binary.LittleEndian.Uint32(h[0:]) == zstdMagic && h[4] == rawDescriptor && h[5] == rawWindow &&
		binary.LittleEndian.Uint64(h[6:]) == uint64(content)
}

// rawComplete reports, in constant time, whether e has a raw data frame that was written to its
// end: its frame header and its last block header are in place. The writer writes a frame's
// blocks in order, so a frame that a stopped run did not finish fails here (its end still
// reads as zeros); one that passes is still verified when read.
func (b *Bundle) rawComplete(e entry) bool {
	content := e.Size + padding(e.Size)
	dataOff := e.Offset + e.Length - rawFrameLen(content)
	var h [rawHeaderLen]byte
	if _, err := b.f.ReadAt(h[:], dataOff); err != nil || !isRawHeader(h[:], content) {
		return false
	}
	blocks := max(1, (content+rawBlockMax-1)/rawBlockMax)
	lastSize := content - (blocks-1)*rawBlockMax
	var last [3]byte
	at := dataOff + rawHeaderLen + (blocks-1)*(3+rawBlockMax)
	if _, err := b.f.ReadAt(last[:], at); err != nil {
		return false
	}
	return last == blockHeader(lastSize, true)
}

// blockHeader is the 3-byte header of a raw block of size bytes.
func blockHeader(size int64, last bool) [3]byte {
	h := uint32(size) << 3 // block type 0: raw
	if last {
		h |= 1
	}
	return [3]byte{byte(h), byte(h >> 8), byte(h >> 16)}
}

// checkHeaderFrame decodes a frame that must hold exactly the tar header of e, and must be
// all of src.
func (b *Bundle) checkHeaderFrame(e entry, src io.Reader) error {
	dec, err := b.decoder()
	if err != nil {
		return err
	}
	defer b.release(dec)
	fr := newFrameReader(src, "header frame")
	if err := b.readHeaderFrame(dec, fr, e); err != nil {
		return err
	}
	if !atEOF(src) {
		return fmt.Errorf("%w: header frame: more bytes after it, before the data frame", ErrCorrupt)
	}
	return nil
}

// maxHeaderBytes bounds an entry's decoded tar header: one 512-byte block, or a few more with
// a PAX record (a size over 8 GiB, a long name).
const maxHeaderBytes = 8 << 10

// readHeaderFrame decodes the frame fr is on with dec, and checks that it holds exactly one
// tar header, that of e: no second header, no data, nothing after it.
func (b *Bundle) readHeaderFrame(dec *zstd.Decoder, fr *frameReader, e entry) error {
	if err := dec.Reset(fr); err != nil {
		return fmt.Errorf("%w: header frame: %v", ErrCorrupt, err)
	}
	raw, err := io.ReadAll(io.LimitReader(decoded{dec, fr}, maxHeaderBytes+1))
	switch {
	case err != nil:
		return fmt.Errorf("%w: header frame: %v", ErrCorrupt, err)
	case len(raw) > maxHeaderBytes:
		return fmt.Errorf("%w: header frame of %q decodes to more than %d bytes", ErrCorrupt, e.Name, maxHeaderBytes)
	case !fr.Done():
		return fmt.Errorf("%w: header frame of %q: not read to its end", ErrCorrupt, e.Name)
	}
	return checkHeaderBytes(raw, e)
}

// checkHeaderBytes checks that raw is exactly one tar header (with the PAX records Go's tar
// writer emits for a long name or a large size, and no others), that of e.
func checkHeaderBytes(raw []byte, e entry) error {
	br := bytes.NewReader(raw)
	h, err := tar.NewReader(br).Next()
	if err != nil {
		return fmt.Errorf("%w: tar header of %q: %v", ErrCorrupt, e.Name, err)
	}
	if err := checkHeader(h, e.Name, e.Size); err != nil {
		return err
	}
	if br.Len() != 0 {
		return fmt.Errorf("%w: header frame of %q holds %d bytes more than its tar header (another header, or data)", ErrCorrupt, e.Name, br.Len())
	}
	return nil
}

// rawReader reads the data of a raw frame from src, positioned just after the frame header.
// The layout fixes every block: all hold rawBlockMax bytes but the last, which holds the rest
// and alone has the last flag. rawReader reads rawBlocksAtOne blocks at a time and refuses the
// first block header that differs from the layout's (an empty block, a short one, another
// type), so a damaged or crafted frame is refused at once, whatever its length. After the data
// it checks the tar padding (zeros) and the frame's end. Not safe for concurrent use.
type rawReader struct {
	src     io.Reader
	content int64 // data and padding bytes in the frame
	size    int64 // data bytes
	next    int64 // content offset of the next block to read from src
	end     bool  // the last block was read
	buf     *[]byte
	chunk   []byte // content bytes read and not handed out yet
	at      int64  // content offset of chunk[0]
	err     error  // sticky
}

func newRawReader(src io.Reader, size int64) *rawReader {
	return &rawReader{src: src, size: size, content: size + padding(size)}
}

func (r *rawReader) Read(p []byte) (int, error) {
	for r.err == nil {
		if data := min(int64(len(r.chunk)), r.size-r.at); data > 0 {
			n := copy(p, r.chunk[:data])
			r.chunk, r.at = r.chunk[n:], r.at+int64(n)
			return n, nil
		}
		if r.end { // all data out, the padding checked by fill
			r.err = io.EOF
		} else {
			r.err = r.fill()
		}
		if r.err != nil {
			r.release()
		}
	}
	return 0, r.err
}

// fill reads the next blocks (up to rawBlocksAtOne of them) in one read, checks their headers
// and the padding they hold, and leaves their content in chunk.
func (r *rawReader) fill() error {
	if r.buf == nil {
		r.buf = rawBufs.Get().(*[]byte)
	}
	buf := *r.buf
	// The blocks that follow, as the layout has them.
	var sizes [rawBlocksAtOne]int64
	k, n, next := 0, 0, r.next
	for k < rawBlocksAtOne && !(k > 0 && next == r.content) {
		sizes[k] = min(r.content-next, rawBlockMax)
		n += 3 + int(sizes[k])
		next += sizes[k]
		k++
	}
	if _, err := io.ReadFull(r.src, buf[:n]); err != nil {
		return fmt.Errorf("%w: raw frame ends early (truncated?): %v", ErrCorrupt, err)
	}
	// Check each header and move the blocks' bytes together, over the headers.
	in, out := 0, 0
	for i := range k {
		last := r.next+sizes[i] == r.content
		if want := blockHeader(sizes[i], last); [3]byte(buf[in:in+3]) != want {
			return fmt.Errorf("%w: raw frame: the block at content offset %d has header %x, the layout's is %x",
				ErrCorrupt, r.next, buf[in:in+3], want[:])
		}
		out += copy(buf[out:], buf[in+3:in+3+int(sizes[i])])
		in += 3 + int(sizes[i])
		r.next += sizes[i]
		r.end = last
	}
	r.chunk, r.at = buf[:out], r.next-int64(out)
	if r.next > r.size { // this chunk holds padding: zeros only
		for _, c := range r.chunk[max(0, r.size-r.at):] {
			if c != 0 {
				return fmt.Errorf("%w: bad tar padding", ErrCorrupt)
			}
		}
	}
	return nil
}

// release returns the buffer to its pool; the reader holds none once it ended, and Close of
// the entry reader releases it otherwise.
func (r *rawReader) release() {
	if r.buf != nil {
		rawBufs.Put(r.buf)
		r.buf, r.chunk = nil, nil
	}
}
