package manifest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fanOut puts in s an index that lists the index below it n times, levels deep, over one
// image manifest: the tree it unfolds to has n^levels leaves, the graph levels+1 nodes.
func fanOut(s store, n, levels int) Descriptor {
	d := image(s, 2)
	for range levels {
		kids := make([]Descriptor, n)
		for i := range kids {
			kids[i] = d
		}
		d = s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: kids})
	}
	return d
}

// TestParseFanOut: an index listing one child many times over several levels (the issue's
// 6.7 KB bundle that took serve 1.8 GB and 107 s) is read once per digest and walked once
// per digest: 4 fetches and 5 visits, not 40^4 = 2.6 million, in well under the 10 s bound.
func TestParseFanOut(t *testing.T) {
	s := store{}
	top := fanOut(s, 40, 4)
	var fetches atomic.Int64
	fetch := func(ctx context.Context, d Descriptor) ([]byte, error) {
		fetches.Add(1)
		return s.fetch(ctx, d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := Parse(ctx, top, s[top.Digest], fetch)
	if err != nil {
		t.Fatal(err)
	}
	if got := fetches.Load(); got != 4 {
		t.Errorf("%d fetches, want 4 (one per distinct child)", got)
	}
	visits := 0
	n.Walk(func(*Node) { visits++ })
	if visits != 5 {
		t.Errorf("Walk visited %d nodes, want 5 (one per digest)", visits)
	}
	if len(n.Children) != 40 || n.Children[0].Raw == nil || &n.Children[0].Children[0] != &n.Children[39].Children[0] {
		t.Errorf("the index's 40 entries should share one parse of their child")
	}
	if n.Size() != 10+100+101 {
		t.Errorf("size %d", n.Size())
	}
}

// TestParseBudget: past MaxNodes descriptors or MaxGraphBytes of distinct manifests, or with a
// child over MaxBytes, Parse stops with ErrGraph or ErrTooLarge (and ErrBad), and a child over
// MaxBytes is refused before it is fetched.
func TestParseBudget(t *testing.T) {
	s := store{}
	// MaxNodes: one index listing MaxNodes entries of one manifest.
	wide := fanOut(s, MaxNodes, 1)
	_, err := Parse(context.Background(), wide, s[wide.Digest], s.fetch)
	if !errors.Is(err, ErrGraph) || !errors.Is(err, ErrBad) || !strings.Contains(err.Error(), wide.Digest) {
		t.Errorf("%d entries: %v, want ErrGraph naming the index", MaxNodes, err)
	}
	// Just under: MaxNodes-1 entries (the root and the manifest's config and layers are the rest).
	under := fanOut(s, MaxNodes-4, 1)
	if _, err := Parse(context.Background(), under, s[under.Digest], s.fetch); err != nil {
		t.Errorf("%d entries: %v", MaxNodes-4, err)
	}
	// MaxGraphBytes: distinct manifests padded with whitespace, each under MaxBytes.
	var kids []Descriptor
	for i := range 5 {
		raw := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"x","digest":%q,"size":1}}`, OCIManifest, digestOf(byte('a'+i))))
		raw = append(raw, strings.Repeat(" ", MaxBytes-len(raw)-1)...)
		kids = append(kids, s.putRaw(raw, OCIManifest))
	}
	fat := s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: kids})
	if _, err := Parse(context.Background(), fat, s[fat.Digest], s.fetch); !errors.Is(err, ErrGraph) {
		t.Errorf("%d MiB of manifests: %v, want ErrGraph", 5*MaxBytes>>20, err)
	}
	// A child over MaxBytes: refused from its descriptor, never fetched.
	big := Descriptor{MediaType: OCIManifest, Digest: digestOf('9'), Size: MaxBytes + 1}
	idx := s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: []Descriptor{big}})
	fetched := false
	_, err = Parse(context.Background(), idx, s[idx.Digest], func(ctx context.Context, d Descriptor) ([]byte, error) {
		fetched = true
		return s.fetch(ctx, d)
	})
	if !errors.Is(err, ErrTooLarge) || fetched || !strings.Contains(err.Error(), big.Digest) {
		t.Errorf("child of %d bytes: %v (fetched: %v), want ErrTooLarge naming it, unfetched", big.Size, err, fetched)
	}
	// A root over MaxBytes.
	if _, err := Parse(context.Background(), big, make([]byte, MaxBytes+1), s.fetch); !errors.Is(err, ErrTooLarge) {
		t.Errorf("root of %d bytes: %v", MaxBytes+1, err)
	}
	// One digest listed with two sizes.
	m := image(s, 1)
	lie := m
	lie.Size++
	two := s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: []Descriptor{m, lie}})
	if _, err := Parse(context.Background(), two, s[two.Digest], s.fetch); !errors.Is(err, ErrBad) {
		t.Errorf("one digest, two sizes: %v", err)
	}
}

// TestParseDepthShared: a child shared by a shallow and a deep path is refused as nested too
// deep whichever path reads it first.
func TestParseDepthShared(t *testing.T) {
	s := store{}
	deep := image(s, 1)
	for range maxDepth - 1 {
		deep = s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: []Descriptor{deep}})
	}
	// deep is maxDepth-1 indexes over a manifest: fine at depth 1, too deep at depth 2.
	wrap := s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: []Descriptor{deep}})
	top := s.put(Doc{SchemaVersion: 2, MediaType: OCIIndex, Manifests: []Descriptor{deep, wrap}})
	for range 20 {
		if _, err := Parse(context.Background(), top, s[top.Digest], s.fetch); !errors.Is(err, ErrBad) || !strings.Contains(err.Error(), "too deep") {
			t.Fatalf("shared child too deep on one path: %v", err)
		}
	}
}

// TestLimitErrors: each bound's error matches ErrBad and its own kind, not the other kind, is
// recognised by IsLimit through wrapping, and names what passed the bound.
func TestLimitErrors(t *testing.T) {
	d := digestOf('7')
	cases := []struct {
		name      string
		err       error
		kind, not error
		says      string
	}{
		{"size", CheckSize("manifest "+d, MaxBytes+1), ErrTooLarge, ErrGraph, "manifest " + d + " is 4194305 bytes, over the 4 MiB limit of a manifest, index or config"},
		{"size unnamed", CheckSize("", MaxBytes+1), ErrTooLarge, ErrGraph, "4194305 bytes, over the 4 MiB limit of a manifest, index or config"},
		{"over", Over("config " + d), ErrTooLarge, ErrGraph, "config " + d + " is over the 4 MiB limit of a manifest, index or config"},
		{"total", CheckTotal("bundle b.tar.zst", MaxTotalBytes+1), ErrGraph, ErrTooLarge, "bundle b.tar.zst: its manifests and indexes are 67108865 bytes in all, over the 64 MiB limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !errors.Is(c.err, ErrBad) || !errors.Is(c.err, c.kind) || errors.Is(c.err, c.not) {
				t.Fatalf("%v: Is(ErrBad) %v, Is(kind) %v, Is(other) %v", c.err, errors.Is(c.err, ErrBad), errors.Is(c.err, c.kind), errors.Is(c.err, c.not))
			}
			if c.err.Error() != c.says {
				t.Errorf("%q, want %q", c.err, c.says)
			}
			if !IsLimit(fmt.Errorf("push x: %w", c.err)) {
				t.Error("IsLimit does not see through wrapping")
			}
		})
	}
	if CheckSize("x", MaxBytes) != nil || CheckTotal("x", MaxTotalBytes) != nil || CheckSize("x", 0) != nil {
		t.Error("a size at the bound is refused")
	}
	if IsLimit(nil) || IsLimit(ErrBad) || IsLimit(fmt.Errorf("%w: other", ErrBad)) {
		t.Error("IsLimit matches an error that is not a bound passed")
	}
}
