package inspect

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/progress"
	"github.com/element-hq/ess-airgap/internal/testbundle"
)

// twoImages writes a bundle of two images sharing a layer, each with a layer of its own, and
// returns its path and the layers: shared, a's, b's.
func twoImages(t *testing.T) (string, []testbundle.Blob) {
	t.Helper()
	shared, la, lb := randomLayer(t, 64<<10), randomLayer(t, 64<<10), randomLayer(t, 64<<10)
	ca, cb := config("amd64"), config("arm64")
	ma, mb := image(nil, "", ca, shared, la), image(nil, "", cb, shared, lb)
	path, err := testbundle.Write(t.TempDir(), "b", []testbundle.Image{img("a", ma), img("b", mb)},
		[]testbundle.Blob{ma, mb, ca, cb, shared, la, lb})
	if err != nil {
		t.Fatal(err)
	}
	return path, []testbundle.Blob{shared, la, lb}
}

func TestVerifyGood(t *testing.T) {
	path, _ := twoImages(t)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var m progress.Meter
	v, err := Verify(t.Context(), find(t, path), &m)
	if err != nil {
		t.Fatal(err)
	}
	if v.Result == nil || len(v.Result.Bad) != 0 || v.Users != nil || v.BadParts != nil {
		t.Fatalf("a good bundle: %+v", v)
	}
	if len(v.Result.SHA256) != 64 {
		t.Errorf("SHA256 = %q, want the file's", v.Result.SHA256)
	}
	if m.Total() != st.Size() || m.Done() == 0 {
		t.Errorf("meter: %d of %d bytes, want a total of the file's %d", m.Done(), m.Total(), st.Size())
	}
	if _, err := Verify(t.Context(), find(t, path), nil); err != nil { // no meter
		t.Fatal(err)
	}
}

// TestVerifyBadBlob: a blob that does not verify is named with the containers that use it;
// with the checksum file beside the bundle the error is the checksum's, without it the
// entries' (archive.ErrCorrupt, naming the bundle and the count).
func TestVerifyBadBlob(t *testing.T) {
	for _, tc := range []struct {
		name     string
		layer    int // which layer is damaged
		noSums   bool
		users    []string
		wantErr  error
		wantText string
	}{
		{name: "shared layer", layer: 0, users: []string{"c.a", "c.b"}, wantErr: trust.ErrChecksum},
		{name: "one image's layer", layer: 2, users: []string{"c.b"}, wantErr: trust.ErrChecksum},
		{name: "no checksum file", layer: 1, noSums: true, users: []string{"c.a"}, wantErr: archive.ErrCorrupt,
			wantText: "b.tar.zst: bundle is corrupt: 1 entries failed verification"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, layers := twoImages(t)
			bad := layers[tc.layer].Digest()
			flipIn(t, path, archive.BlobName(bad))
			if tc.noSums {
				if err := os.Remove(path + ".sha256"); err != nil {
					t.Fatal(err)
				}
			}
			v, err := Verify(t.Context(), find(t, path), nil)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantText != "" && err.Error() != tc.wantText {
				t.Errorf("err = %q, want %q", err, tc.wantText)
			}
			if v == nil || v.Result == nil || len(v.Result.Bad) != 1 || v.Result.Bad[0].Digest != bad {
				t.Fatalf("Verified = %+v, want %s bad", v, bad)
			}
			got := slices.Sorted(slices.Values(v.Users[bad]))
			if !reflect.DeepEqual(got, tc.users) {
				t.Errorf("users of the bad blob = %v, want %v", got, tc.users)
			}
		})
	}
}

func TestMergeParts(t *testing.T) {
	ok := func(n string) parts.Status { return parts.Status{Name: n} }
	bad := func(n string) parts.Status { return parts.Status{Name: n, Problem: "missing"} }
	for _, tc := range []struct {
		name          string
		all, bad, out []parts.Status
	}{
		{"no list: the bad ones", nil, []parts.Status{bad("b.002")}, []parts.Status{bad("b.002")}},
		{"bad ones in their place", []parts.Status{ok("b.001"), ok("b.002"), ok("b.p01")}, []parts.Status{bad("b.p01"), bad("b.001")},
			[]parts.Status{bad("b.001"), ok("b.002"), bad("b.p01")}},
		{"none bad", []parts.Status{ok("b.001")}, nil, []parts.Status{ok("b.001")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mergeParts(tc.all, tc.bad); !reflect.DeepEqual(got, tc.out) {
				t.Errorf("mergeParts = %v, want %v", got, tc.out)
			}
		})
	}
}

func TestSize(t *testing.T) {
	split := &trust.Set{Set: parts.Set{Sums: &parts.Sums{Size: 1000, PartSize: 300, Parts: make([]string, 4), Parity: make([]string, 2)}}}
	if got := Size(split); got != 1000+2*300 {
		t.Errorf("split: %d, want the data and the parity parts, 1600", got)
	}
	if got := Size(&trust.Set{Set: parts.Set{Whole: "/nonexistent/b.tar.zst"}}); got != 0 {
		t.Errorf("no file: %d, want 0", got)
	}
}
