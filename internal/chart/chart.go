package chart

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/yamlcheck"
)

// Media types of a Helm chart stored as an OCI artifact (what `helm push` makes): a manifest
// whose config is the chart's metadata as JSON and whose content layer is the chart .tgz.
const (
	ConfigMediaType  = "application/vnd.cncf.helm.config.v1+json"
	ContentMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
)

// Limits applied while reading a chart archive, Helm's own.
const (
	maxArchiveSize = 100 << 20 // decompressed, all files
	maxFileSize    = 5 << 20   // decompressed, one file
)

// Chart is a chart as carried: its archive and what was read from it.
type Chart struct {
	Name, Version string
	Archive       []byte // the chart .tgz, as given or as packaged from a directory
	Values        []byte // values.yaml, as in the archive (nil when it has none)
	Meta          []byte // Chart.yaml as JSON, the config of the chart's OCI artifact
}

// ValuesName is what errors call the chart's own values.yaml: "NAME/values.yaml".
func (c *Chart) ValuesName() string { return c.Name + "/values.yaml" }

// Load reads a chart from a .tgz file or a chart directory. A directory is packaged as a
// .tgz the same way every time (files sorted, mode 0644, no timestamps), leaving out hidden
// files and directories (.git, .helmignore, editor files): for finer control, package it with
// `helm package` and give the .tgz.
func Load(p string) (*Chart, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	var data []byte
	if st.IsDir() {
		data, err = pack(p)
	} else {
		data, err = os.ReadFile(p)
	}
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", p, err)
	}
	c, err := Read(data)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", p, err)
	}
	return c, nil
}

// Read reads a chart .tgz: one top directory holding Chart.yaml (apiVersion, name and version
// set), values.yaml (optional) and the rest. A chart with subcharts (under charts/, or
// dependencies listed in Chart.yaml) is refused: their values, and so their images, are not read.
// Sizes are capped as Helm caps them (5 MiB a file, 100 MiB in all).
func Read(tgz []byte) (*Chart, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, fmt.Errorf("%w: not a gzip file: %v", ErrInvalidChart, err)
	}
	files := map[string][]byte{}
	var top string
	var total int64
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidChart, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue // directories; links are not followed
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		dir, rest, ok := strings.Cut(name, "/")
		if !ok || strings.HasPrefix(name, "/") || strings.HasPrefix(name, "..") {
			return nil, fmt.Errorf("%w: entry %q is not under the chart's directory", ErrInvalidChart, h.Name)
		}
		if top == "" {
			top = dir
		} else if dir != top {
			return nil, fmt.Errorf("%w: entries under %q and %q: one chart directory expected", ErrInvalidChart, top, dir)
		}
		if strings.HasPrefix(rest, "charts/") {
			return nil, fmt.Errorf("%w: %s: subcharts are not supported (their values and images would not be read)", ErrInvalidChart, name)
		}
		if h.Size > maxFileSize || total+h.Size > maxArchiveSize {
			return nil, fmt.Errorf("%w: %s: over %d MiB a file or %d MiB in all", ErrInvalidChart, name, maxFileSize>>20, maxArchiveSize>>20)
		}
		total += h.Size
		if rest == "Chart.yaml" || rest == "values.yaml" {
			if files[rest], err = io.ReadAll(io.LimitReader(tr, h.Size)); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrInvalidChart, name, err)
			}
		}
	}
	if files["Chart.yaml"] == nil {
		return nil, fmt.Errorf("%w: no Chart.yaml", ErrInvalidChart)
	}
	var meta map[string]any
	if err := yamlcheck.Unmarshal(files["Chart.yaml"], &meta); err != nil {
		return nil, fmt.Errorf("%w: %s/Chart.yaml: %w", ErrInvalidChart, top, err)
	}
	c := &Chart{Archive: tgz, Values: files["values.yaml"]}
	c.Name, _ = meta["name"].(string)
	c.Version = scalarString(meta["version"])
	switch {
	case c.Name == "" || c.Version == "" || meta["apiVersion"] == nil:
		return nil, fmt.Errorf("%w: %s/Chart.yaml: apiVersion, name and version are required", ErrInvalidChart, top)
	case hasDependencies(meta["dependencies"]):
		return nil, fmt.Errorf("%w: %s/Chart.yaml: dependencies are not supported (their values and images would not be read)", ErrInvalidChart, top)
	}
	if c.Meta, err = json.Marshal(meta); err != nil {
		return nil, fmt.Errorf("%w: %s/Chart.yaml: %v", ErrInvalidChart, top, err)
	}
	return c, nil
}

// hasDependencies reports whether Chart.yaml's dependencies name any (matrix-stack has
// "dependencies: []").
func hasDependencies(v any) bool {
	list, ok := v.([]any)
	return v != nil && (!ok || len(list) > 0)
}

// scalarString is a YAML scalar as text ("" for anything else).
func scalarString(v any) string {
	switch v.(type) {
	case string, int, float64, bool:
		return fmt.Sprint(v)
	}
	return ""
}

// pack makes a .tgz of a chart directory under a top directory named after the chart.
func pack(dir string) ([]byte, error) {
	meta, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidChart, err)
	}
	var head struct{ Name string }
	if err := yamlcheck.Unmarshal(meta, &head); errors.Is(err, yamlcheck.ErrAliases) {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidChart, filepath.Join(dir, "Chart.yaml"), err)
	} else if err != nil || head.Name == "" || strings.ContainsAny(head.Name, `/\`) {
		return nil, fmt.Errorf("%w: Chart.yaml: no usable name", ErrInvalidChart)
	}
	var names []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(n)))
		if err != nil {
			return nil, err
		}
		h := &tar.Header{Name: head.Name + "/" + n, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg,
			ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
