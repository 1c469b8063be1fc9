package parts_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
)

// byteCounter is a Counter.
type byteCounter struct{ n atomic.Int64 }

func (c *byteCounter) Add(n int64) { c.n.Add(n) }

// TestPartsErrorSays: the error says which parts are bad and what to do: run repair, or carry
// how many again; it is a corrupt bundle.
func TestPartsErrorSays(t *testing.T) {
	bad := func(names ...string) []parts.Status {
		var out []parts.Status
		for _, n := range names {
			out = append(out, parts.Status{Name: n, Problem: "missing"})
		}
		return out
	}
	for _, tc := range []struct {
		e           parts.Error
		rebuildable bool
		want        string
	}{
		{parts.Error{Bad: bad("b.001"), Parts: 5, Parity: 2}, true,
			"1 of 5 parts lost or damaged (b.001); the 2 parity parts can rebuild them: run unbundle repair"},
		{parts.Error{Bad: bad("b.001", "b.p01"), Parts: 5, Parity: 2}, true, "2 of 5 parts lost or damaged (b.001, b.p01); the 2 parity parts can rebuild"},
		{parts.Error{Bad: bad("b.001", "b.002", "b.003"), Parts: 5, Parity: 2}, false,
			"3 of 5 parts lost or damaged (b.001, b.002, b.003); the 2 parity parts rebuild at most 2: carry at least 1 of them again"},
		{parts.Error{Bad: bad("b.002"), Parts: 3}, false, "1 of 3 parts lost or damaged (b.002), and there are no parity parts: carry them again"},
		{parts.Error{Bad: bad("b.002"), Parts: 4, Parity: 1, NoSums: true}, false,
			"without the checksum file, parity parts cannot be used: carry them again"},
		{parts.Error{Bad: bad("1", "2", "3", "4", "5", "6", "7", "8"), Parts: 20, Parity: 10}, true, "(1, 2, 3, 4, 5, ... 3 more)"},
	} {
		err := error(&tc.e)
		if !errors.Is(err, parts.ErrCorrupt) || tc.e.Rebuildable() != tc.rebuildable || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q (rebuildable %v), want %q (rebuildable %v)", err, tc.e.Rebuildable(), tc.want, tc.rebuildable)
		}
	}
	if got := parts.JoinNames([]string{"a", "b", "c", "d", "e", "f"}); got != "a, b, c, d, e, f" {
		t.Errorf("six names: %q", got)
	}
}

// TestCheckParts: without hashing, presence and sizes are checked (a flipped byte passes); with
// hashing, every part's sha256, counting the bytes hashed; of two copies of a part, the one
// that matches is kept, whichever is found first; when neither does, the problem says so.
func TestCheckParts(t *testing.T) {
	dir := t.TempDir()
	path := smallParts(t, dir, 1)
	var total int64
	for _, p := range parts.Files(path) {
		st, _ := os.Stat(p)
		total += st.Size()
	}
	s := mustFind(t, trust.Trust{}, path)
	var c byteCounter
	all, err := parts.Check(context.Background(), &s.Set, true, &c)
	if err != nil || len(all) != 4 || c.n.Load() != total {
		t.Fatalf("a good bundle: %+v, %v, %d of %d bytes counted", all, err, c.n.Load(), total)
	}
	for i, st := range all {
		if st.Problem != "" || st.Path == "" || st.Parity != (i == 3) {
			t.Fatalf("part %d: %+v", i, st)
		}
	}
	if all[3].Name != "b.tar.zst.p01" || all[0].Name != "b.tar.zst.001" {
		t.Fatalf("names: %s, %s", all[0].Name, all[3].Name)
	}

	goodBytes := mustRead(t, parts.DataName(path, 1))
	flip(t, parts.DataName(path, 1), 1000)
	s = mustFind(t, trust.Trust{}, path)
	if _, err := parts.Check(context.Background(), &s.Set, false, nil); err != nil {
		t.Fatalf("without hashing, a flipped byte is not seen: %v", err)
	}
	_, err = parts.Check(context.Background(), &s.Set, true, nil)
	var pe *parts.Error
	if !errors.As(err, &pe) || len(pe.Bad) != 1 || pe.Bad[0].Name != "b.tar.zst.002" || !strings.Contains(pe.Bad[0].Problem, "does not match its sha256 in b.tar.zst.sha256") {
		t.Fatalf("hashing, the flipped part: %v", err)
	}

	// A good copy on another medium, named after the bad one (hashed: there are two).
	other := t.TempDir()
	good := filepath.Join(other, "b.tar.zst")
	os.WriteFile(parts.DataName(good, 1), goodBytes, 0o644)
	for _, order := range [][]string{{dir, other}, {other, dir}} {
		s = mustFind(t, trust.Trust{}, order...)
		if _, err := parts.Check(context.Background(), &s.Set, false, nil); err != nil {
			t.Fatalf("%v: %v", order, err)
		}
		if l := s.Data[1]; len(l) != 1 || l[0] != parts.DataName(good, 1) {
			t.Fatalf("%v: kept %v, not the good copy", order, l)
		}
	}
	// Neither copy matches.
	flip(t, parts.DataName(good, 1), 5)
	s = mustFind(t, trust.Trust{}, dir, other)
	_, err = parts.Check(context.Background(), &s.Set, false, nil)
	if !errors.As(err, &pe) || !strings.Contains(pe.Bad[0].Problem, "(and the 1 other copies found do not match either)") {
		t.Fatalf("two bad copies: %v", err)
	}
}

// TestCheckPartsSizes: a part shorter or longer than the checksum file says is named with the
// bytes it lacks or has too many, before any hashing; a stopped context stops the check.
func TestCheckPartsSizes(t *testing.T) {
	dir := t.TempDir()
	path := smallParts(t, dir, 1)
	f, _ := os.OpenFile(parts.ParityName(path, 0), os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("xyz"))
	f.Close()
	os.Truncate(parts.DataName(path, 0), 1000)
	s := mustFind(t, trust.Trust{}, path)
	_, err := parts.Check(context.Background(), &s.Set, false, nil)
	var pe *parts.Error
	if !errors.As(err, &pe) || len(pe.Bad) != 2 || pe.Rebuildable() {
		t.Fatalf("%v", err)
	}
	want := []string{
		fmt.Sprintf("b.tar.zst.001: 1000 bytes, %d short of its %d (truncated)", 128<<10-1000, 128<<10),
		fmt.Sprintf("b.tar.zst.p01: %d bytes, 3 more than its %d", 128<<10+3, 128<<10),
	}
	for i, w := range want {
		if got := pe.Bad[i].Name + ": " + pe.Bad[i].Problem; got != w {
			t.Errorf("%q, want %q", got, w)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := parts.Check(ctx, &mustFind(t, trust.Trust{}, path).Set, true, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("a stopped context: %v", err)
	}
}
