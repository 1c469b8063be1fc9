package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// binary builds bundle or unbundle once for the tests that run them as processes.
func binary(t *testing.T, prog string) string {
	t.Helper()
	p, err := binaryPath(prog)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// binaryPath builds bundle, unbundle and essfixture once, and bundle.race and unbundle.race
// (with -race), and returns the path of prog.
func binaryPath(prog string) (string, error) {
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "e2e-bin-")
		for _, p := range []string{"bundle", "unbundle", "essfixture", "bundle.race", "unbundle.race"} {
			if binErr == nil {
				args := []string{"build", "-o", filepath.Join(binDir, p)}
				if strings.HasSuffix(p, ".race") {
					args = append(args, "-race")
				}
				out, err := exec.Command("go", append(args, "../cmd/"+strings.TrimSuffix(p, ".race"))...).CombinedOutput()
				if err != nil {
					binErr = &buildError{string(out)}
				}
			}
		}
	})
	return filepath.Join(binDir, prog), binErr
}

type buildError struct{ out string }

func (e *buildError) Error() string { return "go build: " + e.out }

// throttle puts a proxy in front of a registry that moves at most rate bytes a second each
// way, and counts the blob bytes it serves (GET) and receives (uploads).
type throttle struct {
	host          string
	served, recvd atomic.Int64
	requests      atomic.Int64 // every request
	manifests     atomic.Int64 // requests for manifests
	ranged        atomic.Int64 // requests with a Range header
	ignoreRange   atomic.Bool  // drop the Range header of requests: a registry that ignores it
	hold          atomic.Bool  // serve no blob bytes until it is cleared
}

func newThrottle(t *testing.T, target string, rate int) *throttle {
	t.Helper()
	th := &throttle{}
	u, _ := url.Parse("http://" + target)
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && strings.Contains(resp.Request.URL.Path, "/blobs/sha256:") {
			resp.Body = &slow{ReadCloser: resp.Body, rate: rate, n: &th.served, hold: &th.hold, ctx: resp.Request.Context()}
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		th.requests.Add(1)
		if strings.Contains(r.URL.Path, "/manifests/") {
			th.manifests.Add(1)
		}
		if r.Header.Get("Range") != "" {
			th.ranged.Add(1)
			if th.ignoreRange.Load() {
				r.Header.Del("Range")
			}
		}
		if r.Body != nil && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			r.Body = &slow{ReadCloser: r.Body, rate: rate, n: &th.recvd}
		}
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { th.hold.Store(false) })
	th.host = strings.TrimPrefix(srv.URL, "http://")
	return th
}

type slow struct {
	io.ReadCloser
	rate int
	n    *atomic.Int64
	hold *atomic.Bool
	ctx  context.Context // a response's: once its client is gone, nothing more is counted
}

func (s *slow) Read(p []byte) (int, error) {
	for s.hold != nil && s.hold.Load() {
		time.Sleep(5 * time.Millisecond)
	}
	if s.ctx != nil && s.ctx.Err() != nil {
		return 0, s.ctx.Err()
	}
	if len(p) > s.rate/50 {
		p = p[:s.rate/50]
	}
	n, err := s.ReadCloser.Read(p)
	s.n.Add(int64(n))
	time.Sleep(time.Duration(n) * time.Second / time.Duration(s.rate))
	return n, err
}

// killWhen starts cmd and kills it with SIGKILL once cond holds (or fails the test if the
// command ends first).
func killWhen(t *testing.T, cmd *exec.Cmd, cond func() bool) {
	t.Helper()
	signalWhen(t, cmd, syscall.SIGKILL, cond)
}

// signalWhen starts cmd, sends it sig once cond holds (or fails the test if the command ends
// first), waits for it to end and returns when the signal was sent.
func signalWhen(t *testing.T, cmd *exec.Cmd, sig syscall.Signal, cond func() bool) time.Time {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			t.Fatalf("%v ended (%v) before it could be killed", cmd.Args, err)
		case <-tick.C:
			if cond() {
				at := time.Now()
				cmd.Process.Signal(sig)
				<-done
				return at
			}
		}
	}
}

// TestKilledCreateResumes: bundle create killed with SIGKILL at several points leaves nothing
// that looks complete, and a rerun completes, pulling only what was missing: over the killed
// runs and the rerun, the upstream serves every blob byte once, plus, per kill, at most what it
// served in the last checkpoint interval before the kill (a kill -9 loses what the checkpoint
// had not recorded yet) and a chunk in flight per job.
func TestKilledCreateResumes(t *testing.T) {
	w := setup(t)
	bin := binary(t, "bundle")
	const jobs, rate = 2, 40 << 20
	th := newThrottle(t, w.upstream.Host, rate)
	dir := t.TempDir()
	list := w.listVia(t, th.host)
	out := filepath.Join(dir, "ess.tar.zst")
	run := func() *exec.Cmd {
		cmd := exec.Command(bin, "create", "--images", list, "--output", out, "--jobs", fmt.Sprint(jobs))
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=") // the rerun keeps the first run's time
		return cmd
	}
	total := pulledBytes(t, w.bundle)
	// A fresh run through the same proxy, for the time a rerun must beat.
	fresh := exec.Command(bin, "create", "--images", list, "--output", filepath.Join(t.TempDir(), "fresh.tar.zst"), "--jobs", fmt.Sprint(jobs))
	start := time.Now()
	if o, err := fresh.CombinedOutput(); err != nil {
		t.Fatalf("fresh run: %v\n%s", err, o)
	}
	freshTime := time.Since(start)
	served := th.served.Load() // by the fresh run
	rec := recordServed(t, &th.served)
	var firstCreated time.Time
	var slack int64
	for i, frac := range []int64{10, 40, 70} { // percent of the blob bytes pulled when killed
		at := signalWhen(t, run(), syscall.SIGKILL, func() bool { return th.served.Load()-served >= total*frac/100 })
		// What the checkpoint may not have recorded: the interval before the kill (and some
		// scheduling), and a chunk (1 MiB) with what the sockets hold, per job.
		slack += rec.since(at.Add(-250*time.Millisecond), at.Add(100*time.Millisecond)) + jobs*(3<<20)/2
		for _, f := range []string{out, out + ".sha256"} {
			if _, err := os.Stat(f); err == nil {
				t.Fatalf("kill %d: %s exists after the kill", i, f)
			}
		}
		if i == 0 {
			m, ok := archive.Unfinished(out)
			if !ok {
				t.Fatal("the killed run left no readable unfinished bundle")
			}
			firstCreated = m.Created
		}
	}
	complete, partial, ok := archive.Checkpointed(out)
	if !ok {
		t.Fatal("the killed run left no checkpoint")
	}
	covered := complete + partial
	before := th.served.Load()
	start = time.Now()
	if o, err := run().CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, o)
	}
	rerunTime := time.Since(start)
	rerun, all := th.served.Load()-before, th.served.Load()-served
	t.Logf("the killed runs and the rerun pulled %d bytes for %d blob bytes (slack %d); the rerun %d in %s, the checkpoint covered %d; a fresh run took %s",
		all, total, slack, rerun, rerunTime, covered, freshTime)
	// Layers finished after the last checkpoint are verified in full, not pulled: less, not
	// more; the configs are read from the unfinished bundle.
	if layers := layerBytes(t, w.bundle); rerun > layers-covered {
		t.Errorf("the rerun pulled %d bytes; the checkpoint left %d to pull", rerun, layers-covered)
	}
	if all > total+slack {
		t.Fatalf("the killed runs and the rerun pulled %d bytes, %d more than the blobs' %d and the slack of the kills (%d): a resume pulled again what was written",
			all, all-total-slack, total, slack)
	}
	// It pulled less, so it must not take longer than starting over (a second of slack for
	// the machine's noise; the resume that walked unwritten zeros took minutes here).
	if rerunTime > freshTime+time.Second {
		t.Fatalf("rerun took %s, a fresh run %s: resuming was slower than starting over", rerunTime, freshTime)
	}
	for _, f := range []string{out + ".partial", out + ".partial.prev", out + ".partial.sum"} {
		if _, err := os.Stat(f); err == nil {
			t.Fatalf("%s left behind after a complete bundle", filepath.Base(f))
		}
	}
	if got := mustOpenManifest(t, out).Created; !got.Equal(firstCreated) {
		t.Fatalf("the resumed bundle was created %v, the first run %v: it was not resumed in place", got, firstCreated)
	}
	run2 := exec.Command("sha256sum", "-c", filepath.Base(out)+".sha256")
	run2.Dir = dir
	if o, err := run2.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum: %v\n%s", err, o)
	}
	if r := runCmd("bundle", nil, "verify", out); r.code != 0 {
		t.Fatalf("verify: %s", r.stderr)
	}
}

// TestInterruptedCreateTakesUp: bundle create stopped by SIGINT half way (the writer saves its
// checkpoint as it stops) is rerun: the rerun pulls what the first run had not pulled, and no
// more than a chunk per job besides, every half-written layer taken up where it stopped with
// a ranged GET, and asks for no manifest; where the registry ignores Range, the half-written
// layers come again whole. Either way the bundle is the one a run without a stop makes.
func TestInterruptedCreateTakesUp(t *testing.T) {
	w := setup(t)
	bin := binary(t, "bundle")
	const jobs = 2
	for _, ignoreRange := range []bool{false, true} {
		t.Run(fmt.Sprintf("range ignored %v", ignoreRange), func(t *testing.T) {
			th := newThrottle(t, w.upstream.Host, 20<<20)
			list := w.listVia(t, th.host)
			out := filepath.Join(t.TempDir(), "ess.tar.zst")
			run := func(out string) *exec.Cmd {
				cmd := exec.Command(bin, "create", "--images", list, "--output", out, "--jobs", fmt.Sprint(jobs))
				cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
				return cmd
			}
			total, layers := pulledBytes(t, w.bundle), layerBytes(t, w.bundle)
			base := th.served.Load()
			cmd := run(out)
			signalWhen(t, cmd, syscall.SIGINT, halfWritten(th, base, total, out))
			release(th)
			if code := cmd.ProcessState.ExitCode(); code != 130 {
				t.Fatalf("SIGINT: exit code %d, want 130", code)
			}
			first := th.served.Load() - base
			complete, partial, ok := archive.Checkpointed(out)
			if !ok {
				t.Fatal("the stopped run left no checkpoint")
			}
			th.ignoreRange.Store(ignoreRange)
			base, manifests, ranged := th.served.Load(), th.manifests.Load(), th.ranged.Load()
			if o, err := run(out).CombinedOutput(); err != nil {
				t.Fatalf("rerun: %v\n%s", err, o)
			}
			rerun := th.served.Load() - base
			if n := th.manifests.Load() - manifests; n != 0 {
				t.Errorf("the rerun asked the registry for %d manifests: the stopped run's were in its unfinished bundle", n)
			}
			ranged = th.ranged.Load() - ranged
			t.Logf("the stopped run pulled %d, its checkpoint covered %d in complete layers and %d in half-written ones, the rerun pulled %d of %d blob bytes, with %d ranged GETs",
				first, complete, partial, rerun, total, ranged)
			if partial == 0 || ranged == 0 {
				t.Fatal("no half-written layer was taken up: the test proves nothing")
			}
			// The configs come from the unfinished bundle; a half-written layer that the
			// stopped run had written to its end is verified, not pulled (less, never more).
			left := layers - complete - partial
			if rerun > left && !ignoreRange {
				t.Errorf("the rerun pulled %d bytes; the checkpoint left %d to pull", rerun, left)
			}
			if ignoreRange && (rerun <= left || rerun > layers-complete) {
				t.Errorf("the rerun pulled %d bytes where the registry ignores Range: want the half-written layers whole, more than %d and at most %d", rerun, left, layers-complete)
			}
			if missing := total - first; !ignoreRange && rerun > missing+jobs*(3<<20)/2 {
				t.Fatalf("the rerun pulled %d bytes, %d were missing: it pulled again what was written", rerun, missing)
			}
			whole := filepath.Join(t.TempDir(), "whole.tar.zst")
			if o, err := run(whole).CombinedOutput(); err != nil {
				t.Fatalf("a run without a stop: %v\n%s", err, o)
			}
			if fileSHA(t, out) != fileSHA(t, whole) {
				t.Fatal("the resumed bundle differs from one made without a stop")
			}
		})
	}
}

// TestInterruptedCreateLyingCheckpoint: the checkpoint a stopped create left is changed to
// lie about every half-written layer's hash state (its own checksum made right, so it is read):
// the rerun takes those layers up with ranged GETs, finds each wrong at its end, pulls it again
// whole and writes the same bundle as a run without a stop. A checkpoint is never trusted
// unchecked.
func TestInterruptedCreateLyingCheckpoint(t *testing.T) {
	w := setup(t)
	bin := binary(t, "bundle")
	th := newThrottle(t, w.upstream.Host, 20<<20)
	list := w.listVia(t, th.host)
	out := filepath.Join(t.TempDir(), "ess.tar.zst")
	run := func(out string) *exec.Cmd {
		cmd := exec.Command(bin, "create", "--images", list, "--output", out, "--jobs", "2")
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
		return cmd
	}
	total, base := pulledBytes(t, w.bundle), th.served.Load()
	cmd := run(out)
	signalWhen(t, cmd, syscall.SIGINT, halfWritten(th, base, total, out))
	release(th)
	complete, partial, ok := archive.Checkpointed(out)
	if !ok {
		t.Fatal("the stopped run left no checkpoint")
	}
	covered := complete + partial
	data, err := os.ReadFile(out + ".partial.sum")
	if err != nil {
		t.Fatal(err)
	}
	body, _, _ := strings.Cut(string(data), "\n")
	var c map[string]any
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	var lies int64
	for _, v := range c["entries"].(map[string]any) {
		e := v.(map[string]any)
		if e["done"] == true {
			continue
		}
		st, _ := base64.StdEncoding.DecodeString(e["state"].(string))
		st[10] ^= 1 // inside the hash words: still a state, of other bytes
		e["state"] = base64.StdEncoding.EncodeToString(st)
		at, _ := e["at"].(float64)
		lies += int64(at)
	}
	if lies == 0 {
		t.Fatal("no half-written layer to lie about: the test proves nothing")
	}
	nb, _ := json.Marshal(c)
	sum := sha256.Sum256(nb)
	if err := os.WriteFile(out+".partial.sum", []byte(string(nb)+"\n"+hex.EncodeToString(sum[:])+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base = th.served.Load()
	if o, err := run(out).CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, o)
	}
	rerun := th.served.Load() - base
	layers := layerBytes(t, w.bundle)
	t.Logf("the checkpoint covered %d bytes, %d of them in half-written layers whose state lied; the rerun pulled %d", covered, lies, rerun)
	if rerun < layers-covered+lies {
		t.Errorf("the rerun pulled %d bytes: the lying layers (%d bytes written) were not pulled again whole", rerun, lies)
	}
	whole := filepath.Join(t.TempDir(), "whole.tar.zst")
	if o, err := run(whole).CombinedOutput(); err != nil {
		t.Fatalf("a run without a stop: %v\n%s", err, o)
	}
	if fileSHA(t, out) != fileSHA(t, whole) {
		t.Fatal("the resumed bundle differs from one made without a stop")
	}
}

// halfWritten is the moment to stop a create whose rerun must take up a half-written layer:
// a third of the blob bytes served (the largest are pulled first: later, fewer layers span
// more than a chunk), and the checkpoint recording a layer written in part. The
// checkpoint is saved every 50 ms and records whole chunks, so what it records may be done by
// the time a signal lands (a stop between two layers, or inside a layer's first chunk, leaves
// none to take up): the throttle holds the blob bytes, the checkpoint is read once what was in
// flight is saved, and the stop falls inside the hold; without a layer written in part, the
// bytes flow for a moment and it is tried again. The caller releases the hold once the
// command ended.
func halfWritten(th *throttle, base, total int64, out string) func() bool {
	return func() bool {
		if th.served.Load()-base < total/3 {
			return false
		}
		th.hold.Store(true)
		time.Sleep(200 * time.Millisecond)
		if _, partial, ok := archive.Checkpointed(out); ok && partial > 0 {
			return true
		}
		th.hold.Store(false)
		time.Sleep(60 * time.Millisecond)
		return false
	}
}

// release clears the hold of a throttle whose client was stopped inside it, once the proxy has
// seen the client's connections close: the held reads then end uncounted, and what the next
// run pulls is counted alone.
func release(th *throttle) {
	time.Sleep(200 * time.Millisecond)
	th.hold.Store(false)
}

// pulledBytes is what a create of the bundle's images GETs as blobs: its configs and layers
// (manifests and indexes are GETs of manifests).
func pulledBytes(t *testing.T, bundle string) int64 {
	var n int64
	for _, b := range mustOpenManifest(t, bundle).Blobs {
		if b.Kind == archive.KindConfig || b.Kind == archive.KindLayer {
			n += b.Size
		}
	}
	return n
}

// layerBytes is the bytes of the bundle's layers.
func layerBytes(t *testing.T, bundle string) int64 {
	var n int64
	for _, b := range mustOpenManifest(t, bundle).Blobs {
		if b.Kind == archive.KindLayer {
			n += b.Size
		}
	}
	return n
}

// servedLog samples a byte counter every 2 ms.
type servedLog struct {
	mu      sync.Mutex
	at      []time.Time
	n       []int64
	counter *atomic.Int64
}

// recordServed samples counter until the test ends.
func recordServed(t *testing.T, counter *atomic.Int64) *servedLog {
	l := &servedLog{counter: counter}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				l.mu.Lock()
				l.at, l.n = append(l.at, now), append(l.n, counter.Load())
				l.mu.Unlock()
			}
		}
	}()
	return l
}

// since is how much the counter grew from from to to (to now, if to has not passed yet).
func (l *servedLog) since(from, to time.Time) int64 {
	time.Sleep(time.Until(to))
	l.mu.Lock()
	defer l.mu.Unlock()
	v := func(t time.Time) int64 {
		n := int64(0)
		for i, a := range l.at {
			if a.After(t) {
				break
			}
			n = l.n[i]
		}
		return n
	}
	return v(to) - v(from)
}

// TestKilledPushResumes: unbundle push killed with SIGKILL mid-upload, then rerun, completes
// with every digest right and uploads only what was missing.
func TestKilledPushResumes(t *testing.T) {
	w := setup(t)
	bin := binary(t, "unbundle")
	dest, err := testregistry.Start(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	th := newThrottle(t, dest.Host, 40<<20)
	dir := t.TempDir()
	cm := filepath.Join(dir, "cm.yaml")
	push := func() *exec.Cmd {
		return exec.Command(bin, "push", "--registry", th.host, "--jobs", "2", "--configmap", cm, w.bundle)
	}
	var total int64
	for _, b := range mustOpenManifest(t, w.bundle).Blobs {
		total += b.Size
	}
	killWhen(t, push(), func() bool { return dest.BlobBytesReceived() > total*2/3 })
	if _, err := os.Stat(cm); err == nil {
		t.Fatal("a ConfigMap exists after the kill")
	}
	before := dest.BlobBytesReceived()
	if o, err := push().CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, o)
	}
	rerun := dest.BlobBytesReceived() - before
	t.Logf("rerun uploaded %d of %d blob bytes", rerun, total)
	if rerun >= total/2 {
		t.Fatalf("rerun uploaded %d of %d bytes: it did not resume", rerun, total)
	}
	data, err := os.ReadFile(cm)
	if err != nil {
		t.Fatal(err)
	}
	got, err := digests.ParseConfigMap(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, im := range w.images {
		want[im.Key()] = im.Digest
	}
	for _, im := range got {
		if want[im.Key()] != im.Digest {
			t.Errorf("%s: %s, upstream %s", im.Key(), im.Digest, want[im.Key()])
		}
		if served := headDigest(t, dest, dest.Host+"/"+im.Path+":"+im.Tag); served != im.Digest {
			t.Errorf("%s: registry serves %s", im.Key(), served)
		}
	}
	if len(got) != len(w.images) {
		t.Fatalf("ConfigMap has %d of %d containers", len(got), len(w.images))
	}
}

// TestInterruptedResume: a rerun of a create that was killed half way stops within a second of
// SIGINT or SIGTERM, whatever it is doing (deciding what to keep, verifying what it keeps,
// pulling), exits 130 and leaves the unfinished bundle; the run after it completes, faster
// than a fresh run.
func TestInterruptedResume(t *testing.T) {
	w := setup(t)
	bin := binary(t, "bundle")
	th := newThrottle(t, w.upstream.Host, 20<<20)
	dir := t.TempDir()
	list := w.listVia(t, th.host)
	out := filepath.Join(dir, "ess.tar.zst")
	run := func(output string) *exec.Cmd {
		return exec.Command(bin, "create", "--images", list, "--output", output, "--jobs", "2")
	}
	var total int64
	for _, b := range mustOpenManifest(t, w.bundle).Blobs {
		total += b.Size
	}
	start := time.Now()
	if o, err := run(filepath.Join(t.TempDir(), "fresh.tar.zst")).CombinedOutput(); err != nil {
		t.Fatalf("fresh run: %v\n%s", err, o)
	}
	freshTime := time.Since(start)

	// Kill half way: the layers in flight are half written.
	base := th.served.Load()
	killWhen(t, run(out), func() bool { return th.served.Load()-base >= total/2 })
	t.Logf("killed after %d of %d bytes", th.served.Load()-base, total)
	for i, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd := run(out)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		// The run before is gone, but the proxy may still count bytes of its responses until
		// it sees the connections closed (a signal sent on those took the sign of life below
		// for the new run's, before its handler was installed: exit by signal, not 130).
		ended := th.served.Load()
		before := settled(t, &th.served)
		t.Logf("%s: %d bytes counted after the run before had ended", sig, before-ended)
		requests := th.requests.Load()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// A sign of life first (a request of its own, and blob bytes: the signal handler is
		// installed by then; a signal before it would meet Go's default action, not ours), then
		// resuming, then pulling.
		waitFor(t, 20*time.Second, func() bool { return th.requests.Load() > requests && th.served.Load() > before })
		time.Sleep(time.Duration(200*i) * time.Millisecond)
		cmd.Process.Signal(sig)
		sent := time.Now()
		err := cmd.Wait()
		took := time.Since(sent)
		t.Logf("%s: exited %v after %s\n%s", sig, err, took, stderr.String())
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Fatalf("%s: exit code %d, want 130 (%v)\n%s", sig, code, err, stderr.String())
		}
		if took > time.Second {
			t.Errorf("%s: the resuming run took %s to stop", sig, took)
		}
		if _, ok := archive.Unfinished(out); !ok {
			t.Fatalf("%s: no unfinished bundle left to resume", sig)
		}
	}
	base = th.served.Load()
	start = time.Now()
	if o, err := run(out).CombinedOutput(); err != nil {
		t.Fatalf("last run: %v\n%s", err, o)
	}
	took := time.Since(start)
	t.Logf("last run pulled %d of %d bytes in %s; a fresh run took %s", th.served.Load()-base, total, took, freshTime)
	if th.served.Load()-base >= total*9/10 {
		t.Fatalf("the last run pulled %d of %d bytes: it did not resume", th.served.Load()-base, total)
	}
	if took > freshTime+time.Second {
		t.Fatalf("the last run took %s, a fresh run %s", took, freshTime)
	}
	if r := runCmd("bundle", nil, "verify", out); r.code != 0 {
		t.Fatalf("verify: %s", r.stderr)
	}
}

// settled waits until n has not changed for 200 ms (at most 10 s) and returns it.
func settled(t *testing.T, n *atomic.Int64) int64 {
	t.Helper()
	last, since := n.Load(), time.Now()
	waitFor(t, 10*time.Second, func() bool {
		if v := n.Load(); v != last {
			last, since = v, time.Now()
		}
		return time.Since(since) >= 200*time.Millisecond
	})
	return last
}

// waitFor polls cond every 5 ms until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not seen within %s", limit)
		}
	}
}
