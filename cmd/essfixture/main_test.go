package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

func TestRun(t *testing.T) {
	t.Parallel()
	r := testregistry.StartT(t, testregistry.WithAuth("alice", "pw"), testregistry.WithTLS())
	dir := t.TempDir()
	out := filepath.Join(dir, "images_digests.yml")
	// A part of the default tree: the flags are the point here (TestRunTree pushes it all).
	tree, err := fixture.ReleaseTree("ess-2310")
	if err != nil {
		t.Fatal(err)
	}
	tree = tree[:8]
	data, err := digests.Marshal(tree)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "tree.yml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	args := []string{"--registry", r.Host, "--tree", file, "--size", "256KiB", "--seed", "3", "--username", "alice",
		"--password-stdin", "--ca-file", r.CAFile, "--output", out}
	if err := run(t.Context(), args, strings.NewReader("pw\n"), &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	l, err := digests.ParseFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Images) != len(tree) {
		t.Errorf("%d images, want %d", len(l.Images), len(tree))
	}
	for i, img := range l.Images {
		if img.Server != r.Host || img.Digest == "" || img.Key() != tree[i].Key() {
			t.Errorf("%s: server %q digest %q", img.Key(), img.Server, img.Digest)
		}
	}
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	tests := [][]string{
		{},
		{"--registry", "h:1", "extra"},
		{"--registry", "h:1", "--ca-file", "f", "--plain-http"},
		{"--registry", "h:1", "--password-stdin"},
		{"--registry", "h:1", "--size", "12XB"},
		{"--registry", "h:1", "--tree", "ess-2309"},
		{"--bogus"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			err := run(t.Context(), args, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
			if !errors.Is(err, errUsage) {
				t.Fatalf("err = %v, want errUsage", err)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
	}{
		{"123", 123}, {"256KiB", 256 << 10}, {"60MiB", 60 << 20}, {"2GiB", 2 << 30}, {"2gib", 2 << 30},
		{"0", 0}, {"-1", 0}, {"1.5GiB", 0}, {"MiB", 0}, {"10 MiB", 0}, {"", 0},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if got != tt.want || (err != nil) != (tt.want == 0) {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// TestRunTree pushes the default tree (over plain HTTP, its list to stdout), ess-2408 and
// ess-2310 from a file to one registry with one seed and size: the default gives its 35
// entries, the file gives the default's digests, and ess-2408 shares its unchanged images
// with them.
func TestRunTree(t *testing.T) {
	t.Parallel()
	r := testregistry.StartT(t)
	dir := t.TempDir()
	push := func(out string, tree ...string) map[string]string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args := append([]string{"--registry", r.Host, "--size", "1MiB", "--plain-http", "--output", out}, tree...)
		if err := run(t.Context(), args, strings.NewReader(""), &stdout, &stderr); err != nil {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
		var l *digests.List
		var err error
		if out == "-" {
			l, err = digests.Parse("stdout", stdout.Bytes())
		} else {
			l, err = digests.ParseFile(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, img := range l.Images {
			m[img.Key()] = img.Path + ":" + img.Tag + "@" + img.Digest
		}
		return m
	}
	tree, err := fixture.ReleaseTree("ess-2310")
	if err != nil {
		t.Fatal(err)
	}
	data, err := digests.Marshal(tree)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "tree.yml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.yml")
	def, fromFile, next := push("-"), push(out, "--tree", file), push(out, "--tree", "ess-2408")
	if !maps.Equal(def, fromFile) || len(def) != 35 {
		t.Errorf("--tree FILE with ess-2310 gave %d entries, not the default's %d", len(fromFile), len(def))
	}
	if len(next) != 37 || next["adminbot.haproxy"] != def["adminbot.haproxy"] || def["adminbot.haproxy"] == "" {
		t.Errorf("ess-2408: %d entries, haproxy %q; ess-2310's haproxy %q", len(next), next["adminbot.haproxy"], def["adminbot.haproxy"])
	}
}

// TestExitCode: usage 2, interrupted 130, help 0, anything else 1.
func TestExitCode(t *testing.T) {
	t.Parallel()
	live := context.Background()
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		ctx  context.Context
		err  error
		want int
	}{
		{live, nil, 0},
		{live, flag.ErrHelp, 0},
		{live, fmt.Errorf("%w: --size", errUsage), 2},
		{stopped, context.Canceled, 130},
		{stopped, fmt.Errorf("%w: --registry", errUsage), 2},
		{live, errors.New("push failed"), 1},
	} {
		if got := exitCode(c.ctx, c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// TestHelpAndInterrupt: --help prints the usage and is not an error of use; a cancelled run
// stops with the context's error.
func TestHelpAndInterrupt(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	err := run(t.Context(), []string{"--help"}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "Usage: essfixture --registry HOST:PORT") || !strings.Contains(stderr.String(), "-seed") {
		t.Errorf("--help: %v\n%s", err, stderr.String())
	}
	r := testregistry.StartT(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = run(ctx, []string{"--registry", r.Host, "--plain-http", "--size", "1MiB", "--output", filepath.Join(t.TempDir(), "o.yml")},
		strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
	if !errors.Is(err, context.Canceled) || exitCode(ctx, err) != 130 {
		t.Errorf("cancelled: %v", err)
	}
}

// TestWriteFile: the file appears whole, mode 0644, with no temporary file left; a missing
// directory is an error.
func TestWriteFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "images_digests.yml")
	os.WriteFile(path, []byte("old"), 0o600)
	if err := writeFile(path, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	if string(data) != "new\n" || fi.Mode().Perm() != 0o644 {
		t.Errorf("%q, mode %v", data, fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files left, want 1", len(entries))
	}
	if err := writeFile(filepath.Join(dir, "missing", "x.yml"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing directory: %v", err)
	}
}

// TestTransportTrusting: a CA file must hold a PEM certificate.
func TestTransportTrusting(t *testing.T) {
	t.Parallel()
	r := testregistry.StartT(t, testregistry.WithTLS())
	tr, err := transportTrusting(r.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Get("https://" + r.Host + "/v2/")
	if err != nil {
		t.Fatalf("the registry's CA is not trusted: %v", err)
	}
	resp.Body.Close()
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o644)
	if _, err := transportTrusting(notPEM); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("not PEM: %v", err)
	}
	if _, err := transportTrusting(filepath.Join(t.TempDir(), "none.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

// TestRunMainFailure: a failure that is no interruption exits 1. The signal context's release
// cancels it, and the exit code taken after it read every failure as "interrupted" (130).
func TestRunMainFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "denied", http.StatusForbidden)
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	code := runMain([]string{"--registry", strings.TrimPrefix(srv.URL, "http://"), "--plain-http", "--size", "64KiB",
		"--output", filepath.Join(t.TempDir(), "list.yml")}, strings.NewReader(""), &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (a refused push is no interruption)\n%s", code, errb.String())
	}
}
