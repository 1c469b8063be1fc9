package archive

import (
	"context"
	"crypto/sha256"
	"encoding"
	"fmt"
	"hash"
	"io"

	"github.com/cespare/xxhash/v2"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// Resume reports whether the named entry (one to be written by WriteEntry) was recovered
// from an unfinished earlier run instead, so that it is not to be pulled:
//
//   - in place (NAME.partial of this layout): a layer the checkpoint records as complete is
//     kept when every extent of its frame still has the sum the checkpoint gives (a cheap read,
//     no sha256); one it records as half written, whose written extents match, is left for the
//     caller to take up where it stopped (Continue) or, when the stopped run finished writing
//     it after its last checkpoint, kept once the rest of it verifies on top of the recorded
//     hash state; any other layer that the stopped run wrote to its end is kept once it
//     verifies in full. Whether a frame was written to its end is decided first, in constant
//     time (rawComplete), so a layer the stopped run did not finish costs two small reads
//     (and its recorded extents);
//   - from NAME.partial.prev (an unfinished bundle of another layout): a complete entry is
//     copied, verified as it is read.
//
// When Resume reports false the entry is still to be written. It stops early, reporting false,
// once ctx is done. Safe for concurrent use on different entries.
func (w *Writer) Resume(ctx context.Context, name string) bool {
	i, ok := w.byName[name]
	if !ok || w.isDone(i) {
		return false
	}
	switch {
	case w.inPlace:
		return w.resumeInPlace(ctx, i)
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
		return w.WriteEntry(ctx, name, ctxReader{ctx, r}) == nil
	}
	return false
}

// ResumeStats says what Resume found of a stopped run's layers.
type ResumeStats struct {
	Checked    int   // kept on the sums of their extents, as the checkpoint gave them: not hashed
	Verified   int   // kept after a full read and sha256 (no usable record, or it was finished after)
	Taken      int   // half written, to be taken up where they stopped (Continue)
	TakenBytes int64 // the content bytes of those already written
}

// ResumeStats returns what Resume found so far.
func (w *Writer) ResumeStats() ResumeStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

func (w *Writer) resumeInPlace(ctx context.Context, i int) bool {
	e := w.tab.Entries[i]
	content := e.Size + padding(e.Size)
	all := int(1 + chunks(content))
	complete := w.check.rawComplete(e)
	rec := w.records[e.Name]
	if rec != nil && rec.Done && complete {
		if sums, err := w.scan(ctx, i, unpackSums(rec.Sums), all, nil, 0); err == nil {
			return w.kept(i, sums, false)
		}
		rec = nil // the file changed since: verify it in full, below
	}
	if rec != nil && !rec.Done {
		n := int(1 + rec.At/chunkContent)
		if !complete {
			sums, err := w.scan(ctx, i, unpackSums(rec.Sums), n, nil, 0)
			if err == nil {
				w.mu.Lock()
				w.prog[i] = entryProgress{sums: sums, at: rec.At, state: rec.State}
				w.prog[i].avail, _, _ = extent(n, content)
				w.stats.Taken++
				w.stats.TakenBytes += rec.At
				w.dirty, w.changed = true, true
				w.cond.Broadcast()
				w.mu.Unlock()
			}
			return false
		}
		// Written to its end after the checkpoint: the rest verifies on top of the state.
		h := sha256.New()
		if h.(encoding.BinaryUnmarshaler).UnmarshalBinary(rec.State) == nil {
			if sums, err := w.scan(ctx, i, unpackSums(rec.Sums), all, h, rec.At); err == nil {
				return w.kept(i, sums, true)
			}
		}
	}
	if !complete {
		return false
	}
	sums, err := w.scan(ctx, i, nil, all, sha256.New(), 0)
	return err == nil && w.kept(i, sums, true)
}

// kept marks entry i complete as the stopped run left it, with the sums of its extents; hashed
// says whether its content was verified by its sha256 (else by the sums alone).
func (w *Writer) kept(i int, sums []uint64, hashed bool) bool {
	w.mu.Lock()
	w.prog[i] = entryProgress{sums: sums}
	if hashed {
		w.stats.Verified++
	} else {
		w.stats.Checked++
	}
	w.mu.Unlock()
	w.markDone(i)
	return true
}

// scan reads the first n extents of entry i's raw frame from the file and returns their
// sums; the first len(want) must match want. With h, it checks the frame as a reader does (the
// header, every block header as the layout has it, zeros in the tar padding), hashes the
// content from byte from (a chunk's start) on into h, which holds the hash of the bytes before
// it, and checks the digest at the end (n must then be every extent). It stops once ctx is done.
func (w *Writer) scan(ctx context.Context, i int, want []uint64, n int, h hash.Hash, from int64) ([]uint64, error) {
	e := w.tab.Entries[i]
	content := e.Size + padding(e.Size)
	if len(want) > n {
		want = want[:n]
	}
	bp := rawBufs.Get().(*[]byte)
	defer rawBufs.Put(bp)
	sums := make([]uint64, 0, n)
	for k := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		off, length, end := extent(k, content)
		p := (*bp)[:length]
		if _, err := w.check.f.ReadAt(p, w.dataOff[i]+off); err != nil {
			return nil, err
		}
		sum := xxhash.Sum64(p)
		if k < len(want) && sum != want[k] {
			return nil, fmt.Errorf("%w: extent %d changed since the checkpoint", ErrCorrupt, k)
		}
		sums = append(sums, sum)
		if h == nil {
			continue
		}
		if k == 0 {
			if !isRawHeader(p, content) {
				return nil, fmt.Errorf("%w: not a raw frame", ErrCorrupt)
			}
			continue
		}
		if start := int64(k-1) * chunkContent; start >= from {
			if err := hashChunk(h, p, start, end, content, e.Size); err != nil {
				return nil, err
			}
		}
	}
	if h == nil {
		return sums, nil
	}
	if got := "sha256:" + fmt.Sprintf("%x", h.Sum(nil)); got != e.Digest {
		return nil, fmt.Errorf("%w: %s: content hashes to %s", verify.ErrMismatch, e.Digest, got)
	}
	return sums, nil
}

// hashChunk checks the blocks of a chunk p holding content [start, end) against the layout and
// hashes their data (the tar padding past size must be zeros).
func hashChunk(h hash.Hash, p []byte, start, end, content, size int64) error {
	in := 0
	for pos := start; pos < end || (pos == start && end == start); {
		blk := min(content-pos, rawBlockMax)
		want := blockHeader(blk, pos+blk == content)
		if in+3+int(blk) > len(p) || [3]byte(p[in:in+3]) != want {
			return fmt.Errorf("%w: raw frame: the block at content offset %d is not as the layout has it", ErrCorrupt, pos)
		}
		data := p[in+3 : in+3+int(blk)]
		dataEnd := min(blk, max(0, size-pos))
		h.Write(data[:dataEnd])
		for _, c := range data[dataEnd:] {
			if c != 0 {
				return fmt.Errorf("%w: bad tar padding", ErrCorrupt)
			}
		}
		in += 3 + int(blk)
		pos += blk
		if blk == 0 {
			break
		}
	}
	return nil
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
	b, err := openPath(path + ".partial")
	if err != nil {
		return nil, false
	}
	defer b.Close()
	return b.Manifest(), true
}
