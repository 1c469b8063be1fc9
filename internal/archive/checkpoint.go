package archive

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"os"
	"path/filepath"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
)

// A Writer saves its progress beside the unfinished bundle, in NAME.partial.sum, every
// checkpointBytes written or checkpointEvery, whichever comes first, while it writes, and when
// it is closed, so that a rerun that resumes in place
// (Resume) does not pull or hash again what was done:
//
//   - the file's hash: an offset before which every byte is final (the bytes Create writes,
//     which are the same in every run of the layout, and complete entries) and the sha256 state
//     of the file up to it (and of the parts'): the rerun's hash starts there;
//   - per layer: the xxhash64 of every extent of its frame that was written (the frame header,
//     then each chunk of about 1 MiB), and whether the layer was complete and verified; for one
//     that was not, the content bytes written in whole chunks and the sha256 state of those
//     bytes, as the layer's verifying reader had it.
//
// What it records was written to the file before the record was taken (records are updated
// after each write returns). Nothing in it is trusted without a check against the file: a
// rerun reads a kept layer's extents and compares their sums (a cheap pass, no sha256), and
// takes up a half-written layer only if its written extents match; a layer whose extents differ
// (the file was changed, or writes were lost in a crash before the kernel wrote them out) is
// verified in full or pulled again. The sha256 state of a half-written layer is checked by the
// layer's digest at its end: if the state was wrong the layer fails and is pulled again whole.
// The file carries its own sha256, so a torn or damaged checkpoint is ignored, as is one of
// another layout; a missing one only costs work. It is not synced: losing it costs work too.
//
// A kill -9 loses what was written since the last save: at most checkpointBytes, or what a
// slow pull brings in checkpointEvery, besides the chunk each writer was filling.
const (
	checkpointEvery = 50 * time.Millisecond
	checkpointBytes = 4 << 20
	checkpointTick  = 10 * time.Millisecond
)

const checkpointVersion = 2

type checkpoint struct {
	Version int    `json:"version"`
	Table   string `json:"table"`  // sha256 of the offset table: the layout it belongs to
	Offset  int64  `json:"offset"` // the file's first Offset bytes...
	State   []byte `json:"state"`  // ...hash to this sha256 state (encoding.BinaryMarshaler)
	// Parts, for a bundle in parts, is the state of the parts' hashes at Offset.
	Parts   *parts.HasherState      `json:"parts,omitempty"`
	Entries map[string]*entryRecord `json:"entries,omitempty"` // layers, by entry name
}

// entryRecord is what a checkpoint says of one layer.
type entryRecord struct {
	Done  bool   `json:"done,omitempty"`  // written whole and verified
	Sums  []byte `json:"sums"`            // xxhash64 of each extent written, 8 bytes each, little-endian
	At    int64  `json:"at,omitempty"`    // not done: content bytes written in whole chunks...
	State []byte `json:"state,omitempty"` // ...and the sha256 state of those bytes
}

func packSums(s []uint64) []byte {
	b := make([]byte, 8*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return b
}

func unpackSums(b []byte) []uint64 {
	s := make([]uint64, len(b)/8)
	for i := range s {
		s[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return s
}

func (w *Writer) checkpointPath() string { return w.path + ".partial.sum" }

// saver saves a checkpoint once checkpointBytes were written since the last, or
// checkpointEvery passed with something written, until stop is closed.
func (w *Writer) saver(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(checkpointTick)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			if w.unsaved.Load() >= checkpointBytes || now.Sub(last) >= checkpointEvery {
				w.unsaved.Store(0)
				w.saveCheckpoint()
				last = now
			}
		}
	}
}

// saveCheckpoint writes the checkpoint if anything changed since the last save.
func (w *Writer) saveCheckpoint() {
	w.saveMu.Lock()
	defer w.saveMu.Unlock()
	w.hs.mu.Lock()
	w.mu.Lock()
	if !w.dirty {
		w.mu.Unlock()
		w.hs.mu.Unlock()
		return
	}
	w.dirty = false
	c := checkpoint{Version: checkpointVersion, Table: w.tableSum, Entries: map[string]*entryRecord{}}
	off, state, parts, err := w.safePoint()
	if err == nil && off > 0 {
		c.Offset, c.State, c.Parts = off, state, parts
	}
	for i, e := range w.tab.Entries {
		p := w.prog[i]
		if len(p.sums) == 0 {
			continue
		}
		r := &entryRecord{Done: w.done[i], Sums: packSums(p.sums)}
		if !r.Done {
			if p.state == nil {
				continue
			}
			r.At, r.State = p.at, p.state
			r.Sums = r.Sums[:8*(1+p.at/chunkContent)]
		}
		c.Entries[e.Name] = r
	}
	w.mu.Unlock()
	w.hs.mu.Unlock()

	body, _ := json.Marshal(c)
	sum := sha256.Sum256(body)
	data := append(append(body, '\n'), hex.EncodeToString(sum[:])+"\n"...)
	tmp, err := os.CreateTemp(filepath.Dir(w.path), "."+filepath.Base(w.checkpointPath())+".tmp*")
	if err != nil {
		return
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil && cerr == nil {
		err = os.Rename(tmp.Name(), w.checkpointPath())
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
}

// loadCheckpoint reads the checkpoint of this very layout: the layer records, and the file's
// hash (and its parts') up to an offset; else no records, new hashes and offset 0.
func (w *Writer) loadCheckpoint() (hash.Hash, *parts.Hasher, int64, map[string]*entryRecord) {
	fresh := func() (hash.Hash, *parts.Hasher, int64, map[string]*entryRecord) {
		return sha256.New(), w.newPartHasher(), 0, nil
	}
	data, err := os.ReadFile(w.checkpointPath())
	if err != nil {
		return fresh()
	}
	body, tail, ok := bytes.Cut(data, []byte("\n"))
	sum := sha256.Sum256(body)
	if !ok || string(bytes.TrimSpace(tail)) != hex.EncodeToString(sum[:]) {
		return fresh()
	}
	var c checkpoint
	if json.Unmarshal(body, &c) != nil || c.Version != checkpointVersion || c.Table != w.tableSum {
		return fresh()
	}
	for name, r := range c.Entries {
		i, ok := w.byName[name]
		if !ok || r == nil || len(r.Sums)%8 != 0 || w.done[i] {
			delete(c.Entries, name)
			continue
		}
		content := w.tab.Entries[i].Size + padding(w.tab.Entries[i].Size)
		n := int64(len(r.Sums) / 8)
		if (r.Done && n != 1+chunks(content)) ||
			(!r.Done && (r.At <= 0 || r.At%chunkContent != 0 || r.At >= content || n != 1+r.At/chunkContent)) {
			delete(c.Entries, name)
		}
	}
	h, ph := sha256.New(), w.newPartHasher()
	if c.Offset <= 0 || c.Offset > w.size || h.(encoding.BinaryUnmarshaler).UnmarshalBinary(c.State) != nil ||
		(ph != nil && (c.Parts == nil || c.Parts.Off != c.Offset || ph.Restore(c.Parts) != nil)) {
		return sha256.New(), w.newPartHasher(), 0, c.Entries
	}
	return h, ph, c.Offset, c.Entries
}

// Checkpointed returns how many content bytes of the layers of the unfinished bundle at path
// (NAME.tar.zst; its NAME.partial and NAME.partial.sum) the checkpoint records as written: the
// sizes of the complete layers, and the whole chunks of the half-written ones. A rerun that
// finds the file as the checkpoint says pulls the rest of the layers and nothing more. False
// when there is no unfinished bundle, or no checkpoint of it that can be read.
func Checkpointed(path string) (complete, partial int64, ok bool) {
	b, err := openPath(path + ".partial")
	if err != nil {
		return 0, 0, false
	}
	defer b.Close()
	data, err := os.ReadFile(path + ".partial.sum")
	if err != nil {
		return 0, 0, false
	}
	body, tail, _ := bytes.Cut(data, []byte("\n"))
	sum := sha256.Sum256(body)
	var c checkpoint
	if string(bytes.TrimSpace(tail)) != hex.EncodeToString(sum[:]) || json.Unmarshal(body, &c) != nil || c.Version != checkpointVersion {
		return 0, 0, false
	}
	for name, r := range c.Entries {
		e, ok := b.byName[name]
		switch {
		case !ok:
		case r.Done:
			complete += e.Size
		default:
			partial += min(r.At, e.Size)
		}
	}
	return complete, partial, true
}
