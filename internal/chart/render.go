package chart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/element-hq/ess-airgap/internal/yamlcheck"
	"go.yaml.in/yaml/v3"
)

// RenderOptions says how to run `helm template`.
type RenderOptions struct {
	Helm        string       // the helm binary: a path, or a name looked up on PATH; default "helm"
	Release     string       // the release name; default "ess"
	Namespace   string       // default: helm's
	KubeVersion string       // --kube-version; default: helm's
	Values      []ValuesFile // given with -f, in order
}

// Render renders the chart archive with the helm binary (`helm template`), so with the very
// template engine, functions and schema validation the operator's helm installs with, and
// returns the manifests it prints. Values files are written to a private temporary directory,
// removed before Render returns. Errors match ErrRender and carry helm's own message; a helm
// binary not found is ErrNoHelm.
func Render(ctx context.Context, tgz []byte, o RenderOptions) ([]byte, error) {
	if o.Helm == "" {
		o.Helm = "helm"
	}
	if o.Release == "" {
		o.Release = "ess"
	}
	bin, err := exec.LookPath(o.Helm)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrNoHelm, o.Helm, err)
	}
	dir, err := os.MkdirTemp("", "ess-airgap-render-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	chartFile := filepath.Join(dir, "chart.tgz")
	if err := os.WriteFile(chartFile, tgz, 0o600); err != nil {
		return nil, err
	}
	args := []string{"template", o.Release, chartFile}
	for i, f := range o.Values {
		p := filepath.Join(dir, fmt.Sprintf("values-%d.yaml", i))
		if err := os.WriteFile(p, f.Data, 0o600); err != nil {
			return nil, err
		}
		args = append(args, "-f", p)
	}
	if o.Namespace != "" {
		args = append(args, "--namespace", o.Namespace)
	}
	if o.KubeVersion != "" {
		args = append(args, "--kube-version", o.KubeVersion)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		for i, f := range o.Values { // helm names the temporary copies: name the files as given
			msg = strings.ReplaceAll(msg, filepath.Join(dir, fmt.Sprintf("values-%d.yaml", i)), f.Name)
		}
		if asked, ok := chartRefusal(msg); ok && ctx.Err() == nil {
			return nil, &RefusedError{Helm: bin, Asked: asked, Msg: msg}
		}
		return nil, fmt.Errorf("%w: %s: %v: %s", ErrRender, bin, err, msg)
	}
	return stdout.Bytes(), nil
}

// chartRefusal reads helm's message for a refusal of the chart's own: a template's required
// or fail ("execution error at (CHART/templates/FILE:L:C): TEXT"), or its values schema. It
// returns what the chart says: the TEXT of each, or the schema's complaints, at most 8 lines;
// helm's own words (its "Use --debug flag" hint, its debug lines) are left out.
func chartRefusal(msg string) ([]string, bool) {
	var asked []string
	schema, failing := false, false
	for _, raw := range strings.Split(msg, "\n") {
		line := strings.TrimSpace(raw)
		errorLine := strings.HasPrefix(line, "Error:")
		line = strings.TrimSpace(strings.TrimPrefix(line, "Error:"))
		switch {
		case strings.Contains(line, "execution error at ("):
			_, text, ok := strings.Cut(line[strings.Index(line, "execution error at ("):], "): ")
			if failing = ok; ok && strings.TrimSpace(text) != "" {
				asked = append(asked, strings.TrimSpace(text))
			}
		case strings.Contains(line, "values don't meet the specifications of the schema"):
			schema, failing = true, false
		case schema && strings.HasPrefix(line, "- "):
			asked = append(asked, strings.TrimPrefix(line, "- "))
		case strings.HasPrefix(line, "Use --debug flag"): // helm template's own hint, not the chart's
		case failing && !errorLine && line != "" && !strings.HasPrefix(line, "helm.go:"):
			asked = append(asked, line) // a fail's message of several lines
		default:
			failing = failing && !errorLine
		}
	}
	if len(asked) == 0 {
		return nil, false
	}
	if len(asked) > 8 {
		asked = append(asked[:8], fmt.Sprintf("and %d more", len(asked)-8))
	}
	return asked, true
}

// Use is one container of a rendered manifest and the image it runs.
type Use struct {
	Kind, Name string // the object: "Deployment", "ess-synapse"
	Field      string // containers, initContainers or ephemeralContainers
	Container  string // the container's name
	Image      string
}

func (u Use) String() string {
	return fmt.Sprintf("%s/%s %s %s", u.Kind, u.Name, strings.TrimSuffix(u.Field, "s"), u.Container)
}

// Uses lists every container of the rendered manifests, whatever the kind of object (Pod,
// Deployment, StatefulSet, Job, CronJob, a custom resource): every list under a containers,
// initContainers or ephemeralContainers key whose items have an image. Sorted by image, then
// object and container.
func Uses(manifests []byte) ([]Use, error) {
	dec := yaml.NewDecoder(bytes.NewReader(manifests))
	var uses []Use
	for {
		var doc map[string]any
		err := yamlcheck.Decode(dec, &doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: the rendered manifests are not YAML: %v", ErrRender, err)
		}
		kind, _ := doc["kind"].(string)
		meta, _ := doc["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		findContainers(doc, func(field string, c map[string]any) {
			img, _ := c["image"].(string)
			cname, _ := c["name"].(string)
			uses = append(uses, Use{Kind: kind, Name: name, Field: field, Container: cname, Image: img})
		})
	}
	sort.SliceStable(uses, func(i, j int) bool {
		a, b := uses[i], uses[j]
		if a.Image != b.Image {
			return a.Image < b.Image
		}
		return a.String() < b.String()
	})
	return uses, nil
}

// findContainers calls fn for every container under v.
func findContainers(v any, fn func(field string, c map[string]any)) {
	switch t := v.(type) {
	case map[string]any:
		for k, kid := range t {
			if list, ok := kid.([]any); ok && (k == "containers" || k == "initContainers" || k == "ephemeralContainers") {
				for _, item := range list {
					if c, ok := item.(map[string]any); ok && c["image"] != nil {
						fn(k, c)
					}
				}
				continue
			}
			findContainers(kid, fn)
		}
	case []any:
		for _, kid := range t {
			findContainers(kid, fn)
		}
	}
}
