package digests

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/imageref"
)

// TestDiffESSReleases compares the two ESS release lists: golden text and JSON, plus the facts
// the companion file's comments state, checked independently of the golden files.
func TestDiffESSReleases(t *testing.T) {
	old := parseTestdata(t, "images_digests.ess-2310.yml").Images
	new := parseTestdata(t, "images_digests.ess-2408.yml").Images
	c := Diff(old, new)

	golden(t, "diff.ess-2310-2408.golden.txt", []byte(c.Text()))
	js, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "diff.ess-2310-2408.golden.json", append(js, '\n'))

	if n := len(c.Added) + len(c.Changed) + c.Unchanged; n != len(new) {
		t.Errorf("added+changed+unchanged = %d, the new list has %d", n, len(new))
	}
	if n := len(c.Removed) + len(c.Changed) + c.Unchanged; n != len(old) {
		t.Errorf("removed+changed+unchanged = %d, the old list has %d", n, len(old))
	}
	var added []string
	for _, e := range c.Added {
		added = append(added, e.Key)
	}
	if want := []string{"operator.conversion_webhook", "updater.conversion_webhook"}; !reflect.DeepEqual(added, want) {
		t.Errorf("added %v, want %v", added, want)
	}
	if len(c.Removed) != 0 {
		t.Errorf("removed %v, want none", c.Removed)
	}
	changed := map[string][]FieldChange{}
	for _, ch := range c.Changed {
		changed[ch.Key] = ch.Fields
	}
	rbac := changed["operator.kube_rbac_proxy"]
	if len(rbac) != 4 || rbac[0] != (FieldChange{"server", "gcr.io", "quay.io"}) || rbac[1] != (FieldChange{"path", "kubebuilder/kube-rbac-proxy", "brancz/kube-rbac-proxy"}) {
		t.Errorf("operator.kube_rbac_proxy: %+v", rbac)
	}
	for _, k := range []string{"adminbot.haproxy", "adminbot.pipe", "integrator.appstore", "postgresql.postgresql"} {
		if _, ok := changed[k]; ok {
			t.Errorf("%s reported changed, it is the same in both lists", k)
		}
	}

	// The other way round, what was added is removed.
	back := Diff(new, old)
	if len(back.Removed) != 2 || len(back.Added) != 0 || len(back.Changed) != len(c.Changed) || back.Unchanged != c.Unchanged {
		t.Errorf("reverse diff: %s", back.Summary())
	}
}

func TestDiffRules(t *testing.T) {
	const d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	base := Image{Entry: imageref.Entry{Component: "c", Container: "x", Server: "docker.io", Path: "library/a", Tag: "1.0"}, Digest: d1}
	with := func(f func(*Image)) Image { im := base; f(&im); return im }
	for _, tc := range []struct {
		name   string
		new    Image
		fields []FieldChange // nil: unchanged
	}{
		{"same", base, nil},
		{"server case", with(func(i *Image) { i.Server = "Docker.IO" }), nil},
		{"digest only on one side", with(func(i *Image) { i.Digest = "" }), nil},
		{"server", with(func(i *Image) { i.Server = "quay.io" }), []FieldChange{{"server", "docker.io", "quay.io"}}},
		{"path", with(func(i *Image) { i.Path = "library/b" }), []FieldChange{{"path", "library/a", "library/b"}}},
		{"tag 1.10 is not 1.1", with(func(i *Image) { i.Tag = "1.10" }), []FieldChange{{"tag", "1.0", "1.10"}}},
		{"tag dropped", with(func(i *Image) { i.Tag = "" }), []FieldChange{{"tag", "1.0", ""}}},
		{"digest", with(func(i *Image) { i.Digest = d2 }), []FieldChange{{"digest", d1, d2}}},
		{"all", Image{Entry: imageref.Entry{Component: "c", Container: "x", Server: "ghcr.io", Path: "o/b", Tag: "2"}, Digest: d2},
			[]FieldChange{{"server", "docker.io", "ghcr.io"}, {"path", "library/a", "o/b"}, {"tag", "1.0", "2"}, {"digest", d1, d2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Diff([]Image{base}, []Image{tc.new})
			if len(c.Added)+len(c.Removed) != 0 {
				t.Fatalf("added %v, removed %v", c.Added, c.Removed)
			}
			if tc.fields == nil {
				if c.Unchanged != 1 || len(c.Changed) != 0 {
					t.Errorf("want unchanged, got %+v", c)
				}
				return
			}
			if c.Unchanged != 0 || len(c.Changed) != 1 || c.Changed[0].Key != "c.x" || !reflect.DeepEqual(c.Changed[0].Fields, tc.fields) {
				t.Errorf("got %+v, want c.x changed %+v", c, tc.fields)
			}
		})
	}
}

func TestDiffText(t *testing.T) {
	a := Image{Entry: imageref.Entry{Component: "a", Container: "x", Server: "docker.io", Path: "p", Tag: "1"}}
	b := Image{Entry: imageref.Entry{Component: "b", Container: "longer_name", Server: "ghcr.io", Path: "q"},
		Digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111"}
	a2 := a
	a2.Tag = ""
	a2.Digest = b.Digest
	got := Diff([]Image{a}, []Image{a2, b}).Text()
	want := "added    b.longer_name  ghcr.io/q@sha256:1111111111111111111111111111111111111111111111111111111111111111\n" +
		"changed  a.x\n" +
		"           tag     1 -> (none)\n" +
		"1 added, 0 removed, 1 changed, 0 unchanged\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	// Empty lists stay lists in JSON, so that scripts need no null checks.
	js, _ := json.Marshal(Diff(nil, nil))
	if !strings.Contains(string(js), `"added":[]`) || !strings.Contains(string(js), `"changed":[]`) {
		t.Errorf("JSON of an empty diff: %s", js)
	}
}
