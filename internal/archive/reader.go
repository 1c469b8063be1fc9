package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/verify"
	"github.com/klauspost/compress/zstd"
)

// Bundle is an open bundle file, read at random through its offset table. Every read is
// verified against the digest and size the manifest declares. Safe for concurrent use.
//
// A bundle on disk is opened through package trust (trust.Find, then Set.Open), the one door
// that checks its checksum file and signature first; NewReader reads the bytes of one that is
// not a file of its own.
type Bundle struct {
	f        io.ReaderAt
	closer   io.Closer
	size     int64
	tab      *table
	byName   map[string]entry
	manifest *Manifest
	origin   any // what it was opened from (From); nil for NewReader alone

	mu     sync.Mutex
	decs   []*zstd.Decoder // idle decoders
	closed bool
}

// Manifest returns the bundle manifest. The caller must not modify it.
func (b *Bundle) Manifest() *Manifest { return b.manifest }

// Origin is what the bundle was opened from, as NewReader's option From gave it: the
// *trust.Set for a bundle opened through trust (trust.SetOf), nil otherwise.
func (b *Bundle) Origin() any { return b.origin }

// TableDigest is the digest of the offset table, "sha256:<hex>", as the footer records it
// (and a signed checksum file must).
func (b *Bundle) TableDigest() string { return b.tab.digest }

// Size is the size of the bundle file in bytes.
func (b *Bundle) Size() int64 { return b.size }

// Close closes the file and releases the decoders. Readers still open fail afterwards.
func (b *Bundle) Close() error {
	b.mu.Lock()
	for _, d := range b.decs {
		d.Close()
	}
	b.decs, b.closed = nil, true
	b.mu.Unlock()
	if b.closer != nil {
		return b.closer.Close()
	}
	return nil
}

// EntryRange returns where the named entry's frame lies in the file, for diagnostics and tests.
func (b *Bundle) EntryRange(name string) (offset, length int64, ok bool) {
	e, ok := b.byName[name]
	return e.Offset, e.Length, ok
}

// OpenBlob returns a verified reader of the blob with the given digest: it fails at its end,
// instead of returning io.EOF, unless the content matched. The caller closes it.
func (b *Bundle) OpenBlob(digest string) (io.ReadCloser, error) {
	return b.OpenEntry(BlobName(digest))
}

// ByDigest returns a verified reader of a blob the bundle carries, and the media type its
// manifest records for it ("" for none); false when it does not carry it or cannot read it.
// The caller closes it. It lets a registry client read what an earlier bundle has (oci.Local).
func (b *Bundle) ByDigest(digest string) (io.ReadCloser, string, bool) {
	rec, ok := b.manifest.BlobByDigest(digest)
	if !ok {
		return nil, "", false
	}
	rc, err := b.OpenBlob(digest)
	if err != nil {
		return nil, "", false
	}
	return rc, rec.MediaType, true
}

// OpenEntry returns a verified reader of the named entry. The caller closes it.
func (b *Bundle) OpenEntry(name string) (io.ReadCloser, error) {
	e, ok := b.byName[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	r, err := b.openEntry(e)
	if err != nil {
		return nil, fmt.Errorf("bundle entry %s: %w", name, err)
	}
	return r, nil
}

// streamMin is the smallest entry read through descriptors of its own (parts.Store.Stream): below
// it, an open costs more than the readahead gains.
const streamMin = 1 << 20

// openEntry opens e for a verified read: a raw data frame straight from the file, any other
// through a decoder. A large entry of a bundle on disk is read through descriptors of its own.
func (b *Bundle) openEntry(e entry) (io.ReadCloser, error) {
	ra, done := b.f, func() {}
	if st, ok := b.f.(*parts.Store); ok && e.Length >= streamMin {
		ra, done = st.Stream(e.Offset, e.Length)
	}
	r, err := b.openStream(e, io.NewSectionReader(ra, e.Offset, e.Length))
	if err != nil {
		done()
		return nil, err
	}
	r.done = done
	return r, nil
}

// ReadFile reads a whole entry, verified. Meant for small entries (manifests, configs).
func (b *Bundle) ReadFile(name string) ([]byte, error) {
	r, err := b.OpenEntry(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r) // errors name the entry already
}

// openFrame reads the frames of e from src through a decoder, one frame at a time: the header
// frame must hold exactly e's tar header, the data frame exactly its data and zero padding, and
// nothing may follow them in src. It positions a verified reader on the data.
func (b *Bundle) openFrame(e entry, src io.Reader) (*entryReader, error) {
	dec, err := b.decoder()
	if err != nil {
		return nil, err
	}
	fr := newFrameReader(src, "header frame")
	if err := b.readHeaderFrame(dec, fr, e); err != nil {
		b.release(dec)
		return nil, err
	}
	fr.Next("data frame")
	if err := dec.Reset(fr); err != nil {
		b.release(dec)
		return nil, fmt.Errorf("%w: data frame: %v", ErrCorrupt, err)
	}
	data := decoded{dec, fr}
	r := &entryReader{Reader: verify.NewReader(io.LimitReader(data, e.Size), e.Digest, e.Size), b: b, dec: dec, name: e.Name}
	r.finish = func() error {
		pad := padding(e.Size)
		rest, err := io.ReadAll(io.LimitReader(data, pad+1))
		switch {
		case err != nil:
			return fmt.Errorf("%w: data frame: %v", ErrCorrupt, err)
		case int64(len(rest)) > pad:
			return fmt.Errorf("%w: data frame decodes to more than the entry's %d bytes and its padding", ErrCorrupt, e.Size)
		case int64(len(rest)) < pad || !bytes.Equal(rest, make([]byte, pad)):
			return fmt.Errorf("%w: bad tar padding", ErrCorrupt)
		case !fr.Done():
			return fmt.Errorf("%w: data frame: not read to its end", ErrCorrupt)
		}
		return endOfEntry(src)
	}
	return r, nil
}

// checkHeader rejects a tar header that is not the regular file of the expected name and size,
// as our writer makes it: permission bits only, no owner names, no link, no device, no PAX
// record but those Go's tar writer emits for a name or a size (no extended attributes).
func checkHeader(hdr *tar.Header, name string, size int64) error {
	if hdr.Name != name {
		return fmt.Errorf("%w: found entry %q where the offset table places %q", ErrCorrupt, hdr.Name, name)
	}
	if hdr.Typeflag != tar.TypeReg {
		return fmt.Errorf("%w: entry %q is not a regular file (type %q)", ErrCorrupt, hdr.Name, hdr.Typeflag)
	}
	if hdr.Size != size {
		return fmt.Errorf("%w: entry %q is %d bytes, declared %d", ErrCorrupt, hdr.Name, hdr.Size, size)
	}
	if hdr.Mode&^0o777 != 0 || hdr.Linkname != "" || hdr.Devmajor != 0 || hdr.Devminor != 0 {
		return fmt.Errorf("%w: entry %q has mode %o, a link or a device: not a plain file", ErrCorrupt, hdr.Name, hdr.Mode)
	}
	for k := range hdr.PAXRecords {
		if k != "path" && k != "size" && k != "mtime" {
			return fmt.Errorf("%w: entry %q carries the PAX record %q, which no bundle writer emits", ErrCorrupt, hdr.Name, k)
		}
	}
	return nil
}

type entryReader struct {
	*verify.Reader
	b    *Bundle
	dec  *zstd.Decoder // of a compressed frame, or
	raw  *rawReader    // of a raw frame
	name string
	done func() // closes the descriptors opened for it, if any
	// finish checks, once the data verified, that the entry's frames hold nothing more.
	finish func() error
}

func (r *entryReader) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	if err == io.EOF && r.finish != nil {
		if ferr := r.finish(); ferr != nil {
			err = ferr
		}
		r.finish = func() error { return err }
	}
	if err != nil && err != io.EOF {
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			err = fmt.Errorf("%w: shorter than declared (truncated?)", ErrCorrupt)
		case errors.Is(err, zstd.ErrMagicMismatch) || errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrCRCMismatch):
			err = fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		err = fmt.Errorf("bundle entry %s: %w", r.name, err)
	}
	return n, err
}

func (r *entryReader) Close() error {
	if r.done != nil {
		r.done()
		r.done = nil
	}
	if r.raw != nil {
		r.raw.release()
	}
	if r.dec != nil {
		r.b.release(r.dec)
		r.dec = nil
	}
	return nil
}

func (b *Bundle) decoder() (*zstd.Decoder, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := len(b.decs); n > 0 {
		d := b.decs[n-1]
		b.decs = b.decs[:n-1]
		return d, nil
	}
	return newDecoder()
}

func (b *Bundle) release(d *zstd.Decoder) {
	d.Reset(nil)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		d.Close()
		return
	}
	b.decs = append(b.decs, d)
}

// newDecoder makes a synchronous decoder with the window capped against hostile input.
func newDecoder() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow),
		zstd.WithDecoderLowmem(true))
}
