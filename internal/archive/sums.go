package archive

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
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
// `bundle create --sign-key`) signed the file. A signature (signature.go) covers the file as a
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

// Marshal renders the checksum file.
func (s *Sums) Marshal() []byte {
	var b bytes.Buffer
	if !s.Split() {
		fmt.Fprintf(&b, "%s  %s\n", s.SHA256, s.Name)
	}
	for i, h := range s.Parts {
		fmt.Fprintf(&b, "%s  %s\n", h, partName(s.Name, i))
	}
	for i, h := range s.Parity {
		fmt.Fprintf(&b, "%s  %s\n", h, parityName(s.Name, i))
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

// maxSumsSize bounds a checksum file: a line per part (at most maxDataParts of them, or
// maxShards with parity) of about 100 bytes, and four comment lines. A larger file is refused
// before it is parsed.
const maxSumsSize = 128 << 10

// ReadSums reads and checks a checksum file written by Sums.Marshal, or the one line an
// older tool wrote. A file over maxSumsSize is refused unread.
func ReadSums(path string) (*Sums, error) {
	data, err := readSmall(path, maxSumsSize)
	if err != nil {
		return nil, err
	}
	s, err := parseSums(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// readSmall reads a file that must be at most limit bytes, without reading more than that.
func readSmall(path string, limit int64) ([]byte, error) {
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

// parseSums parses a checksum file. Nothing is allocated from a count the file declares: the
// part and parity counts are checked against the limits and against the lines actually there
// before the lists are made.
func parseSums(data []byte) (*Sums, error) {
	if len(data) > maxSumsSize {
		return nil, fmt.Errorf("%w: checksum file larger than %d bytes", ErrCorrupt, maxSumsSize)
	}
	s := &Sums{}
	files := map[string]string{} // name -> hex
	var order []string
	var data_, parity int
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		bad := func(why string) error { return fmt.Errorf("%w: checksum file, line %d: %s", ErrCorrupt, n, why) }
		var err error
		switch {
		case line == "":
		case strings.HasPrefix(line, "# bundle "):
			var name, sum string
			if _, err = fmt.Sscanf(line, "# bundle %s %d bytes, sha256 %s", &name, &s.Size, &sum); err != nil || !strings.HasSuffix(name, ":") {
				return nil, bad("not \"# bundle NAME: SIZE bytes, sha256 HEX\"")
			}
			s.Name, s.SHA256 = strings.TrimSuffix(name, ":"), sum
		case strings.HasPrefix(line, "# parts: "):
			if _, err = fmt.Sscanf(line, "# parts: %d bytes each, %d data, %d parity", &s.PartSize, &data_, &parity); err != nil || s.PartSize <= 0 {
				return nil, bad("not \"# parts: SIZE bytes each, N data, N parity\"")
			}
		case strings.HasPrefix(line, "# offset table: "):
			s.Table = strings.TrimPrefix(line, "# offset table: ")
			if !isHex(strings.TrimPrefix(s.Table, "sha256:")) || !strings.HasPrefix(s.Table, "sha256:") {
				return nil, bad("not an offset table digest")
			}
		case strings.HasPrefix(line, "# signed: "):
			if s.Signed, err = time.Parse(time.RFC3339, strings.TrimPrefix(line, "# signed: ")); err != nil {
				return nil, bad("not an RFC 3339 time")
			}
		case strings.HasPrefix(line, "#"): // another comment: sha256sum ignores it, and so do we
		default:
			sum, name, ok := strings.Cut(line, "  ")
			name = strings.TrimPrefix(name, "*") // binary mode
			if !ok || !isHex(sum) || !safeFileName(name) {
				return nil, bad("not \"HEX  NAME\"")
			}
			if _, dup := files[name]; dup {
				return nil, bad(name + " is listed twice")
			}
			files[name] = strings.ToLower(sum)
			order = append(order, name)
		}
	}
	if err := sc.Err(); err != nil { // a line over the scanner's 64 KiB: what follows it is not read
		return nil, fmt.Errorf("%w: checksum file, line %d: %v", ErrCorrupt, n+1, err)
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("%w: checksum file lists no file", ErrCorrupt)
	}
	if s.Name == "" { // one line, from an older tool
		s.Name, s.SHA256 = order[0], files[order[0]]
	}
	if !safeFileName(s.Name) || !isHex(s.SHA256) || s.Size < 0 || s.Size > maxEntrySize {
		return nil, fmt.Errorf("%w: checksum file: the bundle line does not name a file, a size and a sha256", ErrCorrupt)
	}
	s.SHA256 = strings.ToLower(s.SHA256)
	if s.PartSize == 0 {
		if files[s.Name] != s.SHA256 || len(order) != 1 {
			return nil, fmt.Errorf("%w: checksum file: lists %s, not %s alone", ErrCorrupt, strings.Join(order, ", "), s.Name)
		}
		return s, nil
	}
	switch {
	case data_ < 1 || data_ > maxDataParts || parity < 0 || (parity > 0 && data_+parity > maxShards):
		return nil, fmt.Errorf("%w: checksum file: %d data and %d parity parts: at most %d data parts, and at most %d data and parity parts together",
			ErrCorrupt, data_, parity, maxDataParts, maxShards)
	case data_+parity != len(order):
		return nil, fmt.Errorf("%w: checksum file: says %d data and %d parity parts, lists %d files", ErrCorrupt, data_, parity, len(order))
	case s.PartSize > maxEntrySize || s.Size < 0 || s.Size > maxEntrySize ||
		int64(data_-1)*s.PartSize >= s.Size || int64(data_)*s.PartSize < s.Size:
		return nil, fmt.Errorf("%w: checksum file: %d parts of %d bytes cannot hold %d bytes", ErrCorrupt, data_, s.PartSize, s.Size)
	}
	for i := range data_ {
		s.Parts = append(s.Parts, files[partName(s.Name, i)])
	}
	for i := range parity {
		s.Parity = append(s.Parity, files[parityName(s.Name, i)])
	}
	if contains(s.Parts, "") || contains(s.Parity, "") {
		return nil, fmt.Errorf("%w: checksum file: the lines do not name the %d data and %d parity parts of %s", ErrCorrupt, data_, parity, s.Name)
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

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && len(s) == 64
}

// partSize is the size of data part i of a split bundle.
func (s *Sums) partSize(i int) int64 { return min(s.PartSize, s.Size-int64(i)*s.PartSize) }

// sumsPath is the checksum file of the bundle at path (NAME.tar.zst).
func sumsPath(path string) string { return path + ".sha256" }

// partHasher hashes a split bundle's data parts as the bundle's bytes are written to it in
// order. Its state (done parts and the current one's hash) can be saved in a checkpoint.
type partHasher struct {
	partSize int64
	off      int64
	done     []string
	cur      hash.Hash
}

func newPartHasher(partSize int64) *partHasher {
	return &partHasher{partSize: partSize, cur: sha256.New()}
}

func (h *partHasher) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := int(min(int64(len(p)), h.partSize-h.off%h.partSize))
		h.cur.Write(p[:k])
		h.off += int64(k)
		p = p[k:]
		if h.off%h.partSize == 0 {
			h.done = append(h.done, hex.EncodeToString(h.cur.Sum(nil)))
			h.cur.Reset()
		}
	}
	return n, nil
}

// sums returns every part's sha256, the last one included, once all bytes were written.
func (h *partHasher) sums() []string {
	if h.off%h.partSize == 0 {
		return h.done
	}
	return append(h.done, hex.EncodeToString(h.cur.Sum(nil)))
}

type partHasherState struct {
	Off  int64    `json:"off"`
	Done []string `json:"done"`
	Cur  []byte   `json:"cur"`
}

func (h *partHasher) state() (*partHasherState, error) {
	cur, err := h.cur.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &partHasherState{Off: h.off, Done: append([]string(nil), h.done...), Cur: cur}, nil
}

func (h *partHasher) restore(s *partHasherState) error {
	if s == nil || int64(len(s.Done)) != s.Off/h.partSize {
		return fmt.Errorf("checkpoint: no part hash state")
	}
	h.off, h.done = s.Off, s.Done
	return h.cur.(encoding.BinaryUnmarshaler).UnmarshalBinary(s.Cur)
}

// sigPath is the signature of the checksum file of the bundle at path.
func sigPath(path string) string { return sumsPath(path) + ".sig" }
