package push

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
)

// Problem is one cause that makes a push fail for certain, and what fixes it.
type Problem struct {
	Cause string // one line: "Harbor project ess-missing does not exist"
	Fix   string // one line, naming no flag: "create project ess-missing, or push under an existing project"
	// Mend says which of the command's settings the fix changes, for the command to name it.
	Mend  Mend
	Host  string   // the registry, for MendProject
	Repos []string // the destination repositories it blocks
}

// Mend is which setting of the push a Problem's fix changes.
type Mend int

const (
	MendOther   Mend = iota // nothing the command sets
	MendAccount             // the account that pushes
	MendProject             // the project pushed under (the destination's first path element)
	MendPath                // the destination's path, shorter (GitLab's depth)
)

// BodyLimitNote begins the note of a registry that refuses request bodies of 16 MiB, whose
// mend is a smaller chunk size.
const BodyLimitNote = "refuses request bodies of 16 MiB"

func (p Problem) String() string { return p.Cause + ": " + p.Fix }

// Checked is what a preflight found: the problems that stop a push, and notes on how the
// registry behaves (mounts, body limit, referrers API) that do not.
type Checked struct {
	Problems []Problem
	Notes    []string
}

// CheckOptions says what to check.
type CheckOptions struct {
	Destination Destination
	// Probe adds the checks that are not needed to push, only to know the registry: whether
	// it mounts, its body limit, its referrers API (unbundle check).
	Probe bool
	// Jobs is how many repositories are checked at once (mirror.DefaultJobs when 0).
	Jobs int
}

// Check is the preflight of a push (unbundle check, and the start of every push): before a
// blob goes, it finds what will certainly fail. It checks the credentials; opens (and cancels)
// an upload session in every destination repository, which tells a Harbor project, a Quay
// organisation or an ECR repository that does not exist, and a path GitLab does not take; and
// pushes the smallest image of Docker media types, which tells a registry that refuses them
// (Zot without docker2s2). It returns an error only when it could not check; what it found is
// in Checked.
func Check(ctx context.Context, c *oci.Client, b *archive.Bundle, o CheckOptions) (*Checked, error) {
	g := graph.New(b)
	ts, err := targets(o.Destination, g.Images())
	if err != nil {
		return nil, err
	}
	if err := g.Load(ctx); err != nil { // verified and bounded: past the bounds the bundle is corrupt
		return nil, err
	}
	p, err := c.PushSession(ctx, o.Destination.Host)
	if errors.Is(err, oci.ErrUnauthorized) {
		return &Checked{Problems: []Problem{{Cause: firstLine(err), Fix: "use an account that may push, or docker login", Mend: MendAccount}}}, nil
	}
	if err != nil {
		return nil, err
	}
	r := &pushRun{c: c, b: b, g: g, p: p, workers: mirror.JobsOr(o.Jobs), progress: mirror.NoProgress{}, blobErr: map[string]error{}}
	return r.check(ctx, ts, o)
}

func (r *pushRun) check(ctx context.Context, ts []*target, o CheckOptions) (*Checked, error) {
	res := &Checked{}
	if err := r.checkRepos(ctx, ts, res); err != nil {
		return nil, err
	}
	if len(res.Problems) > 0 {
		return res, nil // the rest would only fail on them
	}
	first, err := r.pushFirstDocker(ctx, ts, res)
	if err != nil || len(res.Problems) > 0 || !o.Probe {
		return res, err
	}
	return res, r.probe(ctx, ts, first, res)
}

// checkRepos opens and cancels an upload session in every destination repository, the
// operation's jobs at a time, and groups the refusals by cause.
func (r *pushRun) checkRepos(ctx context.Context, ts []*target, res *Checked) error {
	var repos []string
	for _, t := range ts {
		if !slices.Contains(repos, t.repo) {
			repos = append(repos, t.repo)
		}
	}
	errs := make([]error, len(repos))
	mirror.ForEach(ctx, r.workers, repos, func(i int, repo string) { errs[i] = r.p.CanPush(ctx, repo) })
	if err := ctx.Err(); err != nil {
		return err
	}
	byCause := map[string]*Problem{}
	for i, err := range errs {
		if err == nil {
			continue
		}
		if oci.Transient(err) {
			continue // not now, or not reached: not a finding; the push meets it, and reports it
		}
		p := repoProblem(r.p.Host(), repos[i], err)
		if q, ok := byCause[p.Cause]; ok {
			q.Repos = append(q.Repos, repos[i])
			continue
		}
		p.Repos = []string{repos[i]}
		byCause[p.Cause] = &p
		res.Problems = append(res.Problems, p)
	}
	for i := range res.Problems {
		res.Problems[i].Repos = byCause[res.Problems[i].Cause].Repos
	}
	return nil
}

// repoProblem names the cause of a refusal to push into repo, and its fix.
func repoProblem(host, repo string, err error) Problem {
	var se *oci.StatusError
	errors.As(err, &se)
	code := 0
	if se != nil {
		code = se.Code
	}
	namespace, _, _ := strings.Cut(repo, "/")
	switch project, harbor := oci.MissingProject(err); {
	case harbor:
		return Problem{Cause: fmt.Sprintf("Harbor project %s does not exist on %s", project, host),
			Fix: fmt.Sprintf("create project %s, or push under an existing project", project), Mend: MendProject, Host: host}
	case code == http.StatusNotFound:
		return Problem{Cause: fmt.Sprintf("repository %s does not exist on %s, which creates none on push (HTTP 404 %s)", repo, host, se.Reg),
			Fix: fmt.Sprintf("create it (ECR: aws ecr create-repository --repository-name %s, or a repository creation template; Quay: organisation %s, or CREATE_NAMESPACE_ON_PUSH)", repo, namespace)}
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		p := Problem{Cause: fmt.Sprintf("%s refuses pushes under %s (HTTP %d)", host, namespace, code),
			Fix: fmt.Sprintf("use an account that may push under %s/%s", host, namespace)}
		if strings.Count(repo, "/") >= 3 {
			p.Fix += "; on GitLab an image path may have at most two levels below its project: shorten it"
			p.Mend = MendPath
		}
		return p
	case code == http.StatusMethodNotAllowed:
		return Problem{Cause: fmt.Sprintf("%s takes no pushes (HTTP 405: a read-only mirror or pull-through cache?)", host),
			Fix: "push to the registry itself, not a mirror of it"}
	}
	return Problem{Cause: firstLine(err), Fix: "see the registry's log"}
}

// pushFirstDocker pushes, whole, the smallest image of Docker media types: a registry that
// refuses them (Zot without docker2s2) says so before the other images' blobs are sent. It
// returns the target it pushed (or the smallest image, if none is of Docker types).
func (r *pushRun) pushFirstDocker(ctx context.Context, ts []*target, res *Checked) (*target, error) {
	var first *target
	size := func(t *target) (n int64) {
		t.root().Walk(func(nd *manifest.Node) {
			for _, d := range nd.Blobs {
				n += d.Size
			}
		})
		return n
	}
	docker := func(t *target) bool { return strings.HasPrefix(t.root().Desc.MediaType, "application/vnd.docker.") }
	for _, t := range ts {
		if first == nil || docker(t) && !docker(first) || docker(t) == docker(first) && size(t) < size(first) {
			first = t
		}
	}
	if first == nil || !docker(first) {
		return first, nil
	}
	one := []*target{first}
	jobs := blobJobs(r.g, one)
	if r.jobs != nil { // in a push: the push's jobs, to every repository that needs them
		var in []*blobJob
		for _, j := range r.jobs {
			if slices.ContainsFunc(jobs, func(k *blobJob) bool { return k.Digest == j.Digest }) {
				in = append(in, j)
			}
		}
		jobs = in
	}
	r.pushBlobs(ctx, jobs)
	for _, j := range jobs {
		j.done = true
	}
	pushed := r.first
	if pushed == nil {
		pushed = &Pushed{Failed: map[string]error{}}
	}
	r.pushManifests(ctx, one, pushed)
	first.pushed = true
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, im := range first.images {
		err, ok := pushed.Failed[im.Key()]
		if !ok {
			continue
		}
		if errors.Is(err, oci.ErrMediaType) {
			var repos []string
			for _, t := range ts {
				if docker(t) && !slices.Contains(repos, t.repo) {
					repos = append(repos, t.repo)
				}
			}
			res.Problems = append(res.Problems, Problem{
				Cause: fmt.Sprintf("%s refuses Docker media types (%s)", r.p.Host(), first.root().Desc.MediaType),
				Fix:   "enable them (Zot: http.compat [\"docker2s2\"]), or push to a registry that takes them: converting the manifests would change the digests ESS pins",
				Repos: repos})
		} else if r.jobs == nil { // unbundle check: say why; a push goes on and reports it with the rest
			res.Problems = append(res.Problems, Problem{Cause: firstLine(err), Fix: "see the cause", Repos: []string{first.repo}})
		}
		return first, nil
	}
	res.Notes = append(res.Notes, fmt.Sprintf("takes Docker media types (pushed %s first)", first))
	return first, nil
}

// probe finds how the registry behaves where a push does not need to know: mounts, its body
// limit, its referrers API.
func (r *pushRun) probe(ctx context.Context, ts []*target, first *target, res *Checked) error {
	if first == nil {
		return nil
	}
	if other := otherRepo(ts, first.repo); other != "" && len(first.root().Blobs) > 0 {
		if !first.pushed { // the mount needs the blob in first's repository
			r.pushBlobs(ctx, blobJobs(r.g, []*target{first}))
		}
		mounted, _, err := r.p.Mount(ctx, other, first.root().Blobs[0].Digest, first.repo)
		switch {
		case err != nil:
			return err
		case mounted:
			res.Notes = append(res.Notes, "mounts blobs across repositories: shared layers are sent once")
		default:
			res.Notes = append(res.Notes, "declines cross-repository mounts: each repository gets its own upload of a shared layer")
		}
	}
	const probe = 16<<20 + 1
	refused, err := r.p.BodyLimit(ctx, first.repo, probe)
	switch {
	case err != nil:
		return err
	case refused:
		res.Notes = append(res.Notes, BodyLimitNote+" (a proxy's body limit: nginx client_max_body_size): larger blobs go in chunks under it; raise the limit (Harbor sets 0), or set the chunk size")
	default:
		res.Notes = append(res.Notes, "takes request bodies of 16 MiB")
	}
	has, err := r.p.HasReferrersAPI(ctx, first.repo, first.digest)
	switch {
	case err != nil:
		return err
	case has:
		res.Notes = append(res.Notes, "serves the OCI referrers API")
	default:
		res.Notes = append(res.Notes, "has no OCI referrers API: referrers would use the tag scheme")
	}
	return nil
}

func otherRepo(ts []*target, not string) string {
	for _, t := range ts {
		if t.repo != not {
			return t.repo
		}
	}
	return ""
}

// firstLine is the first line of err's message.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
