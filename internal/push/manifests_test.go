package push

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/testbundle"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// TestReadBack: ReadBack reads every tag without pushing and returns the images as the
// registry serves them, sorted; a tag that serves another digest than the bundle's fails its
// container with ErrReadBack naming the tag and both digests, a tag the registry lacks fails it
// too; either way the error wraps mirror.ErrPartial.
func TestReadBack(t *testing.T) {
	b := tinyBundle(t, manifest.OCIManifest, "ess/web", "ess/synapse")
	dest := testregistry.StartT(t)
	d := Destination{Host: dest.Host}

	res, err := ReadBack(t.Context(), newClient(t), b, d, 0)
	if !errors.Is(err, mirror.ErrPartial) || errors.Is(err, ErrReadBack) || len(res.Failed) != 2 || len(res.Images) != 0 {
		t.Fatalf("read back from an empty registry: %+v, %v", res, err)
	}
	if dest.BlobBytesReceived() != 0 {
		t.Errorf("ReadBack sent %d bytes", dest.BlobBytesReceived())
	}

	if _, err := Push(t.Context(), newClient(t), b, PushOptions{Destination: d}); err != nil {
		t.Fatal(err)
	}
	res, err = ReadBack(t.Context(), newClient(t), b, d, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []digests.Image{}
	for _, im := range b.Manifest().Images {
		want = append(want, digests.Image{Entry: imageref.Entry{Component: im.Component, Container: im.Container, Server: dest.Host, Path: im.Path, Tag: im.Tag}, Digest: im.Digest})
	}
	slices.SortFunc(want, func(a, b digests.Image) int { return strings.Compare(a.Key(), b.Key()) })
	if !slices.Equal(res.Images, want) {
		t.Errorf("read back %+v\nwant %+v", res.Images, want)
	}

	// Another image pushed to ess/web:1: the registry now serves something else there.
	bl := tinyImage("another web", manifest.OCIManifest)
	other := openTestBundle(t, []testbundle.Image{{Component: "c", Container: "web", Server: "example.org", Path: "ess/web", Tag: "1", Root: bl[0]}}, bl)
	if _, err := Push(t.Context(), newClient(t), other, PushOptions{Destination: d}); err != nil {
		t.Fatal(err)
	}
	moved := other.Manifest().Images[0].Digest
	res, err = ReadBack(t.Context(), newClient(t), b, d, 0)
	if !errors.Is(err, mirror.ErrPartial) || len(res.Failed) != 1 || len(res.Images) != 1 {
		t.Fatalf("read back a moved tag: %+v, %v", res, err)
	}
	ferr := res.Failed["c.web"]
	if !errors.Is(ferr, ErrReadBack) {
		t.Fatalf("c.web: %v, want ErrReadBack", ferr)
	}
	var webDigest string
	for _, im := range b.Manifest().Images {
		if im.Path == "ess/web" {
			webDigest = im.Digest
		}
	}
	for _, s := range []string{"ess/web:1", moved, webDigest} {
		if !strings.Contains(ferr.Error(), s) {
			t.Errorf("%q does not name %s", ferr, s)
		}
	}
}

// TestPushTargetBlobFailed: a target whose blobs failed in its repository is not put: its
// error is the blob's (one), or names how many failed and wraps the first (several).
func TestPushTargetBlobFailed(t *testing.T) {
	b := tinyBundle(t, manifest.OCIManifest, "ess/web")
	_, ts := mustTargets(t, b)
	tg := ts[0]
	blobs := tg.root().Blobs
	if len(blobs) != 2 {
		t.Fatalf("%d blobs", len(blobs))
	}
	first, second := errors.New("layer refused"), errors.New("config refused")
	r := &pushRun{blobErr: map[string]error{blobKey(blobs[0].Digest, tg.repo): first}}
	if _, err := r.pushTarget(t.Context(), tg); err != first {
		t.Errorf("one blob failed: %v", err)
	}
	r.blobErr[blobKey(blobs[1].Digest, tg.repo)] = second
	_, err := r.pushTarget(t.Context(), tg)
	if err == nil || !strings.HasPrefix(err.Error(), "2 blobs failed, the first: ") || !(errors.Is(err, first) || errors.Is(err, second)) {
		t.Errorf("two blobs failed: %v", err)
	}
}
