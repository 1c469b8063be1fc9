package push

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/testbundle"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// TestReferrersError: the error of a push whose referrers alone failed is a rerun's
// (mirror.ErrPartial) and ErrReferrers, counts them, and names the first in sorted order with
// its own error wrapped.
func TestReferrersError(t *testing.T) {
	refused := errors.New("MANIFEST_INVALID")
	err := referrersError(map[string]error{
		"ess/web: sha256:bb": errors.New("other"),
		"ess/api: sha256:aa": refused,
		"ess/web: sha256:cc": errors.New("third"),
	})
	if !errors.Is(err, mirror.ErrPartial) || !errors.Is(err, ErrReferrers) || !errors.Is(err, refused) {
		t.Fatalf("%v: does not wrap ErrPartial, ErrReferrers and the first's error", err)
	}
	if !strings.Contains(err.Error(), "3 of them, the first ess/api: sha256:aa: MANIFEST_INVALID") {
		t.Errorf("message %q", err)
	}
}

// signedBundle is one image (ess/web:1) and an OCI 1.1 referrer of it (a signature with a
// subject field), with the referrer's manifest digest.
func signedBundle(t *testing.T) (*archive.Bundle, string) {
	t.Helper()
	img := tinyImage("signed", manifest.OCIManifest)
	sub := img[0].Descriptor()
	empty := testbundle.Blob{Data: []byte("{}"), MediaType: "application/vnd.oci.empty.v1+json", Kind: archive.KindConfig}
	sig := testbundle.Blob{Data: []byte("signature of " + sub.Digest), MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Kind: archive.KindLayer}
	ed, sd := empty.Descriptor(), sig.Descriptor()
	const at = "application/vnd.dev.cosign.artifact.sig.v1+json"
	ref := testbundle.Blob{Data: testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: manifest.OCIManifest, ArtifactType: at,
		Config: &ed, Layers: []manifest.Descriptor{sd}, Subject: &sub}), MediaType: manifest.OCIManifest, Kind: archive.KindManifest}
	path, err := testbundle.WriteWith(t.TempDir(), "signed",
		[]testbundle.Image{{Component: "c", Container: "web", Server: "example.org", Path: "ess/web", Tag: "1", Root: img[0]}},
		[]testbundle.Blob{img[0], ref, img[1], img[2], empty, sig},
		testbundle.Extra{Referrers: []archive.Referrer{{Subject: sub.Digest, Digest: ref.Digest(), MediaType: manifest.OCIManifest,
			Size: int64(len(ref.Data)), ArtifactType: at}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, ref.Digest()
}

// TestPushReferrersTagScheme: into a registry without the referrers API, a referrer is put by
// digest and added to its subject's index under the tag scheme (sha256-<hex>); a second push
// finds both and puts nothing.
func TestPushReferrersTagScheme(t *testing.T) {
	b, ref := signedBundle(t)
	dest := testregistry.StartT(t)
	d := Destination{Host: dest.Host}
	res, err := Push(t.Context(), newClient(t), b, PushOptions{Destination: d})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.ReferrersPushed != 1 || res.Stats.ReferrersSkipped != 0 || len(res.ReferrersFailed) != 0 {
		t.Fatalf("first push: %+v, failed %v", res.Stats, res.ReferrersFailed)
	}
	subject := b.Manifest().Images[0].Digest
	p, err := newClient(t).PushSession(t.Context(), dest.Host)
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := p.GetManifest(t.Context(), "ess/web", strings.Replace(subject, ":", "-", 1))
	if err != nil {
		t.Fatalf("the tag scheme's index of %s: %v", subject, err)
	}
	var idx manifest.Doc
	if err := json.Unmarshal(raw, &idx); err != nil || len(idx.Manifests) != 1 || idx.Manifests[0].Digest != ref {
		t.Fatalf("tag scheme index %s (%v), want it to list %s", raw, err, ref)
	}

	res, err = Push(t.Context(), newClient(t), b, PushOptions{Destination: d})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.ReferrersPushed != 0 || res.Stats.ReferrersSkipped != 1 {
		t.Errorf("second push: %+v", res.Stats)
	}
}

// TestPushReferrersRefused: a registry that refuses referrers keeps the images: the push
// reports the referrer in ReferrersFailed under its repository, and errs with ErrReferrers;
// Run writes the ConfigMap all the same and says only referrers failed.
func TestPushReferrersRefused(t *testing.T) {
	b, ref := signedBundle(t)
	f := testregistry.NewFaults(1)
	f.RejectReferrers(true)
	dest := testregistry.StartT(t, testregistry.WithFaults(f))
	wrote := 0
	res, err := Run(t.Context(), RunOptions{PushOptions: PushOptions{Destination: Destination{Host: dest.Host}}, Bundle: b, Client: newClient(t),
		Steps: Steps{ConfigMap: func(ims []digests.Image) (string, error) { wrote = len(ims); return "", nil }}})
	if !errors.Is(err, ErrReferrers) || !errors.Is(err, mirror.ErrPartial) || !res.ReferrersOnly {
		t.Fatalf("err %v, referrers only %v", err, res != nil && res.ReferrersOnly)
	}
	if len(res.Images) != 1 || len(res.Failed) != 0 || wrote != 1 {
		t.Errorf("images %d, failed %v, ConfigMap of %d", len(res.Images), res.Failed, wrote)
	}
	if len(res.ReferrersFailed) != 1 || res.Stats.ReferrersFailed != 1 {
		t.Fatalf("referrers failed %v, stats %+v", res.ReferrersFailed, res.Stats)
	}
	for k := range res.ReferrersFailed {
		if !strings.HasPrefix(k, "ess/web: ") || !strings.Contains(k, ref) {
			t.Errorf("failed referrer %q, want ess/web and %s", k, ref)
		}
	}
	if !strings.Contains(err.Error(), fmt.Sprint(1)+" of them") {
		t.Errorf("message %q", err)
	}
}
