package parts

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

// Rebuilt is a part Repair wrote.
type Rebuilt struct {
	Path string // the rebuilt part
	Kept string // the damaged file it replaced, kept under another name; "" when there was none
}

// Repair rebuilds the lost or damaged parts of a bundle in parts from the others and its parity
// parts: it checks every part against the checksum file (Check), then reads the good parts a
// stripe at a time and writes each rebuilt part into dir, through a temporary file that is
// renamed into place only once its sha256 is the listed one. A damaged part in dir is
// replaced; elsewhere (a read-only medium) it is left as it is, and the rebuilt part in dir is
// the one to use. A file a rebuilt part replaces is never lost: it is kept beside it as
// NAME.damaged (and a file that matches its listed sha256 when the rebuilt part is ready is not
// replaced at all). The checksum file is taken as s has it: trust.Repair passes the one
// trust.Find established. It returns the parts it wrote (none when every part was fine); when
// more parts are bad than there are parity parts it writes nothing and returns the *Error.
// progress, if not nil, counts the bytes read.
func Repair(ctx context.Context, s *Set, dir string, progress Counter) ([]Rebuilt, error) {
	if !s.Split() {
		return nil, fmt.Errorf("%s: %w: one file, not parts: there is nothing to rebuild it from", s.Whole, ErrCorrupt)
	}
	if s.Sums == nil {
		return nil, fmt.Errorf("%w: %s: no checksum file (%s) beside the parts: it says which parts are damaged and what parity they have",
			ErrCorrupt, s.Name, s.Name+".sha256")
	}
	_, err := Check(ctx, s, true, progress)
	var pe *Error
	if err == nil {
		return nil, nil
	}
	if !errors.As(err, &pe) || !pe.Rebuildable() {
		return nil, err
	}
	r := &rebuild{s: s, k: len(s.Data), n: len(s.Parity)}
	defer r.close()
	if err := r.open(pe.Bad, dir); err != nil {
		return nil, err
	}
	if err := r.reconstruct(ctx, progress); err != nil {
		return nil, err
	}
	return r.install(dir)
}

// rebuild is one repair: every good part open for reading, a temporary file in the output
// directory for every lost one, and the sha256 of what is written to it. Shards are the data
// parts, then the parity parts.
type rebuild struct {
	s       *Set
	k, n    int // data and parity parts
	enc     reedsolomon.Encoder
	lost    []bool
	in, out []*os.File
	sums    []hash.Hash
}

// open opens the good parts and makes a temporary file in dir for every bad one.
func (r *rebuild) open(bad []Status, dir string) error {
	s, all := r.s, r.k+r.n
	var err error
	if r.enc, err = reedsolomon.New(r.k, r.n); err != nil {
		return err
	}
	r.lost = make([]bool, all)
	for _, b := range bad {
		i, _, _ := partIndex(b.Name[len(s.Name)+1:])
		if b.Parity {
			i += r.k
		}
		r.lost[i] = true
	}
	r.in, r.out, r.sums = make([]*os.File, all), make([]*os.File, all), make([]hash.Hash, all)
	paths := append(FirstPaths(s.Data), FirstPaths(s.Parity)...)
	for i := range all {
		if r.lost[i] {
			if r.out[i], err = os.CreateTemp(dir, "."+s.shardName(i)+".rebuild*"); err != nil {
				return err
			}
			r.sums[i] = sha256.New()
			continue
		}
		if r.in[i], err = os.Open(paths[i]); err != nil {
			return err
		}
	}
	return nil
}

// reconstruct reads the good parts a stripe at a time, rebuilds the lost ones' bytes of the
// stripe and writes them to their temporary files, hashing them. It stops when ctx is done.
func (r *rebuild) reconstruct(ctx context.Context, progress Counter) error {
	s, all := r.s, r.k+r.n
	step := min(stripe(all), s.Sums.PartSize)
	bufs := make([][]byte, all)
	for i := range bufs {
		bufs[i] = make([]byte, step)
	}
	shards := make([][]byte, all)
	for off := int64(0); off < s.Sums.PartSize; off += step {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := min(step, s.Sums.PartSize-off)
		for i := range shards {
			shards[i] = bufs[i][:m]
			if r.lost[i] {
				shards[i] = bufs[i][:0]
				continue
			}
			have := max(0, min(m, s.shardSize(i)-off))
			if _, err := r.in[i].ReadAt(shards[i][:have], off); err != nil && err != io.EOF {
				return err
			}
			clear(shards[i][have:])
			if progress != nil {
				progress.Add(have)
			}
		}
		if err := r.enc.Reconstruct(shards); err != nil {
			return fmt.Errorf("rebuild %s: %w", s.Name, err)
		}
		for i, f := range r.out {
			if f == nil {
				continue
			}
			have := max(0, min(m, s.shardSize(i)-off))
			if _, err := f.WriteAt(shards[i][:have], off); err != nil {
				return err
			}
			r.sums[i].Write(shards[i][:have])
		}
	}
	return nil
}

// install checks every rebuilt part against its listed sha256, syncs it and renames it into
// place in dir, keeping aside what it replaces; it records the parts it wrote in the Set.
func (r *rebuild) install(dir string) ([]Rebuilt, error) {
	s := r.s
	var wrote []Rebuilt
	for i, f := range r.out {
		if f == nil {
			continue
		}
		if got := hex.EncodeToString(r.sums[i].Sum(nil)); got != s.shardSum(i) {
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
		r.out[i] = nil
		wrote = append(wrote, Rebuilt{Path: dst, Kept: kept})
		if i < r.k {
			s.Data[i] = []string{dst}
		} else {
			s.Parity[i-r.k] = []string{dst}
		}
	}
	return wrote, nil
}

// close closes every file and removes the temporary files not renamed into place.
func (r *rebuild) close() {
	for i := range r.in {
		for _, f := range []*os.File{r.in[i], r.out[i]} {
			if f != nil {
				f.Close()
			}
		}
		if r.out[i] != nil {
			os.Remove(r.out[i].Name())
		}
	}
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
		return DataName(s.Name, i)
	}
	return ParityName(s.Name, i-len(s.Data))
}

// shardSize is the size of shard i's file (a parity part is as large as a full data part).
func (s *Set) shardSize(i int) int64 {
	if i < len(s.Data) {
		return s.Sums.partSize(i)
	}
	return s.Sums.PartSize
}

// shardSum is the sha256 the checksum file lists for shard i.
func (s *Set) shardSum(i int) string {
	if i < len(s.Data) {
		return s.Sums.Parts[i]
	}
	return s.Sums.Parity[i-len(s.Data)]
}
