package create

import (
	"io"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/oci"
)

// UnfinishedLocal opens the unfinished bundle a stopped run of bundle create left for output
// (NAME.partial), as content a registry client may read instead of asking the registry
// (oci.WithLocal): its manifests, indexes and configs, which a run writes whole when it starts,
// so that a rerun of a list pinned by digest resolves every image without a request. Its
// layers are not offered: they may be half written, and they are the rerun's own output. The
// caller closes the closer; false when there is no unfinished bundle that can be read.
func UnfinishedLocal(output string) (oci.Local, io.Closer, bool) {
	b, err := trust.Open(output + ".partial")
	if err != nil {
		return nil, nil, false
	}
	return metadataOnly{b}, b, true
}

// metadataOnly offers a bundle's manifests, indexes and configs, verified as they are read.
type metadataOnly struct{ b *archive.Bundle }

func (m metadataOnly) ByDigest(digest string) (io.ReadCloser, string, bool) {
	rec, ok := m.b.Manifest().BlobByDigest(digest)
	if !ok || rec.Kind == archive.KindLayer {
		return nil, "", false
	}
	return m.b.ByDigest(digest)
}

// Locals is content from several sources, asked in order.
type Locals []oci.Local

func (ls Locals) ByDigest(digest string) (io.ReadCloser, string, bool) {
	for _, l := range ls {
		if rc, mt, ok := l.ByDigest(digest); ok {
			return rc, mt, true
		}
	}
	return nil, "", false
}
