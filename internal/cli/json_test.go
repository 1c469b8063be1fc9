package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

type ran struct {
	stdout, stderr string
	code           int
}

func runMain(prog string, stdin string, args ...string) ran {
	var out, errb bytes.Buffer
	code := Main(context.Background(), prog, append([]string{prog}, args...), strings.NewReader(stdin), &out, &errb)
	if d := os.Getenv("JSON_EXAMPLES"); d != "" {
		f, _ := os.OpenFile(d, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		fmt.Fprintf(f, "### %s %s\n%s\n--- stderr\n%s\n", prog, strings.Join(args, " "), out.String(), errb.String())
		f.Close()
	}
	return ran{out.String(), errb.String(), code}
}

// decode reads a command's --json output strictly as its documented shape.
func decode[T any](t *testing.T, what string, r ran, want int) T {
	t.Helper()
	var v T
	if r.code != want {
		t.Fatalf("%s: exit %d, want %d\n%s", what, r.code, want, r.stderr)
	}
	if err := report.Decode([]byte(r.stdout), &v); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, r.stdout)
	}
	return v
}

// TestJSONReports: every command that reports prints, with --json, the document docs/json.md
// shows, with every required key and no other, and the values are the run's: create, list,
// verify (a good bundle and a damaged one), diff, push, inventory, check, version. --report
// writes what --json prints.
func TestJSONReports(t *testing.T) {
	ctx := context.Background()
	up := testregistry.StartT(t)
	images, err := fixture.Generate(ctx, fixture.Options{Registry: up.Host, Size: 1 << 20, Seed: 24})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	list := filepath.Join(dir, "images.yml")
	yml, _ := digests.Marshal(images)
	os.WriteFile(list, yml, 0o644)
	bundle, rp := filepath.Join(dir, "ess.tar.zst"), filepath.Join(dir, "create.json")

	before := time.Now().UTC().Add(-time.Second)
	r := runMain("bundle", "", "create", "--images", list, "--output", bundle, "--json", "--report", rp)
	cr := decode[report.Create](t, "create", r, ExitOK)
	sums, _ := os.ReadFile(bundle + ".sha256")
	st, _ := os.Stat(bundle)
	if !cr.OK || cr.Command != "create" || cr.SchemaVersion != 1 || !strings.HasPrefix(cr.Tool, "bundle ") || cr.Bundle != bundle ||
		!strings.HasPrefix(string(sums), cr.SHA256+"  ") || len(cr.SHA256) != 64 || cr.Size != st.Size() || cr.Totals.Images != len(images) ||
		len(cr.Images) != len(images) || len(cr.Failed) != 0 || cr.Started.Before(before) || cr.Finished.Before(cr.Started) ||
		cr.Plan.Blobs != cr.Totals.Blobs || cr.Plan.PullBytes == 0 || cr.DryRun {
		t.Errorf("create report: %+v", cr)
	}
	if file, _ := os.ReadFile(rp); string(file) != r.stdout {
		t.Errorf("--report wrote another document than --json printed:\n%s", file)
	}
	if strings.Contains(r.stdout, "wrote ") {
		t.Errorf("text in the JSON output:\n%s", r.stdout)
	}

	dry := decode[report.Create](t, "create --dry-run", runMain("bundle", "", "create", "--dry-run", "--images", list, "--output",
		filepath.Join(dir, "dry.tar.zst"), "--json"), ExitOK)
	if !dry.DryRun || dry.SHA256 != "" || dry.Size != 0 || dry.Plan.Blobs != cr.Totals.Blobs || len(dry.Images) != len(images) {
		t.Errorf("create --dry-run report: %+v", dry)
	}

	lr := decode[report.List](t, "list", runMain("unbundle", "", "list", "--json", bundle), ExitOK)
	if lr.Size != st.Size() || len(lr.Images) != len(images) || lr.Totals.Blobs != cr.Totals.Blobs || lr.Tool != cr.Tool || lr.Source == nil ||
		!lr.Created.Equal(cr.Created) {
		t.Errorf("list report: %+v", lr)
	}

	vr := decode[report.Verify](t, "verify", runMain("bundle", "", "verify", "--json", bundle), ExitOK)
	if !vr.OK || vr.SHA256 != cr.SHA256 || vr.Checksum != "matched" || len(vr.Bad) != 0 {
		t.Errorf("verify report: %+v", vr)
	}
	damaged := filepath.Join(dir, "damaged.tar.zst")
	data, _ := os.ReadFile(bundle)
	b, err := trust.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	m := b.Manifest()
	last := m.Blobs[len(m.Blobs)-1] // a layer, stored raw: a byte of it changed is a bad entry
	off, length, _ := b.EntryRange(archive.BlobName(last.Digest))
	b.Close()
	data[off+length-600] ^= 0xff
	os.WriteFile(damaged, data, 0o644)
	vr = decode[report.Verify](t, "verify damaged", runMain("bundle", "", "verify", "--json", damaged), ExitVerify)
	if vr.OK || len(vr.Bad) != 1 || vr.Bad[0].Digest != last.Digest || len(vr.Bad[0].UsedBy) == 0 || vr.Error == "" {
		t.Errorf("verify report of a damaged bundle: %+v", vr)
	}

	dr := decode[report.Diff](t, "diff", runMain("bundle", "", "diff", "--json", list, bundle), ExitOK)
	if dr.Unchanged != len(images) || len(dr.Added)+len(dr.Removed)+len(dr.Changed) != 0 || dr.Delta != nil {
		t.Errorf("diff report: %+v", dr)
	}

	dest := testregistry.StartT(t)
	cm := filepath.Join(dir, "cm.yaml")
	if r := runMain("unbundle", "", "push", "--json", "--registry", dest.Host, bundle); r.code != ExitUsage {
		t.Errorf("push --json with the ConfigMap on standard output: exit %d", r.code)
	}
	pr := decode[report.Push](t, "push", runMain("unbundle", "", "push", "--json", "--registry", dest.Host, "--configmap", cm, bundle), ExitOK)
	if !pr.OK || pr.Registry != dest.Host || len(pr.Images) != len(images) || pr.Stats.BlobsUploaded == 0 || pr.Stats.BytesUploaded == 0 ||
		pr.ConfigMap != cm || !strings.HasPrefix(pr.Tool, "unbundle ") || !strings.HasPrefix(pr.Images[0].Image, dest.Host+"/") {
		t.Errorf("push report: %+v", pr)
	}
	pr = decode[report.Push](t, "push again", runMain("unbundle", "", "push", "--json", "--registry", dest.Host, "--configmap", cm, bundle), ExitOK)
	if pr.Stats.BlobsUploaded != 0 || pr.Stats.BlobsSkipped == 0 {
		t.Errorf("second push report: %+v", pr.Stats)
	}

	inv := filepath.Join(dir, "inventory.json")
	ir := decode[report.Inventory](t, "inventory", runMain("unbundle", "", "inventory", "--json", "--registry", dest.Host, "--output", inv, bundle), ExitOK)
	if ir.Output != inv || ir.Repositories == 0 || ir.Absent != 0 || ir.Blobs == 0 || ir.Tags == 0 {
		t.Errorf("inventory report: %+v", ir)
	}
	if r := runMain("unbundle", "", "inventory", "--json", "--registry", dest.Host, bundle); r.code != ExitUsage {
		t.Errorf("inventory --json to standard output: exit %d", r.code)
	}

	kr := decode[report.Check](t, "check", runMain("unbundle", "", "check", "--json", "--registry", dest.Host, bundle), ExitOK)
	if !kr.OK || len(kr.Notes) == 0 || len(kr.Problems) != 0 {
		t.Errorf("check report: %+v", kr)
	}

	for _, prog := range []string{"bundle", "unbundle"} {
		v := decode[report.Version](t, "version", runMain(prog, "", "version", "--json"), ExitOK)
		if v.Program != prog || v.GoVersion == "" || v.Platform == "" || v.Version == "" {
			t.Errorf("%s version: %+v", prog, v)
		}
	}
}

// TestLogFormatJSON: with --log-format json every line on stderr is an event of the documented
// shape: an event per image resolved and per blob pulled, progress, and, for a command that
// fails, its exit; --quiet prints nothing but what fails.
func TestLogFormatJSON(t *testing.T) {
	ctx := context.Background()
	up := testregistry.StartT(t)
	images, err := fixture.Generate(ctx, fixture.Options{Registry: up.Host, Size: 1 << 20, Seed: 25})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	list := filepath.Join(dir, "images.yml")
	yml, _ := digests.Marshal(images)
	os.WriteFile(list, yml, 0o644)
	bundle := filepath.Join(dir, "ess.tar.zst")
	r := runMain("bundle", "", "create", "--log-format", "json", "--images", list, "--output", bundle)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	count := map[string]int{}
	pulled := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		var ev report.Event
		if err := report.Decode([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if _, err := time.Parse(time.RFC3339Nano, ev.Time); err != nil || ev.Program != "bundle" || ev.Command != "create" {
			t.Errorf("event: %s", line)
		}
		count[ev.Event+" "+ev.Phase]++
		if ev.Event == "blob" {
			pulled[ev.Digest] = true
			if ev.Size <= 0 || ev.Repository == "" {
				t.Errorf("blob event: %s", line)
			}
		}
	}
	m := decodeManifest(t, bundle)
	layers := 0
	for _, b := range m.Blobs {
		if b.Kind == archive.KindLayer {
			layers++
			if !pulled[b.Digest] {
				t.Errorf("no blob event for layer %s", b.Digest)
			}
		}
	}
	groups := len((&digests.List{Images: images}).Groups())
	if count["image resolved"] != groups || count["blob pulled"] != layers || count["progress pull"] == 0 {
		t.Errorf("events: %v; want %d images resolved, %d layers pulled", count, groups, layers)
	}

	r = runMain("unbundle", "", "verify", "--log-format", "json", filepath.Join(dir, "missing.tar.zst"))
	var ev report.Event
	if err := report.Decode([]byte(strings.TrimSpace(r.stderr)), &ev); err != nil || ev.Event != "exit" || ev.Level != "error" ||
		ev.ExitCode != r.code || r.code == 0 || !strings.Contains(ev.Msg, "missing.tar.zst") {
		t.Errorf("a failed command's exit event (%v): %s", err, r.stderr)
	}
	if r := runMain("bundle", "", "verify", "--log-format", "yaml", bundle); r.code != ExitUsage {
		t.Errorf("--log-format yaml: exit %d", r.code)
	}

	r = runMain("bundle", "", "create", "--quiet", "--images", list, "--output", filepath.Join(dir, "q.tar.zst"))
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("create --quiet: exit %d, printed:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = runMain("bundle", "", "verify", "-q", filepath.Join(dir, "q.tar.zst"))
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("verify -q: exit %d, printed:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := runMain("bundle", "", "verify", "-q", filepath.Join(dir, "missing.tar.zst")); r.code == 0 || r.stderr == "" {
		t.Errorf("verify -q of a missing bundle: exit %d, stderr %q", r.code, r.stderr)
	}
}

func decodeManifest(t *testing.T, path string) *archive.Manifest {
	t.Helper()
	b, err := trust.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	return b.Manifest()
}
