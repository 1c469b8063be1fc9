package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// countReads counts the reads and bytes that go through a ReaderAt.
type countReads struct {
	r            io.ReaderAt
	calls, bytes atomic.Int64
}

func (c *countReads) ReadAt(p []byte, off int64) (int, error) {
	c.calls.Add(1)
	c.bytes.Add(int64(len(p)))
	return c.r.ReadAt(p, off)
}

// failAfter yields n bytes of b, then fails: a pull that broke, or a run that was stopped.
func failAfter(b []byte, n int) io.Reader {
	return io.MultiReader(bytes.NewReader(b[:n]), iotestErr{})
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("stopped") }

// stoppedRun writes the plan of blobs to path, every blob in full but those of half, which it
// stops half way, and leaves NAME.partial as a killed run would; once wait holds, if given.
func stoppedRun(t *testing.T, path string, created time.Time, blobs [][]byte, half map[int]bool, wait ...func() bool) {
	t.Helper()
	w, err := Create(path, created, testPlan(t, created, blobs...))
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range blobs {
		if !half[i] {
			writeBlob(t, w, b)
			continue
		}
		if err := w.WriteEntry(context.Background(), BlobName(verify.Digest(b)), failAfter(b, len(b)/2)); err == nil {
			t.Fatal("a stopped write succeeded")
		}
	}
	for _, cond := range wait {
		waitFor(t, cond)
	}
	w.Close()
}

// TestResumeHalfWritten: a rerun decides that a layer the stopped run wrote half of is to be
// pulled again with two small reads, whatever its size; it reads a layer it keeps in large
// reads; and the resumed bundle is complete. One large half-written layer, then many.
func TestResumeHalfWritten(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	for _, tc := range []struct {
		name  string
		sizes []int
		half  map[int]bool
	}{
		{"one large layer", []int{48 << 20, 3 << 20}, map[int]bool{0: true}},
		{"many layers", func() []int {
			s := make([]int, 60)
			for i := range s {
				s[i] = 1<<20 + i*4099
			}
			return s
		}(), func() map[int]bool {
			h := map[int]bool{}
			for i := 0; i < 60; i += 2 {
				h[i] = true
			}
			return h
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var blobs [][]byte
			for _, n := range tc.sizes {
				blobs = append(blobs, randomBytes(t, n))
			}
			path := filepath.Join(t.TempDir(), "b.tar.zst")
			stoppedRun(t, path, created, blobs, tc.half)

			w, err := Create(path, created, testPlan(t, created, blobs...))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if !w.inPlace {
				t.Fatal("the rerun did not resume in place")
			}
			reads := &countReads{r: w.check.f}
			w.check.f = reads
			start := time.Now()
			for i, b := range blobs {
				before, beforeBytes := reads.calls.Load(), reads.bytes.Load()
				kept := w.Resume(context.Background(), BlobName(verify.Digest(b)))
				calls, read := reads.calls.Load()-before, reads.bytes.Load()-beforeBytes
				if kept == tc.half[i] {
					t.Fatalf("layer %d (half written: %v): Resume = %v", i, tc.half[i], kept)
				}
				if tc.half[i] && calls > 2 {
					t.Errorf("layer %d (%d bytes, half written): %d reads to decide (%d bytes), want 2", i, len(b), calls, read)
				}
				// Kept: two small reads, the header frame, then reads of 8 blocks at a time.
				if want := int64(4 + len(b)/(rawBlocksAtOne*rawBlockMax)); !tc.half[i] && calls > want {
					t.Errorf("layer %d (%d bytes, kept): %d reads, want at most %d", i, len(b), calls, want)
				}
				if !kept {
					writeBlob(t, w, b)
				}
			}
			// A generous bound (the reader that walked zeros 3 bytes at a time took minutes).
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("resume took %s", d)
			}
			if _, err := w.Commit(context.Background()); err != nil {
				t.Fatal(err)
			}
			if res, err := verifyPath(context.Background(), path, nil); err != nil || len(res.Bad) != 0 {
				t.Fatalf("Verify = %+v, %v", res, err)
			}
		})
	}
}

// TestResumeStopsOnCancel: Resume of a kept layer stops within one read once its context is
// done, reports false, and leaves the layer to a later run.
func TestResumeStopsOnCancel(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	big := randomBytes(t, 32<<20)
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	stoppedRun(t, path, created, [][]byte{big}, nil)
	w, err := Create(path, created, testPlan(t, created, big))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	reads := &countReads{r: w.check.f}
	w.check.f = &cancelAfter{ReaderAt: reads, n: 3, cancel: cancel}
	if w.Resume(ctx, BlobName(verify.Digest(big))) {
		t.Fatal("a layer was recovered after its context was cancelled")
	}
	if n := reads.calls.Load(); n > 5 {
		t.Fatalf("%d reads after the cancel came at the 3rd", n)
	}
	if w.isDone(w.byName[BlobName(verify.Digest(big))]) {
		t.Fatal("the layer was marked written")
	}
}

// cancelAfter cancels a context at its n-th read.
type cancelAfter struct {
	io.ReaderAt
	n      int
	cancel func()
}

func (c *cancelAfter) ReadAt(p []byte, off int64) (int, error) {
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return c.ReaderAt.ReadAt(p, off)
}

// emptyBlocks rewrites the raw data frame of the named entry so that, after its first block,
// every block header reads as zeros (an empty raw block that is not the last), as a crafted
// bundle or a half-written layer has. keepLast leaves the last block header in place.
func emptyBlocks(t *testing.T, data []byte, b *Bundle, name string, keepLast bool) []byte {
	t.Helper()
	e := b.byName[name]
	content := e.Size + padding(e.Size)
	dataOff := e.Offset + e.Length - rawFrameLen(content)
	from := dataOff + rawHeaderLen + 3 + rawBlockMax
	end := e.Offset + e.Length
	if keepLast {
		blocks := (content + rawBlockMax - 1) / rawBlockMax
		end = dataOff + rawHeaderLen + (blocks-1)*(3+rawBlockMax)
	}
	d := bytes.Clone(data)
	clear(d[from:end])
	return d
}

// TestCraftedEmptyBlocks: a layer frame that holds a long run of empty raw blocks after its
// first block is refused at the first of them, by every reader: a random read (push), the
// one-pass verify, and a resume, which does not even read it. A listing does not read it.
func TestCraftedEmptyBlocks(t *testing.T) {
	big := randomBytes(t, 64<<20)
	created := time.Unix(1700000000, 0).UTC()
	dir := t.TempDir()
	path, entries := writeTestBundle(t, dir, big)
	name := entries[3].name
	b, err := openPath(path)
	if err != nil {
		t.Fatal(err)
	}
	data := mustRead(t, path)
	for _, keepLast := range []bool{false, true} {
		crafted := filepath.Join(t.TempDir(), "crafted.tar.zst")
		if err := os.WriteFile(crafted, emptyBlocks(t, data, b, name, keepLast), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		// Open and list: the manifest and the table are intact.
		cb, err := openPath(crafted)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		if got := len(cb.Manifest().Blobs); got != 1 {
			t.Fatalf("list: %d blobs", got)
		}
		// A random read, as push does.
		reads := &countReads{r: cb.f}
		cb.f = reads
		r, err := cb.OpenEntry(name)
		if err == nil {
			_, err = io.Copy(io.Discard, r)
			r.Close()
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "content offset 131072") {
			t.Fatalf("keepLast %v: read: %v, want the block at content offset 131072 refused", keepLast, err)
		}
		if n := reads.calls.Load(); n > 3 {
			t.Errorf("keepLast %v: %d reads before the refusal", keepLast, n)
		}
		cb.Close()
		// The one pass of verify.
		res, err := verifyPath(context.Background(), crafted, nil)
		if err != nil || len(res.Bad) != 1 || !errors.Is(res.Bad[0], ErrCorrupt) {
			t.Fatalf("keepLast %v: Verify = %+v, %v", keepLast, res, err)
		}
		// A resume from it as an unfinished bundle: the layer is pulled again.
		out := filepath.Join(t.TempDir(), "b.tar.zst")
		if err := os.Rename(crafted, out+".partial"); err != nil {
			t.Fatal(err)
		}
		w, err := Create(out, created, testPlan(t, created, big))
		if err != nil {
			t.Fatal(err)
		}
		if w.Resume(context.Background(), name) {
			t.Fatalf("keepLast %v: the crafted layer was kept", keepLast)
		}
		writeBlob(t, w, big)
		if _, err := w.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 20*time.Second { // generous; the old reader took minutes
			t.Errorf("keepLast %v: took %s", keepLast, d)
		}
	}
	b.Close()
}

// TestOverlongFrameRefused: an entry whose frames are longer than any encoder writes for its
// size (room for a run of empty blocks for the decoder to walk) is refused when the bundle is
// opened, before any entry is read.
func TestOverlongFrameRefused(t *testing.T) {
	es := validEntries(t, []byte("some layer"))
	// A frame of empty raw blocks, then the tar header and data as the last raw block.
	var tarball bytes.Buffer
	tarball.Write(mustTarEntry(t, es[3]))
	var f bytes.Buffer
	f.Write([]byte{0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x38}) // magic; no content size; window 1 MiB
	f.Write(make([]byte, 3*200000))                     // 200,000 empty raw blocks
	h := blockHeader(int64(tarball.Len()), true)
	f.Write(h[:])
	f.Write(tarball.Bytes())
	es[3].frame = f.Bytes()
	_, err := openPath(craft(t, es))
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "more than any encoder writes") {
		t.Fatalf("Open = %v", err)
	}
}

// TestResumeCheckpoint: a rerun takes the file's hash up from where the stopped run's hashing
// got (NAME.partial.sum) and still writes the right NAME.sha256: when the entries before the
// checkpoint are kept, when one of them was damaged since and is written again, and when the
// checkpoint is garbage or belongs to another layout.
func TestResumeCheckpoint(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	a, b, c := randomBytes(t, 40<<20), randomBytes(t, 36<<20), randomBytes(t, 1<<20)
	blobs := [][]byte{a, b, c}
	for _, tc := range []struct {
		name     string
		spoil    func(t *testing.T, path string)
		wantFrom bool // the rerun starts hashing at the checkpoint
	}{
		{"kept", func(*testing.T, string) {}, true},
		{"damaged since", func(t *testing.T, path string) {
			old, err := openPath(path + ".partial")
			if err != nil {
				t.Fatal(err)
			}
			off, length, _ := old.EntryRange(BlobName(verify.Digest(a)))
			old.Close()
			f, _ := os.OpenFile(path+".partial", os.O_RDWR, 0)
			f.WriteAt([]byte{0xff}, off+length/2)
			f.Close()
		}, true},
		{"garbage", func(t *testing.T, path string) { os.WriteFile(path+".partial.sum", []byte("{not json"), 0o644) }, false},
		{"another layout", func(t *testing.T, path string) {
			data, _ := os.ReadFile(path + ".partial.sum")
			os.WriteFile(path+".partial.sum", bytes.Replace(data, []byte(`"table":"sha256:`), []byte(`"table":"sha256:0`), 1), 0o644)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.tar.zst")
			stoppedRun(t, path, created, blobs, map[int]bool{1: true}, func() bool {
				_, err := os.Stat(path + ".partial.sum")
				return err == nil
			})
			tc.spoil(t, path)
			w, err := Create(path, created, testPlan(t, created, blobs...))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, from, _ := w.loadCheckpoint(); (from > 0) != tc.wantFrom {
				t.Fatalf("the rerun hashes from entry %d", from)
			}
			for _, x := range blobs {
				if !w.Resume(context.Background(), BlobName(verify.Digest(x))) {
					writeBlob(t, w, x)
				}
			}
			sum, err := w.Commit(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if want := verify.Digest(mustRead(t, path)); "sha256:"+sum != want {
				t.Fatalf("NAME.sha256 says %s, the file is %s", sum, want)
			}
			if _, err := os.Stat(path + ".partial.sum"); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("the checkpoint is left after Commit")
			}
		})
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out")
}
