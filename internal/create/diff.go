package create

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/chart"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/oci"
)

// DeltaSize counts NEW's blobs that OLD does not hold, out of all of NEW's.
type DeltaSize struct {
	Blobs      int   `json:"blobs"`
	Bytes      int64 `json:"bytes"`
	TotalBlobs int   `json:"totalBlobs"`
	TotalBytes int64 `json:"totalBytes"`
}

// Delta sums the blobs of new whose digest is not among old's: the bytes a delta from old to
// new would carry. Blobs are counted once per digest.
func Delta(old, new []archive.Blob) DeltaSize {
	have := make(map[string]bool, len(old))
	for _, b := range old {
		have[b.Digest] = true
	}
	var d DeltaSize
	seen := make(map[string]bool, len(new))
	for _, b := range new {
		if seen[b.Digest] {
			continue
		}
		seen[b.Digest] = true
		d.TotalBlobs++
		d.TotalBytes += b.Size
		if !have[b.Digest] {
			d.Blobs++
			d.Bytes += b.Size
		}
	}
	return d
}

// DiffSide is one side of a diff: its images, and its blobs when it is a bundle (nil otherwise).
type DiffSide struct {
	Path   string
	Images []digests.Image
	Blobs  []archive.Blob
	Chart  string // "NAME VERSION" when the side is a chart
}

// IsChart tells a chart argument of diff: oci://, a .tgz, or a directory with a Chart.yaml.
func IsChart(path string) bool {
	if strings.HasPrefix(path, "oci://") || strings.HasSuffix(path, ".tgz") {
		return true
	}
	_, err := os.Stat(filepath.Join(path, "Chart.yaml"))
	return err == nil
}

// What says what the side is, for people.
func (s *DiffSide) What() string {
	if s.Chart != "" {
		return fmt.Sprintf("chart %s, %d image blocks", s.Chart, len(s.Images)-1)
	}
	if s.Blobs != nil {
		return fmt.Sprintf("bundle, %d containers, %d blobs", len(s.Images), len(s.Blobs))
	}
	return fmt.Sprintf("image list, %d containers", len(s.Images))
}

// LoadDiffSide reads an image list, the manifest of a bundle when path ends in .tar.zst, or the
// image blocks of a chart (values applied in order); client makes the registry client for an
// oci:// chart, open opens a bundle (the caller's trusted open: trust.Find, then Set.Open).
func LoadDiffSide(ctx context.Context, path string, values []chart.ValuesFile, client func(host string) (*oci.Client, error),
	open func(path string) (*archive.Bundle, error)) (*DiffSide, error) {
	if IsChart(path) {
		var c *oci.Client
		if rest, ok := strings.CutPrefix(path, "oci://"); ok {
			host, _, _ := strings.Cut(rest, "/")
			var err error
			if c, err = client(host); err != nil {
				return nil, err
			}
		}
		ch, err := LoadChart(ctx, c, path, values)
		if err != nil {
			return nil, err
		}
		return &DiffSide{Path: path, Chart: ch.Chart.Name + " " + ch.Chart.Version, Images: append([]digests.Image{ch.Source}, ch.Images()...)}, nil
	}
	if !strings.HasSuffix(path, ".tar.zst") {
		l, err := digests.ParseFile(path)
		if err != nil {
			return nil, err
		}
		return &DiffSide{Path: path, Images: l.Images}, nil
	}
	b, err := open(path)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	// What bundle.json lists: no manifest is read. Blobs not nil: the side is a bundle.
	g := graph.New(b)
	s := &DiffSide{Path: path, Blobs: append([]archive.Blob{}, g.Blobs()...)}
	for _, im := range g.Images() {
		s.Images = append(s.Images, digests.Image{Entry: im.Entry, Digest: im.Digest})
	}
	return s, nil
}
