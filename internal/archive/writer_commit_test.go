package archive

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
)

// TestCommitReplacesEarlier: a bundle written where another of the same name was removes, at
// Create, the earlier checksum file and signature (an unfinished bundle never has them beside
// it), and at Commit the files of the earlier bundle that are not its own: parts and parity
// parts of a bundle in parts, the single file of one that was not, parts past its last.
func TestCommitReplacesEarlier(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.tar.zst")
	blob := randomBytes(t, 300<<10)
	created := time.Unix(1700000000, 0).UTC()
	writeParts(t, path, [][]byte{blob}, WithParts(64<<10, 1)) // 5 parts and a parity part
	os.WriteFile(path+".sha256.sig", []byte("an old signature"), 0o644)
	if n := len(parts.Files(path)); n != 6 {
		t.Fatalf("the earlier bundle has %d files, want 6", n)
	}
	for _, tc := range []struct {
		name string
		opts []Option
		want []string
	}{
		{"one file after parts", nil, []string{"b.tar.zst", "b.tar.zst.sha256"}},
		{"parts after one file", []Option{WithParts(128<<10, 0)}, []string{"b.tar.zst.001", "b.tar.zst.002", "b.tar.zst.003", "b.tar.zst.sha256"}},
		{"fewer parts", []Option{WithParts(256<<10, 1)}, []string{"b.tar.zst.001", "b.tar.zst.002", "b.tar.zst.p01", "b.tar.zst.sha256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := Create(path, created, testPlan(t, created, blob), tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path + ".sha256", path + ".sha256.sig"} {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s is beside the unfinished bundle: %v", filepath.Base(p), err)
				}
			}
			writeBlob(t, w, blob)
			if _, err := w.Commit(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := dirNames(t, dir); !slices.Equal(got, tc.want) {
				t.Fatalf("files %v, want %v", got, tc.want)
			}
			if res, err := verifyPath(context.Background(), path, nil); err != nil || res.Checksum != "matched" {
				t.Fatalf("Verify: %+v, %v", res, err)
			}
		})
	}
}

// TestCloseLeavesUnfinished: a Writer closed before Commit leaves NAME.partial, which reads as
// a bundle of its layout (the layers not written read as zeros, and fail to verify), and its
// checkpoint; never NAME itself. Commit after Close is refused.
func TestCloseLeavesUnfinished(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "b.tar.zst")
	created := time.Unix(1700000000, 0).UTC()
	a, b := randomBytes(t, 200<<10), randomBytes(t, 100<<10)
	w, err := Create(path, created, testPlan(t, created, a, b))
	if err != nil {
		t.Fatal(err)
	}
	writeBlob(t, w, a)
	w.Close()
	w.Close() // twice: a no-op
	if got := dirNames(t, dir); !slices.Equal(got, []string{"b.tar.zst.partial", "b.tar.zst.partial.sum"}) {
		t.Fatalf("files %v", got)
	}
	m, ok := Unfinished(path)
	if !ok || m.Totals.Blobs != 2 {
		t.Fatalf("Unfinished: %v, %v", m, ok)
	}
	u, err := openPath(path + ".partial")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if got, err := u.ReadFile(BlobName(verifyDigest(a))); err != nil || !slices.Equal(got, a) {
		t.Fatalf("the layer written: %v", err)
	}
	if _, err := u.ReadFile(BlobName(verifyDigest(b))); err == nil {
		t.Fatal("the layer never written read as good")
	}
	if _, err := w.Commit(context.Background()); err == nil {
		t.Fatal("Commit after Close succeeded")
	}
	if _, ok := Unfinished(filepath.Join(dir, "other.tar.zst")); ok {
		t.Fatal("an unfinished bundle where there is none")
	}
}
