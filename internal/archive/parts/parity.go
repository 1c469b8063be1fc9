package parts

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"os"

	"github.com/klauspost/reedsolomon"
)

// Parity parts are Reed-Solomon parity (github.com/klauspost/reedsolomon, GF(2^8)) over the
// data parts taken as shards of the part size, the last one padded with zeros: byte j of every
// parity part is computed from byte j of every data part. With N parity parts, any N parts,
// data or parity, that are lost or damaged are rebuilt from the others (Repair). Which parts
// are damaged is known from the checksum file, which lists every part's sha256.

// stripe is how many bytes of each part one step of the parity pass reads: stripeMax, less when
// there are many parts, so that a step holds at most 64 MiB.
func stripe(shards int) int64 { return max(4<<10, min(stripeMax, (64<<20)/int64(shards))) &^ 63 }

var stripeMax int64 = 1 << 20 // tests make it small, to cross many stripes

// WriteParity computes n parity parts of the data parts in st (a bundle in parts, complete),
// writes them as base.p01, ... (ParityName), synced, and returns their sha256s in hex. It
// stops, with an error, once stopped reports true (checked at every stripe).
func WriteParity(st *Store, base string, n int, stopped func() bool) ([]string, error) {
	k := Count(st.size, st.partSize)
	enc, err := reedsolomon.New(k, n)
	if err != nil {
		return nil, err
	}
	step := min(stripe(k+n), st.partSize)
	shards := make([][]byte, k+n)
	for i := range shards {
		shards[i] = make([]byte, step)
	}
	outs := make([]*os.File, n)
	sums := make([]hash.Hash, n)
	defer func() {
		for _, out := range outs {
			if out != nil {
				out.Close()
			}
		}
	}()
	for p := range outs {
		if outs[p], err = os.Create(ParityName(base, p)); err != nil {
			return nil, err
		}
		sums[p] = sha256.New()
	}
	for off := int64(0); off < st.partSize; off += step {
		if stopped() {
			return nil, errStopped
		}
		m := min(step, st.partSize-off)
		for i := range k {
			if err := readShard(st, i, off, shards[i][:m]); err != nil {
				return nil, err
			}
		}
		cut := make([][]byte, len(shards))
		for i := range shards {
			cut[i] = shards[i][:m]
		}
		if err := enc.Encode(cut); err != nil {
			return nil, err
		}
		for p, out := range outs {
			if _, err := out.WriteAt(cut[k+p], off); err != nil {
				return nil, err
			}
			sums[p].Write(cut[k+p])
			startWriteback(out, off, m)
		}
	}
	var hexSums []string
	for p, out := range outs {
		if err := out.Sync(); err != nil {
			return nil, err
		}
		hexSums = append(hexSums, hex.EncodeToString(sums[p].Sum(nil)))
	}
	return hexSums, nil
}

// readShard reads bytes [off, off+len(b)) of data part i of s into b, zeros past the part's end.
func readShard(s *Store, i int, off int64, b []byte) error {
	have := max(0, min(int64(len(b)), s.span(i)-off))
	if have > 0 {
		if _, err := s.ReadAt(b[:have], int64(i)*s.partSize+off); err != nil {
			return err
		}
	}
	clear(b[have:])
	return nil
}
