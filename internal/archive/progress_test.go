package archive

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// TestWriteEntryFromRefuses: an entry the plan does not have, one written already (a layer,
// or one Create wrote), and a take-up point Continue did not give are refused, naming the
// entry; the refused calls change nothing.
func TestWriteEntryFromRefuses(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	blob := randomBytes(t, 3000)
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	w, err := Create(path, created, testPlan(t, created, blob))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	name := BlobName(verify.Digest(blob))
	other := BlobName(verify.Digest([]byte("other")))
	if err := w.WriteEntry(ctx, other, bytes.NewReader([]byte("other"))); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), other) {
		t.Fatalf("an entry not in the plan: %v", err)
	}
	if err := w.WriteEntry(ctx, IndexName, bytes.NewReader(nil)); err == nil || !strings.Contains(err.Error(), "index.json: written already") {
		t.Fatalf("an entry Create wrote: %v", err)
	}
	if err := w.WriteEntryFrom(ctx, name, chunkContent, bytes.NewReader(blob)); err == nil || !strings.Contains(err.Error(), "cannot be taken up at byte 1048576") {
		t.Fatalf("a take-up point never given: %v", err)
	}
	if from, state := w.Continue(name); from != 0 || state != nil {
		t.Fatalf("Continue before any write: %d, %v", from, state)
	}
	if from, state := w.Continue(other); from != 0 || state != nil {
		t.Fatalf("Continue of an entry not in the plan: %d, %v", from, state)
	}
	writeBlob(t, w, blob)
	if err := w.WriteEntry(ctx, name, bytes.NewReader(blob)); err == nil || !strings.Contains(err.Error(), name+": written already") {
		t.Fatalf("written twice: %v", err)
	}
	if _, err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestWriteEntryDropsMismatch: a write whose content does not match is dropped whole, not kept
// for a take-up, even past the first chunk; a write cut by its source is kept up to its last
// whole chunk.
func TestWriteEntryDropsMismatch(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	blob := randomBytes(t, 2*chunkContent+100)
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	w, err := Create(path, created, testPlan(t, created, blob))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx := context.Background()
	d := verify.Digest(blob)
	name := BlobName(d)
	wrong := bytes.Clone(blob)
	wrong[len(wrong)-1] ^= 1
	if err := w.WriteEntry(ctx, name, verify.NewReader(bytes.NewReader(wrong), d, int64(len(blob)))); !errors.Is(err, verify.ErrMismatch) {
		t.Fatalf("a mismatch: %v", err)
	}
	if from, state := w.Continue(name); from != 0 || state != nil {
		t.Fatalf("after a mismatch, Continue = %d", from)
	}
	broken := errors.New("connection reset")
	cut := verify.NewReader(errAfter(blob[:chunkContent+5], broken), d, int64(len(blob)))
	if err := w.WriteEntry(ctx, name, cut); !errors.Is(err, broken) || !strings.Contains(err.Error(), name) {
		t.Fatalf("a cut write: %v", err)
	}
	if from, state := w.Continue(name); from != chunkContent || state == nil {
		t.Fatalf("after a cut write, Continue = %d, want %d", from, chunkContent)
	}
	if from := takeUp(t, w, blob); from != chunkContent {
		t.Fatalf("taken up at %d", from)
	}
	commitAndCheck(t, w, path)
}

// TestWriteEntriesConcurrently: layers written at once from many goroutines, and the same
// layer by two at once, make a bundle that verifies; of two writers of one layer exactly one
// succeeds.
func TestWriteEntriesConcurrently(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	var blobs [][]byte
	for i := range 8 {
		blobs = append(blobs, randomBytes(t, (i+1)*200<<10+i))
	}
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	w, err := Create(path, created, testPlan(t, created, blobs...))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2*len(blobs))
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := blobs[i/2]
			d := verify.Digest(b)
			errs[i] = w.WriteEntry(context.Background(), BlobName(d), verify.NewReader(bytes.NewReader(b), d, int64(len(b))))
		}()
	}
	wg.Wait()
	for i := 0; i < len(errs); i += 2 {
		if (errs[i] == nil) == (errs[i+1] == nil) {
			t.Fatalf("blob %d written by two at once: %v and %v, want exactly one success", i/2, errs[i], errs[i+1])
		}
		for _, err := range errs[i : i+2] {
			if err != nil && !strings.Contains(err.Error(), "being written") && !strings.Contains(err.Error(), "written already") {
				t.Fatalf("the second writer: %v", err)
			}
		}
	}
	commitAndCheck(t, w, path)
}

func TestSizeError(t *testing.T) {
	if got := (sizeError{5, 10}).Error(); got != "5 bytes, want 10" {
		t.Errorf("short: %q", got)
	}
	if got := (sizeError{11, 10}).Error(); got != "more than the declared 10 bytes" {
		t.Errorf("long: %q", got)
	}
}
