package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// stateReader is a verified reader of b that fails once it has handed out n bytes, as a pull
// whose connection broke: what it read is kept, with its hash state.
func stateReader(b []byte, n int) *verify.Reader {
	return verify.NewReader(io.MultiReader(bytes.NewReader(b[:n]), iotestErr{}), verify.Digest(b), int64(len(b)))
}

// takeUp writes the rest of b from where Continue says, as a ranged pull does, and returns the
// offset it started at.
func takeUp(t *testing.T, w *Writer, b []byte) int64 {
	t.Helper()
	name := BlobName(verify.Digest(b))
	from, state := w.Continue(name)
	r := verify.NewReaderFrom(bytes.NewReader(b[from:]), verify.Digest(b), int64(len(b)), from, state)
	if err := w.WriteEntryFrom(context.Background(), name, from, r); err != nil {
		t.Fatalf("taken up at %d: %v", from, err)
	}
	return from
}

// commitAndCheck commits and checks the bundle: every blob verifies, and NAME.sha256 is the
// sha256 of the file.
func commitAndCheck(t *testing.T, w *Writer, path string) {
	t.Helper()
	sum, err := w.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res, err := verifyPath(context.Background(), path, nil); err != nil || len(res.Bad) != 0 {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	var joined []byte
	for _, name := range filesOf(path) { // the file, or its data parts in order
		joined = append(joined, mustRead(t, name)...)
	}
	if want := verify.Digest(joined); "sha256:"+sum != want {
		t.Fatalf("NAME.sha256 says %s, the file is %s", sum, want)
	}
}

// TestContinueInRun: a write that broke half way is taken up where it stopped, in the same
// run; one that did not verify is dropped and written whole again; the file's hash, which
// followed both into the layer, comes out right. One file and in parts.
func TestContinueInRun(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	a, b := randomBytes(t, 9<<20+777), randomBytes(t, 5<<20+3)
	for _, opts := range [][]Option{nil, {WithParts(4<<20, 0)}} {
		path := filepath.Join(t.TempDir(), "b.tar.zst")
		w, err := Create(path, created, testPlan(t, created, a, b), opts...)
		if err != nil {
			t.Fatal(err)
		}
		na := BlobName(verify.Digest(a))
		if err := w.WriteEntry(context.Background(), na, stateReader(a, 5<<20+100)); err == nil {
			t.Fatal("a broken write succeeded")
		}
		if from, state := w.Continue(na); from != 5<<20 || state == nil {
			t.Fatalf("Continue = %d, want %d (the last whole chunk)", from, 5<<20)
		}
		w.hs.mu.Lock() // the hash is held back from here: it meets b's header with b under way
		if from := takeUp(t, w, a); from != 5<<20 {
			t.Fatalf("taken up at %d", from)
		}
		// b: the hash, held back until b's write is under way, follows it into the layer; the
		// content turns out wrong, is dropped, and is written again.
		nb := BlobName(verify.Digest(b))
		wrong := bytes.Clone(b)
		wrong[len(wrong)-1] ^= 1
		gate := make(chan struct{})
		src := io.MultiReader(bytes.NewReader(wrong[:3<<20]), readFunc(func([]byte) (int, error) {
			<-gate
			return 0, io.EOF
		}), bytes.NewReader(wrong[3<<20:]))
		failed := make(chan error, 1)
		go func() {
			failed <- w.WriteEntry(context.Background(), nb, verify.NewReader(src, verify.Digest(b), int64(len(b))))
		}()
		i := w.byName[nb]
		waitFor(t, func() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.prog[i].avail > chunkFrame })
		w.hs.mu.Unlock()
		waitFor(t, func() bool {
			w.hs.mu.Lock()
			defer w.hs.mu.Unlock()
			return w.hs.pos > w.dataOff[i]+chunkFrame
		})
		close(gate)
		if err := <-failed; !errors.Is(err, verify.ErrMismatch) {
			t.Fatalf("wrong content: %v", err)
		}
		if from, _ := w.Continue(nb); from != 0 {
			t.Fatalf("after a mismatch Continue = %d, want 0", from)
		}
		writeBlob(t, w, b)
		commitAndCheck(t, w, path)
	}
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

// stopWith writes blobs into a new bundle at path, each whole but those of half, which stop
// at half their size with their hash state, and closes the writer as a Ctrl-C does (it saves
// its checkpoint).
func stopWith(t *testing.T, path string, created time.Time, blobs [][]byte, half map[int]bool) {
	t.Helper()
	w, err := Create(path, created, testPlan(t, created, blobs...))
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range blobs {
		if !half[i] {
			writeBlob(t, w, b)
		} else if err := w.WriteEntry(context.Background(), BlobName(verify.Digest(b)), stateReader(b, len(b)/2)); err == nil {
			t.Fatal("a stopped write succeeded")
		}
	}
	w.Close()
}

// editCheckpoint rewrites the checkpoint at path through edit, with a valid sha256 of its own
// (a checkpoint that lies, not a damaged one).
func editCheckpoint(t *testing.T, path string, edit func(c *checkpoint)) {
	t.Helper()
	data, err := os.ReadFile(path + ".partial.sum")
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := bytes.Cut(data, []byte("\n"))
	var c checkpoint
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatal(err)
	}
	edit(&c)
	body, _ = json.Marshal(c)
	sum := sha256.Sum256(body)
	if err := os.WriteFile(path+".partial.sum", append(append(body, '\n'), hex.EncodeToString(sum[:])+"\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestResumeTakesUp: a rerun after a stop keeps the complete layers on their extents' sums,
// without hashing them, and takes each half-written layer up where it stopped, writing only
// what is missing; whatever the checkpoint says, nothing it says is accepted unchecked: a
// checkpoint that lies about a layer's hash state, or about extents the file no longer holds,
// or that is damaged, costs work, never a wrong bundle.
func TestResumeTakesUp(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	a, b, c := randomBytes(t, 6<<20+5), randomBytes(t, 8<<20+1000), randomBytes(t, 3<<20)
	blobs := [][]byte{a, b, c}
	half := map[int]bool{1: true}
	nameA, nameB := BlobName(verify.Digest(a)), BlobName(verify.Digest(b))
	other := randomBytes(t, 8<<20+1000)
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, path string)
		// what the rerun finds: layers kept on their sums, kept after a full read, where b is
		// taken up, and whether taking it up fails (the lie comes out at b's end)
		checked, verified int
		from              int64
		failsAtEnd        bool
	}{
		{"honest", func(*testing.T, string) {}, 2, 0, 4 << 20, false},
		{"a state of other bytes", func(t *testing.T, path string) {
			r := verify.NewReader(bytes.NewReader(other), verify.Digest(other), int64(len(other)))
			io.ReadFull(r, make([]byte, 4<<20))
			_, st := r.State()
			editCheckpoint(t, path, func(c *checkpoint) { c.Entries[nameB].State = st })
		}, 2, 0, 4 << 20, true},
		{"b changed in its written part", func(t *testing.T, path string) {
			flipAt(t, path, nameB, 1<<20)
		}, 2, 0, 0, false},
		{"a changed since", func(t *testing.T, path string) {
			flipAt(t, path, nameA, 3<<20)
		}, 1, 0, 4 << 20, false},
		{"sums that do not match an intact a", func(t *testing.T, path string) {
			editCheckpoint(t, path, func(c *checkpoint) { c.Entries[nameA].Sums[9] ^= 1 })
		}, 1, 1, 4 << 20, false},
		{"damaged checkpoint", func(t *testing.T, path string) {
			data, _ := os.ReadFile(path + ".partial.sum")
			data[len(data)/2] ^= 1
			os.WriteFile(path+".partial.sum", data, 0o644)
		}, 0, 2, 0, false},
		{"another layout", func(t *testing.T, path string) {
			editCheckpoint(t, path, func(c *checkpoint) { c.Table = "sha256:" + verifyDigestHex([]byte("x")) })
		}, 0, 2, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.tar.zst")
			stopWith(t, path, created, blobs, half)
			tc.spoil(t, path)
			w, err := Create(path, created, testPlan(t, created, blobs...))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			var written int64
			for _, x := range blobs {
				name := BlobName(verify.Digest(x))
				if w.Resume(context.Background(), name) {
					continue
				}
				from, _ := w.Continue(name)
				if name == nameB && from != tc.from {
					t.Fatalf("b is taken up at %d, want %d", from, tc.from)
				}
				r := verify.NewReaderFrom(bytes.NewReader(x[from:]), verify.Digest(x), int64(len(x)), from, func() []byte { _, s := w.Continue(name); return s }())
				err := w.WriteEntryFrom(context.Background(), name, from, r)
				written += int64(len(x)) - from
				if name == nameB && tc.failsAtEnd {
					if !errors.Is(err, verify.ErrMismatch) {
						t.Fatalf("taken up on a lying state: %v, want a mismatch", err)
					}
					if f, _ := w.Continue(name); f != 0 {
						t.Fatalf("after the mismatch Continue = %d", f)
					}
					writeBlob(t, w, x)
					written += int64(len(x))
					continue
				}
				if err != nil {
					t.Fatalf("%s from %d: %v", name, from, err)
				}
			}
			st := w.ResumeStats()
			if st.Checked != tc.checked || st.Verified != tc.verified {
				t.Errorf("kept %d on their sums and %d after a full read, want %d and %d", st.Checked, st.Verified, tc.checked, tc.verified)
			}
			if tc.name == "honest" && written != int64(len(b))-4<<20 {
				t.Errorf("the rerun wrote %d bytes, only the %d missing ones wanted", written, int64(len(b))-4<<20)
			}
			commitAndCheck(t, w, path)
		})
	}
}

// flipAt flips a byte of the named entry's frame in NAME.partial, off bytes into its data.
func flipAt(t *testing.T, path, name string, off int64) {
	t.Helper()
	b, err := openPath(path + ".partial")
	if err != nil {
		t.Fatal(err)
	}
	at, length, _ := b.EntryRange(name)
	e := b.byName[name]
	b.Close()
	dataOff := at + length - rawFrameLen(e.Size+padding(e.Size))
	flip(t, path+".partial", dataOff+rawHeaderLen+off)
}

// TestResumeFinishedAfterCheckpoint: a layer the stopped run finished writing after its last
// checkpoint (which recorded it half written) is kept by hashing only the rest of it on top of
// the recorded state.
func TestResumeFinishedAfterCheckpoint(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	a := randomBytes(t, 7<<20+9)
	path := filepath.Join(t.TempDir(), "b.tar.zst")
	stopWith(t, path, created, [][]byte{a}, map[int]bool{0: true})
	saved, err := os.ReadFile(path + ".partial.sum")
	if err != nil {
		t.Fatal(err)
	}
	w, err := Create(path, created, testPlan(t, created, a))
	if err != nil {
		t.Fatal(err)
	}
	name := BlobName(verify.Digest(a))
	if w.Resume(context.Background(), name) {
		t.Fatal("a half-written layer was kept")
	}
	takeUp(t, w, a)
	w.stopSaver()
	w.Close() // killed after the layer was written, before a checkpoint recorded it
	if err := os.WriteFile(path+".partial.sum", saved, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err = Create(path, created, testPlan(t, created, a))
	if err != nil {
		t.Fatal(err)
	}
	if !w.Resume(context.Background(), name) {
		t.Fatal("the finished layer was not kept")
	}
	if st := w.ResumeStats(); st.Verified != 1 {
		t.Fatalf("ResumeStats = %+v", st)
	}
	commitAndCheck(t, w, path)
}
