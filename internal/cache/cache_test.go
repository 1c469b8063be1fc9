package cache

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/element-hq/ess-airgap/internal/verify"
)

func TestPut(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "c"))
	if err != nil {
		t.Fatal(err)
	}
	const dg = "sha256:0000000000000000000000000000000000000000000000000000000000000001"
	boom := errors.New("did not verify")
	if err := d.Put(dg, func(w io.Writer) error { w.Write([]byte("partial")); return boom }); !errors.Is(err, boom) {
		t.Fatalf("Put = %v", err)
	}
	if d.Has(dg) {
		t.Fatal("a failed Put left an entry")
	}
	if entries, _ := os.ReadDir(d.Path()); len(entries) != 0 {
		t.Fatalf("a failed Put left %d files", len(entries))
	}
	if err := d.Put(dg, func(w io.Writer) error { _, err := w.Write([]byte("frame")); return err }); err != nil {
		t.Fatal(err)
	}
	f, err := d.Open(dg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "frame" || !d.Has(dg) {
		t.Fatalf("got %q", b)
	}
	d.Remove(dg)
	if d.Has(dg) {
		t.Fatal("Remove left the entry")
	}
}

// TestEntryAppearsComplete: while fill runs the entry is not there (the temporary file is
// hidden and named otherwise); once Put returns it is, under the digest's name.
func TestEntryAppearsComplete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "c")
	if Exists(dir, "sha256:"+strings.Repeat("a", 64)) {
		t.Fatal("Exists in a directory that is not there")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Exists created the directory")
	}
	d, err := Open(dir)
	if err != nil || d.Path() != dir {
		t.Fatal(err)
	}
	dg := "sha256:" + strings.Repeat("b", 64)
	err = d.Put(dg, func(w io.Writer) error {
		if d.Has(dg) || Exists(dir, dg) {
			t.Error("the entry is there before fill returned")
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), ".") {
			t.Errorf("while filling: %v", entries)
		}
		_, err := io.WriteString(w, "x")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sha256-"+strings.Repeat("b", 64)+".zst")); err != nil {
		t.Errorf("entry name: %v", err)
	}
	if !Exists(dir, dg) {
		t.Error("Exists does not see the entry")
	}
}

// TestPutConcurrent: goroutines putting the same blob at once leave one complete entry and
// no temporary file (run with -race).
func TestPutConcurrent(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dg := "sha256:" + strings.Repeat("c", 64)
	content := strings.Repeat("frame ", 1000)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := d.Put(dg, func(w io.Writer) error { _, err := io.WriteString(w, content); return err }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	entries, _ := os.ReadDir(d.Path())
	if len(entries) != 1 {
		t.Fatalf("%d files after 8 puts of one blob", len(entries))
	}
	f, err := d.Open(dg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b, _ := io.ReadAll(f); string(b) != content {
		t.Error("the entry is not the content put")
	}
}

// TestRemove: a missing entry is not an error to remove, nor to open an error other than
// not-exist; RemoveAll drops the directory.
func TestRemove(t *testing.T) {
	d, err := Open(filepath.Join(t.TempDir(), "c"))
	if err != nil {
		t.Fatal(err)
	}
	dg := "sha256:" + strings.Repeat("d", 64)
	if err := d.Remove(dg); err != nil {
		t.Errorf("removing a missing entry: %v", err)
	}
	if _, err := d.Open(dg); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("opening a missing entry: %v", err)
	}
	if err := d.Put(dg, func(w io.Writer) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveAll(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the directory survived RemoveAll: %v", err)
	}
	if _, err := Open(filepath.Join(d.Path(), "x")); err != nil {
		t.Errorf("Open after RemoveAll: %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := Open(filepath.Join(file, "c")); err == nil || !strings.HasPrefix(err.Error(), "cache: ") {
		t.Errorf("a cache under a file: %v", err)
	}
}

// TestBadDigest: a digest that is not sha256 and 64 hex digits names no entry: a path in it
// (from a hostile manifest, were a caller not to check it) cannot reach another file.
func TestBadDigest(t *testing.T) {
	root := t.TempDir()
	d, err := Open(filepath.Join(root, "a", "b", "cache"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dg := range []string{"sha256:../../../escape", "sha256:" + strings.Repeat("A", 64), "md5:abc", ""} {
		err := d.Put(dg, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err })
		if !errors.Is(err, verify.ErrBadDigest) {
			t.Errorf("Put(%q): %v", dg, err)
		}
		if _, err := d.Open(dg); !errors.Is(err, verify.ErrBadDigest) {
			t.Errorf("Open(%q): %v", dg, err)
		}
		if err := d.Remove(dg); !errors.Is(err, verify.ErrBadDigest) {
			t.Errorf("Remove(%q): %v", dg, err)
		}
		if d.Has(dg) {
			t.Errorf("Has(%q)", dg)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "a", "escape.zst")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file was written outside the cache: %v", err)
	}
}
