package parts

import (
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"hash"
)

// Hasher hashes a split bundle's data parts as the bundle's bytes are written to it in order:
// an io.Writer that cuts what it is given at every part size. Its state (the parts done and the
// current one's hash) can be saved and restored, for a checkpoint. Not safe for concurrent use.
type Hasher struct {
	partSize int64
	off      int64
	done     []string
	cur      hash.Hash
}

// NewHasher returns a Hasher of parts of partSize bytes (> 0).
func NewHasher(partSize int64) *Hasher {
	return &Hasher{partSize: partSize, cur: sha256.New()}
}

// Write hashes p as the next bytes of the bundle; it never fails.
func (h *Hasher) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := int(min(int64(len(p)), h.partSize-h.off%h.partSize))
		h.cur.Write(p[:k])
		h.off += int64(k)
		p = p[k:]
		if h.off%h.partSize == 0 {
			h.done = append(h.done, hex.EncodeToString(h.cur.Sum(nil)))
			h.cur.Reset()
		}
	}
	return n, nil
}

// Sums returns every part's sha256 in hex, the last one included, once all bytes were written.
func (h *Hasher) Sums() []string {
	if h.off%h.partSize == 0 {
		return h.done
	}
	return append(h.done, hex.EncodeToString(h.cur.Sum(nil)))
}

// HasherState is a Hasher's state, as a checkpoint keeps it (JSON).
type HasherState struct {
	Off  int64    `json:"off"`  // bytes hashed
	Done []string `json:"done"` // the sums of the parts complete
	Cur  []byte   `json:"cur"`  // the state of the current part's sha256 (encoding.BinaryMarshaler)
}

// State returns the Hasher's state.
func (h *Hasher) State() (*HasherState, error) {
	cur, err := h.cur.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &HasherState{Off: h.off, Done: append([]string(nil), h.done...), Cur: cur}, nil
}

// Restore sets the Hasher to a state State returned; a state that does not add up (the parts
// done are not those before its offset) is refused.
func (h *Hasher) Restore(s *HasherState) error {
	if s == nil || int64(len(s.Done)) != s.Off/h.partSize {
		return errors.New("checkpoint: no part hash state")
	}
	h.off, h.done = s.Off, s.Done
	return h.cur.(encoding.BinaryUnmarshaler).UnmarshalBinary(s.Cur)
}
