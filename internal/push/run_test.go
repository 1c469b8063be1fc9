package push

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/testbundle"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// tinyImage is a one-layer image of media type mt (OCI or Docker) whose layer holds seed: its
// manifest first, then its config and layer, as testbundle wants them.
func tinyImage(seed, mt string) []testbundle.Blob {
	config := testbundle.Blob{Data: []byte(`{"architecture":"amd64","os":"linux","seed":"` + seed + `"}`), MediaType: "application/vnd.oci.image.config.v1+json", Kind: archive.KindConfig}
	layer := testbundle.Blob{Data: []byte("layer of " + seed), MediaType: "application/vnd.oci.image.layer.v1.tar", Kind: archive.KindLayer}
	if mt == manifest.DockerManifest {
		config.MediaType = "application/vnd.docker.container.image.v1+json"
		layer.MediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	}
	cd, ld := config.Descriptor(), layer.Descriptor()
	m := testbundle.Blob{Data: testbundle.JSON(manifest.Doc{SchemaVersion: 2, MediaType: mt, Config: &cd, Layers: []manifest.Descriptor{ld}}),
		MediaType: mt, Kind: archive.KindManifest}
	return []testbundle.Blob{m, config, layer}
}

// tinyBundle opens a bundle of one tiny image per path (component "c", container the path's
// last element, tag "1"), of media type mt.
func tinyBundle(t *testing.T, mt string, paths ...string) *archive.Bundle {
	t.Helper()
	var images []testbundle.Image
	var metas, data []testbundle.Blob
	for _, p := range paths {
		bl := tinyImage(p, mt)
		images = append(images, testbundle.Image{Component: "c", Container: p[strings.LastIndex(p, "/")+1:], Server: "example.org", Path: p, Tag: "1", Root: bl[0]})
		metas, data = append(metas, bl[0]), append(data, bl[1:]...)
	}
	return openTestBundle(t, images, append(metas, data...))
}

// TestRunSteps: once every image is in, Run tells what it did and then writes the ConfigMap and
// the Helm values of the containers as the destination serves them, in that order.
func TestRunSteps(t *testing.T) {
	b := tinyBundle(t, manifest.OCIManifest, "ess/synapse", "ess/web")
	dest := testregistry.StartT(t)
	var seq []string
	var cm, hv []digests.Image
	res, err := Run(t.Context(), RunOptions{PushOptions: PushOptions{Destination: Destination{Host: dest.Host}}, Bundle: b, Client: newClient(t),
		Told: func(p *Pushed, err error) { seq = append(seq, fmt.Sprintf("told %d %v", len(p.Images), err)) },
		Steps: Steps{
			ConfigMap: func(ims []digests.Image) (string, error) {
				seq, cm = append(seq, "configmap"), ims
				return "cm.yaml", nil
			},
			ChartOnly: func() { seq = append(seq, "chart only") },
			HelmValues: func(ims []digests.Image) (string, error) {
				seq, hv = append(seq, "values"), ims
				return "values.yaml", nil
			},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"told 2 <nil>", "configmap", "values"}; !slices.Equal(seq, want) {
		t.Errorf("steps %q, want %q", seq, want)
	}
	if res.ConfigMap != "cm.yaml" || res.HelmValues != "values.yaml" || res.ReferrersOnly {
		t.Errorf("result %+v", res)
	}
	for _, ims := range [][]digests.Image{cm, hv} {
		if len(ims) != 2 {
			t.Fatalf("steps given %v", ims)
		}
		for _, im := range ims {
			if im.Server != dest.Host || im.Tag != "1" || !strings.HasPrefix(im.Digest, "sha256:") {
				t.Errorf("step given %+v", im)
			}
		}
	}
}

// TestRunRefused: a preflight that finds a problem (here a registry that refuses pushes into a
// repository) stops Run before any step: the result holds the problem, the error wraps
// mirror.ErrRefused, and Told hears of it.
func TestRunRefused(t *testing.T) {
	b := tinyBundle(t, manifest.OCIManifest, "ess/synapse", "ess/web")
	f := testregistry.NewFaults(1)
	f.FailRepository("ess/web", 403)
	dest := testregistry.StartT(t, testregistry.WithFaults(f))
	told := false
	res, err := Run(t.Context(), RunOptions{PushOptions: PushOptions{Destination: Destination{Host: dest.Host}}, Bundle: b, Client: newClient(t),
		Told: func(p *Pushed, err error) {
			told = p != nil && len(p.Problems) == 1 && errors.Is(err, mirror.ErrRefused)
		},
		Steps: Steps{ConfigMap: func([]digests.Image) (string, error) { t.Error("ConfigMap written"); return "", nil }}})
	if !errors.Is(err, mirror.ErrRefused) || res == nil || len(res.Problems) != 1 || !told {
		t.Fatalf("res %+v, told %v, err %v", res, told, err)
	}
	if p := res.Problems[0]; !slices.Equal(p.Repos, []string{"ess/web"}) || !strings.Contains(p.Cause, "HTTP 403") {
		t.Errorf("problem %+v", p)
	}
}

// TestMissingError: the error of a bundle that lacks containers is a rerun's mirror.ErrPartial,
// found with errors.As through wrapping.
func TestMissingError(t *testing.T) {
	err := fmt.Errorf("push: %w", &MissingError{Missing: []archive.Missing{{Entry: imageref.Entry{Component: "c", Container: "x"}}}})
	var me *MissingError
	if !errors.Is(err, mirror.ErrPartial) || !errors.As(err, &me) || len(me.Missing) != 1 {
		t.Fatalf("%v: not a MissingError wrapping ErrPartial", err)
	}
	if !strings.Contains(err.Error(), "no ConfigMap or Helm values written") {
		t.Errorf("message %q", err)
	}
}

// TestResultSteps: which steps run, with which images, and which error comes back, for the
// bundle's kinds of content.
func TestResultSteps(t *testing.T) {
	m := &archive.Manifest{Images: []archive.Image{
		{Entry: imageref.Entry{Component: "c", Container: "synapse"}},
		{Entry: imageref.Entry{Component: "c", Container: "web"}},
		{Entry: imageref.Entry{Component: "chart", Container: "matrix-stack"}, Kind: "chart"},
		{Entry: imageref.Entry{Component: "chart", Container: "block"}, ValuesPath: "synapse.image"},
	}}
	pushed := []digests.Image{{Entry: imageref.Entry{Component: "c", Container: "synapse"}}, {Entry: imageref.Entry{Component: "c", Container: "web"}},
		{Entry: imageref.Entry{Component: "chart", Container: "matrix-stack"}}, {Entry: imageref.Entry{Component: "chart", Container: "block"}}}
	charts := []*archive.Chart{{Name: "one"}, {Name: "two"}}
	failCheck, failValues, failCM := errors.New("render check failed"), errors.New("disk full"), errors.New("no room")
	keys := func(ims []digests.Image) string {
		var k []string
		for _, im := range ims {
			k = append(k, im.Key())
		}
		return strings.Join(k, " ")
	}
	for _, c := range []struct {
		name      string
		images    []digests.Image
		charts    []*archive.Chart
		checkFail string // the chart whose check fails
		valuesErr bool
		cmErr     bool
		want      string // the steps, in order
		values    string
		err       error
	}{
		{name: "containers", images: pushed, want: "configmap(c.synapse c.web) values(c.synapse c.web)", values: "values.yaml"},
		{name: "charts only", images: pushed[2:], want: "chart only values()", values: "values.yaml"},
		{name: "nothing", want: "configmap() values()", values: "values.yaml"},
		{name: "charts", images: pushed, charts: charts, values: "one.yaml,two.yaml",
			want: "configmap(c.synapse c.web) chart(one, 4 images) check(one) chart(two, 4 images) check(two)"},
		{name: "first check fails", images: pushed, charts: charts, checkFail: "one", values: "one.yaml,two.yaml", err: failCheck,
			want: "configmap(c.synapse c.web) chart(one, 4 images) check(one) chart(two, 4 images) check(two)"},
		{name: "values fail", images: pushed, charts: charts, valuesErr: true, err: failValues,
			want: "configmap(c.synapse c.web) chart(one, 4 images)"},
		{name: "configmap fails", images: pushed, cmErr: true, err: failCM, want: "configmap(c.synapse c.web)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var seq []string
			s := Steps{
				ConfigMap: func(ims []digests.Image) (string, error) {
					seq = append(seq, "configmap("+keys(ims)+")")
					if c.cmErr {
						return "", failCM
					}
					return "cm.yaml", nil
				},
				ChartOnly: func() { seq = append(seq, "chart only") },
				HelmValues: func(ims []digests.Image) (string, error) {
					seq = append(seq, "values("+keys(ims)+")")
					return "values.yaml", nil
				},
				Charts: c.charts,
				ChartValues: func(rec *archive.Chart, ims []digests.Image) (string, error) {
					seq = append(seq, fmt.Sprintf("chart(%s, %d images)", rec.Name, len(ims)))
					if c.valuesErr {
						return "", failValues
					}
					return rec.Name + ".yaml", nil
				},
				CheckChart: func(rec *archive.Chart) error {
					seq = append(seq, "check("+rec.Name+")")
					if rec.Name == c.checkFail {
						return failCheck
					}
					return nil
				},
			}
			res := &Result{Pushed: &Pushed{Images: c.images}}
			err := res.steps(s, m)
			if got := strings.Join(seq, " "); got != c.want {
				t.Errorf("steps %s\nwant  %s", got, c.want)
			}
			if !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Errorf("err %v, want %v", err, c.err)
			}
			if res.HelmValues != c.values {
				t.Errorf("HelmValues %q, want %q", res.HelmValues, c.values)
			}
		})
	}
}
