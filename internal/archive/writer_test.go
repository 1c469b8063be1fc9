package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// testPlan is a bundle's entries: the manifest, the layout files, and the blobs to stream.
func testPlan(t testing.TB, created time.Time, blobs ...[]byte) []Entry {
	t.Helper()
	layout := []byte(`{"imageLayoutVersion":"1.0.0"}`)
	index := []byte(`{"schemaVersion":2,"manifests":[]}`)
	m := Manifest{FormatVersion: FormatVersion, MediaType: ManifestMediaType, Tool: "test", Created: created,
		Layout: Layout{OCILayout: verify.Digest(layout), Index: verify.Digest(index)}}
	var streamed []Entry
	for _, b := range blobs {
		d := verify.Digest(b)
		m.Blobs = append(m.Blobs, Blob{Digest: d, Size: int64(len(b)), Kind: KindLayer})
		m.Totals.BlobBytes += int64(len(b))
		streamed = append(streamed, Entry{Name: BlobName(d), Digest: d, Size: int64(len(b))})
	}
	m.Totals.Blobs = len(m.Blobs)
	mj, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	mem := func(name string, b []byte) Entry {
		return Entry{Name: name, Digest: verify.Digest(b), Size: int64(len(b)), Data: b}
	}
	return append([]Entry{mem(ManifestName, mj), mem(LayoutName, layout), mem(IndexName, index)}, streamed...)
}

func writeBlob(t testing.TB, w *Writer, b []byte) {
	t.Helper()
	d := verify.Digest(b)
	if err := w.WriteEntry(context.Background(), BlobName(d), verify.NewReader(bytes.NewReader(b), d, int64(len(b)))); err != nil {
		t.Fatal(err)
	}
}

// TestRawFrames: layers of every size around the block and write boundaries are stored in raw
// frames that our reader, zstd and tar all read back exactly.
func TestRawFrames(t *testing.T) {
	for _, tool := range []string{"zstd", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed: %v", tool, err)
		}
	}
	var blobs [][]byte
	for _, n := range []int{0, 1, 511, 512, 513, rawBlockMax - 1, rawBlockMax, rawBlockMax + 1,
		rawBlocksAtOne * rawBlockMax, rawBlocksAtOne*rawBlockMax + 7, 3<<20 + 17} {
		b := randomBytes(t, n)
		if n > 0 {
			b[0] = byte(n) // distinct digests for the small ones too
		}
		blobs = append(blobs, b)
	}
	dir := t.TempDir()
	path, entries := writeTestBundle(t, dir, blobs...)
	b, err := openPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, e := range entries[3:] {
		got, err := b.ReadFile(e.name)
		if err != nil || !bytes.Equal(got, e.data) {
			t.Fatalf("%d bytes: read back %d bytes, %v", len(e.data), len(got), err)
		}
		off, length, _ := b.EntryRange(e.name)
		if hdr := length - rawFrameLen(int64(len(e.data))+padding(int64(len(e.data)))); hdr <= 0 || hdr > 512 {
			t.Fatalf("%d bytes: entry at %d+%d is not a header frame and a raw frame", len(e.data), off, length)
		}
	}
	out := filepath.Join(dir, "x")
	os.Mkdir(out, 0o755)
	if o, err := exec.Command("sh", "-c", `zstd -qdc "$1" | tar -x -C "$2"`, "sh", path, out).CombinedOutput(); err != nil {
		t.Fatalf("zstd | tar: %v\n%s", err, o)
	}
	for _, e := range entries[3:] {
		if got, err := os.ReadFile(filepath.Join(out, e.name)); err != nil || !bytes.Equal(got, e.data) {
			t.Fatalf("%d bytes: extracted content differs (%v)", len(e.data), err)
		}
	}
}

// TestWriteEntryRejects: content too short, too long or with another digest fails and leaves
// the entry to be written again; Commit refuses a bundle with an entry missing.
func TestWriteEntryRejects(t *testing.T) {
	blob := randomBytes(t, 300<<10)
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	w, err := Create(path, time.Unix(1700000000, 0), testPlan(t, time.Unix(1700000000, 0).UTC(), blob))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	d := verify.Digest(blob)
	name := BlobName(d)
	other := bytes.Clone(blob)
	other[1000] ^= 1
	for what, r := range map[string]*bytes.Reader{
		"short": bytes.NewReader(blob[:len(blob)-1]),
		"long":  bytes.NewReader(append(bytes.Clone(blob), 0)),
	} {
		if err := w.WriteEntry(context.Background(), name, r); err == nil {
			t.Fatalf("%s content accepted", what)
		}
	}
	if err := w.WriteEntry(context.Background(), name, verify.NewReader(bytes.NewReader(other), d, int64(len(other)))); !errors.Is(err, verify.ErrMismatch) {
		t.Fatalf("content of another digest: %v", err)
	}
	if _, err := w.Commit(context.Background()); err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("Commit with %s missing: %v", name, err)
	}

	w, err = Create(path, time.Unix(1700000000, 0), testPlan(t, time.Unix(1700000000, 0).UTC(), blob))
	if err != nil {
		t.Fatal(err)
	}
	writeBlob(t, w, blob)
	if _, err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if res, err := verifyPath(context.Background(), path, nil); err != nil || len(res.Bad) != 0 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
}

// TestResumeInPlace: a run stopped after writing some entries (one of them damaged since) is
// resumed by a Create of the same plan: the intact entries are recovered, the others written,
// and the file equals one written in one go.
func TestResumeInPlace(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	a, b, c := randomBytes(t, 700<<10), randomBytes(t, 200<<10), randomBytes(t, 90<<10)
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	w, err := Create(path, created, testPlan(t, created, a, b, c))
	if err != nil {
		t.Fatal(err)
	}
	writeBlob(t, w, a)
	writeBlob(t, w, b)
	w.Close() // stopped
	// Damage b in the unfinished file.
	old, err := openPath(path + ".partial")
	if err != nil {
		t.Fatalf("the unfinished bundle's table is not readable: %v", err)
	}
	off, length, _ := old.EntryRange(BlobName(verify.Digest(b)))
	old.Close()
	data, _ := os.ReadFile(path + ".partial")
	data[off+length-100] ^= 1
	os.WriteFile(path+".partial", data, 0o644)

	w, err = Create(path, created, testPlan(t, created, a, b, c))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, x := range [][]byte{a, b, c} {
		got[string(x[:8])] = w.Resume(context.Background(), BlobName(verify.Digest(x)))
	}
	if !got[string(a[:8])] || got[string(b[:8])] || got[string(c[:8])] {
		t.Fatalf("Resume: a %v (want true), b (damaged) %v, c (never written) %v", got[string(a[:8])], got[string(b[:8])], got[string(c[:8])])
	}
	if w.Resume(context.Background(), BlobName(verify.Digest(a))) {
		t.Fatal("an entry was recovered twice")
	}
	writeBlob(t, w, c)
	writeBlob(t, w, b)
	if _, err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	resumed, _ := os.ReadFile(path)
	w, err = Create(filepath.Join(t.TempDir(), "b.tar.zst"), created, testPlan(t, created, a, b, c))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range [][]byte{c, a, b} {
		writeBlob(t, w, x)
	}
	sum, err := w.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(resumed, mustRead(t, w.path)) || sum != verify.Digest(resumed)[len("sha256:"):] {
		t.Fatal("the resumed bundle differs from one written in one go, or its checksum does")
	}
}

// TestResumeOtherPlan: an unfinished bundle of another plan gives the entries both need; the
// new bundle is complete and verifies, and nothing of the old one is left.
func TestResumeOtherPlan(t *testing.T) {
	a, b, c := randomBytes(t, 300<<10), randomBytes(t, 200<<10), randomBytes(t, 10<<10)
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	t1, t2 := time.Unix(1700000000, 0).UTC(), time.Unix(1700000100, 0).UTC()
	w, err := Create(path, t1, testPlan(t, t1, a, b))
	if err != nil {
		t.Fatal(err)
	}
	writeBlob(t, w, a)
	w.Close()

	w, err = Create(path, t2, testPlan(t, t2, a, c, b))
	if err != nil {
		t.Fatal(err)
	}
	if !w.Resume(context.Background(), BlobName(verify.Digest(a))) {
		t.Fatal("a was not taken from the earlier unfinished bundle")
	}
	for _, x := range [][]byte{b, c} {
		if w.Resume(context.Background(), BlobName(verify.Digest(x))) {
			t.Fatal("an entry never written was recovered")
		}
		writeBlob(t, w, x)
	}
	if _, err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if res, err := verifyPath(context.Background(), path, nil); err != nil || len(res.Bad) != 0 || res.Checksum != "matched" {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	for _, f := range []string{path + ".partial", path + ".partial.prev"} {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind", filepath.Base(f))
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRawFrameDamage: the reader of raw frames refuses a block of another type, a nonzero
// padding byte and a block that runs past the frame, each as a corrupt bundle.
func TestRawFrameDamage(t *testing.T) {
	blob := randomBytes(t, 200<<10+100) // two blocks, then 412 bytes of padding
	path, entries := writeTestBundle(t, t.TempDir(), blob)
	b, err := openPath(path)
	if err != nil {
		t.Fatal(err)
	}
	off, length, _ := b.EntryRange(entries[3].name)
	b.Close()
	data := mustRead(t, path)
	raw := off + length - rawFrameLen(int64(len(blob))+padding(int64(len(blob))))
	first := raw + rawHeaderLen // the first block header
	for what, damage := range map[string]func([]byte){
		"block type":  func(d []byte) { d[first] |= 2 },
		"padding":     func(d []byte) { d[off+length-1] = 1 },
		"block size":  func(d []byte) { d[first+2] |= 0x80 },
		"frame magic": func(d []byte) { d[raw] ^= 1 },
	} {
		d := bytes.Clone(data)
		damage(d)
		p := filepath.Join(t.TempDir(), "b.tar.zst")
		os.WriteFile(p, d, 0o644)
		b, err := openPath(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.ReadFile(entries[3].name)
		b.Close()
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, verify.ErrMismatch) {
			t.Errorf("%s: read gave %v, want a corrupt bundle", what, err)
		}
		if err == nil {
			t.Errorf("%s: damaged entry read back", what)
		}
	}
}
