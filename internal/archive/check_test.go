package archive

import (
	"fmt"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// TestReferrersLinear: the manifest's referrer check is linear: 200,000 referrers of one image
// manifest (the quadratic check took minutes) are checked within 20 times the time of building
// them (a linear pass of its own, slowed as much as the check by -race and the machine's load).
func TestReferrersLinear(t *testing.T) {
	const n = 200_000
	m := Manifest{FormatVersion: FormatVersion, MediaType: ManifestMediaType,
		Layout: Layout{OCILayout: verify.Digest([]byte("a")), Index: verify.Digest([]byte("b"))}}
	subject := verify.Digest([]byte("image"))
	built := time.Now()
	m.Blobs = append(m.Blobs, Blob{Digest: subject, Size: 5, Kind: KindManifest})
	m.Images = []Image{{Entry: imageref.Entry{Component: "c", Container: "c"}, Digest: subject}}
	for i := range n {
		d := verify.Digest(fmt.Appendf(nil, "referrer %d", i))
		m.Blobs = append(m.Blobs, Blob{Digest: d, Size: 1, Kind: KindManifest})
		m.Referrers = append(m.Referrers, Referrer{Subject: subject, Digest: d})
	}
	m.Totals = Totals{Images: 1, Blobs: len(m.Blobs), BlobBytes: 5 + n}
	build := time.Since(built) // a linear pass over the same referrers, under the same load
	start := time.Now()
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("%d referrers checked in %s; building them took %s", n, took, build)
	if took > 20*build+time.Second {
		t.Fatalf("%d referrers took %s to check, more than 20 times the %s of building them: not linear", n, took, build)
	}
}
