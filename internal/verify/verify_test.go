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
