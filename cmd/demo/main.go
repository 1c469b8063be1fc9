// Command demo runs the whole job on one machine without internet: it starts an upstream and a
// destination registry in-process (Distribution; the destination with htpasswd auth and TLS
// from a fresh CA), generates an ESS-like image set upstream, then runs bundle create, bundle
// verify and unbundle push exactly as a user would, and prints the ConfigMap. Then the Helm
// path: a small chart with matrix-stack's shapes (internal/fixture/testdata/mini-stack) served
// upstream as an OCI chart with its images, bundle create --chart, unbundle push
// --helm-values with the render check, unbundle check-values. It needs nothing but Go: the
// render check needs helm on PATH, and without it the demo says so, how to get helm, and goes on.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/element-hq/ess-airgap/internal/cli"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	dir := fs.String("dir", "", "work directory (default: a new temporary one, removed at the end)")
	size := fs.Int64("size", 60<<20, "bytes of unique image layers to generate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "ess-airgap-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	say := func(format string, a ...any) { fmt.Fprintf(stdout, "\n==> "+format+"\n", a...) }

	upstream, err := testregistry.Start(ctx, filepath.Join(*dir, "upstream"))
	if err != nil {
		return err
	}
	defer upstream.Close()
	pw := make([]byte, 12)
	rand.Read(pw)
	local, err := testregistry.Start(ctx, filepath.Join(*dir, "local"), testregistry.WithAuth("ess", hex.EncodeToString(pw)), testregistry.WithTLS())
	if err != nil {
		return err
	}
	defer local.Close()
	say("upstream registry (stands in for docker.io, ghcr.io, ...): %s; local registry (htpasswd + TLS): %s", upstream.Host, local.Host)

	say("generating an ESS-like image set upstream (%d MiB of layers)", *size>>20)
	images, err := fixture.Generate(ctx, fixture.Options{Registry: upstream.Host, Size: *size, Seed: 2310})
	if err != nil {
		return err
	}
	yml, err := digests.Marshal(images)
	if err != nil {
		return err
	}
	list := filepath.Join(*dir, "images_digests.yml")
	if err := os.WriteFile(list, yml, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d containers listed in %s\n", len(images), list)

	bundle := filepath.Join(*dir, "ess.tar.zst")
	cm := filepath.Join(*dir, "configmap.yaml")
	steps := []step{
		{"bundle", "", []string{"create", "--images", list, "--output", bundle}},
		{"bundle", "", []string{"verify", bundle}},
		{"unbundle", local.Password + "\n", []string{"push", "--registry", local.Host, "--ca-file", local.CAFile,
			"--username", local.Username, "--password-stdin", "--configmap", cm, bundle}},
	}
	if err := runSteps(ctx, say, stdout, stderr, steps); err != nil {
		return err
	}
	data, err := os.ReadFile(cm)
	if err != nil {
		return err
	}
	say("the ConfigMap (%s), with the digests the local registry serves:", cm)
	stdout.Write(data)
	say("done: every image is in the local registry with its upstream digest")
	return helmPath(ctx, say, stdout, stderr, *dir, min(*size, 16<<20), upstream, local)
}

type step struct {
	prog  string
	stdin string
	args  []string
}

// runSteps runs each command as a user would type it, stopping at the first that fails.
func runSteps(ctx context.Context, say func(string, ...any), stdout, stderr io.Writer, steps []step) error {
	for _, s := range steps {
		shown := s.prog + " " + strings.Join(s.args, " ")
		if s.stdin != "" {
			shown = "<password> | " + shown
		}
		say("%s", shown)
		argv := append([]string{s.prog}, s.args...)
		if code := cli.Main(ctx, s.prog, argv, bytes.NewBufferString(s.stdin), stdout, stderr); code != 0 {
			return fmt.Errorf("%s exited %d", s.prog, code)
		}
	}
	return nil
}

// helmPath carries a Helm chart and its images (size bytes of layers): bundle create --chart,
// push with --helm-values and the render check, then the check on its own.
func helmPath(ctx context.Context, say func(string, ...any), stdout, stderr io.Writer, dir string, size int64, upstream, local *testregistry.Registry) error {
	say("the Helm path: a chart with matrix-stack's shapes, and its images, upstream as an OCI chart")
	ch, err := fixture.PushChart(ctx, fixture.Options{Registry: upstream.Host, Size: size, Seed: 2608}, filepath.Join(dir, "mini-stack"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s (digest %s), %d images\n", ch.Ref, ch.Digest, len(ch.Images))
	bundle := filepath.Join(dir, "chart.tar.zst")
	values := filepath.Join(dir, "local-values.yaml")
	ops := filepath.Join(ch.Dir, "ci", "all-enabled-values.yaml") // the operator's values: every component on
	login := []string{"--registry", local.Host + "/ess", "--ca-file", local.CAFile, "--username", local.Username, "--password-stdin"}
	steps := []step{
		{"bundle", "", []string{"create", "--chart", ch.Ref, "--values", ops, "--dry-run", "--output", bundle}},
		{"bundle", "", []string{"create", "--chart", ch.Ref, "--values", ops, "--output", bundle}},
		{"unbundle", "", []string{"list", bundle}},
		{"unbundle", local.Password + "\n", append(append([]string{"push"}, login...), "--helm-values", values,
			"--pull-secret", "local-registry", "--values", ops, bundle)},
	}
	_, noHelm := exec.LookPath("helm")
	if noHelm == nil {
		steps = append(steps, step{"unbundle", local.Password + "\n", append(append([]string{"check-values"}, login...),
			"--helm-values", values, "--values", ops, bundle)})
	}
	if err := runSteps(ctx, say, stdout, stderr, steps); err != nil {
		return err
	}
	if noHelm != nil {
		say("the render check (unbundle check-values) was skipped: it runs helm, and there is no helm on PATH.\n" +
			"    To see it: go install helm.sh/helm/v4/cmd/helm@v4.3.2 (or make tools), put $(go env GOPATH)/bin on PATH, rerun make demo")
	}
	data, err := os.ReadFile(values)
	if err != nil {
		return err
	}
	say("the values file (%s): every image block of the chart at the local registry, by digest:", values)
	stdout.Write(data)
	say("done: helm install ess oci://%s/ess/charts/mini-stack --version %s -f YOUR-VALUES -f %s pulls every image from the local registry", local.Host, ch.Version, values)
	return nil
}
