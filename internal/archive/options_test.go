package archive

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWithPartsRefused: part options that cannot make the bundle are refused at Create, before
// a file is made, saying what to choose instead.
func TestWithPartsRefused(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	plan := testPlan(t, created, randomBytes(t, 200<<10))
	for _, tc := range []struct {
		name   string
		size   int64
		parity int
		want   string
	}{
		{"negative size", -1, 0, "must not be negative"},
		{"negative parity", 100 << 10, -1, "must not be negative"},
		{"parity of one file", 0, 1, "parity parts need the bundle in parts"},
		{"over 999 parts", 200, 0, "at most 999: choose a larger part size"},
		{"over 256 shards", 10 << 10, 250, "at most 256 in all: choose a larger part size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := Create(filepath.Join(dir, "b.tar.zst"), created, plan, WithParts(tc.size, tc.parity))
			if err == nil {
				w.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%q does not say %q", err, tc.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("files made: %v", ents)
			}
		})
	}
}

// TestCreateRefusesPlan: a plan with the manifest elsewhere than first, a name twice, an unsafe
// name, or in-memory data of another size than declared is refused at Create.
func TestCreateRefusesPlan(t *testing.T) {
	created := time.Unix(1700000000, 0).UTC()
	for _, tc := range []struct {
		name string
		edit func(p []Entry) []Entry
		want string
	}{
		{"manifest second", func(p []Entry) []Entry { p[0], p[1] = p[1], p[0]; return p }, "the manifest must be the first entry"},
		{"no manifest", func(p []Entry) []Entry { return p[1:] }, "the manifest must be the first entry"},
		{"twice", func(p []Entry) []Entry { return append(p, p[3]) }, "added twice"},
		{"unsafe", func(p []Entry) []Entry { p[3].Name = "../x"; return p }, "unsafe path"},
		{"data of another size", func(p []Entry) []Entry { p[1].Size++; return p }, "declared"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := Create(filepath.Join(dir, "b.tar.zst"), created, tc.edit(testPlan(t, created, []byte("blob"))))
			if err == nil {
				w.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%q does not say %q", err, tc.want)
			}
		})
	}
}

// recorder records what is written to it, failing when told.
type recorder struct {
	got  bytes.Buffer
	fail error
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.fail != nil {
		return 0, r.fail
	}
	return r.got.Write(p)
}

// TestBothWriter: the file and its parts are hashed from the same writes, each getting every
// byte; a failure of either is the write's (run with -race: b is written in another goroutine).
func TestBothWriter(t *testing.T) {
	a, b := &recorder{}, &recorder{}
	w := bothWriter{a, b}
	for _, p := range []string{"one ", "two ", "three"} {
		if n, err := w.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("%d, %v", n, err)
		}
	}
	if a.got.String() != "one two three" || b.got.String() != "one two three" {
		t.Fatalf("a %q, b %q", a.got.String(), b.got.String())
	}
	broken := errors.New("broken")
	for _, which := range []*recorder{a, b} {
		which.fail = broken
		if _, err := w.Write([]byte("x")); !errors.Is(err, broken) {
			t.Fatalf("a failing writer: %v", err)
		}
		which.fail = nil
	}
}
