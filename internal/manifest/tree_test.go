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
