package graph

import (
	"github.com/element-hq/ess-airgap/internal/manifest"
)

// Repo is the repository an image of source path lands in under a destination's path
// prefix (without leading or trailing slashes; "" for none): "ess" and "library/haproxy"
// give "ess/library/haproxy".
func Repo(prefix, path string) string {
	if prefix == "" {
		return path
	}
	return prefix + "/" + path
}

// Repo is the repository the image lands in under prefix (see the function Repo).
func (im *Image) Repo(prefix string) string { return Repo(prefix, im.Path) }

// Manifests are the image's manifests and indexes, then its referrers' (each with what is
// below it), each digest once: children before the index that lists them, in the order
// manifest.Node.Walk visits them. Empty until Load.
func (im *Image) Manifests() []*manifest.Node {
	var out []*manifest.Node
	im.walk(func(n *manifest.Node) { out = append(out, n) })
	return out
}

// Blobs are the configs and layers of the image's manifests, then of its referrers', each
// digest once, in the order Manifests lists the manifests. Empty until Load.
func (im *Image) Blobs() []manifest.Descriptor {
	var out []manifest.Descriptor
	seen := map[string]bool{}
	im.walk(func(n *manifest.Node) {
		for _, d := range n.Blobs {
			if !seen[d.Digest] {
				seen[d.Digest] = true
				out = append(out, d)
			}
		}
	})
	return out
}

// walk visits the image's graph, then its referrers', each digest once.
func (im *Image) walk(fn func(*manifest.Node)) {
	if im.Root == nil {
		return
	}
	seen := map[string]bool{}
	visit := func(n *manifest.Node) {
		if !seen[n.Desc.Digest] {
			seen[n.Desc.Digest] = true
			fn(n)
		}
	}
	im.Root.Walk(visit)
	for _, r := range im.Referrers {
		r.Node.Walk(visit)
	}
}

// Repository is one repository of a destination and what it needs.
type Repository struct {
	Name string
	// Images are the image entries that land in it, in the graph's order.
	Images []*Image
	// Manifests are its images' manifests and indexes and their referrers', each digest
	// once, in the images' order (Image.Manifests); empty until Load.
	Manifests []*manifest.Node
	// Blobs are the configs and layers its images and their referrers use, each digest
	// once, in the images' order (Image.Blobs); empty until Load.
	Blobs []manifest.Descriptor
}

// Repositories groups the graph's images by the repository they land in under prefix, in
// the order each is first met.
func (g *Graph) Repositories(prefix string) []*Repository {
	var out []*Repository
	type state struct {
		*Repository
		roots map[*manifest.Node]bool // graphs whose manifests and blobs are in already
		seen  map[string]bool         // "m DIGEST" in Manifests, "b DIGEST" in Blobs
	}
	byName := map[string]*state{}
	for _, im := range g.images {
		name := im.Repo(prefix)
		rp, ok := byName[name]
		if !ok {
			rp = &state{Repository: &Repository{Name: name}, roots: map[*manifest.Node]bool{}, seen: map[string]bool{}}
			byName[name] = rp
			out = append(out, rp.Repository)
		}
		rp.Images = append(rp.Images, im)
		if im.Root == nil || rp.roots[im.Root] {
			continue
		}
		rp.roots[im.Root] = true
		for _, n := range im.Manifests() {
			if !rp.seen["m "+n.Desc.Digest] {
				rp.seen["m "+n.Desc.Digest] = true
				rp.Manifests = append(rp.Manifests, n)
			}
		}
		for _, d := range im.Blobs() {
			if !rp.seen["b "+d.Digest] {
				rp.seen["b "+d.Digest] = true
				rp.Blobs = append(rp.Blobs, d)
			}
		}
	}
	return out
}

// BlobUsers maps the digest of every manifest, index, config and layer of the images'
// graphs (not their referrers') to the keys of the image entries that use it
// (component.container), each key once, in the graph's order. Empty until Load.
func (g *Graph) BlobUsers() map[string][]string {
	users := map[string][]string{}
	seen := map[string]bool{} // "digest key"
	for _, im := range g.images {
		if im.Root == nil {
			continue
		}
		key := im.Key()
		im.Root.Walk(func(n *manifest.Node) {
			for _, d := range append([]manifest.Descriptor{n.Desc}, n.Blobs...) {
				if !seen[d.Digest+" "+key] {
					seen[d.Digest+" "+key] = true
					users[d.Digest] = append(users[d.Digest], key)
				}
			}
		})
	}
	return users
}
