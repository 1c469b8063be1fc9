package create

import (
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
)

func TestDelta(t *testing.T) {
	blob := func(c byte, size int64) archive.Blob {
		d := "sha256:"
		for range 64 {
			d += string(c)
		}
		return archive.Blob{Digest: d, Size: size, Kind: archive.KindLayer}
	}
	a, b, c, d := blob('a', 100), blob('b', 20), blob('c', 3), blob('d', 4000)
	for _, tc := range []struct {
		name     string
		old, new []archive.Blob
		want     DeltaSize
	}{
		{"same", []archive.Blob{a, b}, []archive.Blob{b, a}, DeltaSize{0, 0, 2, 120}},
		{"new blobs", []archive.Blob{a, b}, []archive.Blob{a, c, d}, DeltaSize{2, 4003, 3, 4103}},
		{"from nothing", nil, []archive.Blob{a, b}, DeltaSize{2, 120, 2, 120}},
		{"to nothing", []archive.Blob{a}, nil, DeltaSize{}},
		{"a digest counted once", nil, []archive.Blob{d, d}, DeltaSize{1, 4000, 1, 4000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Delta(tc.old, tc.new); got != tc.want {
				t.Errorf("delta = %+v, want %+v", got, tc.want)
			}
		})
	}
}
