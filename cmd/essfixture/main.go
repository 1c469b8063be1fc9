// Command essfixture pushes a synthetic ESS-like image set to a registry and writes the
// images_digests.yml that names it, for end-to-end tests and demos without the internet.
//
//	essfixture --registry HOST:PORT [--tree ess-2310|ess-2408|FILE] [--size 60MiB] [--seed N]
//	           [--username U --password-stdin] [--ca-file F | --plain-http]
//	           [--output images_digests.yml]
//
// Two trees pushed with the same --seed and --size share what two releases share (unchanged
// images, base and runtime layers; see fixture.Generate), so that a delta can be shown.
//
// Exit codes: 0 success, 1 failure, 2 usage error, 130 interrupted.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
)

// errUsage marks bad command-line arguments (exit code 2).
var errUsage = errors.New("usage error")

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// runMain runs the command, Ctrl-C stopping it, and returns its exit code, taken while the
// signal's context is still live: releasing it cancels it, and every failure would then read
// as an interruption.
func runMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return exitCode(ctx, run(ctx, args, stdin, stdout, stderr))
}

func exitCode(ctx context.Context, err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "essfixture:", err)
		return 2
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "essfixture: interrupted")
		return 130
	default:
		fmt.Fprintln(os.Stderr, "essfixture:", err)
		return 1
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	opts, output, err := parseArgs(args, stdin, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	images, err := fixture.Generate(ctx, opts)
	if err != nil {
		return err
	}
	data, err := digests.Marshal(images)
	if err != nil {
		return err
	}
	if output == "-" {
		_, err = stdout.Write(data)
		return err
	}
	if err := writeFile(output, data); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "pushed %d entries to %s in %.1fs; wrote %s\n", len(images), opts.Registry, time.Since(start).Seconds(), output)
	return nil
}

// parseArgs reads the flags into the fixture's options and the output file's name.
func parseArgs(args []string, stdin io.Reader, stderr io.Writer) (fixture.Options, string, error) {
	var opts fixture.Options
	fs := flag.NewFlagSet("essfixture", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		registry      = fs.String("registry", "", "`host:port` of the registry to push to (required)")
		tree          = fs.String("tree", "ess-2310", "component `tree` to imitate: ess-2310, ess-2408, or an images_digests.yml file")
		size          = fs.String("size", "60MiB", "total unique compressed layer bytes: bytes, or a number with KiB, MiB or GiB")
		seed          = fs.Int64("seed", 1, "seed of every random choice: the same seed and size give the same digests")
		username      = fs.String("username", "", "registry username")
		passwordStdin = fs.Bool("password-stdin", false, "read the registry password from stdin")
		caFile        = fs.String("ca-file", "", "PEM `file` of a CA to trust besides the system's")
		plainHTTP     = fs.Bool("plain-http", false, "talk plain HTTP to the registry")
		output        = fs.String("output", "images_digests.yml", "`file` to write the image list to (\"-\" for stdout)")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: essfixture --registry HOST:PORT [flags]\n\nPushes a synthetic ESS-like image set and writes its images_digests.yml.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return opts, "", err
		}
		return opts, "", fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case fs.NArg() > 0:
		return opts, "", fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	case *registry == "":
		return opts, "", fmt.Errorf("%w: --registry is required", errUsage)
	case *caFile != "" && *plainHTTP:
		return opts, "", fmt.Errorf("%w: --ca-file and --plain-http exclude each other", errUsage)
	case *passwordStdin && *username == "":
		return opts, "", fmt.Errorf("%w: --password-stdin needs --username", errUsage)
	}
	bytes, err := parseSize(*size)
	if err != nil {
		return opts, "", fmt.Errorf("%w: --size: %v", errUsage, err)
	}

	images, err := treeImages(*tree)
	if err != nil {
		return opts, "", err
	}
	opts = fixture.Options{Registry: *registry, Size: bytes, Seed: *seed, Insecure: *plainHTTP, Tree: images}
	if *username != "" {
		var password string
		if *passwordStdin {
			b, err := io.ReadAll(stdin)
			if err != nil {
				return opts, "", fmt.Errorf("read password: %w", err)
			}
			password = strings.TrimRight(string(b), "\r\n")
		}
		opts.Username, opts.Password = *username, password
	}
	if *caFile != "" {
		t, err := transportTrusting(*caFile)
		if err != nil {
			return opts, "", err
		}
		opts.Transport = t
	}
	return opts, *output, nil
}

// treeImages is the component tree --tree names: a release's, or an images_digests.yml file's.
func treeImages(tree string) ([]digests.Image, error) {
	images, err := fixture.ReleaseTree(tree)
	if errors.Is(err, fixture.ErrUnknownRelease) {
		l, err := digests.ParseFile(tree)
		if err != nil {
			return nil, fmt.Errorf("%w: --tree: %v", errUsage, err)
		}
		return l.Images, nil
	}
	return images, err
}

// parseSize reads "123", "256KiB", "60MiB" or "2GiB" (suffix case-insensitive) as bytes > 0.
func parseSize(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}} {
		if strings.HasSuffix(strings.ToLower(s), u.suffix) {
			num, mult = s[:len(s)-len(u.suffix)], u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("want a positive number of bytes, KiB, MiB or GiB, got %q", s)
	}
	return n * mult, nil
}

// transportTrusting is Go's default transport trusting the system CAs and the CAs in file.
func transportTrusting(file string) (http.RoundTripper, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", file)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t, nil
}

// writeFile writes data to path through a temporary file in the same directory, synced and
// renamed into place.
func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
