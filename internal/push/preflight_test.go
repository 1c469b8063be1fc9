package push

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/testbundle"
	"github.com/element-hq/ess-airgap/internal/testregistry"
)

// TestRepoProblem: each refusal the preflight meets is named for what it is, on which host and
// under which namespace, with the fix an operator can act on.
func TestRepoProblem(t *testing.T) {
	const host = "registry.example.org"
	for _, c := range []struct {
		name     string
		repo     string
		err      error
		cause    []string // in the cause, each
		fix      []string // in the fix, each
		notInFix string
		mend     Mend
	}{
		{name: "harbor project", repo: "ess-missing/synapse",
			err:   &oci.StatusError{What: "push", Code: 401, Reg: "UNAUTHORIZED", Message: "project ess-missing not found: project ess-missing not found"},
			cause: []string{"Harbor project ess-missing does not exist on " + host},
			fix:   []string{"create project ess-missing", "push under an existing project"}, mend: MendProject},
		{name: "ecr repository", repo: "ess/synapse", err: &oci.StatusError{What: "push", Code: 404, Reg: "NAME_UNKNOWN"},
			cause: []string{"repository ess/synapse does not exist on " + host, "HTTP 404 NAME_UNKNOWN"},
			fix:   []string{"aws ecr create-repository --repository-name ess/synapse", "organisation ess"}},
		{name: "forbidden", repo: "ess/synapse", err: &oci.StatusError{What: "push", Code: 403, Reg: "DENIED"},
			cause: []string{host + " refuses pushes under ess (HTTP 403)"}, fix: []string{"an account that may push under " + host + "/ess"},
			notInFix: "GitLab"},
		{name: "gitlab too deep", repo: "group/project/element-hq/synapse", err: &oci.StatusError{What: "push", Code: 401},
			cause: []string{"refuses pushes under group (HTTP 401)"}, fix: []string{"GitLab", "at most two levels", "shorten it"}, mend: MendPath},
		{name: "read-only mirror", repo: "ess/synapse", err: &oci.StatusError{What: "push", Code: 405},
			cause: []string{host + " takes no pushes (HTTP 405"}, fix: []string{"push to the registry itself"}},
		{name: "other status", repo: "ess/synapse", err: fmt.Errorf("push: %w", &oci.StatusError{What: "push to x", Code: 400, Message: "bad\nmore"}),
			cause: []string{"push to x"}, fix: []string{"see the registry's log"}},
		{name: "no status", repo: "ess/synapse", err: errors.New("first line\nsecond line"),
			cause: []string{"first line"}, fix: []string{"see the registry's log"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := repoProblem(host, c.repo, c.err)
			for _, s := range c.cause {
				if !strings.Contains(p.Cause, s) {
					t.Errorf("cause %q lacks %q", p.Cause, s)
				}
			}
			for _, s := range c.fix {
				if !strings.Contains(p.Fix, s) {
					t.Errorf("fix %q lacks %q", p.Fix, s)
				}
			}
			if c.notInFix != "" && strings.Contains(p.Fix, c.notInFix) {
				t.Errorf("fix %q names %q", p.Fix, c.notInFix)
			}
			if strings.Contains(p.Fix, "--registry") || strings.Contains(p.Fix, "--path-prefix") {
				t.Errorf("fix %q names a flag: the command names it from Mend", p.Fix)
			}
			if p.Mend != c.mend || (p.Mend == MendProject && p.Host != host) {
				t.Errorf("mend %d (host %q), want %d", p.Mend, p.Host, c.mend)
			}
			if strings.Contains(p.Cause, "\n") || p.String() != p.Cause+": "+p.Fix {
				t.Errorf("problem %q is not one line, cause then fix", p.String())
			}
		})
	}
}

// TestCheckGroupsRefusals: the repositories a registry refuses for one cause make one problem
// listing them all (Harbor's missing project), a cause of its own another (ECR's missing
// repository); the repositories it takes are in none, and nothing is pushed.
func TestCheckGroupsRefusals(t *testing.T) {
	b := tinyBundle(t, manifest.OCIManifest, "ess/synapse", "gone/a", "gone/b", "ess/web")
	q := &testregistry.Quirks{Projects: []string{"ess"}}
	dest := testregistry.StartT(t, testregistry.WithQuirks(q))
	got, err := Check(t.Context(), newClient(t), b, CheckOptions{Destination: Destination{Host: dest.Host}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Problems) != 1 || !strings.Contains(got.Problems[0].Cause, "Harbor project gone does not exist") ||
		!slices.Equal(got.Problems[0].Repos, []string{"gone/a", "gone/b"}) {
		t.Fatalf("problems %+v", got.Problems)
	}
	if dest.BlobBytesReceived() != 0 || len(got.Notes) != 0 {
		t.Errorf("a refused preflight went on: %d bytes, notes %q", dest.BlobBytesReceived(), got.Notes)
	}

	ecr := &testregistry.Quirks{Repositories: []string{"ess/synapse", "ess/web"}}
	dest = testregistry.StartT(t, testregistry.WithQuirks(ecr))
	got, err = Check(t.Context(), newClient(t), b, CheckOptions{Destination: Destination{Host: dest.Host}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Problems) != 2 {
		t.Fatalf("problems %+v, want one per missing repository", got.Problems)
	}
	for i, repo := range []string{"gone/a", "gone/b"} {
		if p := got.Problems[i]; !slices.Equal(p.Repos, []string{repo}) || !strings.Contains(p.Cause, "repository "+repo+" does not exist") {
			t.Errorf("problem %d: %+v", i, p)
		}
	}
}

// mixedBundle opens a bundle of an OCI image (ess/oci) and a Docker image (ess/docker), in that
// order; the OCI image is the smaller.
func mixedBundle(t *testing.T) *archive.Bundle {
	t.Helper()
	d, o := tinyImage("ess/docker", manifest.DockerManifest), tinyImage("ess/oci", manifest.OCIManifest)
	return openTestBundle(t, []testbundle.Image{
		{Component: "c", Container: "oci", Server: "example.org", Path: "ess/oci", Tag: "1", Root: o[0]},
		{Component: "c", Container: "docker", Server: "example.org", Path: "ess/docker", Tag: "1", Root: d[0]},
	}, []testbundle.Blob{d[0], o[0], d[1], d[2], o[1], o[2]})
}

// TestCheckDockerRefused: a registry that refuses Docker media types (Zot without docker2s2)
// is found by pushing a Docker image first: one problem naming the media type, listing the
// repositories of Docker images and not those of OCI images.
func TestCheckDockerRefused(t *testing.T) {
	for _, c := range []struct {
		name  string
		b     *archive.Bundle
		repos []string
	}{
		{"docker only", tinyBundle(t, manifest.DockerManifest, "ess/docker-a", "ess/docker-b"), []string{"ess/docker-a", "ess/docker-b"}},
		{"mixed", mixedBundle(t), []string{"ess/docker"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dest := testregistry.StartT(t, testregistry.WithQuirks(&testregistry.Quirks{RefuseDocker: true}))
			got, err := Check(t.Context(), newClient(t), c.b, CheckOptions{Destination: Destination{Host: dest.Host}})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Problems) != 1 || !strings.Contains(got.Problems[0].Cause, "refuses Docker media types ("+manifest.DockerManifest+")") ||
				!strings.Contains(got.Problems[0].Fix, "docker2s2") || !slices.Equal(got.Problems[0].Repos, c.repos) {
				t.Fatalf("problems %+v, want Docker refused in %v", got.Problems, c.repos)
			}
		})
	}
}

// TestCheckProbe: unbundle check's probe tells how the registry behaves: Docker media types
// taken (the Docker image pushed first, even though the OCI one is no larger), mounts declined
// or made, a proxy's body limit, the referrers API (Distribution has none); without Probe only the
// first.
func TestCheckProbe(t *testing.T) {
	plain := testregistry.StartT(t)
	quirky := testregistry.StartT(t, testregistry.WithQuirks(&testregistry.Quirks{NoMount: true, BodyLimit: 1 << 20}))
	for _, c := range []struct {
		name  string
		host  string
		probe bool
		notes []string
	}{
		{"quirky", quirky.Host, true, []string{"takes Docker media types (pushed ", "declines cross-repository mounts", "refuses request bodies of 16 MiB", "has no OCI referrers API"}},
		{"quirky, no probe", quirky.Host, false, []string{"takes Docker media types (pushed "}},
		{"distribution", plain.Host, true, []string{"takes Docker media types (pushed ", "mounts blobs across repositories", "takes request bodies of 16 MiB", "has no OCI referrers API"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Check(t.Context(), newClient(t), mixedBundle(t), CheckOptions{Destination: Destination{Host: c.host}, Probe: c.probe})
			if err != nil || len(got.Problems) != 0 {
				t.Fatalf("problems %+v, err %v", got, err)
			}
			if len(got.Notes) != len(c.notes) {
				t.Fatalf("notes %q, want %q", got.Notes, c.notes)
			}
			for i, n := range c.notes {
				if !strings.HasPrefix(got.Notes[i], n) {
					t.Errorf("note %d %q, want %q", i, got.Notes[i], n)
				}
			}
			if !strings.Contains(got.Notes[0], "ess/docker") {
				t.Errorf("pushed first: %q, want the Docker image", got.Notes[0])
			}
		})
	}
}

// TestCheckUnauthorized: credentials the registry refuses are a problem whose fix is another
// account (MendAccount, from which the command names its flags), not an error: the check ran.
func TestCheckUnauthorized(t *testing.T) {
	dest := testregistry.StartT(t, testregistry.WithAuth("u", "s3cret"))
	got, err := Check(t.Context(), newClient(t, oci.WithCredentials(dest.Host, "u", "wrong")), mixedBundle(t),
		CheckOptions{Destination: Destination{Host: dest.Host}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Problems) != 1 || got.Problems[0].Mend != MendAccount || !strings.Contains(got.Problems[0].Fix, "an account that may push") ||
		strings.Contains(got.Problems[0].String(), "wrong") {
		t.Fatalf("problems %+v", got.Problems)
	}
}
