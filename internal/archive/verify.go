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
	"os"
	"path/filepath"
	"strings"
)

// Counter receives byte counts as they are read; it must be cheap and safe for concurrent use.
type Counter interface{ Add(n int64) }

// EntryError is a problem with one entry of the bundle.
type EntryError struct {
	Name   string // tar entry name
	Digest string
	Err    error
}

func (e *EntryError) Error() string { return fmt.Sprintf("bundle entry %s: %v", e.Name, e.Err) }
func (e *EntryError) Unwrap() error { return e.Err }

// Result is what Verify found.
type Result struct {
	SHA256   string        // the file's sha256 in hex, computed in the same pass
	Checksum string        // "matched", "missing" (no NAME.sha256 beside the file)
	Bad      []*EntryError // entries whose content did not verify; empty when all did
}

// Verify reads the whole bundle once, in order: it hashes the file, decodes every frame the
// offset table lists, and verifies every entry's tar header, size and digest. It checks the
// file's sha256 against path.sha256 when that exists (a mismatch is an error wrapping
// ErrChecksum). Bad entries are collected in Result.Bad rather than stopping the pass; a
// structural fault (footer, table, manifest) stops it. progress, if not nil, counts the
// compressed bytes read.
func Verify(ctx context.Context, path string, progress Counter) (*Result, error) {
	b, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	res, err := b.Verify(ctx, progress)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	res.Checksum = "missing"
	want, err := readChecksumFile(path + ".sha256")
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return res, err
	case want != res.SHA256:
		return res, fmt.Errorf("%w: %s has sha256 %s, %s.sha256 says %s", ErrChecksum, filepath.Base(path), res.SHA256, filepath.Base(path), want)
	default:
		res.Checksum = "matched"
	}
	return res, nil
}

// Verify reads the whole bundle once, as the package-level Verify does, without the checksum
// file: Result.Checksum is left empty.
func (b *Bundle) Verify(ctx context.Context, progress Counter) (*Result, error) {
	res := &Result{}
	sum := sha256.New()
	// One sequential reader over the file, teed into the whole-file hash.
	f := &countingReader{r: ctxReader{ctx, bufio.NewReaderSize(io.NewSectionReader(b.f, 0, b.size), 1<<20)}, n: progress}
	tee := io.TeeReader(f, sum)
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
	res.SHA256 = hex.EncodeToString(sum.Sum(nil))
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

// checkEnd checks the end-of-archive frame: it must decode to the tar trailer alone.
func checkEnd(src io.Reader) error {
	d, err := newDecoder()
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Reset(src); err != nil {
		return fmt.Errorf("%w: end-of-archive frame: %v", ErrCorrupt, err)
	}
	got, err := io.ReadAll(io.LimitReader(d, 64<<10))
	if err != nil || len(got) < 1024 || len(got) > 10240 || !bytes.Equal(got, make([]byte, len(got))) {
		return fmt.Errorf("%w: end-of-archive frame is not a tar trailer", ErrCorrupt)
	}
	return nil
}

// readChecksumFile reads a sha256sum-format file and returns its first hex sum.
func readChecksumFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 || len(fields[0]) != 64 {
		return "", fmt.Errorf("%s: not in sha256sum format", path)
	}
	return strings.ToLower(fields[0]), nil
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
