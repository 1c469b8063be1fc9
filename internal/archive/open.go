package archive

import (
	"fmt"
	"io"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
)

// ReadOption configures NewReader.
type ReadOption func(*readConfig)

type readConfig struct {
	checkFooter func(tableDigest string, size int64) error
	closer      io.Closer
	origin      any
}

// CheckFooter has NewReader call check with the offset table's digest as the footer records it
// ("sha256:<hex>") and the bundle's size, before the table is read: a signed bundle's must be
// the ones its signed checksum file records (package trust). An error from check is
// NewReader's. Default: no check.
func CheckFooter(check func(tableDigest string, size int64) error) ReadOption {
	return func(c *readConfig) { c.checkFooter = check }
}

// Closing has Bundle.Close close c too, once the bundle's decoders are released: the files the
// bytes are read from. Default: nothing else is closed.
func Closing(c io.Closer) ReadOption { return func(rc *readConfig) { rc.closer = c } }

// From records what the bundle is opened from, for Bundle.Origin (package trust records its
// Set). Default: nil.
func From(origin any) ReadOption { return func(c *readConfig) { c.origin = origin } }

// NewReader reads a bundle of the given size from r: it reads the footer and the offset table at
// the end, then the manifest at the start, and checks that they agree (every listed blob has an
// entry of the same size, every entry is listed). It does not read the blobs: see Verify. Close
// does not close r, unless Closing says so.
//
// NewReader checks no checksum file and no signature: a bundle on disk is opened through
// package trust, which checks them first and then calls NewReader with the options above.
func NewReader(r io.ReaderAt, size int64, opts ...ReadOption) (*Bundle, error) {
	var c readConfig
	for _, o := range opts {
		o(&c)
	}
	f, err := readFooter(r, size)
	if err != nil {
		return nil, err
	}
	if c.checkFooter != nil {
		if err := c.checkFooter(f.digest, size); err != nil {
			return nil, err
		}
	}
	tab, err := readTable(r, f)
	if err != nil {
		return nil, err
	}
	b := &Bundle{f: r, size: size, tab: tab, byName: make(map[string]entry, len(tab.Entries))}
	for _, e := range tab.Entries {
		b.byName[e.Name] = e
	}
	if err := b.readManifest(); err != nil {
		return nil, err
	}
	b.closer, b.origin = c.closer, c.origin
	return b, nil
}

// readManifest reads the manifest, the first entry, within its bound, and checks that it and
// the offset table list the same entries, of the same digests and sizes.
func (b *Bundle) readManifest() error {
	tab := b.tab
	if tab.Entries[0].Size > maxManifestSize {
		return fmt.Errorf("%w: %s declares %d bytes", ErrCorrupt, ManifestName, tab.Entries[0].Size)
	}
	raw, err := b.ReadFile(ManifestName)
	if err != nil {
		return err
	}
	if b.manifest, err = decodeManifest(raw); err != nil {
		return err
	}
	want := b.manifest.expected()
	for _, e := range tab.Entries[1:] {
		w, ok := want[e.Name]
		switch {
		case !ok:
			return fmt.Errorf("%w: entry %q is not listed in the manifest", ErrCorrupt, e.Name)
		case e.Digest != w.Digest || (w.Size >= 0 && e.Size != w.Size):
			return fmt.Errorf("%w: entry %q: offset table says %s (%d bytes), manifest says %s (%d bytes)",
				ErrCorrupt, e.Name, e.Digest, e.Size, w.Digest, w.Size)
		}
		delete(want, e.Name)
	}
	for name := range want {
		return fmt.Errorf("%w: %s is listed in the manifest but missing from the bundle", ErrCorrupt, name)
	}
	return nil
}

// openPath opens the bundle at path (the bundle file, or any of its parts: parts.Locate)
// without the trusted door: for the files this package writes and reads back itself
// (NAME.partial, NAME.partial.prev: Create, Unfinished, Checkpointed), which no one has handed
// on yet. Every other bundle is opened through package trust.
func openPath(path string) (*Bundle, error) {
	s, err := parts.Locate(path)
	if err != nil {
		return nil, err
	}
	st, err := s.OpenStore()
	if err != nil {
		return nil, err
	}
	b, err := NewReader(st, st.Size(), Closing(st))
	if err != nil {
		st.Close()
		where := s.Whole
		if s.Split() {
			where = s.Name + " (in parts)"
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return b, nil
}
