package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/urfave/cli/v2"
)

// extractCommand is `unbundle extract NAME.tar.zst FILE... --dir DIR`.
func extractCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "extract",
		Usage:     "write out plain files the bundle carries (bundle create --file, --with-unbundle), verified",
		ArgsUsage: "NAME.tar.zst FILE...",
		Description: `Each FILE is a name unbundle list shows under "file". It is read from the bundle, verified
   against the digest and size its manifest records as it streams, and written to DIR/FILE
   through a temporary file renamed into place only once it matched: a file that fails leaves
   nothing behind. A file that exists is not replaced without --force. A binary
   (--with-unbundle) is written executable. With --public-key the signature is checked first.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: ".", Usage: "the directory to write the files in (it must exist)"},
			&cli.BoolFlag{Name: "force", Usage: "replace files that exist"},
			publicKeyFlag,
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 {
				return usagef("extract: want the bundle and at least one file name (see unbundle list)")
			}
			names := c.Args().Slice()[1:]
			for _, n := range names {
				if err := archive.CheckFileName(n); err != nil {
					return usagef("extract: %v", err)
				}
			}
			dir := c.String("dir")
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return usagef("extract: --dir %s: not a directory", dir)
			}
			b, err := openBundleOf(c, e, true, c.Args().First())
			if err != nil {
				return err
			}
			defer b.Close()
			files := map[string]archive.PlainFile{}
			var carried []string
			for _, f := range b.Manifest().Files {
				files[f.Name] = f
				carried = append(carried, f.Name)
			}
			for _, n := range names {
				if _, ok := files[n]; !ok {
					have := "none"
					if len(carried) > 0 {
						have = strings.Join(carried, ", ")
					}
					return usagef("extract: %s carries no file %s (it carries: %s)", c.Args().First(), n, have)
				}
				if _, err := os.Lstat(filepath.Join(dir, n)); err == nil && !c.Bool("force") {
					return usagef("extract: %s exists: give --force to replace it", filepath.Join(dir, n))
				}
			}
			for _, n := range names {
				f := files[n]
				if err := extractFile(b, f, filepath.Join(dir, n), c.Bool("force")); err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "wrote %s (%d bytes, %s, verified)\n", filepath.Join(dir, n), f.Size, f.Digest)
			}
			return nil
		},
	}
}

// extractFile writes the bundle's file f to path: a temporary file beside it, synced, then
// renamed (with force) or linked (without: an existing file is never replaced) into place,
// once the content verified.
func extractFile(b *archive.Bundle, f archive.PlainFile, path string, force bool) error {
	r, err := b.OpenEntry(f.Name)
	if err != nil {
		return err
	}
	defer r.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	mode := os.FileMode(0o644)
	if f.Executable {
		mode = 0o755
	}
	err = tmp.Chmod(mode)
	if err == nil {
		_, err = io.Copy(tmp, r) // fails at the end unless the digest and size matched
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("extract %s: %w", f.Name, err)
	}
	if force {
		return os.Rename(tmp.Name(), path)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return usagef("extract: %s exists: give --force to replace it", path)
		}
		return err
	}
	return nil
}
