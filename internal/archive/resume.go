package archive

import (
	"context"
	"io"
)

// Resume reports whether the named entry (one to be written by WriteEntry) was recovered
// from an unfinished earlier run instead: found complete at its place in NAME.partial, or
// copied from NAME.partial.prev; either way read back and verified against its digest and
// size. Whether the earlier run wrote the entry to its end is decided first, in constant time
// (rawComplete), so an entry it did not finish costs two small reads. When Resume reports false
// the entry is still to be written. It stops early, reporting false, once ctx is done. Safe for
// concurrent use on different entries.
func (w *Writer) Resume(ctx context.Context, name string) bool {
	i, ok := w.byName[name]
	if !ok || w.isDone(i) {
		return false
	}
	switch {
	case w.inPlace:
		e := w.tab.Entries[i]
		if !w.check.rawComplete(e) {
			return false
		}
		r, err := w.check.openEntry(e)
		if err != nil {
			return false
		}
		defer r.Close()
		if drain(ctx, r) != nil {
			return false
		}
		w.markDone(i)
		return true
	case w.prev != nil:
		e, ok := w.prev.byName[name]
		if !ok || !w.prev.rawComplete(e) {
			return false
		}
		r, err := w.prev.openEntry(e)
		if err != nil {
			return false
		}
		defer r.Close()
		return w.WriteEntry(name, ctxReader{ctx, r}) == nil
	}
	return false
}

// drain reads r to its end, in large reads, checking ctx between them.
func drain(ctx context.Context, r io.Reader) error {
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := r.Read(buf); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// ctxReader fails its reads once ctx is done, so that a long copy stops within one read.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Unfinished returns the manifest of the unfinished bundle NAME.partial that a stopped run
// left, if there is one that can be read: a rerun that keeps its creation time lays the file
// out the same way and resumes it in place.
func Unfinished(path string) (*Manifest, bool) {
	b, err := Open(path + ".partial")
	if err != nil {
		return nil, false
	}
	defer b.Close()
	return b.Manifest(), true
}
