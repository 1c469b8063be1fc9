package serve

import (
	"bytes"
	"errors"
	"io"
	"log"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// TestBlobGet: a layer (large, streamed), a config (small, read whole) and a manifest asked as
// a blob are their exact bytes, with their digest; HEAD gives the size without reading the
// blob; the large blob is verified once, then trusted.
func TestBlobGet(t *testing.T) {
	f := newFixture(t)
	for _, b := range []struct {
		name string
		data []byte
	}{{"layer", f.big.Data}, {"config", f.config.Data}, {"small layer", f.small.Data}, {"manifest", f.ma.Data}} {
		before := f.r.verified.Load()
		repo := "library/a"
		if b.name == "small layer" {
			repo = "library/b"
		}
		d := verify.Digest(b.data)
		w := f.do("HEAD", "/v2/"+repo+"/blobs/"+d)
		if w.Code != 200 || w.Header().Get("Content-Length") != strconv.Itoa(len(b.data)) || w.Body.Len() != 0 || w.Header().Get("Docker-Content-Digest") != d {
			t.Fatalf("HEAD %s: %d %v", b.name, w.Code, w.Header())
		}
		if n := f.r.verified.Load(); n != before {
			t.Fatalf("HEAD %s read the blob", b.name)
		}
		for range 2 {
			w = f.do("GET", "/v2/"+repo+"/blobs/"+d)
			if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), b.data) || w.Header().Get("Etag") != `"`+d+`"` {
				t.Fatalf("GET %s: %d, %d bytes", b.name, w.Code, w.Body.Len())
			}
		}
	}
	// HEAD read nothing; each of the three blobs (not the manifest) was verified once.
	if n := f.r.verified.Load(); n != 3 {
		t.Fatalf("%d whole verifications, want 3", n)
	}
}

// TestBlobRanges: a range of a layer, from its start, in its middle, at its end, several at
// once, or asked again only if unchanged, is answered as net/http's ServeContent does, with the
// blob's bytes; an unsatisfiable range is 416.
func TestBlobRanges(t *testing.T) {
	f := newFixture(t)
	data := f.big.Data
	n := len(data)
	url := "/v2/library/a/blobs/" + f.big.Digest()
	for _, tc := range []struct {
		rng    string
		status int
		want   []byte
	}{
		{"bytes=0-99", 206, data[:100]},
		{"bytes=1000000-1000009", 206, data[1000000:1000010]},
		{"bytes=-10", 206, data[n-10:]},
		{"bytes=" + strconv.Itoa(n-5) + "-", 206, data[n-5:]},
		{"bytes=0-", 206, data},
		{"bytes=" + strconv.Itoa(n) + "-", 416, nil},
	} {
		w := f.do("GET", url, "Range", tc.rng)
		if w.Code != tc.status || (tc.want != nil && !bytes.Equal(w.Body.Bytes(), tc.want)) {
			t.Errorf("%s: %d, %d bytes", tc.rng, w.Code, w.Body.Len())
		}
	}
	// Two ranges: a multipart answer holding both.
	w := f.do("GET", url, "Range", "bytes=0-9,1040000-1040009")
	if w.Code != 206 || !strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/byteranges") ||
		!bytes.Contains(w.Body.Bytes(), data[:10]) || !bytes.Contains(w.Body.Bytes(), data[1040000:1040010]) {
		t.Errorf("two ranges: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	// If-None-Match with its digest: not modified; If-Range with another: the whole blob.
	if w := f.do("GET", url, "If-None-Match", `"`+f.big.Digest()+`"`); w.Code != 304 || w.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d, %d bytes", w.Code, w.Body.Len())
	}
	if w := f.do("GET", url, "Range", "bytes=0-9", "If-Range", `"sha256:other"`); w.Code != 200 || !bytes.Equal(w.Body.Bytes(), data) {
		t.Errorf("If-Range of another digest: %d, %d bytes", w.Code, w.Body.Len())
	}
	// A range of a small blob (read whole) and of a manifest.
	if w := f.do("GET", "/v2/library/a/blobs/"+f.config.Digest(), "Range", "bytes=2-5"); w.Code != 206 || !bytes.Equal(w.Body.Bytes(), f.config.Data[2:6]) {
		t.Errorf("a range of the config: %d %q", w.Code, w.Body.String())
	}
	if w := f.do("GET", "/v2/library/a/blobs/"+f.ma.Digest(), "Range", "bytes=0-0"); w.Code != 206 || !bytes.Equal(w.Body.Bytes(), f.ma.Data[:1]) {
		t.Errorf("a range of the manifest: %d %q", w.Code, w.Body.String())
	}
	// Nine ranges are refused before anything is read; a HEAD with them is answered.
	nine := "bytes=" + strings.TrimSuffix(strings.Repeat("0-0,", maxRanges+1), ",")
	before := f.r.verified.Load()
	if w := f.do("GET", url+"x", "Range", nine); w.Code != 400 {
		t.Errorf("a bad digest with many ranges: %d", w.Code)
	}
	if w := f.do("GET", "/v2/library/a/blobs/"+f.config.Digest(), "Range", nine); w.Code != 416 || errorCode(t, w) != "RANGE_INVALID" {
		t.Errorf("nine ranges: %d", w.Code)
	}
	if w := f.do("HEAD", url, "Range", nine); w.Code != 200 {
		t.Errorf("HEAD with nine ranges: %d", w.Code)
	}
	if f.r.verified.Load() != before {
		t.Error("a refused request verified a blob")
	}
}

// TestBlobCorrupt: a layer whose bytes in the bundle do not match its digest is never sent: a
// 500 naming it in the answer, the reason in the log; the other blobs are served.
func TestBlobCorrupt(t *testing.T) {
	var logged syncBuffer
	f := newFixture(t, WithLog(log.New(&logged, "", 0)))
	off, length, _ := f.b.EntryRange(archive.BlobName(f.big.Digest()))
	flipByte(t, f.path, off+length/2)
	for _, rng := range []string{"", "bytes=0-99", "bytes=-100"} {
		var w = f.do("GET", "/v2/library/a/blobs/"+f.big.Digest(), "Range", rng)
		if w.Code != 500 || errorCode(t, w) != "UNKNOWN" || !strings.Contains(w.Body.String(), f.big.Digest()) ||
			bytes.Contains(w.Body.Bytes(), f.big.Data[:64]) {
			t.Fatalf("a corrupt layer, Range %q: %d %q", rng, w.Code, w.Body.String())
		}
	}
	if s := logged.String(); !strings.Contains(s, "blob "+f.big.Digest()+" of library/a") {
		t.Fatalf("the log: %q", s)
	}
	if w := f.do("GET", "/v2/library/a/blobs/"+f.config.Digest()); w.Code != 200 {
		t.Fatalf("the config beside it: %d", w.Code)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBlobsConcurrently: many clients at once, whole and in ranges, get their bytes (run with
// -race); the blob is verified once.
func TestBlobsConcurrently(t *testing.T) {
	f := newFixture(t)
	url := "/v2/library/a/blobs/" + f.big.Digest()
	var wg sync.WaitGroup
	errs := make(chan string, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lo := i * 150000
			w := f.do("GET", url, "Range", "bytes="+strconv.Itoa(lo)+"-")
			if w.Code != 206 || !bytes.Equal(w.Body.Bytes(), f.big.Data[lo:]) {
				errs <- "range from " + strconv.Itoa(lo) + ": " + strconv.Itoa(w.Code)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := f.r.verified.Load(); n != 1 {
		t.Errorf("%d verifications for 6 requests at once, want 1", n)
	}
}

// TestBlobSeeker: the seeker ServeContent uses finds the size from the end, refuses a seek
// before the start, and reads from wherever it is put: trusted, straight from the frame;
// untrusted from the start, verified with the tail held.
func TestBlobSeeker(t *testing.T) {
	f := newFixture(t)
	data := f.big.Data
	for _, trusted := range []bool{true, false} {
		s := &blobSeeker{b: f.b, digest: f.big.Digest(), size: int64(len(data)), trusted: trusted}
		if end, err := s.Seek(0, io.SeekEnd); end != int64(len(data)) || err != nil {
			t.Fatalf("SeekEnd: %d, %v", end, err)
		}
		if _, err := s.Seek(-1, io.SeekStart); err == nil {
			t.Fatal("a seek before the start")
		}
		if n, err := s.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("a read at the end: %d, %v", n, err)
		}
		s.Seek(0, io.SeekStart)
		got, err := io.ReadAll(s)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("trusted %v, from the start: %d bytes, %v", trusted, len(got), err)
		}
		if _, ok := s.src.(*heldBack); ok == trusted {
			t.Fatalf("trusted %v: held back %v", trusted, ok)
		}
		s.Seek(1000, io.SeekStart)
		s.Seek(-500, io.SeekCurrent)
		buf := make([]byte, 300)
		if _, err := io.ReadFull(s, buf); err != nil || !bytes.Equal(buf, data[500:800]) {
			t.Fatalf("trusted %v, from 500: %v", trusted, err)
		}
		s.Close()
	}
}

// TestHeldBackRefuses: a source with bytes past the declared size, or fewer, is never handed
// on whole: the error comes before the held tail.
func TestHeldBackRefuses(t *testing.T) {
	good := bytes.Repeat([]byte("x"), heldTail+1000)
	for what, src := range map[string]io.Reader{
		"more":  bytes.NewReader(append(bytes.Clone(good), 'y')),
		"fewer": bytes.NewReader(good[:len(good)-1]),
		"fails": io.MultiReader(bytes.NewReader(good[:len(good)-10]), errReader{}),
	} {
		h := &heldBack{src: src, left: int64(len(good))}
		got, err := io.ReadAll(h)
		if err == nil || len(got) > len(good)-heldTail {
			t.Errorf("%s: handed on %d bytes, %v", what, len(got), err)
		}
	}
	h := &heldBack{src: bytes.NewReader(nil), left: 0}
	if got, err := io.ReadAll(h); err != nil || len(got) != 0 {
		t.Errorf("an empty blob: %d bytes, %v", len(got), err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk error") }
