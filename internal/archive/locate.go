package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Set is the files of one bundle as they were found: the bundle file, or its data and parity
// parts (in one directory or several: one per medium), and its checksum file.
type Set struct {
	Name     string     // the bundle's file name, NAME.tar.zst
	Whole    string     // path of the bundle file; "" when it is in parts
	Data     [][]string // per data part, the paths found for it (none: missing; several: copies)
	Parity   [][]string // per parity part, likewise
	SumsPath string     // NAME.tar.zst.sha256 beside the files; "" when there is none
	Sums     *Sums      // nil when there is no checksum file
	// Signature is who signed the checksum file, checked against an allowed key by Find.
	Signature *Signature
	// Unchecked is the key of a signature lying beside the bundle when Find was given no
	// allowed key: the signature verifies the checksum file, but nobody said the key is trusted.
	Unchecked *Signature
	dirs      []string
	found     bool // made by Find
}

// Split reports whether the bundle is in parts.
func (s *Set) Split() bool { return s.Whole == "" }

// Dir is the directory of the checksum file, else of the first file found.
func (s *Set) Dir() string {
	if s.SumsPath != "" {
		return filepath.Dir(s.SumsPath)
	}
	return s.dirs[0]
}

// locate finds the files of one bundle from what a user names: the bundle file, any of its parts
// (the others are found beside it), NAME.tar.zst of a bundle in parts, a directory holding one
// bundle, or a glob (expanded here when the shell did not); several of these for parts spread
// over several directories. Naming the bundle file itself means that file, even when its parts
// are beside it (to check the parts joined); anything else means the parts.
func locate(args ...string) (*Set, error) {
	type found struct{ path, base string }
	var given []found
	whole := ""
	add := func(path string, inDir bool) {
		base, idx := classify(path)
		if inDir && !strings.HasSuffix(base, ".tar.zst") {
			return
		}
		if idx == "" && !inDir && base == path {
			whole = path
		}
		given = append(given, found{path, base})
	}
	for _, a := range args {
		st, err := os.Stat(a)
		switch {
		case err == nil && st.IsDir():
			ents, err := os.ReadDir(a)
			if err != nil {
				return nil, err
			}
			n := len(given)
			for _, e := range ents {
				if e.Type().IsRegular() {
					add(filepath.Join(a, e.Name()), true)
				}
			}
			if len(given) == n {
				return nil, fmt.Errorf("%s: %w: no bundle (NAME.tar.zst or NAME.tar.zst.001) in this directory", a, fs.ErrNotExist)
			}
		case err == nil:
			add(a, false)
		case strings.ContainsAny(a, "*?["):
			matches, _ := filepath.Glob(a)
			if len(matches) == 0 {
				return nil, fmt.Errorf("%s: %w: no file matches", a, fs.ErrNotExist)
			}
			for _, m := range matches {
				add(m, false)
			}
		case len(storeFiles(a)) > 0: // NAME.tar.zst of a bundle in parts
			given = append(given, found{a, a})
		default:
			return nil, fmt.Errorf("%s: %w (nor %s beside it)", a, fs.ErrNotExist, filepath.Base(partName(a, 0)))
		}
	}
	s := &Set{}
	for _, g := range given {
		name := filepath.Base(g.base)
		if s.Name != "" && name != s.Name {
			return nil, fmt.Errorf("%s and %s are two bundles: name one", s.Name, name)
		}
		s.Name = name
		if d := filepath.Dir(g.path); !contains(s.dirs, d) {
			s.dirs = append(s.dirs, d)
		}
	}
	if s.Name == "" {
		return nil, fmt.Errorf("%w: no bundle given", fs.ErrNotExist)
	}
	for _, d := range s.dirs {
		if p := sumsPath(filepath.Join(d, s.Name)); s.SumsPath == "" && fileExists(p) {
			s.SumsPath = p
		}
	}
	if s.SumsPath != "" {
		sums, err := ReadSums(s.SumsPath)
		if err != nil {
			return nil, err
		}
		if sums.Name != s.Name {
			return nil, fmt.Errorf("%w: %s is the checksum file of %s", ErrCorrupt, s.SumsPath, sums.Name)
		}
		s.Sums = sums
	}
	if whole != "" {
		s.Whole = whole
		return s, nil
	}
	for _, d := range s.dirs {
		for _, p := range storeFiles(filepath.Join(d, s.Name)) {
			_, idx := classify(p)
			if idx == "" {
				continue // the joined file beside its parts: named only when named
			}
			i, parity, _ := partIndex(idx)
			list := &s.Data
			if parity {
				list = &s.Parity
			}
			for len(*list) <= i {
				*list = append(*list, nil)
			}
			if !sameFileIn((*list)[i], p) {
				(*list)[i] = append((*list)[i], p)
			}
		}
	}
	if len(s.Data) == 0 && len(s.Parity) == 0 {
		// Only the joined file was found (a directory, or NAME.tar.zst given as such).
		for _, d := range s.dirs {
			if p := filepath.Join(d, s.Name); fileExists(p) {
				s.Whole = p
				return s, nil
			}
		}
	}
	if s.Sums != nil {
		if !s.Sums.Split() {
			return nil, fmt.Errorf("%w: found parts of %s, but %s describes one file", ErrCorrupt, s.Name, s.SumsPath)
		}
		if len(s.Data) > len(s.Sums.Parts) || len(s.Parity) > len(s.Sums.Parity) {
			return nil, fmt.Errorf("%w: found more parts of %s than %s lists (%d data, %d parity): remove the parts of an older bundle",
				ErrCorrupt, s.Name, s.SumsPath, len(s.Sums.Parts), len(s.Sums.Parity))
		}
		s.Data = append(s.Data, make([][]string, len(s.Sums.Parts)-len(s.Data))...)
		s.Parity = append(s.Parity, make([][]string, len(s.Sums.Parity)-len(s.Parity))...)
	}
	return s, nil
}

// classify splits a path into its bundle's path and a part suffix ("001", "p01"; "" for the
// bundle file itself). A checksum or signature file names its bundle.
func classify(path string) (base, idx string) {
	path = strings.TrimSuffix(strings.TrimSuffix(path, ".sig"), ".sha256")
	if dot := strings.LastIndexByte(path, '.'); dot > 0 {
		if _, _, ok := partIndex(path[dot+1:]); ok {
			return path[:dot], path[dot+1:]
		}
	}
	return path, ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// sameFileIn reports whether p is one of paths (the same file reached twice).
func sameFileIn(paths []string, p string) bool {
	st, err := os.Stat(p)
	for _, q := range paths {
		if q == p {
			return true
		}
		if qs, qerr := os.Stat(q); err == nil && qerr == nil && os.SameFile(st, qs) {
			return true
		}
	}
	return false
}

// firstPaths returns one path per part: the first found, or "" when missing.
func firstPaths(lists [][]string) []string {
	out := make([]string, len(lists))
	for i, l := range lists {
		if len(l) > 0 {
			out[i] = l[0]
		}
	}
	return out
}

// openFiles opens the bundle's bytes for reading: its one file, or its data parts in order, a
// missing part left out (reads reaching it fail, naming it). The size of parts comes from the
// checksum file, else from the files: every part but the last as large as the first.
func (s *Set) openFiles() (*files, error) {
	if !s.Split() {
		f, err := os.Open(s.Whole)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		return &files{f: []*os.File{f}, names: []string{s.Whole}, partSize: max(1, st.Size()), size: st.Size()}, nil
	}
	paths := firstPaths(s.Data)
	st := &files{}
	for i, p := range paths {
		st.names = append(st.names, p)
		if p == "" {
			st.names[i] = filepath.Join(s.Dir(), partName(s.Name, i))
		}
	}
	if s.Sums != nil {
		st.partSize, st.size = s.Sums.PartSize, s.Sums.Size
	} else {
		last := len(paths) - 1
		if paths[last] == "" {
			return nil, fmt.Errorf("%w: %s: the last part is missing, and there is no checksum file to say how large the bundle is", ErrCorrupt, filepath.Base(st.names[last]))
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

// OpenSet opens the bundle of a Set that Find gave, as Open does; a signed one's footer is
// compared with the signed checksum file before anything else is read. Parts found twice must
// have been resolved (CheckParts does it) or be the same bytes. Set.Open checks the parts first.
func OpenSet(s *Set) (*Bundle, error) {
	if !s.found {
		return nil, errors.New("archive: a Set must come from Find")
	}
	for i, l := range s.Data {
		if len(l) > 1 {
			return nil, fmt.Errorf("%w: %s was found twice, as %s: keep the right one (unbundle verify says which)",
				ErrCorrupt, partName(s.Name, i), strings.Join(l, " and "))
		}
	}
	st, err := s.openFiles()
	if err != nil {
		return nil, err
	}
	b, err := newReader(st, st.size, s.checkSigned)
	if err != nil {
		st.Close()
		where := s.Whole
		if s.Split() {
			where = s.Name + " (in parts)"
		}
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	b.closer, b.set = st, s
	return b, nil
}
