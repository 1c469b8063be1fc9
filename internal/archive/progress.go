package archive

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cespare/xxhash/v2"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// Every write of a layer's frame is recorded as it lands: how far the frame is written in order,
// a check sum of each extent (xxhash64: cheap, for finding later whether the file still holds
// what was written), and, at each chunk's end, the sha256 state of the layer's content so far
// as its verifying reader kept it. The file's hasher follows what is written (hasher.go), the
// checkpoint saves it (checkpoint.go), and a write that stopped is taken up from its last chunk
// (Continue), in this run or the next.

// entryProgress is what the current write of an entry has written. Guarded by Writer.mu.
type entryProgress struct {
	writing bool     // a WriteEntryFrom holds the entry
	avail   int64    // frame bytes, from the data frame's start, written in order and kept
	sums    []uint64 // xxhash64 of every extent written, in order: the header, then each chunk
	at      int64    // content bytes a continuation starts at (a chunk's start); 0: none
	state   []byte   // sha256 state of the content's first at bytes
}

// Stater is a verifying reader that can tell how many bytes of its content it has read, from
// the content's start, and the sha256 state of those bytes (verify.Reader.State). A reader
// given to WriteEntryFrom that is one lets a stopped write be taken up where it stopped.
type Stater interface {
	State() (n int64, state []byte)
}

// WriteEntry writes the named entry whole: WriteEntryFrom from 0.
func (w *Writer) WriteEntry(ctx context.Context, name string, r io.Reader) error {
	return w.WriteEntryFrom(ctx, name, 0, r)
}

// WriteEntryFrom writes the named entry, one of those Create was given without Data, from byte
// from of its content on, read from r, then reads r to io.EOF. from is 0 (a write from the
// start, dropping whatever an earlier write left), or what Continue reports. r yields the
// content from there to its end and verifies the whole content, failing at its end on a
// mismatch (and so does WriteEntryFrom): its hash continues the state Continue reported. A
// write that fails keeps what it wrote for Continue, unless the content did not match. Safe
// for concurrent use on different entries; it stops at the next chunk once ctx is done.
func (w *Writer) WriteEntryFrom(ctx context.Context, name string, from int64, r io.Reader) error {
	i, ok := w.byName[name]
	if !ok || w.tab.Entries[i].Name != name {
		return fmt.Errorf("bundle entry %s: %w", name, ErrNotFound)
	}
	e := w.tab.Entries[i]
	w.mu.Lock()
	p := &w.prog[i]
	var err error
	switch {
	case w.done[i]:
		err = errors.New("written already")
	case p.writing:
		err = errors.New("being written")
	case from != 0 && (from != p.at || p.state == nil):
		err = fmt.Errorf("cannot be taken up at byte %d", from)
	}
	if err != nil {
		w.mu.Unlock()
		return fmt.Errorf("bundle entry %s: %w", name, err)
	}
	p.writing = true
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.prog[i].writing = false
		w.mu.Unlock()
	}()
	w.keepTo(i, from)
	st, _ := r.(Stater)
	err = writeRawFrame(w.f, w.dataOff[i], e.Size, from, r, func(at int64, b []byte, content int64, last bool) error {
		return w.wrote(ctx, i, st, at, b, content, last)
	})
	if err != nil {
		var size sizeError
		if errors.Is(err, verify.ErrMismatch) || errors.As(err, &size) {
			w.keepTo(i, -1) // what it wrote is not the content
		}
		return fmt.Errorf("bundle entry %s: %w", name, err)
	}
	w.markDone(i)
	return nil
}

// Continue reports where the named entry's write can be taken up: the content bytes written,
// in order, by an earlier write of this run, or by a stopped run as its checkpoint records them
// and the file still holds them (Resume), and the sha256 state of those bytes; 0, nil when it
// is to be written from the start.
func (w *Writer) Continue(name string) (from int64, state []byte) {
	i, ok := w.byName[name]
	if !ok {
		return 0, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.prog[i]
	if w.done[i] || p.state == nil {
		return 0, nil
	}
	return p.at, p.state
}

// keepTo drops what entry i's writes left past content byte from (chunk-aligned; -1: all of
// it), and takes the file's hash back if it took in any of it.
func (w *Writer) keepTo(i int, from int64) {
	content := w.tab.Entries[i].Size + padding(w.tab.Entries[i].Size)
	keep, avail := 0, int64(0)
	if from > 0 {
		keep = int(1 + from/chunkContent)
		avail, _, _ = extent(keep, content)
	}
	p := &w.prog[i]
	w.mu.Lock()
	nothing := p.avail <= avail && (from > 0 || p.state == nil)
	w.mu.Unlock()
	if nothing { // the usual case: the hasher is not waited for
		return
	}
	w.hs.mu.Lock()
	defer w.hs.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	p.avail, p.sums = min(p.avail, avail), p.sums[:min(keep, len(p.sums))]
	if from <= 0 {
		p.at, p.state = 0, nil
	}
	w.dirty, w.changed = true, true
	w.cond.Broadcast()
	w.rollback(i, w.dataOff[i]+avail)
}

// wrote records an extent of entry i written at at (its bytes b; content bytes written so far;
// whether it was the last), then helps the file's hasher along.
func (w *Writer) wrote(ctx context.Context, i int, st Stater, at int64, b []byte, content int64, last bool) error {
	sum := xxhash.Sum64(b)
	var state []byte
	if st != nil && content > 0 && !last {
		if n, s := st.State(); n == content {
			state = s
		}
	}
	w.mu.Lock()
	p := &w.prog[i]
	p.sums = append(p.sums, sum)
	p.avail = at + int64(len(b)) - w.dataOff[i]
	if state != nil {
		p.at, p.state = content, state
	}
	w.changed, w.dirty = true, true
	w.cond.Broadcast()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return errors.New("bundle writer closed")
	}
	w.unsaved.Add(int64(len(b)))
	w.help(at, b)
	return ctx.Err()
}

// markDone records entry i as complete and verified, for the hasher and the checkpoint.
func (w *Writer) markDone(i int) {
	w.mu.Lock()
	w.done[i] = true
	w.prog[i].at, w.prog[i].state = 0, nil
	w.changed, w.dirty = true, true
	w.cond.Broadcast()
	w.mu.Unlock()
}

func (w *Writer) isDone(i int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done[i]
}

// sizeError is a content longer or shorter than its entry's size.
type sizeError struct{ got, want int64 }

func (e sizeError) Error() string {
	if e.got > e.want {
		return fmt.Sprintf("more than the declared %d bytes", e.want)
	}
	return fmt.Sprintf("%d bytes, want %d", e.got, e.want)
}
