package parts

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Sums is the checksum file NAME.tar.zst.sha256, in sha256sum format: one line per file (the
// bundle, or each data and parity part), then comment lines, which sha256sum ignores, that say
// what the files make up:
//
//	<hex>  NAME.tar.zst.001
//	<hex>  NAME.tar.zst.p01
//	# bundle NAME.tar.zst: <size> bytes, sha256 <hex>
//	# parts: <part size> bytes each, <data> data, <parity> parity
//	# offset table: sha256:<hex>
//	# signed: <RFC 3339 time>
//
// The parts line is there only for a split bundle, the signed line only once `bundle sign` (or
// `bundle create --sign-key`) signed the file. A signature (package trust) covers the file as a
// whole, so everything it lists is authenticated: the parts, the joined bundle and, through the
// offset table's digest, every entry a reader reads through the table.
type Sums struct {
	Name     string    // the bundle's file name, NAME.tar.zst
	SHA256   string    // of the bundle (the joined parts), hex
	Size     int64     // of the bundle; 0 when the file does not say (an older tool wrote it)
	Table    string    // "sha256:<hex>" of the offset table; "" when the file does not say
	PartSize int64     // 0: one file
	Parts    []string  // hex sha256 of every data part, in order
	Parity   []string  // hex sha256 of every parity part, in order
	Signed   time.Time // when it was signed; zero when not said
}

// Split reports whether the bundle is in parts.
func (s *Sums) Split() bool { return s.PartSize > 0 }

// partSize is the size of data part i of a split bundle.
func (s *Sums) partSize(i int) int64 { return min(s.PartSize, s.Size-int64(i)*s.PartSize) }

// Marshal renders the checksum file.
func (s *Sums) Marshal() []byte {
	var b bytes.Buffer
	if !s.Split() {
		fmt.Fprintf(&b, "%s  %s\n", s.SHA256, s.Name)
	}
	for i, h := range s.Parts {
		fmt.Fprintf(&b, "%s  %s\n", h, DataName(s.Name, i))
	}
	for i, h := range s.Parity {
		fmt.Fprintf(&b, "%s  %s\n", h, ParityName(s.Name, i))
	}
	fmt.Fprintf(&b, "# bundle %s: %d bytes, sha256 %s\n", s.Name, s.Size, s.SHA256)
	if s.Split() {
		fmt.Fprintf(&b, "# parts: %d bytes each, %d data, %d parity\n", s.PartSize, len(s.Parts), len(s.Parity))
	}
	if s.Table != "" {
		fmt.Fprintf(&b, "# offset table: %s\n", s.Table)
	}
	if !s.Signed.IsZero() {
		fmt.Fprintf(&b, "# signed: %s\n", s.Signed.UTC().Format(time.RFC3339))
	}
	return b.Bytes()
}

// MaxSumsSize bounds a checksum file: a line per part (at most MaxData of them, or MaxShards with
// parity) of about 100 bytes, and four comment lines. A larger file is refused before it is
// parsed.
const MaxSumsSize = 128 << 10

// ReadSums reads and checks a checksum file written by Sums.Marshal, or the one line an
// older tool wrote. A file over MaxSumsSize is refused unread.
func ReadSums(path string) (*Sums, error) {
	data, err := ReadSmall(path, MaxSumsSize)
	if err != nil {
		return nil, err
	}
	s, err := ParseSums(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ReadSmall reads a file that must be at most limit bytes (a checksum file, a signature),
// without reading more than that; a larger one is refused, wrapping ErrCorrupt.
func ReadSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes, far more than any checksum file or signature holds", path, ErrCorrupt, limit)
	}
	return data, nil
}

// ParseSums parses a checksum file. Nothing is allocated from a count the file declares: the
// part and parity counts are checked against the limits and against the lines actually there
// before the lists are made. Errors wrap ErrCorrupt and name the line.
func ParseSums(data []byte) (*Sums, error) {
	if len(data) > MaxSumsSize {
		return nil, fmt.Errorf("%w: checksum file larger than %d bytes", ErrCorrupt, MaxSumsSize)
	}
	l := &sumsLines{s: &Sums{}, files: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		if err := l.parse(sc.Text()); err != nil {
			return nil, fmt.Errorf("%w: checksum file, line %d: %v", ErrCorrupt, n, err)
		}
	}
	if err := sc.Err(); err != nil { // a line over the scanner's 64 KiB: what follows it is not read
		return nil, fmt.Errorf("%w: checksum file, line %d: %v", ErrCorrupt, n+1, err)
	}
	return l.sums()
}

// sumsLines is what the lines of a checksum file say, before they are checked together.
type sumsLines struct {
	s            *Sums
	files        map[string]string // file name -> hex sha256
	order        []string          // the file names, in the order listed
	data, parity int               // the counts of the parts line
}

// parse takes in one line: a comment that says something, another comment, or "HEX  NAME".
func (l *sumsLines) parse(line string) error {
	s := l.s
	var err error
	switch {
	case line == "":
	case strings.HasPrefix(line, "# bundle "):
		var name, sum string
		if _, err = fmt.Sscanf(line, "# bundle %s %d bytes, sha256 %s", &name, &s.Size, &sum); err != nil || !strings.HasSuffix(name, ":") {
			return errors.New("not \"# bundle NAME: SIZE bytes, sha256 HEX\"")
		}
		s.Name, s.SHA256 = strings.TrimSuffix(name, ":"), sum
	case strings.HasPrefix(line, "# parts: "):
		if _, err = fmt.Sscanf(line, "# parts: %d bytes each, %d data, %d parity", &s.PartSize, &l.data, &l.parity); err != nil || s.PartSize <= 0 {
			return errors.New("not \"# parts: SIZE bytes each, N data, N parity\"")
		}
	case strings.HasPrefix(line, "# offset table: "):
		s.Table = strings.TrimPrefix(line, "# offset table: ")
		if !isHex(strings.TrimPrefix(s.Table, "sha256:")) || !strings.HasPrefix(s.Table, "sha256:") {
			return errors.New("not an offset table digest")
		}
	case strings.HasPrefix(line, "# signed: "):
		if s.Signed, err = time.Parse(time.RFC3339, strings.TrimPrefix(line, "# signed: ")); err != nil {
			return errors.New("not an RFC 3339 time")
		}
	case strings.HasPrefix(line, "#"): // another comment: sha256sum ignores it, and so do we
	default:
		return l.file(line)
	}
	return nil
}

// file takes in a line "HEX  NAME" (or "HEX *NAME", binary mode).
func (l *sumsLines) file(line string) error {
	sum, name, ok := strings.Cut(line, "  ")
	name = strings.TrimPrefix(name, "*")
	if !ok || !isHex(sum) || !safeFileName(name) {
		return errors.New("not \"HEX  NAME\"")
	}
	if _, dup := l.files[name]; dup {
		return errors.New(name + " is listed twice")
	}
	l.files[name] = strings.ToLower(sum)
	l.order = append(l.order, name)
	return nil
}

// sums checks the lines together: the bundle line names a file, a size and a sha256, and the
// files listed are exactly the bundle's one file, or its data and parity parts as the parts line
// counts them, which must hold the size.
func (l *sumsLines) sums() (*Sums, error) {
	s := l.s
	if len(l.order) == 0 {
		return nil, fmt.Errorf("%w: checksum file lists no file", ErrCorrupt)
	}
	if s.Name == "" { // one line, from an older tool
		s.Name, s.SHA256 = l.order[0], l.files[l.order[0]]
	}
	if !safeFileName(s.Name) || !isHex(s.SHA256) || s.Size < 0 || s.Size > maxSize {
		return nil, fmt.Errorf("%w: checksum file: the bundle line does not name a file, a size and a sha256", ErrCorrupt)
	}
	s.SHA256 = strings.ToLower(s.SHA256)
	if s.PartSize == 0 {
		if l.files[s.Name] != s.SHA256 || len(l.order) != 1 {
			return nil, fmt.Errorf("%w: checksum file: lists %s, not %s alone", ErrCorrupt, strings.Join(l.order, ", "), s.Name)
		}
		return s, nil
	}
	data, parity := l.data, l.parity
	switch {
	case data < 1 || data > MaxData || parity < 0 || (parity > 0 && data+parity > MaxShards):
		return nil, fmt.Errorf("%w: checksum file: %d data and %d parity parts: at most %d data parts, and at most %d data and parity parts together",
			ErrCorrupt, data, parity, MaxData, MaxShards)
	case data+parity != len(l.order):
		return nil, fmt.Errorf("%w: checksum file: says %d data and %d parity parts, lists %d files", ErrCorrupt, data, parity, len(l.order))
	case s.PartSize > maxSize || int64(data-1)*s.PartSize >= s.Size || int64(data)*s.PartSize < s.Size:
		return nil, fmt.Errorf("%w: checksum file: %d parts of %d bytes cannot hold %d bytes", ErrCorrupt, data, s.PartSize, s.Size)
	}
	for i := range data {
		s.Parts = append(s.Parts, l.files[DataName(s.Name, i)])
	}
	for i := range parity {
		s.Parity = append(s.Parity, l.files[ParityName(s.Name, i)])
	}
	if slices.Contains(s.Parts, "") || slices.Contains(s.Parity, "") {
		return nil, fmt.Errorf("%w: checksum file: the lines do not name the %d data and %d parity parts of %s", ErrCorrupt, data, parity, s.Name)
	}
	return s, nil
}

// safeFileName reports whether name is a plain file name: no directory, no space or control
// character, not . or ..
func safeFileName(name string) bool {
	if name == "" || name == "." || name == ".." || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f || r == '/' || r == '\\' {
			return false
		}
	}
	return true
}

// isHex reports whether s is a sha256 in hex.
func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && len(s) == 64
}
