package chart

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/element-hq/ess-airgap/internal/imageref"
	"go.yaml.in/yaml/v3"
)

// Block is an image block of a chart's values: the mapping under an `image` key that names a
// registry, repository, tag or digest, as the matrix-stack chart's templates read it
// ("registry/repository@digest" when a digest is set, else "registry/repository:tag").
type Block struct {
	Path       string // the block's values path, e.g. "synapse.image", "matrixRTC.sfu.image"
	Registry   string // host[:port]; docker.io when the values name none (index.docker.io too)
	Repository string // as Docker reads it: postgres on docker.io is library/postgres
	Tag        string // may be empty when Digest is set
	Digest     string // may be empty when Tag is set
	// From lists, for each field the values set, "field file:line", in field order: where the
	// image comes from.
	From []string
}

// Ref is "registry/repository:tag", or "registry/repository@digest" without a tag.
func (b Block) Ref() string {
	if b.Tag == "" {
		return b.Registry + "/" + b.Repository + "@" + b.Digest
	}
	return b.Registry + "/" + b.Repository + ":" + b.Tag
}

// blockFields are the fields of an image block that name the image; a mapping under `image`
// with none of them (matrix-stack's top-level image: {pullPolicy, pullSecrets}) is not a block.
var blockFields = []string{"registry", "repository", "tag", "digest"}

var digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

// Images returns every image block of the chart's values with the operator's values files
// applied in order (as `helm -f` applies them), sorted by path. Blocks of disabled components
// are included: the values name them whatever `enabled` says. Every problem is reported, each
// naming the file, line and values path, matching ErrInvalidValues: a file that does not parse,
// a block without repository, or with neither tag nor digest, a field YAML reads as a
// non-string that Helm would render otherwise (1.10 as 1.1: quote it; 8.2 passes), a malformed digest. A chart whose values
// have no block gives ErrNoImages.
func Images(c *Chart, overlays ...ValuesFile) ([]Block, error) {
	root, err := parseValues(ValuesFile{Name: c.ValuesName(), Data: c.Values})
	if err != nil {
		return nil, err
	}
	for _, f := range overlays {
		over, err := parseValues(f)
		if err != nil {
			return nil, err
		}
		root.merge(over)
	}
	var blocks []Block
	var errs []error
	root.walk("", func(path string, v *value) {
		if b, err := readBlock(path, v); err != nil {
			errs = append(errs, err)
		} else if b != nil {
			blocks = append(blocks, *b)
		}
	})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(blocks) == 0 {
		files := []string{c.ValuesName()}
		for _, f := range overlays {
			files = append(files, f.Name)
		}
		return nil, fmt.Errorf("chart %s %s: %w (%s): no mapping under an image key names a registry, repository, tag or digest",
			c.Name, c.Version, ErrNoImages, strings.Join(files, ", "))
	}
	sort.Slice(blocks, func(i, j int) bool { return blocks[i].Path < blocks[j].Path })
	return blocks, nil
}

// walk calls fn for every mapping under an `image` key, in key order.
func (v *value) walk(path string, fn func(string, *value)) {
	for _, k := range v.keys {
		kid := v.kids[k]
		if kid.kids == nil {
			continue
		}
		if k == "image" {
			fn(join(path, k), kid)
		}
		kid.walk(join(path, k), fn)
	}
}

// renderedAsWritten reports whether Helm renders a number as it is written: Helm reads values
// as JSON numbers (float64) and prints them with %v, so 8.2 stays 8.2 but 1.10 becomes 1.1.
func renderedAsWritten(n *yaml.Node) bool {
	f, err := strconv.ParseFloat(n.Value, 64)
	return err == nil && fmt.Sprint(f) == n.Value
}

// readBlock reads the image block at path, or returns nil when the mapping is not one.
func readBlock(path string, v *value) (*Block, error) {
	b := &Block{Path: path}
	fields := []*string{&b.Registry, &b.Repository, &b.Tag, &b.Digest}
	found := false
	bad := func(f *value, format string, a ...any) error {
		return fmt.Errorf("%s:%d: %w: %s: %s", f.file, f.line, ErrInvalidValues, path, fmt.Sprintf(format, a...))
	}
	for i, name := range blockFields {
		f, ok := v.kids[name]
		if !ok || f.isNull() {
			continue
		}
		found = true
		if f.kids != nil || f.leaf.Kind != yaml.ScalarNode {
			return nil, bad(f, "%s must be a string", name)
		}
		if tag := f.leaf.ShortTag(); tag != "!!str" && !renderedAsWritten(f.leaf) {
			return nil, bad(f, "%s %s is read as %s, which Helm renders otherwise: quote it (%q)", name, f.leaf.Value, strings.TrimPrefix(tag, "!!"), f.leaf.Value)
		}
		*fields[i] = f.leaf.Value
		if f.leaf.Value != "" {
			b.From = append(b.From, fmt.Sprintf("%s %s:%d", name, f.file, f.line))
		}
	}
	switch {
	case !found:
		return nil, nil
	case b.Repository == "":
		return nil, bad(v, "image block without repository")
	case b.Tag == "" && b.Digest == "":
		return nil, bad(v, "image block with neither tag nor digest")
	case b.Digest != "" && !digestRE.MatchString(b.Digest):
		return nil, bad(v.kids["digest"], "digest %q is not sha256: and 64 lowercase hex digits", b.Digest)
	}
	// As Docker names it, and as the chart's pods will pull it: no registry, or
	// registry docker.io with repository postgres, is docker.io/library/postgres.
	b.Registry, b.Repository = imageref.Normalize(b.Registry, b.Repository)
	return b, nil
}
