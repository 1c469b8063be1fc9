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
}

func (w *Writer) checkpointPath() string { return w.path + ".partial.sum" }

// saveCheckpoint records that the file's first off bytes hash to h's state. It does not sync:
// a checkpoint lost in a crash is only a cost.
func (w *Writer) saveCheckpoint(h hash.Hash, off int64) {
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return
	}
	data, _ := json.Marshal(checkpoint{Table: w.tableSum, Offset: off, State: state})
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

// loadCheckpoint returns the hash of the file up to the start of entry from, as a checkpoint of
// this very layout records it; else a new hash and entry 0.
func (w *Writer) loadCheckpoint() (hash.Hash, int) {
	h := sha256.New()
	data, err := os.ReadFile(w.checkpointPath())
	if err != nil {
		return h, 0
	}
	var c checkpoint
	if json.Unmarshal(data, &c) != nil || c.Table != w.tableSum {
		return h, 0
	}
	for i, e := range w.tab.Entries {
		if e.Offset == c.Offset && i > 0 {
			if h.(encoding.BinaryUnmarshaler).UnmarshalBinary(c.State) != nil {
				return sha256.New(), 0
			}
			return h, i
		}
	}
	return h, 0
}
