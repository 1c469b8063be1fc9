package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/serve"
	"github.com/element-hq/ess-airgap/internal/testregistry"
	"github.com/element-hq/ess-airgap/internal/verify"
	"golang.org/x/crypto/bcrypt"
)

// served is a running `unbundle serve` process.
type served struct {
	host   string
	cmd    *exec.Cmd
	stderr *strings.Builder
	mu     *sync.Mutex
}

// startServe runs the unbundle binary's serve on a free loopback port with args (flags, then
// bundles) and waits until it listens.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	cmd := exec.Command(binary(t, "unbundle"), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	s := &served{cmd: cmd, stderr: &strings.Builder{}, mu: &sync.Mutex{}}
	cmd.Stderr = lockedWriter{s.mu, s.stderr}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case line <- sc.Text():
			default:
			}
		}
	}()
	select {
	case l := <-line:
		m := regexp.MustCompile(`on https?://(\S+) `).FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("serve printed %q", l)
		}
		s.host = m[1]
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start: %s", s.log())
	}
	return s
}

func (s *served) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop sends SIGTERM and returns the exit code.
func (s *served) stop(t *testing.T) int {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM: %s", s.log())
	}
	return s.cmd.ProcessState.ExitCode()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// distinctImages are a bundle's images, one per repository and digest.
func distinctImages(m *archive.Manifest) []archive.Image {
	var out []archive.Image
	seen := map[string]bool{}
	for _, im := range m.Images {
		if !seen[im.Path+"@"+im.Digest] {
			seen[im.Path+"@"+im.Digest] = true
			out = append(out, im)
		}
	}
	return out
}

// TestServePulledByTools: crane, regctl and skopeo pull every image of the bundle by digest
// from unbundle serve, each verifying what it pulls; SIGTERM stops it, exit 0.
func TestServePulledByTools(t *testing.T) {
	t.Parallel()
	w := setup(t)
	m := mustOpenManifest(t, w.bundle)
	s := startServe(t, w.bundle)
	crane, regctl, skopeo := tool(t, "crane"), tool(t, "regctl"), tool(t, "skopeo")
	home := []string{"HOME=" + t.TempDir()}
	run(t, "", home, regctl, "registry", "set", "--tls", "disabled", s.host)
	dir := t.TempDir()
	for i, im := range distinctImages(m) {
		ref := s.host + "/" + im.Path + "@" + im.Digest
		run(t, "", home, crane, "pull", "--format=oci", ref, filepath.Join(dir, fmt.Sprint("crane", i)))
		run(t, "", home, regctl, "image", "copy", ref, fmt.Sprintf("ocidir://%s/regctl%d:x", dir, i))
		run(t, "", home, skopeo, "copy", "--all", "--src-tls-verify=false", "docker://"+ref, "dir:"+filepath.Join(dir, fmt.Sprint("skopeo", i)))
		if got := run(t, "", home, crane, "digest", s.host+"/"+im.Path+":"+im.Tag); strings.TrimSpace(got) != im.Digest {
			t.Errorf("%s: tag %s serves %s, the bundle has %s", im.Key(), im.Tag, got, im.Digest)
		}
	}
	if code := s.stop(t); code != 0 || !strings.Contains(s.log(), "stopped:") {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, s.log())
	}
}

// TestServeAPI: the distribution API as served: root, catalog and tags (paginated),
// manifests by tag and digest with their media type and digest, blobs whole and in ranges,
// the referrers API, and refusals.
func TestServeAPI(t *testing.T) {
	t.Parallel()
	up := newSignedUpstream(t, false)
	bundle := filepath.Join(t.TempDir(), "signed.tar.zst")
	must(t, runCmd("bundle", nil, "create", "--images", up.list, "--output", bundle, "--referrers"))
	b, err := trust.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	reg, err := serve.New(t.Context(), []*archive.Bundle{b})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	get := func(method, path string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	if resp, _ := get("GET", "/v2/"); resp.StatusCode != 200 || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Fatalf("/v2/: %d %v", resp.StatusCode, resp.Header)
	}
	m := b.Manifest()
	var repos []string
	for _, im := range distinctImages(m) {
		if !contains(repos, im.Path) {
			repos = append(repos, im.Path)
		}
	}
	resp, body := get("GET", "/v2/_catalog?n=2")
	var cat struct{ Repositories []string }
	json.Unmarshal(body, &cat)
	if len(cat.Repositories) != 2 || !strings.Contains(resp.Header.Get("Link"), `rel="next"`) {
		t.Fatalf("catalog page: %s, Link %q", body, resp.Header.Get("Link"))
	}
	_, body = get("GET", "/v2/_catalog")
	json.Unmarshal(body, &cat)
	if len(cat.Repositories) != len(repos) {
		t.Fatalf("catalog lists %d repositories, the bundle has %d: %s", len(cat.Repositories), len(repos), body)
	}
	for _, im := range distinctImages(m) {
		_, body := get("GET", "/v2/"+im.Path+"/tags/list")
		if !strings.Contains(string(body), `"`+im.Tag+`"`) {
			t.Errorf("tags of %s: %s, want %s", im.Path, body, im.Tag)
		}
		for _, method := range []string{"HEAD", "GET"} {
			resp, body := get(method, "/v2/"+im.Path+"/manifests/"+im.Tag, "Accept", strings.Join(manifest.MediaTypes, ","))
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != im.MediaType || resp.Header.Get("Docker-Content-Digest") != im.Digest ||
				resp.ContentLength != im.Size || (method == "GET" && verify.Digest(body) != im.Digest) {
				t.Errorf("%s %s:%s: %d %v, body %d bytes", method, im.Path, im.Tag, resp.StatusCode, resp.Header, len(body))
			}
		}
	}
	// The largest layer (a raw frame, verified whole first): whole, a range, a suffix range.
	var large archive.Blob
	for _, bl := range m.Blobs {
		if bl.Kind == archive.KindLayer && bl.Size > large.Size {
			large = bl
		}
	}
	repo := repoOf(t, b, large.Digest)
	resp, whole := get("GET", "/v2/"+repo+"/blobs/"+large.Digest)
	if resp.StatusCode != 200 || verify.Digest(whole) != large.Digest || resp.Header.Get("Docker-Content-Digest") != large.Digest {
		t.Fatalf("GET blob %s (%d bytes): %d, %d bytes", large.Digest, large.Size, resp.StatusCode, len(whole))
	}
	ranges := [][2]int64{{0, 9}, {large.Size/2 - 3, large.Size/2 + 3}, {large.Size/2 + 7, large.Size - 1}}
	if large.Size > 3<<17 { // across the frame's blocks of 128 KiB
		ranges = append(ranges, [2]int64{131070, 131075}, [2]int64{1<<17 - 1, 3 << 17})
	}
	for _, rg := range ranges {
		resp, part := get("GET", "/v2/"+repo+"/blobs/"+large.Digest, "Range", fmt.Sprintf("bytes=%d-%d", rg[0], rg[1]))
		if resp.StatusCode != 206 || string(part) != string(whole[rg[0]:rg[1]+1]) {
			t.Errorf("range %v of %s: %d, %d bytes", rg, large.Digest, resp.StatusCode, len(part))
		}
	}
	if resp, part := get("GET", "/v2/"+repo+"/blobs/"+large.Digest, "Range", "bytes=-100"); resp.StatusCode != 206 || string(part) != string(whole[len(whole)-100:]) {
		t.Errorf("suffix range: %d", resp.StatusCode)
	}
	if resp, _ := get("HEAD", "/v2/"+repo+"/blobs/"+large.Digest); resp.StatusCode != 200 || resp.ContentLength != large.Size {
		t.Errorf("HEAD blob: %d, %d bytes", resp.StatusCode, resp.ContentLength)
	}
	// The referrers API lists the OCI 1.1 SBOMs of their subjects, filtered when asked.
	for _, a := range up.refs.Attached {
		if a.Tag != "" {
			resp, _ := get("HEAD", "/v2/"+a.Repo+"/manifests/"+a.Tag)
			if resp.Header.Get("Docker-Content-Digest") != a.Digest {
				t.Errorf("cosign tag %s: %v", a.Tag, resp.Header)
			}
			continue
		}
		_, body := get("GET", "/v2/"+a.Repo+"/referrers/"+a.Subject)
		if !strings.Contains(string(body), a.Digest) || !strings.Contains(string(body), `"artifactType":"application/spdx+json"`) {
			t.Errorf("referrers of %s: %s", a.Subject, body)
		}
		resp, body = get("GET", "/v2/"+a.Repo+"/referrers/"+a.Subject+"?artifactType=text/plain")
		if strings.Contains(string(body), a.Digest) || resp.Header.Get("OCI-Filters-Applied") != "artifactType" {
			t.Errorf("referrers filtered by another type: %s", body)
		}
	}
	if resp, _ := get("PUT", "/v2/"+repos[0]+"/manifests/x"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d, want 405", resp.StatusCode)
	}
	if resp, body := get("GET", "/v2/nothing/here/manifests/x"); resp.StatusCode != 404 || !strings.Contains(string(body), "NAME_UNKNOWN") {
		t.Errorf("unknown repository: %d %s", resp.StatusCode, body)
	}
	verifySignaturesAt(t, session(t, srv.Listener.Addr().String(), nil, "", ""), up)
}

// repoOf is a repository of the bundle that uses blob digest.
func repoOf(t *testing.T, b *archive.Bundle, digest string) string {
	t.Helper()
	for _, im := range b.Manifest().Images {
		raw, _ := b.ReadFile(archive.BlobName(im.Digest))
		if strings.Contains(string(raw), digest) {
			return im.Path
		}
		var doc manifest.Doc
		json.Unmarshal(raw, &doc)
		for _, c := range doc.Manifests {
			raw, _ := b.ReadFile(archive.BlobName(c.Digest))
			if strings.Contains(string(raw), digest) {
				return im.Path
			}
		}
	}
	t.Fatalf("no image uses %s", digest)
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestServeCorruptBlob: a blob whose bytes changed in the bundle is a 500 naming it in the
// log, never its bytes; whole or in a range, large or small; the other blobs are served.
func TestServeCorruptBlob(t *testing.T) {
	t.Parallel()
	w := setup(t)
	bundle := filepath.Join(t.TempDir(), "ess.tar.zst")
	data, err := os.ReadFile(w.bundle)
	if err != nil {
		t.Fatal(err)
	}
	b, err := trust.Open(w.bundle)
	if err != nil {
		t.Fatal(err)
	}
	var large, small archive.Blob
	for _, bl := range b.Manifest().Blobs {
		if bl.Kind == archive.KindLayer && bl.Size > large.Size {
			large = bl
		}
		if bl.Kind == archive.KindLayer && bl.Size > 4096 && bl.Size < 1<<20 && small.Digest == "" {
			small = bl
		}
	}
	for _, bl := range []archive.Blob{large, small} {
		off, length, _ := b.EntryRange(archive.BlobName(bl.Digest))
		data[off+length-length/3] ^= 0x20 // inside its data
	}
	repos := map[string]string{}
	for _, bl := range b.Manifest().Blobs {
		if bl.Kind == archive.KindLayer {
			repos[bl.Digest] = repoOf(t, b, bl.Digest)
		}
	}
	b.Close()
	os.WriteFile(bundle, data, 0o644)

	s := startServe(t, bundle)
	c := &http.Client{Timeout: 30 * time.Second}
	for _, bl := range []archive.Blob{large, small} {
		repo := repos[bl.Digest]
		for _, rng := range []string{"", "bytes=10-20"} {
			req, _ := http.NewRequest("GET", "http://"+s.host+"/v2/"+repo+"/blobs/"+bl.Digest, nil)
			if rng != "" {
				req.Header.Set("Range", rng)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 500 || strings.Contains(string(body), string(data[1000:1010])) {
				t.Errorf("corrupt blob %s (%d bytes, range %q): %d, %d bytes", bl.Digest, bl.Size, rng, resp.StatusCode, len(body))
			}
		}
		if !regexp.MustCompile(`blob ` + bl.Digest + ` of ` + repo + `: .*(does not match its digest|bundle is corrupt)`).MatchString(s.log()) {
			t.Errorf("the log does not name %s as corrupt:\n%s", bl.Digest, s.log())
		}
	}
	// Every other blob of the image that holds the small one is served and verifies.
	resp, err := c.Get("http://" + s.host + "/v2/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/v2/: %v", err)
	}
	for _, bl := range mustOpenManifest(t, bundle).Blobs {
		if bl.Kind != archive.KindLayer || bl.Digest == large.Digest || bl.Digest == small.Digest || bl.Size > 4<<20 {
			continue
		}
		resp, err := c.Get("http://" + s.host + "/v2/" + repos[bl.Digest] + "/blobs/" + bl.Digest)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || "sha256:"+hex.EncodeToString(h.Sum(nil)) != bl.Digest {
			t.Errorf("blob %s: %d", bl.Digest, resp.StatusCode)
		}
	}
}

// TestServeDeltaAndChart: a delta is served with its base, its external layers read from the
// base (alone it is refused, naming what it lacks); a chart bundle's chart is served, and
// helm pulls it; TLS and htpasswd: crane pulls with the credentials and the CA, not without.
func TestServeDeltaAndChart(t *testing.T) {
	t.Parallel()
	w := setup(t)
	cw := setupChart(t)
	dir := t.TempDir()
	delta := filepath.Join(dir, "delta.tar.zst")
	must(t, runCmd("bundle", nil, "create", "--since", w.bundle, "--images", w.list, "--output", delta))

	r := runCmd("unbundle", nil, "serve", "--addr", "127.0.0.1:0", delta)
	if r.code != 1 || !strings.Contains(r.stderr, "serve each delta with its base") || !strings.Contains(r.stderr, filepath.Base(w.bundle)) {
		t.Fatalf("serving a delta alone: exit %d\n%s", r.code, r.stderr)
	}

	ca, cert, key, err := testregistry.WriteCertificates(dir)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	htpasswd := filepath.Join(dir, "htpasswd")
	os.WriteFile(htpasswd, []byte("ops:"+string(hash)+"\n"), 0o600)
	s := startServe(t, "--tls-cert", cert, "--tls-key", key, "--htpasswd", htpasswd, delta, w.bundle, cw.bundle)

	crane := tool(t, "crane")
	docker := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("ops:s3cret"))
	os.WriteFile(filepath.Join(docker, "config.json"), []byte(`{"auths":{"`+s.host+`":{"auth":"`+auth+`"}}}`), 0o600)
	env := []string{"DOCKER_CONFIG=" + docker, "SSL_CERT_FILE=" + ca}
	m := mustOpenManifest(t, delta)
	for _, im := range distinctImages(m)[:3] {
		run(t, "", env, crane, "pull", "--format=oci", s.host+"/"+im.Path+"@"+im.Digest, filepath.Join(dir, "pulled", im.Digest[7:19]))
	}
	cmd := exec.Command(crane, "digest", s.host+"/"+m.Images[0].Path+":"+m.Images[0].Tag)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "SSL_CERT_FILE="+ca)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "401") {
		t.Errorf("crane without credentials: %v\n%s", err, out)
	}

	cm := mustOpenManifest(t, cw.bundle).Chart
	helm := tool(t, "helm")
	helmEnv := append(env, "HOME="+t.TempDir(), "HELM_REGISTRY_CONFIG="+filepath.Join(docker, "config.json"))
	out := run(t, dir, helmEnv, helm, "pull", "oci://"+s.host+"/charts/"+cm.Name, "--version", cm.Version, "--ca-file", ca)
	if !strings.Contains(out, cm.Digest) {
		t.Errorf("helm pull did not get the chart %s:\n%s", cm.Digest, out)
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.log())
	}
}
