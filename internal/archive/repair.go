package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/reedsolomon"
)

// Repair rebuilds the lost or damaged parts of a bundle in parts from the others and its parity
// parts: it checks every part against the checksum file (CheckParts), then reads the good
// parts a stripe at a time and writes each rebuilt part into dir, through a temporary file that
// is renamed into place only once its sha256 is the listed one. A damaged part in dir is
// replaced; elsewhere (a read-only medium) it is left as it is, and the rebuilt part in dir is
// the one to use. A file a rebuilt part replaces is never lost: it is kept beside it as
// NAME.damaged (and a file that matches its listed sha256 when the rebuilt part is ready is not
// replaced at all). The checksum file is what Find established: with a signature beside it,
// one that verifies it. It returns the parts it wrote (none when every part was fine); when more
// parts are bad than there are parity parts it writes nothing and returns the *PartsError.
// progress, if not nil, counts the bytes read.
func Repair(ctx context.Context, s *Set, dir string, progress Counter) ([]Rebuilt, error) {
	if !s.Split() {
		return nil, fmt.Errorf("%s: %w: one file, not parts: there is nothing to rebuild it from", s.Whole, ErrCorrupt)
	}
	if s.Sums == nil {
		return nil, fmt.Errorf("%w: %s: no checksum file (%s) beside the parts: it says which parts are damaged and what parity they have",
			ErrCorrupt, s.Name, s.Name+".sha256")
	}
	_, err := CheckParts(ctx, s, true, progress)
	var pe *PartsError
	if err == nil {
		return nil, nil
	}
	if !errors.As(err, &pe) || !pe.Rebuildable() {
		return nil, err
	}
	k, n := len(s.Data), len(s.Parity)
	enc, err := reedsolomon.New(k, n)
	if err != nil {
		return nil, err
	}
	lost := make([]bool, k+n)
	for _, b := range pe.Bad {
		i, _, _ := partIndex(b.Name[len(s.Name)+1:])
		if b.Parity {
			i += k
		}
		lost[i] = true
	}
	// Inputs: every good part. Outputs: a temporary file per lost part, in dir.
	in := make([]*os.File, k+n)
	out := make([]*os.File, k+n)
	sums := make([]hash.Hash, k+n)
	defer func() {
		for i := range in {
			for _, f := range []*os.File{in[i], out[i]} {
				if f != nil {
					f.Close()
				}
			}
			if out[i] != nil {
				os.Remove(out[i].Name())
			}
		}
	}()
	for i := range k + n {
		if lost[i] {
			if out[i], err = os.CreateTemp(dir, "."+s.shardName(i)+".rebuild*"); err != nil {
				return nil, err
			}
			sums[i] = sha256.New()
			continue
		}
		if in[i], err = os.Open(s.shardPaths()[i]); err != nil {
			return nil, err
		}
	}
	step := min(stripe(k+n), s.Sums.PartSize)
	bufs := make([][]byte, k+n)
	for i := range bufs {
		bufs[i] = make([]byte, step)
	}
	shards := make([][]byte, k+n)
	for off := int64(0); off < s.Sums.PartSize; off += step {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m := min(step, s.Sums.PartSize-off)
		for i := range shards {
			shards[i] = bufs[i][:m]
			if lost[i] {
				shards[i] = bufs[i][:0]
				continue
			}
			have := max(0, min(m, s.shardSize(i)-off))
			if _, err := in[i].ReadAt(shards[i][:have], off); err != nil && err != io.EOF {
				return nil, err
			}
			clear(shards[i][have:])
			if progress != nil {
				progress.Add(have)
			}
		}
		if err := enc.Reconstruct(shards); err != nil {
			return nil, fmt.Errorf("rebuild %s: %w", s.Name, err)
		}
		for i, f := range out {
			if f == nil {
				continue
			}
			have := max(0, min(m, s.shardSize(i)-off))
			if _, err := f.WriteAt(shards[i][:have], off); err != nil {
				return nil, err
			}
			sums[i].Write(shards[i][:have])
		}
	}
	var wrote []Rebuilt
	for i, f := range out {
		if f == nil {
			continue
		}
		if got := hex.EncodeToString(sums[i].Sum(nil)); got != s.shardSum(i) {
			return wrote, fmt.Errorf("%w: rebuilt %s does not match its sha256 in %s: more parts are damaged than their sha256 shows",
				ErrCorrupt, s.shardName(i), filepath.Base(s.SumsPath))
		}
		if err := f.Chmod(0o644); err != nil {
			return wrote, err
		}
		if err := f.Sync(); err != nil {
			return wrote, err
		}
		f.Close()
		dst := filepath.Join(dir, s.shardName(i))
		kept, same, err := keepAside(dst, s.shardSum(i))
		if err != nil {
			return wrote, err
		}
		if same { // it matches now: it was not the damaged copy
			continue
		}
		if err := os.Rename(f.Name(), dst); err != nil {
			return wrote, err
		}
		out[i] = nil
		wrote = append(wrote, Rebuilt{Path: dst, Kept: kept})
		if i < k {
			s.Data[i] = []string{dst}
		} else {
			s.Parity[i-k] = []string{dst}
		}
	}
	return wrote, nil
}

// Rebuilt is a part Repair wrote.
type Rebuilt struct {
	Path string // the rebuilt part
	Kept string // the damaged file it replaced, kept under another name; "" when there was none
}

// keepAside makes room for a rebuilt part at dst: a file there that matches its listed sha256
// is left alone (same), any other is renamed to dst.damaged (or .damaged.N), never removed.
func keepAside(dst, sum string) (kept string, same bool, err error) {
	f, err := os.Open(dst)
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err == nil && hex.EncodeToString(h.Sum(nil)) == sum {
		return "", true, nil
	}
	kept = dst + ".damaged"
	for n := 1; fileExists(kept); n++ {
		kept = fmt.Sprintf("%s.damaged.%d", dst, n)
	}
	return kept, false, os.Rename(dst, kept)
}

// shardName is the file name of shard i: data parts first, then parity parts.
func (s *Set) shardName(i int) string {
	if i < len(s.Data) {
		return partName(s.Name, i)
	}
	return parityName(s.Name, i-len(s.Data))
}

// shardSize is the size of shard i's file (a parity part is as large as a full data part).
func (s *Set) shardSize(i int) int64 {
	if i < len(s.Data) {
		return s.Sums.partSize(i)
	}
	return s.Sums.PartSize
}

func (s *Set) shardSum(i int) string {
	if i < len(s.Data) {
		return s.Sums.Parts[i]
	}
	return s.Sums.Parity[i-len(s.Data)]
}

// shardPaths is the path of every shard (after CheckParts settled the copies), "" when missing.
func (s *Set) shardPaths() []string {
	return append(firstPaths(s.Data), firstPaths(s.Parity)...)
}
