package create

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// File is a plain file to carry in the bundle (bundle create --file, --with-unbundle).
type File struct {
	Path string // where it is read from
	Name string // its name in the bundle (archive.CheckFileName)
	// Executable makes its tar entry mode 0755 (a binary), so that tar -x gives a program.
	Executable bool
}

// describeFiles reads every file once for its size and sha256, for the manifest and the layout.
func describeFiles(ctx context.Context, files []File) ([]archive.PlainFile, error) {
	var out []archive.PlainFile
	names := map[string]bool{}
	for _, f := range files {
		if err := archive.CheckFileName(f.Name); err != nil {
			return nil, fmt.Errorf("file %s: %w", f.Path, err)
		}
		if names[f.Name] {
			return nil, fmt.Errorf("file %s: another file is named %s in the bundle already", f.Path, f.Name)
		}
		names[f.Name] = true
		digest, size, err := hashFile(ctx, f.Path)
		if err != nil {
			return nil, err
		}
		out = append(out, archive.PlainFile{Name: f.Name, Digest: digest, Size: size, Executable: f.Executable})
	}
	return out, nil
}

func hashFile(ctx context.Context, path string) (string, int64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer fh.Close()
	if st, err := fh.Stat(); err != nil {
		return "", 0, err
	} else if !st.Mode().IsRegular() {
		return "", 0, fmt.Errorf("file %s: not a regular file", path)
	}
	h := sha256.New()
	n, err := io.Copy(h, ctxReader{ctx, fh})
	if err != nil {
		return "", 0, fmt.Errorf("file %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), n, nil
}

// writeFiles writes every file's entry (after the layers), verified against what
// describeFiles read: a file that changed in between fails the bundle. An entry a stopped run
// wrote, and that still verifies, is kept.
func writeFiles(ctx context.Context, w *archive.Writer, files []File, plain []archive.PlainFile, p mirror.Progress) error {
	for i, f := range files {
		pf := plain[i]
		if w.Resume(ctx, pf.Name) {
			p.Add(pf.Size)
			continue
		}
		fh, err := os.Open(f.Path)
		if err != nil {
			return err
		}
		err = w.WriteEntry(ctx, pf.Name, mirror.NewCountReader(verify.NewReader(ctxReader{ctx, fh}, pf.Digest, pf.Size), p))
		fh.Close()
		if err != nil {
			return fmt.Errorf("file %s (%s): %w", f.Path, pf.Name, err)
		}
	}
	return nil
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
