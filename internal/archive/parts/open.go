package parts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// OpenStore opens the bundle's bytes for reading: its one file, or its data parts in order, a
// missing part left out (reads reaching it fail, naming it). The size of parts comes from the
// checksum file, else from the files: every part but the last as large as the first. A part
// found in several files must have been settled first (Check does it). The caller closes the
// Store.
func (s *Set) OpenStore() (*Store, error) {
	for i, l := range s.Data {
		if len(l) > 1 {
			return nil, fmt.Errorf("%w: %s was found twice, as %s: keep the right one (unbundle verify says which)",
				ErrCorrupt, DataName(s.Name, i), strings.Join(l, " and "))
		}
	}
	if !s.Split() {
		return openWhole(s.Whole)
	}
	paths := FirstPaths(s.Data)
	st := &Store{split: true}
	for i, p := range paths {
		st.names = append(st.names, p)
		if p == "" {
			st.names[i] = filepath.Join(s.Dir(), DataName(s.Name, i))
		}
	}
	if s.Sums != nil {
		st.partSize, st.size = s.Sums.PartSize, s.Sums.Size
	} else if err := st.sizeFromFiles(paths); err != nil {
		return nil, err
	}
	for _, p := range paths {
		var f *os.File
		if p != "" {
			var err error
			if f, err = os.Open(p); err != nil {
				st.Close()
				return nil, err
			}
		}
		st.f = append(st.f, f)
	}
	return st, nil
}

// openWhole opens a bundle in one file.
func openWhole(path string) (*Store, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Store{f: []*os.File{f}, names: []string{path}, partSize: max(1, st.Size()), size: st.Size()}, nil
}

// sizeFromFiles sets the part size and the size of a bundle in parts without a checksum file,
// from the files found (paths, "" where missing): every part but the last is as large as the
// first. The last part must be there.
func (st *Store) sizeFromFiles(paths []string) error {
	last := len(paths) - 1
	if paths[last] == "" {
		return fmt.Errorf("%w: %s: the last part is missing, and there is no checksum file to say how large the bundle is", ErrCorrupt, filepath.Base(st.names[last]))
	}
	sizes := make([]int64, len(paths))
	for i, p := range paths {
		if p != "" {
			if fi, err := os.Stat(p); err == nil {
				sizes[i] = fi.Size()
			}
		}
	}
	st.partSize = sizes[0]
	if len(paths) == 1 || st.partSize == 0 {
		st.partSize = max(st.partSize, sizes[last], 1)
	}
	st.size = int64(last)*st.partSize + sizes[last]
	return nil
}
