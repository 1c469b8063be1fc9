package archive

import (
	"crypto/sha256"
	"encoding"
	"encoding/json"
	"hash"
	"os"
	"path/filepath"
)

// The goroutine that hashes the file for NAME.sha256 saves how far it got beside the unfinished
// bundle, in NAME.partial.sum: the offset of an entry boundary and the sha256 state of the file
// up to it. A rerun that resumes in place starts hashing there instead of at the start. The
// bytes before it are the same in both runs whatever happened to the disk in between: each is
// a function of the layout and of the content digests alone, Create writes the headers and the
// small entries again, and every other entry is verified by Resume or written again. A missing
// or unreadable checkpoint only costs hashing again.
const checkpointEvery = 32 << 20 // bytes hashed between two saves

type checkpoint struct {
	Table  string `json:"table"`  // sha256 of the offset table: the layout it belongs to
	Offset int64  `json:"offset"` // the file's first Offset bytes...
	State  []byte `json:"state"`  // ...hash to this sha256 state (encoding.BinaryMarshaler)
	// Parts, for a bundle in parts, is the state of the parts' hashes at Offset.
	Parts *partHasherState `json:"parts,omitempty"`
}

func (w *Writer) checkpointPath() string { return w.path + ".partial.sum" }

// saveCheckpoint records that the file's first off bytes hash to h's state (and ph's). It does
// not sync: a checkpoint lost in a crash is only a cost.
func (w *Writer) saveCheckpoint(h hash.Hash, ph *partHasher, off int64) {
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return
	}
	c := checkpoint{Table: w.tableSum, Offset: off, State: state}
	if ph != nil {
		if c.Parts, err = ph.state(); err != nil {
			return
		}
	}
	data, _ := json.Marshal(c)
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

// loadCheckpoint returns the hash of the file (and of its parts) up to the start of entry from,
// as a checkpoint of this very layout records it; else new hashes and entry 0.
func (w *Writer) loadCheckpoint() (hash.Hash, *partHasher, int) {
	data, err := os.ReadFile(w.checkpointPath())
	if err != nil {
		return sha256.New(), w.newPartHasher(), 0
	}
	var c checkpoint
	if json.Unmarshal(data, &c) != nil || c.Table != w.tableSum {
		return sha256.New(), w.newPartHasher(), 0
	}
	for i, e := range w.tab.Entries {
		if e.Offset == c.Offset && i > 0 {
			h, ph := sha256.New(), w.newPartHasher()
			if h.(encoding.BinaryUnmarshaler).UnmarshalBinary(c.State) != nil ||
				(ph != nil && (c.Parts == nil || c.Parts.Off != c.Offset || ph.restore(c.Parts) != nil)) {
				return sha256.New(), w.newPartHasher(), 0
			}
			return h, ph, i
		}
	}
	return sha256.New(), w.newPartHasher(), 0
}
