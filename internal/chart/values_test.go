package chart

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// flat is a values tree as "path=value" lines, in key order, with the file:line of each leaf.
func flat(v *value, path string) []string {
	if v.kids == nil {
		return []string{path + "=" + v.leaf.Value + " @" + v.file}
	}
	var out []string
	for _, k := range v.keys {
		out = append(out, flat(v.kids[k], join(path, k))...)
	}
	return out
}

func mustParse(t *testing.T, name, data string) *value {
	t.Helper()
	v, err := parseValues(ValuesFile{Name: name, Data: []byte(data)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMerge: -f files apply as Helm applies them: mappings merge key by key, a scalar or a
// list replaces (a list is not appended to), null deletes, a new key goes last, and a mapping
// may replace a scalar and the other way round.
func TestMerge(t *testing.T) {
	base := mustParse(t, "base.yaml", "a:\n  x: 1\n  y: 2\nlist: [1, 2]\ns: text\nm:\n  k: v\ngone: 1\n")
	over := mustParse(t, "over.yaml", "a:\n  y: 3\n  z: 4\nlist: [9]\ns:\n  now: mapping\nm: flat\ngone: null\nnever: null\nnew: n\n")
	base.merge(over)
	got := flat(base, "")
	want := []string{
		"a.x=1 @base.yaml", "a.y=3 @over.yaml", "a.z=4 @over.yaml",
		"list= @over.yaml", // a sequence is a leaf: the whole list is over.yaml's
		"s.now=mapping @over.yaml", "m=flat @over.yaml", "new=n @over.yaml",
	}
	if !slices.Equal(got, want) {
		t.Errorf("merged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if seq := base.kids["list"].leaf; len(seq.Content) != 1 || seq.Content[0].Value != "9" {
		t.Errorf("list after merge: %d items", len(seq.Content))
	}
}

// TestParseValues: empty files and null documents are empty values; aliases are followed; the
// last of two equal keys wins and keeps the first one's place.
func TestParseValues(t *testing.T) {
	for _, empty := range []string{"", "# only a comment\n", "null\n", "~\n", "---\n"} {
		v, err := parseValues(ValuesFile{Name: "e.yaml", Data: []byte(empty)})
		if err != nil || len(v.keys) != 0 {
			t.Errorf("%q: %v, %d keys", empty, err, len(v.keys))
		}
	}
	v := mustParse(t, "a.yaml", "base: &img\n  repository: r\n  tag: t\nb:\n  image: *img\nk: 1\nj: 2\nk: 3\n")
	got := flat(v, "")
	want := []string{"base.repository=r @a.yaml", "base.tag=t @a.yaml", "b.image.repository=r @a.yaml", "b.image.tag=t @a.yaml", "k=3 @a.yaml", "j=2 @a.yaml"}
	if !slices.Equal(got, want) {
		t.Errorf("parsed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestParseValuesRefuses: what a values file may not hold, each refused naming file, line
// and path.
func TestParseValuesRefuses(t *testing.T) {
	cases := []struct{ name, data, want string }{
		{"a list", "- a\n", "v.yaml:1: invalid Helm values: the top level must be a mapping"},
		{"a scalar", "text\n", "v.yaml:1: invalid Helm values: the top level must be a mapping"},
		{"a merge key", "base: &b {x: 1}\nsynapse:\n  <<: *b\n", "v.yaml:3: invalid Helm values: synapse: YAML merge keys (<<) are not supported"},
		{"a merge key at the top", "<<: {x: 1}\n", "v.yaml:1: invalid Helm values: (top level): YAML merge keys"},
		{"a mapping as a key", "a:\n  ? {x: 1}\n  : v\n", "v.yaml:2: invalid Helm values: a: a key must be a scalar"},
		{"a list as a key", "? [1]\n: v\n", "(top level): a key must be a scalar"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseValues(ValuesFile{Name: "v.yaml", Data: []byte(c.data)})
			if !errors.Is(err, ErrInvalidValues) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrInvalidValues saying %q", err, c.want)
			}
		})
	}
}

// TestBlockRef: a block with a tag is named by tag (the chart keeps it as the label), one with
// only a digest by digest.
func TestBlockRef(t *testing.T) {
	d := "sha256:" + strings.Repeat("c", 64)
	if got := (Block{Registry: "r", Repository: "p", Tag: "1", Digest: d}).Ref(); got != "r/p:1" {
		t.Errorf("tag and digest: %s", got)
	}
	if got := (Block{Registry: "r", Repository: "p", Digest: d}).Ref(); got != "r/p@"+d {
		t.Errorf("digest only: %s", got)
	}
}

// TestLocalValuesRoundTrip: the local values file, given last to the chart, points every
// block at the local registry by digest, and keeps each tag as written (a tag "1.10" stays
// "1.10", not the number 1.1).
func TestLocalValuesRoundTrip(t *testing.T) {
	c := loadTest(t)
	blocks, err := Images(c, ValuesFile{Name: "tags.yaml", Data: []byte("synapse:\n  redis:\n    image:\n      tag: \"1.10\"\n")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range blocks {
		blocks[i].Registry = "reg.local:5000"
		blocks[i].Repository = "ess/" + blocks[i].Repository
		blocks[i].Digest = "sha256:" + strings.Repeat(string(rune('a'+i)), 64)
	}
	local, err := LocalValues(blocks, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(local, []byte("pullSecrets")) {
		t.Error("pullSecrets written though none were given")
	}
	back, err := Images(c, ValuesFile{Name: "tags.yaml", Data: []byte("synapse:\n  redis:\n    image:\n      tag: \"1.10\"\n")},
		ValuesFile{Name: "local.yaml", Data: local})
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(blocks) {
		t.Fatalf("%d blocks back, want %d", len(back), len(blocks))
	}
	for i, b := range back {
		w := blocks[i]
		if b.Path != w.Path || b.Registry != w.Registry || b.Repository != w.Repository || b.Digest != w.Digest || b.Tag != w.Tag {
			t.Errorf("%s: %+v, want %+v", b.Path, b, w)
		}
	}

	// The same blocks in another order give the same bytes.
	rev := slices.Clone(blocks)
	slices.Reverse(rev)
	again, err := LocalValues(rev, nil)
	if err != nil || !bytes.Equal(again, local) {
		t.Errorf("LocalValues depends on the order of the blocks (%v)", err)
	}
}

// TestLocalValuesRefuses: every block needs a registry, a repository and a sha256 digest, and
// two blocks may not share a path.
func TestLocalValuesRefuses(t *testing.T) {
	d := "sha256:" + strings.Repeat("d", 64)
	cases := []struct {
		name   string
		blocks []Block
		want   string
	}{
		{"no registry", []Block{{Path: "a.image", Repository: "p", Digest: d}}, "a.image: registry, repository and a sha256 digest are required"},
		{"no repository", []Block{{Path: "a.image", Registry: "r", Digest: d}}, "a.image"},
		{"short digest", []Block{{Path: "a.image", Registry: "r", Repository: "p", Digest: "sha256:abc"}}, `"sha256:abc"`},
		{"upper-case digest", []Block{{Path: "a.image", Registry: "r", Repository: "p", Digest: strings.ToUpper(d)}}, "a.image"},
		{"two at one path", []Block{{Path: "a.image", Registry: "r", Repository: "p", Digest: d}, {Path: "a.image", Registry: "r", Repository: "q", Digest: d}}, "two blocks at one path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LocalValues(c.blocks, []string{"s"})
			if !errors.Is(err, ErrInvalidValues) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrInvalidValues saying %q", err, c.want)
			}
		})
	}
}

// TestImagesFromAliases: an image block written once with an anchor and named again with an
// alias is a block at each place.
func TestImagesFromAliases(t *testing.T) {
	c := loadTest(t)
	d := "sha256:" + strings.Repeat("e", 64)
	blocks, err := Images(c, ValuesFile{Name: "a.yaml", Data: []byte("synapse:\n  image: &syn\n    registry: mirror.example\n    repository: syn\n    tag: v9\n    digest: " + d + "\n" +
		"hookshot:\n  image: *syn\n")})
	if err != nil {
		t.Fatal(err)
	}
	refs := map[string]string{}
	for _, b := range blocks {
		refs[b.Path] = b.Ref()
	}
	if refs["synapse.image"] != "mirror.example/syn:v9" || refs["hookshot.image"] != "mirror.example/syn:v9" {
		t.Errorf("refs %v", refs)
	}
}
