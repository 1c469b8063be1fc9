package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/digests"
	"github.com/element-hq/ess-airgap/internal/fixture"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// smallTree is what the command tests bundle: three images, quick to generate.
var smallTree = []digests.Image{
	{Entry: imageref.Entry{Component: "web", Container: "nginx", Server: "docker.io", Path: "library/nginx", Tag: "1.25"}},
	{Entry: imageref.Entry{Component: "cache", Container: "redis", Server: "docker.io", Path: "library/redis", Tag: "7"}},
	{Entry: imageref.Entry{Component: "db", Container: "postgres", Server: "docker.io", Path: "library/postgres", Tag: "16"}},
}

// world is a registry holding smallTree, and its image list written to a file.
type world struct {
	up     *testregistry.Registry
	images []digests.Image
	dir    string
	list   string
}

func newWorld(t *testing.T, seed int64, opts ...testregistry.Option) *world {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials but those the test gives
	up := testregistry.StartT(t, opts...)
	images, err := fixture.Generate(t.Context(), fixture.Options{Registry: up.Host, Size: 192 << 10, Seed: seed, Tree: smallTree,
		Transport: up.Transport(), Username: up.Username, Password: up.Password})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{up: up, images: images, dir: t.TempDir()}
	w.list = w.writeList(t, "images.yml", images)
	return w
}

func (w *world) writeList(t *testing.T, name string, images []digests.Image) string {
	t.Helper()
	yml, err := digests.Marshal(images)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(w.dir, name)
	if err := os.WriteFile(p, yml, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustSay fails unless every string is in s.
func mustSay(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, s)
		}
	}
}

// TestCreateUsage: a command line that cannot be run is refused before anything is pulled,
// with exit 2 and a message naming the flag or file and what to give; nothing is written.
func TestCreateUsage(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "images.yml")
	yml, _ := digests.Marshal([]digests.Image{{Entry: imageref.Entry{Component: "a", Container: "b", Server: "127.0.0.1:1", Path: "x", Tag: "1"}}})
	os.WriteFile(list, yml, 0o644)
	out := filepath.Join(dir, "b.tar.zst")
	img := "127.0.0.1:1/x:1"
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		says  []string
	}{
		{"no output", "", []string{"--images", list}, []string{"--output is required"}},
		{"no source", "", []string{"-o", out}, []string{"--images, --chart or --image is required"}},
		{"a name not .tar.zst", "", []string{"--image", img, "-o", filepath.Join(dir, "b.tar")}, []string{"--output", "b.tar", "must end in .tar.zst"}},
		{"an argument", "", []string{"--image", img, "-o", out, "stray"}, []string{`unexpected argument "stray"`}},
		{"a bad split size", "", []string{"--image", img, "-o", out, "--split-size", "10 parsecs"}, []string{"--split-size", "unknown unit"}},
		{"parity without parts", "", []string{"--image", img, "-o", out, "--parity", "2"}, []string{"--parity 2", "give --split-size too"}},
		{"too many parity parts", "", []string{"--image", img, "-o", out, "--split-size", "1MB", "--parity", "256"}, []string{"--parity 256", "at most 255"}},
		{"include without a list", "", []string{"--image", img, "-o", out, "--include", "a"}, []string{"--include and --exclude select from --images"}},
		{"include matching nothing", "", []string{"--images", list, "-o", out, "--include", "nosuch"}, []string{"nosuch"}},
		{"a bad image", "", []string{"--image", "UPPER/Case::x", "-o", out}, []string{`--image "UPPER/Case::x": `}},
		{"a bad image name", "", []string{"--image", "a.b.c=" + img, "-o", out}, []string{`--image "a.b.c=` + img + `": invalid image list: want COMPONENT.CONTAINER=REFERENCE`}},
		{"an image of the list's key", "", []string{"--images", list, "--image", "a.b=" + img, "-o", out},
			[]string{"--image " + img + ": invalid image list: a.b is taken by the image list: name it with --image COMPONENT.CONTAINER=" + img}},
		{"two images of one name", "", []string{"--image", img, "--image", "127.0.0.2:1/x:2", "-o", out},
			[]string{"--image 127.0.0.2:1/x:2: invalid image list: extra.x is taken by --image " + img + ": name it with --image COMPONENT.CONTAINER=127.0.0.2:1/x:2"}},
		{"a bad platform", "", []string{"--image", img, "-o", out, "--platform", "linux"}, []string{"--platform", "want os/arch"}},
		{"a bad mirror", "", []string{"--image", img, "-o", out, "--mirror", "docker.io"}, []string{"--mirror", "REGISTRY=LOCATION"}},
		{"no jobs", "", []string{"--image", img, "-o", out, "--jobs", "0"}, []string{"jobs must be at least 1"}},
		{"a file not there", "", []string{"--image", img, "-o", out, "--file", filepath.Join(dir, "nope.txt")}, []string{"--file", "nope.txt"}},
		{"a file named as a path", "", []string{"--image", img, "-o", out, "--file", list + "=../x"}, []string{"--file", "one file name"}},
		{"a directory as a file", "", []string{"--image", img, "-o", out, "--file", dir}, []string{"--file", "not a regular file"}},
		{"a platform without an architecture", "", []string{"--image", img, "-o", out, "--with-unbundle", "linux"}, []string{"--with-unbundle", "want OS/ARCH"}},
		{"a password without a user", "pw\n", []string{"--image", img, "-o", out, "--password-stdin"}, []string{"--password-stdin needs --username"}},
		{"a user without a password", "", []string{"--image", img, "-o", out, "--username", "u"}, []string{"--username needs a password", "--password-stdin or $REGISTRY_PASSWORD"}},
		{"an empty password", "", []string{"--image", img, "-o", out, "--username", "u", "--password-stdin"}, []string{"standard input is empty"}},
		{"a user of which registry", "pw\n", []string{"--image", img, "--image", "127.0.0.2:1/y:1", "-o", out, "--username", "u", "--password-stdin"},
			[]string{"--username: say which registry"}},
		{"values without a chart", "", []string{"--image", img, "-o", out, "--values", list}, []string{"--values applies to --chart"}},
		{"a trusted root without a policy", "", []string{"--image", img, "-o", out, "--trusted-root", list}, []string{"--trusted-root goes with --policy"}},
		{"a policy with a platform", "", []string{"--image", img, "-o", out, "--policy", list, "--platform", "linux/amd64"}, []string{"--policy with --platform"}},
		{"a misspelt flag", "", []string{"--image", img, "-o", out, "--dry-rn"}, []string{"did you mean --dry-run?"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("REGISTRY_PASSWORD", "")
			r := runMain("bundle", tc.stdin, append([]string{"create"}, tc.args...)...)
			if r.code != ExitUsage {
				t.Errorf("exit %d, want %d: %s", r.code, ExitUsage, r.stderr)
			}
			mustSay(t, "stderr", r.stderr, tc.says...)
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("written: %v", entries)
			}
		})
	}
}

// TestCreateBadInput: files that cannot be used fail with exit 1, naming the file.
func TestCreateBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("components: [unclosed\n"), 0o644)
	out := filepath.Join(dir, "b.tar.zst")
	for _, tc := range []struct {
		name string
		args []string
		says []string
	}{
		{"a list not there", []string{"--images", filepath.Join(dir, "nope.yml"), "-o", out}, []string{"nope.yml"}},
		{"a base not there", []string{"--image", "127.0.0.1:1/x:1", "-o", out, "--since", filepath.Join(dir, "inv.json")}, []string{"--since: ", "inv.json"}},
		{"a list that is not YAML", []string{"--images", bad, "-o", out}, []string{"bad.yml"}},
		{"a signing key not there", []string{"--image", "127.0.0.1:1/x:1", "-o", out, "--sign-key", filepath.Join(dir, "k")}, []string{"--sign-key"}},
		{"a policy not there", []string{"--image", "127.0.0.1:1/x:1", "-o", out, "--policy", filepath.Join(dir, "p.yaml")}, []string{"--policy", "p.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runMain("bundle", "", append([]string{"create"}, tc.args...)...)
			if r.code != ExitError {
				t.Errorf("exit %d, want %d: %s", r.code, ExitError, r.stderr)
			}
			mustSay(t, "stderr", r.stderr, tc.says...)
		})
	}
}

// TestCreateSourceDateEpoch: SOURCE_DATE_EPOCH that is not a number is a usage error naming
// it; a number is the bundle's creation time.
func TestCreateSourceDateEpoch(t *testing.T) {
	w := newWorld(t, 101)
	out := filepath.Join(w.dir, "b.tar.zst")
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	r := runMain("bundle", "", "create", "--images", w.list, "-o", out)
	if r.code != ExitUsage {
		t.Errorf("exit %d", r.code)
	}
	mustSay(t, "stderr", r.stderr, `SOURCE_DATE_EPOCH="yesterday"`, "not a number of seconds")
	t.Setenv("SOURCE_DATE_EPOCH", "1600000000")
	r = runMain("bundle", "", "create", "--images", w.list, "-o", out, "--json")
	cr := decode[report.Create](t, "create", r, ExitOK)
	if cr.Created.Unix() != 1600000000 {
		t.Errorf("created %v", cr.Created)
	}
}

// TestCreateText: a bundle made says what it wrote, and how to check it; --quiet prints
// nothing; --dry-run prints the plan and writes nothing; --file names what it carries.
func TestCreateText(t *testing.T) {
	w := newWorld(t, 102)
	out := filepath.Join(w.dir, "ess.tar.zst")
	notes := filepath.Join(w.dir, "notes.txt")
	os.WriteFile(notes, []byte("read me\n"), 0o644)
	r := runMain("bundle", "", "create", "--images", w.list, "-o", out, "--file", notes)
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "stdout", r.stdout, "wrote "+out+": 3 containers", "one file", "carried 1 files: notes.txt", "unbundle extract "+out,
		"carry "+out+" and "+out+".sha256 across; check with: cd "+w.dir+" && sha256sum -c ess.tar.zst.sha256")
	if strings.Contains(r.stdout, "partial") || strings.Contains(r.stdout, "referrers") {
		t.Errorf("stdout: %s", r.stdout)
	}

	r = runMain("bundle", "", "create", "--images", w.list, "-o", filepath.Join(w.dir, "q.tar.zst"), "--quiet")
	if r.code != ExitOK || r.stdout != "" || r.stderr != "" {
		t.Errorf("--quiet: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	dry := filepath.Join(w.dir, "dry.tar.zst")
	r = runMain("bundle", "", "create", "--images", w.list, "-o", dry, "--dry-run")
	if r.code != ExitOK {
		t.Fatalf("--dry-run: exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "stdout", r.stdout, "plan for "+dry+": 3 containers", "to pull", "in the cache 0 blobs", "left out by --since 0 layers")
	if _, err := os.Stat(dry); !os.IsNotExist(err) {
		t.Errorf("--dry-run wrote the bundle: %v", err)
	}
	if _, err := os.Stat(dry + ".partial"); !os.IsNotExist(err) {
		t.Errorf("--dry-run wrote a .partial: %v", err)
	}
}

// TestCreatePartial: an image that cannot be pulled is named with its cause; without
// --allow-partial no bundle is written (exit 4, the .partial kept, what to do said); with it
// the bundle is written and says what it lacks, as do list and verify; --json says which.
func TestCreatePartial(t *testing.T) {
	w := newWorld(t, 103)
	broken := append([]digests.Image{}, w.images...)
	broken[1].Path += "-gone"
	list := w.writeList(t, "broken.yml", broken)
	out := filepath.Join(w.dir, "p.tar.zst")

	r := runMain("bundle", "", "create", "--images", list, "-o", out)
	if r.code != ExitRefused { // a repository that is not there: a rerun meets it again
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "stderr", r.stderr, "FAILED "+broken[1].Key()+":", broken[1].Path, "no bundle written: 1 containers could not be pulled",
		out+".partial keeps every layer pulled", "run the same command again", "--allow-partial")
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a bundle was written: %v", err)
	}

	r = runMain("bundle", "", "create", "--images", list, "-o", out, "--allow-partial")
	if r.code != ExitRefused {
		t.Fatalf("--allow-partial: exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "stdout", r.stdout, "wrote "+out+": 2 containers", "partial: 1 containers missing: "+broken[1].Key()+" ("+broken[1].Ref()+")",
		"only with --allow-partial")
	mustSay(t, "stderr", r.stderr, "FAILED "+broken[1].Key())

	r = runMain("unbundle", "", "list", out)
	if r.code != ExitOK {
		t.Fatalf("list: exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "list", r.stdout, "partial: 1 containers missing", "(made with --allow-partial)")
	r = runMain("unbundle", "", "verify", out)
	if r.code != ExitOK {
		t.Fatalf("verify: exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "verify", r.stdout, ": OK", "the bundle is partial: 1 containers missing")

	r = runMain("bundle", "", "create", "--images", list, "-o", filepath.Join(w.dir, "j.tar.zst"), "--allow-partial", "--json")
	var cr report.Create
	if err := report.Decode([]byte(r.stdout), &cr); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	if cr.OK || len(cr.Failed) != 1 || cr.Failed[0].Container != broken[1].Key() || cr.Failed[0].Error == "" || len(cr.Images) != 2 || cr.SHA256 == "" {
		t.Errorf("--json of a partial bundle: %+v", cr)
	}
	if strings.Contains(r.stdout, "wrote ") {
		t.Errorf("text in the JSON output:\n%s", r.stdout)
	}
}

// TestCreateCredentials: credentials given on the command line reach the registry, and the
// password is never printed; a registry that refuses them fails with exit 5, naming the
// registry and what to check.
func TestCreateCredentials(t *testing.T) {
	const user, pw = "essuser", "s3cr3t-Pa55word-9f8e7d"
	w := newWorld(t, 104, testregistry.WithAuth(user, pw))
	t.Setenv("REGISTRY_PASSWORD", "")
	out := filepath.Join(w.dir, "a.tar.zst")
	r := runMain("bundle", pw+"\n", "create", "--images", w.list, "-o", out, "--username", user, "--password-stdin")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, pw) {
		t.Errorf("the password printed:\n%s\n%s", r.stdout, r.stderr)
	}
	t.Setenv("REGISTRY_PASSWORD", pw)
	if r := runMain("bundle", "", "create", "--images", w.list, "-o", filepath.Join(w.dir, "e.tar.zst"), "--username", user, "--dry-run"); r.code != ExitOK {
		t.Errorf("$REGISTRY_PASSWORD: exit %d: %s", r.code, r.stderr)
	}

	t.Setenv("REGISTRY_PASSWORD", "")
	wrong := "not-the-password-5e6f"
	r = runMain("bundle", wrong+"\n", "create", "--images", w.list, "-o", filepath.Join(w.dir, "w.tar.zst"), "--username", user, "--password-stdin")
	if r.code != ExitRefused {
		t.Errorf("wrong password: exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, wrong) {
		t.Errorf("the wrong password printed:\n%s", r.stderr)
	}
	mustSay(t, "stderr", r.stderr, w.up.Host)

	r = runMain("bundle", "", "create", "--images", w.list, "-o", filepath.Join(w.dir, "n.tar.zst"))
	if r.code != ExitRefused {
		t.Errorf("no credentials: exit %d: %s", r.code, r.stderr)
	}
	mustSay(t, "stderr", r.stderr, w.images[0].Ref()) // which registry refused
}
