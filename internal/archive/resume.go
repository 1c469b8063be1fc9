package archive

import "io"

// Resume reports whether the named entry (one to be written by WriteEntry) was recovered
// from an unfinished earlier run instead: found complete at its place in NAME.partial, or
// copied from NAME.partial.prev; either way read back and verified against its digest and
// size. When it reports false the entry is still to be written. Safe for concurrent use on
// different entries.
func (w *Writer) Resume(name string) bool {
	i, ok := w.byName[name]
	if !ok {
		return false
	}
	if w.isDone(i) {
		return false
	}
	switch {
	case w.inPlace:
		r, err := w.check.openEntry(w.tab.Entries[i])
		if err != nil {
			return false
		}
		_, err = io.Copy(io.Discard, r)
		r.Close()
		if err != nil {
			return false
		}
		w.markDone(i)
		return true
	case w.prev != nil:
		r, err := w.prev.OpenEntry(name)
		if err != nil {
			return false
		}
		defer r.Close()
		return w.WriteEntry(name, r) == nil
	}
	return false
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
