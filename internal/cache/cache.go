// Package cache is a content-addressed directory of verified blobs, kept as zstd data frames
// (see archive.Encoder.EncodeData and archive.DecodeData), so that a blob pulled once is never
// pulled again by a later bundle (bundle create --cache DIR).
//
// An entry appears only once complete: it is written to a temporary file and renamed to its
// digest after the caller's fill function verified the content. Entries are not synced (a blob
// is written once more into the bundle, which is): a process that finds an entry it did not
// write must verify it before use, as after a power loss it may hold anything. Safe for
// concurrent use by goroutines and processes (the last rename of one digest wins; both are equal).
package cache

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// Dir is a cache directory.
type Dir struct{ path string }

// Open opens (creating it if needed) the cache directory at path.
func Open(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return &Dir{path: path}, nil
}

// Path is the directory.
func (d *Dir) Path() string { return d.path }

func (d *Dir) file(digest string) string { return entryPath(d.path, digest) }

func entryPath(dir, digest string) string {
	return filepath.Join(dir, strings.Replace(digest, ":", "-", 1)+".zst")
}

// Exists reports whether the cache directory dir holds the blob, without creating anything.
// A digest that is not "sha256:" and 64 hex digits is never held.
func Exists(dir, digest string) bool {
	if verify.Check(digest) != nil {
		return false
	}
	st, err := os.Stat(entryPath(dir, digest))
	return err == nil && st.Mode().IsRegular()
}

// Has reports whether the blob is cached.
func (d *Dir) Has(digest string) bool { return Exists(d.path, digest) }

// Open opens the cached frame of a blob. The caller closes it.
func (d *Dir) Open(digest string) (*os.File, error) {
	if err := verify.Check(digest); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return os.Open(d.file(digest))
}

// Put stores a blob: fill writes its frame, and must fail if the content did not verify.
// Nothing is left behind when fill fails. The digest must be "sha256:" and 64 hex digits:
// it names the entry's file, and nothing else may (a path in it would name another file).
func (d *Dir) Put(digest string, fill func(io.Writer) error) error {
	if err := verify.Check(digest); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	tmp, err := os.CreateTemp(d.path, ".put-*")
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = fill(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), d.file(digest))
}

// Remove drops a blob from the cache; a missing one is not an error.
func (d *Dir) Remove(digest string) error {
	if err := verify.Check(digest); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := os.Remove(d.file(digest)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// RemoveAll deletes the cache directory and everything in it.
func (d *Dir) RemoveAll() error { return os.RemoveAll(d.path) }
