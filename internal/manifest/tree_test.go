package manifest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// store is a content store for Parse's fetches.
type store map[string][]byte

func (s store) put(v any) Descriptor {
	raw, _ := json.Marshal(v)
	d := verify.Digest(raw)
	s[d] = raw
	var mt struct {
		MediaType string `json:"mediaType"`
	}
	json.Unmarshal(raw, &mt)
	return Descriptor{MediaType: mt.MediaType, Digest: d, Size: int64(len(raw))}
}

// putRaw stores raw as it is.
func (s store) putRaw(raw []byte, mediaType string) Descriptor {
	d := verify.Digest(raw)
	s[d] = raw
	return Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(raw))}
}

func (s store) fetch(_ context.Context, d Descriptor) ([]byte, error) {
	raw, ok := s[d.Digest]
	if !ok {
		return nil, fmt.Errorf("no %s", d.Digest)
	}
	return raw, verify.Bytes(raw, d.Digest, d.Size)
}

func digestOf(c byte) string { return "sha256:" + strings.Repeat(string(c), 64) }

func image(s store, layers int) Descriptor {
	var ls []Descriptor
	for i := range layers {
		ls = append(ls, Descriptor{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: digestOf(byte('a' + i)), Size: int64(100 + i)})
	}
	return s.put(Doc{SchemaVersion: 2, MediaType: OCIManifest,
		Config: &Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: digestOf('f'), Size: 10}, Layers: ls})
}

func TestParseTree(t *testing.T) {
	s := store{}
	a, b := image(s, 2), image(s, 3)
	a.Platform = &Platform{OS: "linux", Architecture: "amd64"}
	b.Platform = &Platform{OS: "linux", Architecture: "arm64"}
	inner := s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: []Descriptor{b}})
	top := s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: []Descriptor{a, inner}})
	n, err := Parse(context.Background(), top, s[top.Digest], s.fetch)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	n.Walk(func(m *Node) { order = append(order, m.Desc.MediaType) })
	want := []string{OCIManifest, OCIManifest, OCIIndex, OCIIndex} // children before parents
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Fatalf("walk order %v", order)
	}
	if got := n.Platforms(); len(got) != 1 || got[0] != "linux/amd64" {
		t.Fatalf("platforms %v", got)
	}
	if n.Size() != 10+100+101+102 { // the config once, every layer once (a and b share two)
		t.Fatalf("size %d", n.Size())
	}
}

func TestParseRefuses(t *testing.T) {
	s := store{}
	ok := image(s, 1)
	deep := ok
	for range maxDepth + 1 {
		deep = s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: []Descriptor{deep}})
	}
	cases := map[string]Descriptor{
		"nested too deep":         deep,
		"a child of another type": s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: []Descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: digestOf('1'), Size: 1}}}),
		"no config":               s.put(Doc{SchemaVersion: 2, MediaType: OCIManifest}),
		"a bad digest":            s.put(Doc{SchemaVersion: 2, MediaType: OCIManifest, Config: &Descriptor{Digest: "sha256:XYZ", Size: 1}}),
		"a negative size":         s.put(Doc{SchemaVersion: 2, MediaType: OCIManifest, Config: &Descriptor{Digest: digestOf('2'), Size: -1}}),
		"an unknown type":         s.put(map[string]any{"schemaVersion": 1, "mediaType": "application/vnd.docker.distribution.manifest.v1+json"}),
	}
	for name, d := range cases {
		_, err := Parse(context.Background(), d, s[d.Digest], s.fetch)
		if err == nil {
			t.Errorf("%s: parsed", name)
		} else if !errors.Is(err, ErrBad) && !errors.Is(err, verify.ErrBadDigest) {
			t.Errorf("%s: %v wraps neither ErrBad nor ErrBadDigest", name, err)
		}
	}
	// A manifest whose mediaType field disagrees with the media type it was served as.
	d := ok
	d.MediaType = DockerManifest
	if _, err := Parse(context.Background(), d, s[ok.Digest], s.fetch); !errors.Is(err, ErrBad) {
		t.Errorf("served as another type: %v", err)
	}
}

// TestParseChildrenSideBySide: an index's children are fetched at once (each is a round trip
// over the site's uplink), and come back in the index's order. Sequential fetches would never
// see fetchers of them waiting together, and fail after the timeout.
func TestParseChildrenSideBySide(t *testing.T) {
	s := store{}
	var kids []Descriptor
	for i := range fetchers {
		d := image(s, i+1)
		d.Platform = &Platform{OS: "linux", Architecture: fmt.Sprint("arch", i)}
		kids = append(kids, d)
	}
	top := s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: kids})
	arrived := make(chan struct{}, fetchers)
	all := make(chan struct{})
	go func() {
		for range fetchers {
			<-arrived
		}
		close(all)
	}()
	fetch := func(ctx context.Context, d Descriptor) ([]byte, error) {
		arrived <- struct{}{}
		select {
		case <-all:
		case <-time.After(5 * time.Second):
			return nil, errors.New("the children were fetched one after another")
		}
		return s.fetch(ctx, d)
	}
	n, err := Parse(context.Background(), top, s[top.Digest], fetch)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range n.Children {
		if c.Desc.Digest != kids[i].Digest {
			t.Fatalf("child %d is %s, the index lists %s", i, c.Desc.Digest, kids[i].Digest)
		}
	}
}

// TestParseSelfAndErrors: a graph that lists itself (which only unverified content can do) is
// refused; a fetch's error comes back as it is, the first child's in the index's order; a
// cancelled context stops the parse.
func TestParseSelfAndErrors(t *testing.T) {
	s := store{}
	self := Descriptor{MediaType: OCIIndex, Digest: digestOf('e'), Size: 1}
	raw, _ := json.Marshal(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: []Descriptor{self}})
	self.Size = int64(len(raw))
	if _, err := Parse(context.Background(), self, raw, s.fetch); !errors.Is(err, ErrBad) || !strings.Contains(err.Error(), "lists itself") {
		t.Errorf("an index listing itself: %v", err)
	}

	a, b := image(s, 1), image(s, 2)
	top := s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: []Descriptor{a, b}})
	errA, errB := errors.New("a is gone"), errors.New("b is gone")
	fetch := func(ctx context.Context, d Descriptor) ([]byte, error) {
		switch d.Digest {
		case a.Digest:
			return nil, errA
		case b.Digest:
			return nil, errB
		}
		return s.fetch(ctx, d)
	}
	for range 10 { // whichever fetch ends first, the error is the first child's
		if _, err := Parse(context.Background(), top, s[top.Digest], fetch); !errors.Is(err, errA) {
			t.Fatalf("got %v, want the first child's error", err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fetched := false
	_, err := Parse(ctx, top, s[top.Digest], func(ctx context.Context, d Descriptor) ([]byte, error) {
		fetched = true
		return s.fetch(ctx, d)
	})
	if !errors.Is(err, context.Canceled) || fetched {
		t.Errorf("cancelled: %v (fetched %v)", err, fetched)
	}
}

// TestParseDocker: Docker's manifest list and manifests are read as OCI's are, and a manifest
// without a mediaType field is taken as the type it was served as; a fetch that returns more
// than MaxBytes (not checking the descriptor's size) is refused.
func TestParseDocker(t *testing.T) {
	s := store{}
	m := s.putRaw([]byte(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"`+digestOf('c')+`","size":5},`+
		`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"`+digestOf('2')+`","size":7}]}`), DockerManifest)
	m.Platform = &Platform{OS: "linux", Architecture: "amd64"}
	list := s.put(Doc{SchemaVersion: 2, MediaType: DockerList, Manifests: []Descriptor{m}})
	n, err := Parse(context.Background(), list, s[list.Digest], s.fetch)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Children) != 1 || len(n.Children[0].Blobs) != 2 || n.Children[0].Blobs[0].Digest != digestOf('c') || n.Size() != 12 {
		t.Fatalf("%+v", n.Children[0])
	}
	huge := func(context.Context, Descriptor) ([]byte, error) { return make([]byte, MaxBytes+1), nil }
	if _, err := Parse(context.Background(), list, s[list.Digest], huge); !errors.Is(err, ErrTooLarge) {
		t.Errorf("an oversize fetch: %v", err)
	}
	garbage := func(context.Context, Descriptor) ([]byte, error) { return []byte("<html>"), nil }
	if _, err := Parse(context.Background(), list, s[list.Digest], garbage); !errors.Is(err, ErrBad) || !strings.Contains(err.Error(), "not a manifest") {
		t.Errorf("a page for a manifest: %v", err)
	}
}

// TestWalkShared: a manifest listed by two indexes of an image is visited once, and its blobs
// counted once in Size.
func TestWalkShared(t *testing.T) {
	s := store{}
	shared := image(s, 2)
	left := s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: []Descriptor{shared}})
	right := s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: []Descriptor{shared, image(s, 3)}, Annotations: map[string]string{"r": "1"}})
	top := s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: []Descriptor{left, right}})
	n, err := Parse(context.Background(), top, s[top.Digest], s.fetch)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	n.Walk(func(m *Node) { seen = append(seen, m.Desc.Digest) })
	want := []string{shared.Digest, left.Digest, image(s, 3).Digest, right.Digest, top.Digest}
	if strings.Join(seen, " ") != strings.Join(want, " ") {
		t.Errorf("walk:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	if n.Size() != 10+100+101+102 {
		t.Errorf("size %d", n.Size())
	}
}
