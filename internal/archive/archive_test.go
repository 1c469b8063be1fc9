package archive

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/verify"
)

type testEntry struct {
	name, digest string
	data         []byte
}

// writeTestBundle writes a small valid bundle with the given blobs (streamed, last first) and
// returns its path and entries.
func writeTestBundle(t testing.TB, dir string, blobs ...[]byte) (string, []testEntry) {
	t.Helper()
	created := time.Unix(1700000000, 0).UTC()
	plan := testPlan(t, created, blobs...)
	var entries []testEntry
	for i, e := range plan {
		data := e.Data
		if i >= 3 {
			data = blobs[i-3]
		}
		entries = append(entries, testEntry{e.Name, e.Digest, data})
	}
	path := filepath.Join(dir, "b.tar.zst")
	w, err := Create(path, created, plan)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(blobs) - 1; i >= 0; i-- { // any order
		writeBlob(t, w, blobs[i])
	}
	if _, err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	return path, entries
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	big := randomBytes(t, 3<<20)
	path, entries := writeTestBundle(t, dir, big, []byte("small blob"), nil)
	b, err := openPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, e := range entries {
		got, err := b.ReadFile(e.name)
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		if !bytes.Equal(got, e.data) {
			t.Fatalf("%s: content differs", e.name)
		}
	}
	res, err := verifyPath(context.Background(), path, nil)
	if err != nil || len(res.Bad) != 0 || res.Checksum != "matched" {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	if _, err := os.Stat(path + ".partial"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("partial file left behind")
	}
}

func TestReproducible(t *testing.T) {
	blob := randomBytes(t, 100<<10)
	p1, _ := writeTestBundle(t, t.TempDir(), blob)
	p2, _ := writeTestBundle(t, t.TempDir(), blob)
	a, _ := os.ReadFile(p1)
	b, _ := os.ReadFile(p2)
	if !bytes.Equal(a, b) {
		t.Fatal("same input gave different bundles")
	}
	s1, _ := os.ReadFile(p1 + ".sha256")
	s2, _ := os.ReadFile(p2 + ".sha256")
	if !bytes.Equal(s1, s2) || len(s1) == 0 {
		t.Fatalf("checksums differ: %q %q", s1, s2)
	}
}

// TestStandardTools: the bundle is a plain .tar.zst that zstd and tar read, and sha256sum checks.
func TestStandardTools(t *testing.T) {
	for _, tool := range []string{"zstd", "tar", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed: %v", tool, err)
		}
	}
	dir := t.TempDir()
	blob := randomBytes(t, 1<<20)
	path, entries := writeTestBundle(t, dir, blob)
	cmd := exec.Command("sha256sum", "-c", filepath.Base(path)+".sha256")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "x")
	os.Mkdir(out, 0o755)
	sh := exec.Command("sh", "-c", `zstd -qdc "$1" | tar -x -C "$2"`, "sh", path, out)
	if o, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("zstd | tar: %v\n%s", err, o)
	}
	for _, e := range entries {
		got, err := os.ReadFile(filepath.Join(out, e.name))
		if err != nil || !bytes.Equal(got, e.data) {
			t.Fatalf("%s: extracted content differs (%v)", e.name, err)
		}
	}
}

// TestBlobReadersOwnDescriptors: a large blob is read through descriptors opened for its
// reader alone (the kernel's readahead then follows each reader), several at once read the
// right bytes, and Close gives every descriptor back; a small one opens none.
func TestBlobReadersOwnDescriptors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc/self/fd")
	}
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	big1, big2, small := randomBytes(t, 3<<20), randomBytes(t, 2<<20), []byte("small blob")
	path, _ := writeTestBundle(t, t.TempDir(), big1, big2, small)
	b, err := openPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	before := fds()
	var rs []io.ReadCloser
	for _, blob := range [][]byte{big1, big2, big1, small} {
		r, err := b.OpenBlob(verify.Digest(blob))
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	if got := fds() - before; got != 3 {
		t.Errorf("4 readers (3 large) opened %d descriptors, want 3", got)
	}
	// Read them interleaved, 64 KiB at a time, as the push's workers do.
	bufs := make([]bytes.Buffer, len(rs))
	for open := len(rs); open > 0; {
		open = 0
		for i, r := range rs {
			if n, err := io.CopyN(&bufs[i], r, 64<<10); err == nil || (err == io.EOF && n > 0) {
				open++
			} else if err != io.EOF {
				t.Fatalf("reader %d: %v", i, err)
			}
		}
	}
	for i, want := range [][]byte{big1, big2, big1, small} {
		if !bytes.Equal(bufs[i].Bytes(), want) {
			t.Errorf("reader %d read %d bytes, not its blob's %d", i, bufs[i].Len(), len(want))
		}
		rs[i].Close()
	}
	if got := fds(); got != before {
		t.Errorf("%d descriptors open after Close, %d before the readers", got, before)
	}
	// A range of a large blob (what unbundle serve streams of a blob it verified), likewise.
	r, err := b.OpenBlobRange(verify.Digest(big1), 1000, 2<<20)
	if err != nil {
		t.Fatal(err)
	}
	if got := fds() - before; got != 1 {
		t.Errorf("a range of 2 MiB opened %d descriptors, want 1", got)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, big1[1000:1000+2<<20]) {
		t.Errorf("range: %d bytes, %v", len(got), err)
	}
	r.Close()
	if got := fds(); got != before {
		t.Errorf("%d descriptors open after the range's Close, %d before", got, before)
	}
}

func hexOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// byteCounter is a Counter.
type byteCounter struct{ n atomic.Int64 }

func (c *byteCounter) Add(n int64) { c.n.Add(n) }

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}
