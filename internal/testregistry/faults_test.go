package testregistry_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// blobSize is the size of the blobs the fault tests fetch and upload.
const blobSize = 64 << 10

// startGGCR starts the in-memory registry and closes it when the test ends.
func startGGCR(t *testing.T, opts ...testregistry.Option) *testregistry.Registry {
	t.Helper()
	r, err := testregistry.StartGGCR(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// registries are the two kinds of test registry, for tests run against both.
var registries = []struct {
	name  string
	start func(t *testing.T, opts ...testregistry.Option) *testregistry.Registry
}{
	{"distribution", func(t *testing.T, opts ...testregistry.Option) *testregistry.Registry {
		return testregistry.StartT(t, opts...)
	}},
	{"ggcr", startGGCR},
}

// baseURL is "http://HOST", or "https://HOST" with TLS.
func baseURL(r *testregistry.Registry) string {
	if r.CAPool != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// do sends a request to the registry with client c (a plain client on r's transport when nil)
// and returns the response with its body read.
func do(t *testing.T, c *http.Client, r *testregistry.Registry, method, path string, body []byte) (*http.Response, []byte, error) {
	t.Helper()
	if c == nil {
		c = &http.Client{Transport: r.Transport()}
	}
	req, err := http.NewRequestWithContext(t.Context(), method, baseURL(r)+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = http.NoBody
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// status sends a request without a body and returns the response status; it fails the test
// on a transport error.
func status(t *testing.T, r *testregistry.Registry, method, path string) int {
	t.Helper()
	resp, _, err := do(t, nil, r, method, path, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode
}

// parseRef parses a reference, failing the test on an error.
func parseRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// digestRef parses a reference by digest, failing the test on an error.
func digestRef(t *testing.T, s string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// newBlob returns random bytes and their digest.
func newBlob(t *testing.T) ([]byte, string) {
	t.Helper()
	b := make([]byte, blobSize)
	_, _ = rand.Read(b)
	sum := sha256.Sum256(b)
	return b, "sha256:" + hex.EncodeToString(sum[:])
}

// putBlob uploads data to repo in two requests: POST to open the upload, then one PUT with the
// whole body. beforePUT, if set, runs between them. It returns the PUT's status.
func putBlob(t *testing.T, r *testregistry.Registry, repo string, data []byte, digest string, beforePUT func()) (int, error) {
	t.Helper()
	resp, _, err := do(t, nil, r, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return 0, fmt.Errorf("POST: %s", resp.Status)
	}
	loc, err := resp.Location()
	if err != nil {
		return 0, err
	}
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	if beforePUT != nil {
		beforePUT()
	}
	resp, _, err = do(t, nil, r, http.MethodPut, loc.RequestURI(), data)
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

func TestFaultStatus(t *testing.T) {
	tests := []struct {
		kind       testregistry.FaultKind
		status     int
		retryAfter string
	}{
		{testregistry.FaultStatus500, 500, ""},
		{testregistry.FaultStatus502, 502, ""},
		{testregistry.FaultStatus503, 503, ""},
		{testregistry.Fault429, 429, "1"},
	}
	f := testregistry.NewFaults(1)
	f.SetRate(1)
	r := testregistry.StartT(t, testregistry.WithFaults(f))
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			f.SetKinds(tt.kind)
			if got := status(t, r, http.MethodGet, "/v2/"); got != http.StatusOK {
				t.Fatalf("ping: %d, want 200", got)
			}
			resp, body, err := do(t, nil, r, http.MethodGet, "/v2/test/app/manifests/v1", nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			if !bytes.Contains(body, []byte(`"errors"`)) {
				t.Errorf("body %s: want a Distribution-style error", body)
			}
			// go-containerregistry sees the status, with retries off.
			ref := parseRef(t, r.Host+"/test/app:v1")
			_, err = remote.Head(ref, append(remoteOptions(r), remote.WithRetryBackoff(remote.Backoff{Steps: 1}))...)
			var terr *transport.Error
			if !errors.As(err, &terr) || terr.StatusCode != tt.status {
				t.Errorf("remote.Head: %v, want a transport.Error with status %d", err, tt.status)
			}
		})
	}
}

func TestFaultBody(t *testing.T) {
	t.Run("http", func(t *testing.T) { testFaultBody(t) })
	t.Run("https", func(t *testing.T) { testFaultBody(t, testregistry.WithTLS()) })
}

func testFaultBody(t *testing.T, opts ...testregistry.Option) {
	f := testregistry.NewFaults(1)
	r := testregistry.StartT(t, append(opts, testregistry.WithFaults(f))...)
	data, digest := newBlob(t)
	if got, err := putBlob(t, r, "test/app", data, digest, nil); err != nil || got != http.StatusCreated {
		t.Fatalf("upload: %d, %v", got, err)
	}
	blobPath := "/v2/test/app/blobs/" + digest
	f.SetRate(1)

	// get fetches the blob with the client timeout given; it fails the test unless the
	// headers arrive with the full Content-Length. Only the stall needs a short timeout: a
	// reset or a truncation is not waited for (300 ms for the headers of a reset failed
	// under -race on a loaded machine).
	get := func(t *testing.T, timeout time.Duration) (body []byte, readErr error, took time.Duration) {
		t.Helper()
		c := &http.Client{Transport: r.Transport(), Timeout: timeout}
		start := time.Now()
		resp, body, err := do(t, c, r, http.MethodGet, blobPath, nil)
		if resp == nil {
			t.Fatalf("GET: %v", err)
		}
		if resp.StatusCode != http.StatusOK || resp.ContentLength != blobSize {
			t.Fatalf("GET: %s, Content-Length %d", resp.Status, resp.ContentLength)
		}
		return body, err, time.Since(start)
	}

	t.Run("reset", func(t *testing.T) {
		f.SetKinds(testregistry.FaultReset)
		body, err, _ := get(t, 30*time.Second)
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("read error %v, want a connection reset", err)
		}
		if len(body) > blobSize/2 {
			t.Errorf("read %d bytes, want at most %d", len(body), blobSize/2)
		}
	})
	t.Run("truncate", func(t *testing.T) {
		f.SetKinds(testregistry.FaultTruncate)
		sent := r.BlobBytesSent()
		body, err, _ := get(t, 30*time.Second)
		if !errors.Is(err, io.ErrUnexpectedEOF) || len(body) != blobSize/2 {
			t.Errorf("read %d bytes, %v; want %d and an unexpected EOF", len(body), err, blobSize/2)
		}
		if got := r.BlobBytesSent() - sent; got != blobSize/2 {
			t.Errorf("BlobBytesSent grew by %d, want %d", got, blobSize/2)
		}
		// go-containerregistry, which verifies what it reads, fails too.
		l, err := remote.Layer(digestRef(t, r.Host+"/test/app@"+digest), remoteOptions(r)...)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if err == nil {
			t.Error("go-containerregistry read a truncated blob without error")
		}
	})
	t.Run("stall", func(t *testing.T) {
		f.SetKinds(testregistry.FaultStall)
		body, err, took := get(t, 300*time.Millisecond)
		var nerr net.Error
		if !errors.As(err, &nerr) || !nerr.Timeout() || len(body) != blobSize/2 {
			t.Errorf("read %d bytes, %v; want %d and a timeout", len(body), err, blobSize/2)
		}
		if took > 2*time.Second {
			t.Errorf("took %v, want about 300ms", took)
		}
		// Before answering: a HEAD gets nothing at all.
		// (About 1 run in 50 under -race the HEAD returned without error, cause not found; the
		// check is that it did not answer before the stall was cut.)
		c := &http.Client{Transport: r.Transport(), Timeout: 300 * time.Millisecond}
		start := time.Now()
		_, _, err = do(t, c, r, http.MethodHead, blobPath, nil)
		if took := time.Since(start); !(errors.As(err, &nerr) && nerr.Timeout()) && took < 250*time.Millisecond {
			t.Errorf("HEAD: %v after %v, want a stall of the client's 300ms timeout", err, took)
		}
	})
	t.Run("fallback", func(t *testing.T) {
		f.SetKinds(testregistry.FaultTruncate) // a HEAD has no body to truncate
		if got := status(t, r, http.MethodHead, blobPath); got != http.StatusServiceUnavailable {
			t.Errorf("HEAD: %d, want 503", got)
		}
	})
	want := map[testregistry.FaultKind]int64{
		testregistry.FaultReset:     1,
		testregistry.FaultTruncate:  2,
		testregistry.FaultStall:     2,
		testregistry.FaultStatus503: 1,
	}
	if got := f.Injected(); !maps.Equal(got, want) {
		t.Errorf("Injected() = %v, want %v", got, want)
	}
}

func TestFaultResetUpload(t *testing.T) {
	for _, reg := range registries {
		t.Run(reg.name, func(t *testing.T) {
			f := testregistry.NewFaults(1)
			f.SetKinds(testregistry.FaultReset)
			r := reg.start(t, testregistry.WithFaults(f))
			data, digest := newBlob(t)
			blobPath := "/v2/test/app/blobs/" + digest

			// Only the PUT, which carries the blob, is reset.
			_, err := putBlob(t, r, "test/app", data, digest, func() { f.SetRate(1) })
			if err == nil {
				t.Fatal("PUT succeeded through a reset")
			}
			f.SetRate(0)
			if got := f.Injected()[testregistry.FaultReset]; got != 1 {
				t.Errorf("Injected()[FaultReset] = %d, want 1", got)
			}
			if got := status(t, r, http.MethodHead, blobPath); got != http.StatusNotFound {
				t.Fatalf("HEAD after the reset: %d, want 404", got)
			}

			if got, err := putBlob(t, r, "test/app", data, digest, nil); err != nil || got != http.StatusCreated {
				t.Fatalf("retry: %d, %v; want 201", got, err)
			}
			resp, body, err := do(t, nil, r, http.MethodGet, blobPath, nil)
			if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
				t.Fatalf("GET after the retry: %v, %v, %d bytes; want the blob", resp.Status, err, len(body))
			}
		})
	}
}

func TestFailRepository(t *testing.T) {
	f := testregistry.NewFaults(1)
	r := testregistry.StartT(t, testregistry.WithFaults(f))
	repos := []string{"test/good", "test/bad", "test/bad/nested"}
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, repo := range repos {
		if err := remote.Write(parseRef(t, r.Host+"/"+repo+":v1"), img, remoteOptions(r)...); err != nil {
			t.Fatal(err)
		}
	}

	f.FailRepository("test/bad", http.StatusInternalServerError)
	want := map[string]int{"test/good": 200, "test/bad": 500, "test/bad/nested": 200}
	for _, repo := range repos {
		if got := status(t, r, http.MethodGet, "/v2/"+repo+"/manifests/v1"); got != want[repo] {
			t.Errorf("GET %s manifest: %d, want %d", repo, got, want[repo])
		}
		if got := status(t, r, http.MethodGet, "/v2/"+repo+"/tags/list"); got != want[repo] {
			t.Errorf("GET %s tags: %d, want %d", repo, got, want[repo])
		}
	}
	if got := status(t, r, http.MethodGet, "/v2/"); got != http.StatusOK {
		t.Errorf("ping: %d, want 200", got)
	}
	if len(f.Injected()) != 0 {
		t.Errorf("Injected() = %v, want none", f.Injected())
	}

	f.FailRepository("", 0)
	if got := status(t, r, http.MethodGet, "/v2/test/bad/manifests/v1"); got != http.StatusOK {
		t.Errorf("after clearing: %d, want 200", got)
	}
}

func TestRejectMediaType(t *testing.T) {
	f := testregistry.NewFaults(1)
	r := testregistry.StartT(t, testregistry.WithFaults(f))
	img, err := random.Image(1024, 1) // a Docker schema 2 manifest
	if err != nil {
		t.Fatal(err)
	}
	// A new tag each time: go-containerregistry skips a manifest the tag already has.
	tag := func(tag string) name.Reference { return parseRef(t, r.Host+"/test/app:"+tag) }

	f.RejectMediaType(string(types.OCIManifestSchema1))
	if err := remote.Write(tag("v1"), img, remoteOptions(r)...); err != nil {
		t.Fatalf("push with another type rejected: %v", err)
	}

	f.RejectMediaType(string(types.DockerManifestSchema2))
	err = remote.Write(tag("v2"), img, remoteOptions(r)...)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusBadRequest ||
		len(terr.Errors) == 0 || terr.Errors[0].Code != transport.ManifestInvalidErrorCode {
		t.Fatalf("push: %v, want 400 MANIFEST_INVALID", err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://"+r.Host+"/v2/test/app/manifests/v3", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", string(types.DockerManifestSchema2)+"; charset=utf-8")
	resp, err := r.Transport().RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"code":"MANIFEST_INVALID"`) {
		t.Errorf("PUT: %s %s, want 400 naming MANIFEST_INVALID", resp.Status, body)
	}

	f.RejectMediaType("")
	if err := remote.Write(tag("v2"), img, remoteOptions(r)...); err != nil {
		t.Fatalf("push after clearing: %v", err)
	}
}

func TestBlobBytesSent(t *testing.T) {
	for _, reg := range registries {
		t.Run(reg.name, func(t *testing.T) {
			r := reg.start(t)
			data, digest := newBlob(t)
			if got, err := putBlob(t, r, "test/app", data, digest, nil); err != nil || got != http.StatusCreated {
				t.Fatalf("upload: %d, %v", got, err)
			}
			if got := status(t, r, http.MethodHead, "/v2/test/app/blobs/"+digest); got != http.StatusOK {
				t.Fatalf("HEAD: %d", got)
			}
			if got := r.BlobBytesSent(); got != 0 {
				t.Errorf("BlobBytesSent = %d after an upload and a HEAD, want 0", got)
			}
			l, err := remote.Layer(digestRef(t, r.Host+"/test/app@"+digest), remoteOptions(r)...)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil || n != blobSize {
				t.Fatalf("read %d bytes: %v", n, err)
			}
			if got := r.BlobBytesSent(); got != blobSize {
				t.Errorf("BlobBytesSent = %d, want %d", got, blobSize)
			}
		})
	}
}

// TestFaultDraw checks that the draw is reproducible from the seed, that it spares the ping,
// and that Injected counts what clients saw.
func TestFaultDraw(t *testing.T) {
	run := func(seed int64) ([]int, map[testregistry.FaultKind]int64) {
		f := testregistry.NewFaults(seed)
		f.SetRate(0.5)
		f.SetKinds(testregistry.FaultStatus500, testregistry.FaultStatus502, testregistry.Fault429, testregistry.FaultTruncate)
		r := startGGCR(t, testregistry.WithFaults(f))
		var seen []int
		for range 100 {
			if got := status(t, r, http.MethodGet, "/v2/"); got != http.StatusOK {
				t.Fatalf("ping: %d, want 200", got)
			}
			seen = append(seen, status(t, r, http.MethodHead, "/v2/test/app/blobs/sha256:"+strings.Repeat("0", 64)))
		}
		return seen, f.Injected()
	}
	seen, injected := run(7)
	again, injectedAgain := run(7)
	if !slices.Equal(seen, again) || !maps.Equal(injected, injectedAgain) {
		t.Errorf("seed 7 twice: %v %v, then %v %v", seen, injected, again, injectedAgain)
	}
	if other, _ := run(8); slices.Equal(seen, other) {
		t.Errorf("seeds 7 and 8 drew the same: %v", seen)
	}

	byStatus := map[int]int64{}
	for _, s := range seen {
		byStatus[s]++
	}
	want := map[testregistry.FaultKind]int64{
		testregistry.FaultStatus500: byStatus[500],
		testregistry.FaultStatus502: byStatus[502],
		testregistry.Fault429:       byStatus[429],
		testregistry.FaultStatus503: byStatus[503], // Truncate falls back to 503 on a HEAD
	}
	if !maps.Equal(injected, want) {
		t.Errorf("Injected() = %v, want %v (statuses seen %v)", injected, want, byStatus)
	}
	if n := byStatus[404]; n < 25 || n > 75 {
		t.Errorf("%d of 100 requests passed at rate 0.5", n)
	}
}

func TestFaultsPanicOnBadSettings(t *testing.T) {
	f := testregistry.NewFaults(1)
	for name, set := range map[string]func(){
		"rate":   func() { f.SetRate(1.5) },
		"kind":   func() { f.SetKinds("bogus") },
		"status": func() { f.FailRepository("test/app", 200) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			set()
		})
	}
}
