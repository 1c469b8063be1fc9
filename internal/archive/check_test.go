package archive

import (
	"fmt"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// TestReferrersLinear: the manifest's referrer check is linear: 200,000 referrers of one image
// manifest (the quadratic check took minutes) are checked well within 10 s.
func TestReferrersLinear(t *testing.T) {
	const n = 200_000
	m := Manifest{FormatVersion: FormatVersion, MediaType: ManifestMediaType,
		Layout: Layout{OCILayout: verify.Digest([]byte("a")), Index: verify.Digest([]byte("b"))}}
	subject := verify.Digest([]byte("image"))
	m.Blobs = append(m.Blobs, Blob{Digest: subject, Size: 5, Kind: KindManifest})
	m.Images = []Image{{Entry: imageref.Entry{Component: "c", Container: "c"}, Digest: subject}}
	for i := range n {
		d := verify.Digest(fmt.Appendf(nil, "referrer %d", i))
		m.Blobs = append(m.Blobs, Blob{Digest: d, Size: 1, Kind: KindManifest})
		m.Referrers = append(m.Referrers, Referrer{Subject: subject, Digest: d})
	}
	m.Totals = Totals{Images: 1, Blobs: len(m.Blobs), BlobBytes: 5 + n}
	start := time.Now()
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("%d referrers checked in %s", n, took)
	if took > 10*time.Second {
		t.Fatalf("%d referrers took %s", n, took)
	}
}
