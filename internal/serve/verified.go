package serve

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// A blob is read through and verified in full the first time it is asked for, before any of its
// bytes is sent (once, however many ask at once), and the verdict is remembered for the life of
// the process together with the identity of the bundle's files at the time (device, inode,
// size, modification and change times, for every file of the bundle): while the files keep
// that identity, later requests stream the blob without hashing it again; once they change,
// the blob is verified again before it is served. A blob found corrupt stays refused (every
// request for it is a 500) while the files are unchanged; another failure (an I/O error) is
// tried again by the next request. A bundle opened without files (archive.NewReader) has no
// identity: each request verifies the blob as it streams.
//
// The identity is taken from the files' paths, which the bundle's reads open again for large
// entries; a change that keeps size and both times (only a privileged process can set ctime)
// is not seen, nor a change made while a blob streams.

// fileID is the identity of one file of a bundle.
type fileID struct {
	path         string
	dev, ino     uint64
	size         int64
	mtime, ctime time.Time
}

// bundleID is the identity of every file of a bundle, in order; nil when it cannot be taken.
type bundleID []fileID

// identity returns the identity of b's files now.
func identity(b *archive.Bundle) bundleID {
	s := trust.SetOf(b)
	if s == nil {
		return nil
	}
	paths := []string{s.Whole}
	if s.Split() {
		paths = paths[:0]
		for _, copies := range s.Data {
			paths = append(paths, copies...)
		}
	}
	id := make(bundleID, 0, len(paths))
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil
		}
		f := fileID{path: p, size: st.Size(), mtime: st.ModTime()}
		if sys, ok := st.Sys().(*syscall.Stat_t); ok {
			f.dev, f.ino = uint64(sys.Dev), sys.Ino
			f.ctime = time.Unix(sys.Ctim.Unix())
		}
		id = append(id, f)
	}
	return id
}

// sameOrUnknown: both unknown, or the same.
func (a bundleID) sameOrUnknown(b bundleID) bool { return (a == nil && b == nil) || a.same(b) }

func (a bundleID) same(b bundleID) bool {
	return a != nil && slices.EqualFunc(a, b, func(x, y fileID) bool {
		return x.path == y.path && x.dev == y.dev && x.ino == y.ino && x.size == y.size && x.mtime.Equal(y.mtime) && x.ctime.Equal(y.ctime)
	})
}

// check is one blob's whole verification, for the files as they were: done is closed when err
// is set.
type check struct {
	id   bundleID
	done chan struct{}
	err  error
}

// verifyWhole makes sure the blob is good as the bundle's files are now, and reports whether
// its bytes may be streamed without hashing them (trusted): the files have an identity and kept
// it since the blob was verified. It reads the blob through, verified, when it never was or the
// files changed since; callers asking meanwhile wait for that read.
func (r *Registry) verifyWhole(ctx context.Context, b *archive.Bundle, digest string) (trusted bool, err error) {
	for {
		id := identity(b)
		r.mu.Lock()
		c, ok := r.checks[digest]
		if ok && !c.id.sameOrUnknown(id) && closed(c.done) {
			ok = false // a verdict on files that changed since
		}
		if !ok {
			c = &check{id: id, done: make(chan struct{})}
			r.checks[digest] = c
		}
		r.mu.Unlock()
		if !ok {
			return r.runCheck(ctx, b, digest, c)
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		if c.id.sameOrUnknown(id) {
			return c.err == nil && id != nil, c.err
		}
	}
}

// runCheck reads the blob through, verified, and records the verdict in c.
func (r *Registry) runCheck(ctx context.Context, b *archive.Bundle, digest string, c *check) (bool, error) {
	r.verified.Add(1)
	rc, err := b.OpenBlob(digest)
	if err == nil {
		_, err = io.Copy(io.Discard, ctxReader{ctx, rc})
		rc.Close()
	}
	c.err = err
	if err != nil && !errors.Is(err, archive.ErrCorrupt) && !errors.Is(err, verify.ErrMismatch) {
		r.mu.Lock()
		if r.checks[digest] == c {
			delete(r.checks, digest) // not a verdict on the blob: the next request tries again
		}
		r.mu.Unlock()
	}
	close(c.done)
	// Bytes read from files that changed meanwhile are not those the identity names.
	return err == nil && c.id != nil && c.id.same(identity(b)), err
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// ctxReader fails its reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
