package archive

import (
	"fmt"
	"io"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
)

// OpenBlobRange returns a reader of n bytes of the blob with the given digest, from offset
// off: for a layer (a raw data frame) read straight from the block that holds off, for any
// other entry decoded from its start. The bytes are not verified against the digest (a part of
// a blob cannot be): callers hand on ranges of a blob they verified whole with OpenBlob. Block
// headers and padding are checked as in any read. A range of 1 MiB or more of a bundle on disk
// is read through descriptors of its own, as OpenBlob reads (parts.Store.Stream). The caller closes
// it.
func (b *Bundle) OpenBlobRange(digest string, off, n int64) (io.ReadCloser, error) {
	name := BlobName(digest)
	e, ok := b.byName[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if off < 0 || n < 0 || off+n > e.Size {
		return nil, fmt.Errorf("bundle entry %s: range %d+%d is outside its %d bytes", name, off, n, e.Size)
	}
	content := e.Size + padding(e.Size)
	dataOff := e.Offset + e.Length - rawFrameLen(content)
	var h [rawHeaderLen]byte
	if _, err := b.f.ReadAt(h[:], dataOff); err == nil && isRawHeader(h[:], content) && e.Length-rawFrameLen(content) <= maxHeaderFrame {
		first := off / rawBlockMax
		at := dataOff + rawHeaderLen + first*(3+rawBlockMax)
		ra, done := b.f, func() {}
		if st, ok := b.f.(*parts.Store); ok && n >= streamMin {
			ra, done = st.Stream(at, e.Offset+e.Length-at)
		}
		rr := newRawReader(io.NewSectionReader(ra, at, e.Offset+e.Length-at), e.Size)
		rr.next = first * rawBlockMax
		release := func() { rr.release(); done() }
		if _, err := io.CopyN(io.Discard, rr, off-rr.next); err != nil {
			release()
			return nil, fmt.Errorf("bundle entry %s: %w", name, err)
		}
		return &rangeReader{Reader: io.LimitReader(rr, n), close: release}, nil
	}
	r, err := b.openEntry(e)
	if err != nil {
		return nil, fmt.Errorf("bundle entry %s: %w", name, err)
	}
	if _, err := io.CopyN(io.Discard, r, off); err != nil {
		r.Close()
		return nil, err
	}
	return &rangeReader{Reader: io.LimitReader(r, n), close: func() { r.Close() }}, nil
}

type rangeReader struct {
	io.Reader
	close func()
}

func (r *rangeReader) Close() error {
	r.close()
	return nil
}
