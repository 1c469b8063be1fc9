package archive

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/element-hq/ess-airgap/internal/verify"
)

// A manifest is checked whole before anything is read through it (decodeManifest): each of its
// records on its own, and against the others.

// Check validates the manifest's own consistency: version, digests, no duplicate blobs,
// totals, and that every image's digest is a blob it carries.
func (m *Manifest) Check() error {
	if m.FormatVersion != FormatVersion {
		return fmt.Errorf("%w: format version %d, this tool reads %d", ErrUnsupported, m.FormatVersion, FormatVersion)
	}
	if m.MediaType != ManifestMediaType {
		return fmt.Errorf("%w: media type %q", ErrCorrupt, m.MediaType)
	}
	seen, total, err := m.checkBlobs()
	if err != nil {
		return err
	}
	if err := m.checkImages(seen); err != nil {
		return err
	}
	if err := m.checkReferrers(seen); err != nil {
		return err
	}
	if err := m.checkProvenance(); err != nil {
		return err
	}
	if err := m.checkMissing(); err != nil {
		return err
	}
	if err := m.checkFiles(); err != nil {
		return err
	}
	for _, d := range []string{m.Layout.OCILayout, m.Layout.Index} {
		if err := verify.Check(d); err != nil {
			return fmt.Errorf("%w: layout: %v", ErrCorrupt, err)
		}
	}
	if m.Totals.Images != len(m.Images) || m.Totals.Blobs != len(m.Blobs) || m.Totals.BlobBytes != total {
		return fmt.Errorf("%w: totals do not add up", ErrCorrupt)
	}
	return nil
}

// checkBlobs checks the blobs the bundle carries (digests, sizes, none twice) and the external
// ones a delta bundle relies on its base for (none also carried, and a base named). It returns
// the digests carried and the sum of their sizes.
func (m *Manifest) checkBlobs() (map[string]bool, int64, error) {
	seen := make(map[string]bool, len(m.Blobs))
	var total int64
	for _, b := range m.Blobs {
		if err := verify.Check(b.Digest); err != nil {
			return nil, 0, fmt.Errorf("%w: blob list: %v", ErrCorrupt, err)
		}
		if seen[b.Digest] {
			return nil, 0, fmt.Errorf("%w: blob %s listed twice", ErrCorrupt, b.Digest)
		}
		if b.Size < 0 {
			return nil, 0, fmt.Errorf("%w: blob %s has size %d", ErrCorrupt, b.Digest, b.Size)
		}
		seen[b.Digest] = true
		total += b.Size
	}
	for _, b := range m.External {
		if err := verify.Check(b.Digest); err != nil {
			return nil, 0, fmt.Errorf("%w: external blob list: %v", ErrCorrupt, err)
		}
		if seen[b.Digest] {
			return nil, 0, fmt.Errorf("%w: blob %s is both carried and external", ErrCorrupt, b.Digest)
		}
	}
	if len(m.External) > 0 && m.Base == nil {
		return nil, 0, fmt.Errorf("%w: external blobs without a base", ErrCorrupt)
	}
	return seen, total, nil
}

// checkImages checks that every image's digest is a blob the bundle carries (seen), that its
// kind is known, and that the chart records (chart for one chart, charts for several, each
// name once) name exactly the images of kind chart.
func (m *Manifest) checkImages(seen map[string]bool) error {
	if m.Chart != nil && len(m.Charts) > 0 || len(m.Charts) == 1 {
		return fmt.Errorf("%w: the chart records: chart for one chart, charts for two or more, not both", ErrCorrupt)
	}
	records := map[string]*Chart{} // by name
	for _, ch := range m.AllCharts() {
		if records[ch.Name] != nil {
			return fmt.Errorf("%w: chart %s recorded twice", ErrCorrupt, ch.Name)
		}
		records[ch.Name] = ch
	}
	charts := 0
	for _, im := range m.Images {
		if !seen[im.Digest] {
			return fmt.Errorf("%w: image %s (%s): digest %s is not among the blobs", ErrCorrupt, im.Key(), im.Ref(), im.Digest)
		}
		if im.Kind == KindChart {
			charts++
			if ch := records[im.Component]; ch == nil || im.Digest != ch.Digest {
				return fmt.Errorf("%w: image %s is a chart the manifest's chart records do not name", ErrCorrupt, im.Key())
			}
		} else if im.Kind != "" {
			return fmt.Errorf("%w: image %s: unknown kind %q", ErrCorrupt, im.Key(), im.Kind)
		}
	}
	if charts != len(records) {
		return fmt.Errorf("%w: %d chart entries among the images, %d chart records", ErrCorrupt, charts, len(records))
	}
	return nil
}

// checkReferrers checks that every referrer is a blob the bundle carries, that its subject is a
// manifest of the bundle listed before it (an image's or an earlier referrer's), that a tag is
// cosign's tag for its subject, and that no referrer is listed twice. Linear in the referrers.
func (m *Manifest) checkReferrers(carried map[string]bool) error {
	subjects := map[string]bool{}
	for _, b := range m.Blobs {
		if b.Kind == KindIndex || b.Kind == KindManifest {
			subjects[b.Digest] = true
		}
	}
	referrer := make(map[string]bool, len(m.Referrers)) // digests that are a referrer's own
	for _, r := range m.Referrers {
		referrer[r.Digest] = true
	}
	listed := map[string]bool{}
	for _, r := range m.Referrers {
		what := fmt.Sprintf("referrer %s of %s", r.Digest, r.Subject)
		if !carried[r.Digest] || !subjects[r.Digest] {
			return fmt.Errorf("%w: %s is not among the bundle's manifests", ErrCorrupt, what)
		}
		if !subjects[r.Subject] || (!listed[r.Subject] && referrer[r.Subject]) {
			return fmt.Errorf("%w: %s: its subject is neither an image's manifest nor a referrer listed before it", ErrCorrupt, what)
		}
		if r.Tag != "" && !strings.HasPrefix(r.Tag, strings.Replace(r.Subject, ":", "-", 1)+".") {
			return fmt.Errorf("%w: %s: tag %q is not its subject's", ErrCorrupt, what, r.Tag)
		}
		key := r.Digest + " " + r.Tag
		if listed[key] {
			return fmt.Errorf("%w: %s listed twice", ErrCorrupt, what)
		}
		listed[key], listed[r.Digest] = true, true
	}
	return nil
}

// checkMissing checks that every missing container is named once, with a reason, and is not
// also among the images the bundle carries.
func (m *Manifest) checkMissing() error {
	keys := map[string]bool{}
	for _, im := range m.Images {
		keys[im.Key()] = true
	}
	for _, ms := range m.Missing {
		switch {
		case ms.Component == "" || ms.Container == "" || ms.Reason == "":
			return fmt.Errorf("%w: missing container %q: component, container and reason are required", ErrCorrupt, ms.Key())
		case keys[ms.Key()]:
			return fmt.Errorf("%w: container %s is both carried and missing", ErrCorrupt, ms.Key())
		}
		keys[ms.Key()] = true
	}
	return nil
}

// checkFiles checks every plain file's name, digest and size, and that none is listed twice.
func (m *Manifest) checkFiles() error {
	names := map[string]bool{}
	for _, f := range m.Files {
		if err := CheckFileName(f.Name); err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if err := verify.Check(f.Digest); err != nil {
			return fmt.Errorf("%w: file %s: %v", ErrCorrupt, f.Name, err)
		}
		if f.Size < 0 || f.Size > maxEntrySize {
			return fmt.Errorf("%w: file %s has size %d", ErrCorrupt, f.Name, f.Size)
		}
		if names[f.Name] {
			return fmt.Errorf("%w: file %s listed twice", ErrCorrupt, f.Name)
		}
		names[f.Name] = true
	}
	return nil
}

// decodeManifest parses and checks a bundle manifest.
func decodeManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, ManifestName, err)
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	m.index()
	return &m, nil
}

// checkName rejects entry names that could escape the extraction directory.
func checkName(name string) error {
	if name == "" || path.IsAbs(name) || strings.HasPrefix(name, "/") || path.Clean(name) != name ||
		name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "\\") {
		return fmt.Errorf("%w: entry %q: unsafe path", ErrCorrupt, name)
	}
	return nil
}
