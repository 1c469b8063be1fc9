// Command demo runs the whole job on one machine without internet: it starts an upstream and a
// destination registry in-process (Distribution; the destination with htpasswd auth and TLS
// from a fresh CA), generates an ESS-like image set upstream, then runs bundle create, bundle
// verify and unbundle push exactly as a user would, and prints the ConfigMap.
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
	steps := []struct {
		prog  string
		stdin string
		args  []string
	}{
		{"bundle", "", []string{"create", "--images", list, "--output", bundle}},
		{"bundle", "", []string{"verify", bundle}},
		{"unbundle", local.Password + "\n", []string{"push", "--registry", local.Host, "--ca-file", local.CAFile,
			"--username", local.Username, "--password-stdin", "--configmap", cm, bundle}},
	}
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
	data, err := os.ReadFile(cm)
	if err != nil {
		return err
	}
	say("the ConfigMap (%s), with the digests the local registry serves:", cm)
	stdout.Write(data)
	say("done: every image is in the local registry with its upstream digest")
	return nil
}
