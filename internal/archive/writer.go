package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/atomicfile"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// Entry is one tar entry of a bundle to write.
type Entry struct {
	Name   string
	Digest string // of the content, recorded in the offset table
	Size   int64
	// Data is the content of an entry that Create writes (the manifest, the layout, manifests
	// and configs), compressed; nil for one written later by WriteEntry (layers), stored raw.
	Data []byte
	// Executable gives the tar entry mode 0755 instead of 0644 (a plain file: a binary).
	Executable bool
}

// Writer writes a bundle whose every entry is known in advance: Create lays the whole file out
// (every offset, the offset table and the footer) and writes what it holds in memory, then
// WriteEntry writes each remaining entry at its place, in any order and in parallel. The file
// is NAME.partial until Commit syncs it, renames it to NAME and writes NAME.sha256 beside it;
// a bundle that was not committed never looks complete. With WithParts the file is written as
// its parts, NAME.partial.001, ... (renamed NAME.001, ...), and the parity parts are made at
// the end (parts.WriteParity).
//
// The file's sha256 is taken in order beside the writes, over the prefix of the file that is
// written (hasher.go), and the write-back of what it hashed to the disk is started as it goes,
// so that Commit has little left to hash or to sync. What is written is saved now and then in
// a checkpoint beside the file (checkpoint.go), for a rerun to resume from (Resume, Continue).
// The caller ends every Writer with Commit or Close, which stop its goroutines.
type Writer struct {
	path     string
	f        *parts.Store
	partSize int64 // 0: one file
	parity   int
	tab      table
	byName   map[string]int
	dataOff  []int64                 // per entry: where its data frame starts (after its header frame)
	size     int64                   // of the whole file
	tableSum string                  // sha256 of the offset table, naming the layout
	check    *Bundle                 // reads entries of f back, verified (Resume)
	prev     *Bundle                 // an unfinished bundle of another plan (NAME.partial.prev), or nil
	inPlace  bool                    // f is an unfinished bundle of this very plan
	records  map[string]*entryRecord // what the stopped run's checkpoint says of its layers (in place)
	hs       *fileHasher

	mu      sync.Mutex
	cond    *sync.Cond // signalled on changed, and on closed
	done    []bool
	prog    []entryProgress
	changed bool // something was written since the hasher last looked
	dirty   bool // something was written since the last checkpoint
	closed  bool
	hashed  chan hashResult
	stats   ResumeStats

	saveMu    sync.Mutex   // one checkpoint save at a time
	unsaved   atomic.Int64 // bytes written since the last checkpoint
	stopSaver func()       // stops the saver goroutine and waits for it (idempotent)
	// stopWriteback stops the goroutine that starts the write-back behind the hash (idempotent).
	stopWriteback func()
	committed     bool
}

type hashResult struct {
	sum           string   // of the whole file
	parts, parity []string // of every data and parity part, when in parts
	err           error
}

// Create lays out a bundle of these entries, in this order (the manifest first), and writes
// what it can: every tar header, the entries with Data, the end of the archive, the offset
// table and the footer. Every header carries mtime (truncated to the second), so the same
// entries and mtime give a byte-identical file. A stale NAME.sha256 (and its signature) is
// removed first.
//
// An unfinished NAME.partial of the same layout (a run that was stopped) is kept, and Resume
// finds the entries it completed; one of another layout is moved to NAME.partial.prev, and
// Resume copies from it the entries both need.
func Create(path string, mtime time.Time, entries []Entry, opts ...Option) (*Writer, error) {
	for _, p := range []string{parts.SumsPath(path), parts.SigPath(path)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	w := &Writer{path: path, byName: make(map[string]int, len(entries)), tab: table{FormatVersion: FormatVersion},
		hashed: make(chan hashResult, 1)}
	for _, o := range opts {
		o(w)
	}
	w.cond = sync.NewCond(&w.mu)
	head, err := w.layout(mtime.UTC().Truncate(time.Second), entries)
	if err != nil {
		return nil, err
	}
	if err := w.checkParts(); err != nil {
		return nil, err
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	for _, h := range head {
		if _, err := w.f.WriteAt(h.b, h.off); err != nil {
			w.Close()
			parts.Remove(path + ".partial")
			return nil, err
		}
	}
	w.check = &Bundle{f: w.f, size: w.size}
	w.prog = make([]entryProgress, len(w.tab.Entries))
	h, ph, from := hash.Hash(sha256.New()), w.newPartHasher(), int64(0)
	if w.inPlace {
		h, ph, from, w.records = w.loadCheckpoint()
	} else {
		os.Remove(w.checkpointPath())
	}
	w.hs = newFileHasher(w.f, h, ph, from)
	for w.hs.entry < len(w.tab.Entries) && w.tab.Entries[w.hs.entry].Offset+w.tab.Entries[w.hs.entry].Length <= from {
		w.hs.entry++
	}
	if from > 0 {
		w.hs.back, w.hs.backSum, w.hs.backPart = from, nil, nil
		if err := w.hs.keepBack(); err != nil {
			w.Close()
			return nil, err
		}
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	var once sync.Once
	w.stopSaver = func() { once.Do(func() { close(stop); <-stopped }) }
	go w.saver(stop, stopped)
	wbStop, wbStopped := make(chan struct{}), make(chan struct{})
	var wbOnce sync.Once
	w.stopWriteback = func() { wbOnce.Do(func() { close(wbStop); <-wbStopped }) }
	go w.writebacks(wbStop, wbStopped)
	go w.hash()
	return w, nil
}

// piece is bytes of the file known at Create.
type piece struct {
	off int64
	b   []byte
}

// layout fills the table, marks the entries held in memory done and returns the bytes to write.
func (w *Writer) layout(mtime time.Time, entries []Entry) ([]piece, error) {
	enc, err := NewEncoder()
	if err != nil {
		return nil, err
	}
	var head []piece
	var off int64
	var hdr bytes.Buffer
	for i, e := range entries {
		if err := checkName(e.Name); err != nil {
			return nil, err
		}
		if _, dup := w.byName[e.Name]; dup {
			return nil, fmt.Errorf("bundle entry %s: added twice", e.Name)
		}
		if (i == 0) != (e.Name == ManifestName) {
			return nil, fmt.Errorf("bundle entry %s: the manifest must be the first entry", e.Name)
		}
		if e.Data != nil && int64(len(e.Data)) != e.Size {
			return nil, fmt.Errorf("bundle entry %s: %d bytes, declared %d", e.Name, len(e.Data), e.Size)
		}
		w.byName[e.Name] = i
		hdr.Reset()
		t := tar.NewWriter(&hdr)
		mode := int64(0o644)
		if e.Executable {
			mode = 0o755
		}
		if err := t.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.Name, Size: e.Size, Mode: mode, ModTime: mtime}); err != nil {
			return nil, fmt.Errorf("bundle entry %s: %w", e.Name, err)
		}
		var frames bytes.Buffer
		if err := enc.encodeRaw(&frames, hdr.Bytes()); err != nil {
			return nil, err
		}
		dataOff := off + int64(frames.Len())
		length := int64(frames.Len()) + rawFrameLen(e.Size+padding(e.Size))
		if e.Data != nil {
			if _, err := enc.EncodeData(&frames, e.Size, bytes.NewReader(e.Data)); err != nil {
				return nil, fmt.Errorf("bundle entry %s: %w", e.Name, err)
			}
			length = int64(frames.Len())
		}
		head = append(head, piece{off, frames.Bytes()})
		w.tab.Entries = append(w.tab.Entries, entry{Name: e.Name, Digest: e.Digest, Size: e.Size, Offset: off, Length: length})
		w.dataOff = append(w.dataOff, dataOff)
		w.done = append(w.done, e.Data != nil)
		off += length
	}
	var end bytes.Buffer
	if err := enc.encodeRaw(&end, make([]byte, 2*blockSize)); err != nil {
		return nil, err
	}
	w.tab.EndOffset, w.tab.EndLength = off, int64(end.Len())
	tail, err := encodeTail(&w.tab, off+int64(end.Len()))
	if err != nil {
		return nil, err
	}
	js, _ := json.Marshal(&w.tab)
	w.tableSum = verify.Digest(js)
	head = append(head, piece{off, append(end.Bytes(), tail...)})
	w.size = off + int64(end.Len()) + int64(len(tail))
	return head, nil
}

// open opens NAME.partial (or its parts): kept as it is when it is an unfinished bundle of the
// same layout and parts, else made anew, after moving an unfinished bundle of another layout to
// NAME.partial.prev.
func (w *Writer) open() error {
	partial, prev := w.path+".partial", w.path+".partial.prev"
	if old, err := openPath(partial); err == nil {
		st := old.closer.(*parts.Store)
		same := old.size == w.size && sameTable(old.tab, &w.tab) && st.Split() == (w.partSize > 0) &&
			(w.partSize == 0 || st.PartSize() == w.partSize)
		old.Close()
		if same {
			w.inPlace = true
		} else {
			parts.Remove(prev)
			if err := parts.Rename(partial, prev); err != nil {
				return err
			}
		}
	}
	if !w.inPlace {
		if p, err := openPath(prev); err == nil {
			w.prev = p
		} else {
			parts.Remove(prev) // unreadable, or from an older tool: nothing to take from it
		}
	}
	f, err := parts.Create(partial, w.size, w.partSize, !w.inPlace)
	if err != nil {
		if w.prev != nil {
			w.prev.Close()
		}
		return err
	}
	parts.Remove(partial, f.Names()...) // parts of another layout, parity parts of an earlier run
	w.f = f
	return nil
}

func sameTable(a, b *table) bool {
	if a.EndOffset != b.EndOffset || a.EndLength != b.EndLength || len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Entries {
		if a.Entries[i] != b.Entries[i] {
			return false
		}
	}
	return true
}

// isClosed reports whether Close was called (the hashing goroutine stops).
func (w *Writer) isClosed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

// Commit waits for the file's hash (and the parity parts), syncs the file, renames it into place
// and writes NAME.sha256 (parts.Sums). It removes the files of an earlier bundle of the same name
// that do not belong to this one (parts beyond the last, the single file of a bundle now in
// parts, and the other way round). It returns the file's sha256 in hex. Every entry must have
// been written. It stops, leaving the unfinished bundle, when ctx is done.
func (w *Writer) Commit(ctx context.Context) (string, error) {
	defer w.Close()
	w.mu.Lock()
	for i, d := range w.done {
		if !d {
			w.mu.Unlock()
			return "", fmt.Errorf("bundle entry %s: not written", w.tab.Entries[i].Name)
		}
	}
	w.mu.Unlock()
	var h hashResult
	select {
	case h = <-w.hashed:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if h.err != nil {
		return "", h.err
	}
	w.stopSaver()
	w.stopWriteback()
	w.committed = true
	if err := w.f.Sync(); err != nil {
		return "", err
	}
	if err := w.f.Close(); err != nil {
		return "", err
	}
	w.f = nil
	keep := parts.Names(w.path, w.size, w.partSize)
	for i := range h.parity {
		keep = append(keep, parts.ParityName(w.path, i))
	}
	if err := parts.Rename(w.path+".partial", w.path); err != nil {
		return "", err
	}
	parts.Remove(w.path, keep...)
	parts.Remove(w.path + ".partial.prev")
	os.Remove(w.checkpointPath())
	sums := &parts.Sums{Name: filepath.Base(w.path), SHA256: h.sum, Size: w.size, Table: w.tableSum, PartSize: w.partSize,
		Parts: h.parts, Parity: h.parity}
	return h.sum, atomicfile.WriteFile(parts.SumsPath(w.path), sums.Marshal(), 0o644)
}

// Close releases the file, leaving NAME.partial (when not committed) for a later Create to
// resume. It is a no-op after Commit.
func (w *Writer) Close() {
	if w.stopWriteback != nil {
		w.stopWriteback()
	}
	if w.stopSaver != nil {
		w.stopSaver()
		if !w.committed {
			w.saveCheckpoint() // what a Ctrl-C stopped, for the rerun
		}
	}
	w.mu.Lock()
	w.closed = true
	w.cond.Broadcast()
	w.mu.Unlock()
	if w.check != nil {
		w.check.Close()
	}
	if w.prev != nil {
		w.prev.Close()
		w.prev = nil
	}
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
}
