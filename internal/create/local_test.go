package create

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// fakeLocal holds content by digest.
type fakeLocal map[string]string

func (f fakeLocal) ByDigest(d string) (io.ReadCloser, string, bool) {
	s, ok := f[d]
	if !ok {
		return nil, "", false
	}
	return io.NopCloser(bytes.NewReader([]byte(s))), "text/" + s, true
}

// TestLocals: several sources are asked in order; the first that has the digest answers.
func TestLocals(t *testing.T) {
	ls := Locals{fakeLocal{"a": "first"}, fakeLocal{"a": "second", "b": "second"}}
	for d, want := range map[string]string{"a": "first", "b": "second"} {
		rc, mt, ok := ls.ByDigest(d)
		if !ok {
			t.Fatalf("%s not found", d)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		if string(data) != want || mt != "text/"+want {
			t.Errorf("%s: %q (%s), want %q", d, data, mt, want)
		}
	}
	if _, _, ok := ls.ByDigest("c"); ok {
		t.Error("c found")
	}
	if _, _, ok := (Locals{}).ByDigest("a"); ok {
		t.Error("found in nothing")
	}
}

// TestUnfinishedLocal: the unfinished bundle a stopped run left offers its manifests, indexes
// and configs, verified, and not its layers; a rerun of a list pinned by digest resolves from
// it with the registry gone, while an image named by tag still needs the registry. Without an
// unfinished bundle there is nothing to offer.
func TestUnfinishedLocal(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "b.tar.zst")
	if _, _, ok := UnfinishedLocal(out); ok {
		t.Fatal("an unfinished bundle where there is none")
	}
	up, images := tinyWorld(t, 71)
	gone := images[0]
	gone.Path += "-gone"
	res, err := createIn(t, newClient(t), CreateOptions{List: &digests.List{Images: []digests.Image{gone, images[1], images[2]}}, Output: out})
	if !errors.Is(err, mirror.ErrPartial) || res == nil || !res.Unfinished {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	l, closer, ok := UnfinishedLocal(out)
	if !ok {
		t.Fatal("the .partial is not offered")
	}
	defer closer.Close()
	offered := 0
	for _, b := range res.Manifest.Blobs {
		rc, _, ok := l.ByDigest(b.Digest)
		if ok != (b.Kind != archive.KindLayer) {
			t.Errorf("%s %s: offered %v", b.Kind, b.Digest, ok)
		}
		if !ok {
			continue
		}
		offered++
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || verify.Digest(data) != b.Digest {
			t.Errorf("%s: %v", b.Digest, err)
		}
	}
	if offered == 0 {
		t.Fatal("nothing offered")
	}
	if _, _, ok := l.ByDigest("sha256:" + string(bytes.Repeat([]byte("0"), 64))); ok {
		t.Error("an unknown digest offered")
	}

	up.Close() // the registry is gone: what is pinned resolves from the .partial alone
	c := newClient(t, oci.WithLocal(l), oci.WithRetry(1, time.Second))
	pinned := pinnedOnly(images[1])
	got, failed := resolve(t.Context(), c, mirror.DefaultJobs, (&digests.List{Images: []digests.Image{pinned, tagOnly(images[2])}}).Groups(), nil, newHeldBytes())
	if len(got) != 1 || got[0].root.Desc.Digest != images[1].Digest {
		t.Errorf("resolved %d, failed %v", len(got), failed)
	}
	if failed[images[2].Key()] == nil || failed[pinned.Key()] != nil {
		t.Errorf("failed %v", failed)
	}
}
