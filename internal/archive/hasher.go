package archive

import (
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
)

// The file's sha256 (and, in parts, each part's) is taken over the file in order, beside the
// writes, over the prefix of the file that is written: the bytes Create wrote, the entries that
// are complete, and the frame of the entry being written as far as its write got. So the hash
// does not wait for a large layer to be complete before going on with it, and at the end there
// is little left to hash.
//
// The bytes of an entry whose write is under way are not final: a write that fails to verify
// is dropped and done again. The hasher keeps the hash state it had at the start of such an
// entry (its rollback point) and goes back to it when the bytes it took in are dropped
// (rollback), and it does not go past an entry before the entry is complete.
//
// One goroutine (hash) hashes whatever is ready. On two cores, though, it gets one turn in
// five beside four writers (and less on a busy machine), and would fall behind and finish alone
// after them; so each writer, after each chunk it writes, hashes about as much as it wrote if
// no one else is hashing (help), taking its own chunk from memory when it is next; and a writer
// more than helpLag ahead of the hash waits its turn to hash twice as much. The work is the
// same; it is done while the writes go on, not after them, and a stopped run's checkpoint
// finds the hash close behind the writes. Whoever hashes holds fileHasher.mu.

// hashPiece is the most one step reads and hashes.
const hashPiece = 1 << 20

// helpLag is how far ahead of the hash a writer may write before it waits to help.
const helpLag = 256 << 20

// fileHasher is the state of the file's hash. Guarded by mu, which is taken before Writer.mu.
type fileHasher struct {
	mu    sync.Mutex
	f     *parts.Store // the file, as Create opened it (Close closes it: reads then fail)
	sum   hash.Hash
	ph    *parts.Hasher // nil for one file
	dst   io.Writer     // sum, or sum and ph
	pos   int64         // the file's first pos bytes are hashed
	at    atomic.Int64  // pos, for the writers to read without the lock
	floor int64         // where this run's hash began: it never goes back before it
	entry int           // the entry pos lies in; len(Entries) past the last
	// back is the rollback point of the entry pos lies in, when that entry is not complete:
	// the offset and the states there.
	back     int64
	backSum  []byte
	backPart *parts.HasherState
	buf      []byte
	err      error         // sticky: a read of the file failed
	kick     chan struct{} // the hash moved on: more to write back (writebacks)
}

func newFileHasher(f *parts.Store, sum hash.Hash, ph *parts.Hasher, from int64) *fileHasher {
	hs := &fileHasher{f: f, sum: sum, ph: ph, dst: sum, pos: from, floor: from, back: -1, buf: make([]byte, hashPiece),
		kick: make(chan struct{}, 1)}
	hs.at.Store(from)
	if ph != nil {
		hs.dst = bothWriter{sum, ph}
	}
	return hs
}

// rollbackPoint is where the hash goes back to when entry i's write is dropped.
func (w *Writer) rollbackPoint(i int) int64 { return max(w.dataOff[i], w.hs.floor) }

// step hashes up to limit bytes that are ready at the hash's position, taking them from mine
// (the bytes at mineAt, just written) when they are there, else reading the file; it returns
// how many it hashed (0: nothing is ready). The caller holds hs.mu.
func (w *Writer) step(limit int64, mine []byte, mineAt int64) (int64, error) {
	hs := w.hs
	var hashed int64
	for hashed < limit && hs.err == nil && hs.pos < w.size {
		ready := w.size // the end of the archive, the table and the footer: written by Create
		if i := hs.entry; i < len(w.tab.Entries) {
			e := w.tab.Entries[i]
			end := e.Offset + e.Length
			w.mu.Lock()
			done, avail := w.done[i], w.prog[i].avail
			w.mu.Unlock()
			if hs.pos == end && done {
				hs.entry++
				continue
			}
			ready = end
			if !done {
				ready = min(end, w.dataOff[i]+avail) // the tar header's frame is written by Create
				if rb := w.rollbackPoint(i); hs.pos < rb {
					ready = min(ready, rb) // stop there first, to keep the states
				} else if hs.pos == rb && hs.back != rb && ready > rb {
					if err := hs.keepBack(); err != nil {
						hs.err = err
						break
					}
				}
			}
		}
		if ready <= hs.pos {
			break
		}
		n := min(ready-hs.pos, hashPiece, limit-hashed)
		var p []byte
		if mine != nil && mineAt <= hs.pos && hs.pos+n <= mineAt+int64(len(mine)) {
			p = mine[hs.pos-mineAt : hs.pos-mineAt+n]
		} else {
			p = hs.buf[:n]
			if _, err := hs.f.ReadAt(p, hs.pos); err != nil {
				hs.err = err
				break
			}
		}
		hs.dst.Write(p)
		hs.pos += n
		hashed += n
	}
	hs.at.Store(hs.pos)
	if hashed > 0 {
		select {
		case hs.kick <- struct{}{}:
		default:
		}
	}
	return hashed, hs.err
}

// keepBack records the states at the hash's position, its rollback point.
func (hs *fileHasher) keepBack() error {
	s, err := hs.sum.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return err
	}
	var ps *parts.HasherState
	if hs.ph != nil {
		if ps, err = hs.ph.State(); err != nil {
			return err
		}
	}
	hs.back, hs.backSum, hs.backPart = hs.pos, s, ps
	return nil
}

// rollback takes the hash back to entry i's rollback point if it took in bytes of the entry at
// or past keptEnd (a file offset), which were just dropped. The caller holds hs.mu and mu.
func (w *Writer) rollback(i int, keptEnd int64) {
	hs := w.hs
	rb := w.rollbackPoint(i)
	if hs.entry != i || hs.pos <= keptEnd || hs.pos <= rb || hs.err != nil {
		return
	}
	if hs.back != rb {
		hs.err = fmt.Errorf("bundle entry %s: the file's hash has no state to go back to", w.tab.Entries[i].Name)
		return
	}
	if err := hs.sum.(encoding.BinaryUnmarshaler).UnmarshalBinary(hs.backSum); err != nil {
		hs.err = err
		return
	}
	if hs.ph != nil {
		if err := hs.ph.Restore(hs.backPart); err != nil {
			hs.err = err
			return
		}
	}
	hs.pos = rb
	hs.at.Store(rb)
}

// safePoint returns a position of the hash before which every byte is final (Create's, or of
// complete entries), and the states there: what a checkpoint may record. The caller holds hs.mu
// and mu.
func (w *Writer) safePoint() (off int64, sum []byte, part *parts.HasherState, err error) {
	hs := w.hs
	if i := hs.entry; i < len(w.tab.Entries) && !w.done[i] && hs.pos > w.rollbackPoint(i) {
		return hs.back, hs.backSum, hs.backPart, nil
	}
	if sum, err = hs.sum.(encoding.BinaryMarshaler).MarshalBinary(); err == nil && hs.ph != nil {
		part, err = hs.ph.State()
	}
	return hs.pos, sum, part, err
}

// help hashes, when no one else is, about as many bytes as a writer just wrote (b, at at), and
// twice as many, waiting for its turn, when the writer is more than helpLag ahead of the hash:
// see the top of this file.
func (w *Writer) help(at int64, b []byte) {
	limit := int64(len(b))
	if at-w.hs.at.Load() > helpLag {
		w.hs.mu.Lock()
		limit *= 2
	} else if !w.hs.mu.TryLock() {
		return
	}
	w.step(limit, b, at)
	w.hs.mu.Unlock()
}

// hash hashes the file as it becomes ready, until all of it is, then makes the parity parts,
// if any, and sends the result. It stops when the Writer is closed.
func (w *Writer) hash() {
	hs := w.hs
	for {
		w.mu.Lock()
		w.changed = false
		w.mu.Unlock()
		for {
			hs.mu.Lock()
			n, err := w.step(hashPiece, nil, 0)
			finished := hs.pos == w.size
			hs.mu.Unlock()
			if err != nil {
				w.hashed <- hashResult{err: err}
				return
			}
			if finished {
				w.finishHash()
				return
			}
			if n == 0 {
				break
			}
		}
		w.mu.Lock()
		for !w.changed && !w.closed {
			w.cond.Wait()
		}
		closed := w.closed
		w.mu.Unlock()
		if closed {
			w.hashed <- hashResult{err: errors.New("bundle writer closed")}
			return
		}
	}
}

// writebacks starts the write-back to the disk of what the hash has passed, as it passes it,
// so that Commit's sync has little left to wait for. It runs beside the hash rather than in
// it: starting a write-back blocks when the disk's queue is full, and the hash, which the
// writers wait for, must not wait for the disk. It returns once stop is closed.
func (w *Writer) writebacks(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	hs := w.hs
	from := hs.at.Load()
	for {
		select {
		case <-stop:
			return
		case <-hs.kick:
		}
		for to := hs.at.Load(); to-from >= writebackPiece || (to > from && to == w.size); to = hs.at.Load() {
			n := min(to-from, writebackPiece)
			hs.f.Writeback(from, n)
			from += n
			select {
			case <-stop:
				return
			default:
			}
		}
	}
}

// writebackPiece is the most one write-back asks of the disk at a time.
const writebackPiece = 8 << 20

// finishHash sends the file's sha256, its parts', and makes the parity parts.
func (w *Writer) finishHash() {
	hs := w.hs
	hs.mu.Lock()
	res := hashResult{sum: hex.EncodeToString(hs.sum.Sum(nil))}
	if hs.ph != nil {
		res.parts = hs.ph.Sums()
	}
	hs.mu.Unlock()
	if w.parity > 0 {
		res.parity, res.err = parts.WriteParity(hs.f, w.path+".partial", w.parity, w.isClosed)
	}
	w.hashed <- res
}
