package archive

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
)

// Counter receives byte counts as they are read; it must be cheap and safe for concurrent use.
type Counter = parts.Counter

// EntryError is a problem with one entry of the bundle.
type EntryError struct {
	Name   string // tar entry name
	Digest string
	Err    error
}

func (e *EntryError) Error() string { return fmt.Sprintf("bundle entry %s: %v", e.Name, e.Err) }
func (e *EntryError) Unwrap() error { return e.Err }

// Result is what Verify found (and trust.VerifySet, which fills Checksum and Parts).
type Result struct {
	// SHA256 is the file's sha256 in hex, computed in the same pass; for a bundle in parts,
	// the checksum file's, once every part matched its own line there.
	SHA256   string
	Checksum string         // "matched", "missing" (no NAME.sha256 beside the file); "" from Verify
	Bad      []*EntryError  // entries whose content did not verify; empty when all did
	Parts    []parts.Status // for a bundle in parts: every part, data then parity
}

// Verify reads the whole bundle once, in order: it hashes the file into Result.SHA256, decodes
// every frame the offset table lists, and verifies every entry's tar header, size and digest.
// Bad entries are collected in Result.Bad rather than stopping the pass; a structural fault
// (the end of the archive, a read that fails) stops it, and so does ctx. It does not read the
// checksum file: Result.Checksum is left empty (trust.VerifySet compares the two). progress,
// if not nil, counts the bytes read.
func (b *Bundle) Verify(ctx context.Context, progress Counter) (*Result, error) {
	sum := sha256.New()
	res, err := b.VerifyInto(ctx, progress, sum)
	if err != nil {
		return nil, err
	}
	res.SHA256 = hex.EncodeToString(sum.Sum(nil))
	return res, nil
}

// VerifyInto reads and verifies the whole bundle once, as Verify does, and writes every byte it
// reads, in order, to dst instead of hashing it: a parts.Hasher hashes a bundle in parts part
// by part. Result.SHA256 is left empty.
func (b *Bundle) VerifyInto(ctx context.Context, progress Counter, dst io.Writer) (*Result, error) {
	res := &Result{}
	// One sequential reader over the file, teed into the hash.
	f := &countingReader{r: ctxReader{ctx, bufio.NewReaderSize(io.NewSectionReader(b.f, 0, b.size), 1<<20)}, n: progress}
	tee := io.TeeReader(f, dst)
	for _, e := range b.tab.Entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := b.verifyFrame(e, io.LimitReader(tee, e.Length)); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var ce *EntryError
			if !errors.As(err, &ce) {
				ce = &EntryError{Name: e.Name, Digest: e.Digest, Err: err}
			}
			res.Bad = append(res.Bad, ce)
		}
	}
	if err := checkEnd(io.LimitReader(tee, b.tab.EndLength)); err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, tee); err != nil { // the table and the footer
		return nil, err
	}
	return res, nil
}

// verifyFrame decodes one entry's frame from src, verifies it, and reads src to its end.
func (b *Bundle) verifyFrame(e entry, src io.Reader) error {
	r, err := b.openStream(e, src)
	if err != nil {
		io.Copy(io.Discard, src)
		return err
	}
	defer r.Close()
	_, err = io.Copy(io.Discard, r)
	if _, cerr := io.Copy(io.Discard, src); err == nil {
		err = cerr
	}
	return err
}

// checkEnd checks the end-of-archive frame: one frame, decoding to the tar trailer alone, and
// nothing after it before the table.
func checkEnd(src io.Reader) error {
	d, err := newDecoder()
	if err != nil {
		return err
	}
	defer d.Close()
	fr := newFrameReader(src, "end-of-archive frame")
	if err := d.Reset(fr); err != nil {
		return fmt.Errorf("%w: end-of-archive frame: %v", ErrCorrupt, err)
	}
	got, err := io.ReadAll(io.LimitReader(decoded{d, fr}, 64<<10))
	if err != nil {
		return err
	}
	if len(got) < 1024 || len(got) > 10240 || !bytes.Equal(got, make([]byte, len(got))) || !fr.Done() || !atEOF(src) {
		return fmt.Errorf("%w: end-of-archive frame is not a tar trailer alone", ErrCorrupt)
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n Counter
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.n != nil {
		c.n.Add(int64(n))
	}
	return n, err
}
