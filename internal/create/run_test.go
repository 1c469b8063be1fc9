package create

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/provenance"
)

// TestCarrySignatures: a run that checks provenance carries the signatures: all referrers
// when none were asked for (or all were), the signature types beside the types asked for.
func TestCarrySignatures(t *testing.T) {
	sig := provenance.SignatureTypes()
	for _, tc := range []struct {
		name       string
		provenance bool
		referrers  bool
		types      []string
		wantRefs   bool
		wantTypes  []string
	}{
		{"nothing asked", false, false, nil, false, nil},
		{"referrers only", false, true, []string{"a/sbom"}, true, []string{"a/sbom"}},
		{"provenance alone", true, false, nil, true, sig},
		{"provenance and all referrers", true, true, nil, true, nil},
		{"provenance and some types", true, true, []string{"a/sbom"}, true, append([]string{"a/sbom"}, sig...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := RunOptions{CreateOptions: CreateOptions{Referrers: tc.referrers, ReferrerTypes: slices.Clone(tc.types)}}
			if tc.provenance {
				o.Provenance = &Provenance{}
			}
			o.carrySignatures()
			if o.Referrers != tc.wantRefs || !slices.Equal(o.ReferrerTypes, tc.wantTypes) {
				t.Errorf("referrers %v, types %v; want %v, %v", o.Referrers, o.ReferrerTypes, tc.wantRefs, tc.wantTypes)
			}
		})
	}
}

// TestRunStopsEarly: what stops a run before the pull is Run's error, as it is: the client
// that cannot be made, a chart reference refused, a base that cannot be read; the pull is
// never shown.
func TestRunStopsEarly(t *testing.T) {
	noClient := errors.New("no client")
	shown := 0
	show := func(pull func(mirror.Progress) error) error { shown++; return pull(nil) }
	out := filepath.Join(t.TempDir(), "b.tar.zst")
	clients := 0
	client := func(oci.Local) (*oci.Client, error) { clients++; return newClient(t), nil }

	if _, err := Run(t.Context(), RunOptions{CreateOptions: CreateOptions{Output: out},
		Client: func(oci.Local) (*oci.Client, error) { return nil, noClient }, Show: show}); err != noClient {
		t.Errorf("the client not made: %v", err)
	}
	if _, err := Run(t.Context(), RunOptions{CreateOptions: CreateOptions{Output: out}, Client: client, Show: show,
		ChartSources: []ChartSource{{Ref: "oci://stack:1.0"}}}); !errors.Is(err, mirror.ErrChartRef) {
		t.Errorf("a chart reference refused: %v", err)
	}
	calls := clients
	if _, err := Run(t.Context(), RunOptions{CreateOptions: CreateOptions{Output: out}, Client: client, Show: show,
		Since: filepath.Join(t.TempDir(), "earlier.tar.zst"), Open: func(string) (*archive.Bundle, error) { return nil, errors.New("not there") }}); err == nil {
		t.Error("a base that is not there was taken")
	}
	if clients != calls {
		t.Error("the client was made before the base was read")
	}
	if shown != 0 {
		t.Errorf("the pull was shown %d times", shown)
	}
}

// TestRun: a run pulls with the progress Show gives and finds the bundle written; a run that
// writes nothing returns Create's error and no bundle.
func TestRun(t *testing.T) {
	_, images := tinyWorld(t, 5)
	out := filepath.Join(t.TempDir(), "b.tar.zst")
	var m meter
	shown := 0
	show := func(pull func(mirror.Progress) error) error { shown++; return pull(&m) }
	before := time.Now()
	res, err := Run(t.Context(), RunOptions{
		CreateOptions: CreateOptions{List: &digests.List{File: "list.yml", Images: images[:1]}, Output: out, Tool: "test"},
		Client:        func(oci.Local) (*oci.Client, error) { return newClient(t), nil }, Show: show})
	if err != nil {
		t.Fatal(err)
	}
	if shown != 1 || m.n.Load() == 0 || m.n.Load() != m.total.Load() || m.over.Load() {
		t.Errorf("shown %d times, progress %d of %d", shown, m.n.Load(), m.total.Load())
	}
	if res.Set == nil || res.Set.Name != "b.tar.zst" || res.SHA256 == "" || res.Started.Before(before) {
		t.Fatalf("result: set %v, sha256 %q, started %v", res.Set, res.SHA256, res.Started)
	}

	res, err = Run(t.Context(), RunOptions{
		CreateOptions: CreateOptions{List: &digests.List{File: "list.yml", Images: []digests.Image{{Entry: imageref.Entry{Component: "c", Container: "gone", Server: images[0].Server, Path: "not/there", Tag: "1"}}}}, Output: filepath.Join(t.TempDir(), "n.tar.zst"), Tool: "test"},
		Client:        func(oci.Local) (*oci.Client, error) { return newClient(t, oci.WithRetry(1, time.Second)), nil }})
	if !errors.Is(err, ErrNothing) || res == nil || res.Set != nil {
		t.Errorf("nothing pulled: %v, %+v", err, res)
	}
}
