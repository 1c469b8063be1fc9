package verify

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReader(t *testing.T) {
	content := []byte("hello, air gap")
	good := Digest(content)
	tests := []struct {
		name    string
		data    []byte
		digest  string
		size    int64
		wantErr bool
	}{
		{"exact", content, good, int64(len(content)), false},
		{"short", content[:5], good, int64(len(content)), true},
		{"long", append(append([]byte{}, content...), 'x'), good, int64(len(content)), true},
		{"flipped", bytes.Replace(content, []byte("air"), []byte("aiR"), 1), good, int64(len(content)), true},
		{"empty", nil, Digest(nil), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewReader(iotestOneByte(tt.data), tt.digest, tt.size)
			got, err := io.ReadAll(v)
			if tt.wantErr {
				if !errors.Is(err, ErrMismatch) {
					t.Fatalf("err = %v, want ErrMismatch", err)
				}
				if v.Verified() {
					t.Fatal("Verified() = true after a mismatch")
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.data) || !v.Verified() {
				t.Fatalf("got %q, %v, verified=%v", got, err, v.Verified())
			}
		})
	}
}

// iotestOneByte reads one byte at a time, to exercise every boundary.
func iotestOneByte(b []byte) io.Reader { return &oneByte{b} }

type oneByte struct{ b []byte }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = o.b[0]
	o.b = o.b[1:]
	return 1, nil
}

func TestCheck(t *testing.T) {
	for _, d := range []string{"sha256:" + strings.Repeat("a", 63), "sha256:" + strings.Repeat("A", 64), "md5:abc", "sha256:" + strings.Repeat("g", 64)} {
		if Check(d) == nil {
			t.Errorf("Check(%q) = nil, want error", d)
		}
	}
	if err := Check(Digest(nil)); err != nil {
		t.Fatal(err)
	}
}

// TestReaderFrom: a reader taken up at byte off with the state a first reader had there
// verifies the whole content; a state of other bytes, or a wrong offset, fails at the end.
func TestReaderFrom(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	d := Digest(content)
	first := NewReader(bytes.NewReader(content), d, int64(len(content)))
	head := make([]byte, 20000)
	if _, err := io.ReadFull(first, head); err != nil {
		t.Fatal(err)
	}
	off, state := first.State()
	if off != 20000 {
		t.Fatalf("State() = %d bytes, want 20000", off)
	}
	rest, err := io.ReadAll(NewReaderFrom(bytes.NewReader(content[off:]), d, int64(len(content)), off, state))
	if err != nil || !bytes.Equal(rest, content[off:]) {
		t.Fatalf("resumed: %d bytes, %v", len(rest), err)
	}
	other := NewReader(bytes.NewReader(bytes.ToUpper(content)), d, int64(len(content)))
	io.ReadFull(other, head)
	_, badState := other.State()
	for name, r := range map[string]*Reader{
		"another state":   NewReaderFrom(bytes.NewReader(content[off:]), d, int64(len(content)), off, badState),
		"another offset":  NewReaderFrom(bytes.NewReader(content[off+1:]), d, int64(len(content)), off+1, state),
		"garbage state":   NewReaderFrom(bytes.NewReader(content[off:]), d, int64(len(content)), off, []byte("nope")),
		"offset past end": NewReaderFrom(bytes.NewReader(nil), d, int64(len(content)), int64(len(content))+1, state),
	} {
		if _, err := io.ReadAll(r); err == nil || r.Verified() {
			t.Errorf("%s: verified", name)
		}
	}
}

// eofWith returns its data with io.EOF in the same call, as some readers do.
type eofWith struct{ b []byte }

func (e *eofWith) Read(p []byte) (int, error) {
	n := copy(p, e.b)
	e.b = e.b[n:]
	if len(e.b) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// counting counts the bytes read from an endless source.
type counting struct{ n int64 }

func (c *counting) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	c.n += int64(len(p))
	return len(p), nil
}

// TestReaderEdges: data and EOF in one call; an endless source read no further than one byte
// past the size; the source's own error passed on, and every error sticky.
func TestReaderEdges(t *testing.T) {
	content := []byte("content")
	if got, err := io.ReadAll(NewReader(&eofWith{content}, Digest(content), 7)); err != nil || string(got) != "content" {
		t.Errorf("data with EOF: %q, %v", got, err)
	}
	if _, err := io.ReadAll(NewReader(&eofWith{content[:3]}, Digest(content), 7)); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "3 bytes, want 7") {
		t.Errorf("short with EOF: %v", err)
	}

	src := &counting{}
	v := NewReader(src, Digest(content), 7)
	if _, err := io.ReadAll(v); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "more than the declared 7 bytes") {
		t.Errorf("endless source: %v", err)
	}
	if src.n > 8 {
		t.Errorf("read %d bytes of an endless source for 7 declared", src.n)
	}

	boom := errors.New("connection reset")
	v = NewReader(io.MultiReader(bytes.NewReader(content[:2]), iotestErr{boom}), Digest(content), 7)
	_, err := io.ReadAll(v)
	if !errors.Is(err, boom) || errors.Is(err, ErrMismatch) {
		t.Errorf("source error: %v", err)
	}
	if n, again := v.Read(make([]byte, 4)); n != 0 || !errors.Is(again, boom) || v.Verified() {
		t.Errorf("after an error: %d, %v", n, again)
	}

	v = NewReader(bytes.NewReader(content), Digest(content), 7)
	if v.Verified() {
		t.Error("verified before reading")
	}
	io.ReadAll(v)
	if n, err := v.Read(make([]byte, 4)); n != 0 || err != io.EOF || !v.Verified() {
		t.Errorf("after the end: %d, %v", n, err)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

func TestBytes(t *testing.T) {
	b := []byte("blob")
	d := Digest(b)
	if err := Bytes(b, d, 4); err != nil {
		t.Error(err)
	}
	if err := Bytes(b, d, -1); err != nil {
		t.Errorf("size not checked: %v", err)
	}
	if err := Bytes(b, d, 5); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "size 4, want 5") {
		t.Errorf("size: %v", err)
	}
	if err := Bytes([]byte("blub"), d, 4); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "hashes to "+Digest([]byte("blub"))) {
		t.Errorf("content: %v", err)
	}
	if Digest(nil) != "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("Digest(nil) = %s", Digest(nil))
	}
}
