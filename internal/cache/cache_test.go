package cache

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
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
