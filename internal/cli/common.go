package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/graph"
	"github.com/element-hq/ess-airgap/internal/imageref"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/progress"
	"github.com/element-hq/ess-airgap/internal/push"
	"github.com/element-hq/ess-airgap/internal/version"
	"github.com/urfave/cli/v2"
)

// env is what a command reads and writes besides files.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer // stderr is log, as --log-format and --quiet say
	log            *logger
	args           []string // as given (args[0] is the program): the order of repeated flags
}

// Main runs the named program ("bundle" or "unbundle") with args (args[0] is the program) and
// returns its exit code.
func Main(ctx context.Context, prog string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	lg := &logger{w: stderr, prog: prog}
	e := &env{stdin: stdin, stdout: stdout, stderr: lg, log: lg, args: args}
	if path := os.Getenv("ESS_AIRGAP_CPUPROFILE"); path != "" { // for make bench and profiling
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	app, err := newApp(prog, e)
	if err != nil {
		return exitReport(ctx, lg, err)
	}
	return exitReport(ctx, lg, app.RunContext(ctx, hoistFlags(app, args)))
}

// newApp makes the named program's command line: its commands, each with the log flags, the
// exit codes in every help, errors returned rather than exits.
func newApp(prog string, e *env) (*cli.App, error) {
	var app *cli.App
	switch prog {
	case "bundle":
		app = bundleApp(e)
	case "unbundle":
		app = unbundleApp(e)
	default:
		return nil, fmt.Errorf("unknown program %q", prog)
	}
	app.Name = prog
	app.Version = version.Get().Version
	app.Commands = append(app.Commands, versionCommand(e), completionCommand(e))
	app.Writer, app.ErrWriter = e.stdout, e.log.w
	app.ExitErrHandler = func(*cli.Context, error) {}
	app.HideHelpCommand = true
	app.CustomAppHelpTemplate = cli.AppHelpTemplate + "\n" + exitCodesHelp + "\n"
	app.OnUsageError = func(c *cli.Context, err error, _ bool) error { return usagef("%s", didYouMean(c, err.Error())) }
	for _, c := range app.Commands {
		c.OnUsageError = app.OnUsageError
		c.CustomHelpTemplate = cli.CommandHelpTemplate + "\n" + exitCodesHelp + "\n"
		c.Flags = append(c.Flags, logFlags()...)
		c.Before = func(c *cli.Context) error {
			if c.Bool("quiet") && !c.Bool("json") && quietStdout[c.Command.Name] {
				e.stdout = io.Discard // its summary is all it prints there
			}
			return e.log.configure(c)
		}
	}
	app.Action = func(c *cli.Context) error {
		if c.NArg() > 0 {
			return usagef("unknown command %q (see --help)", c.Args().First())
		}
		return cli.ShowAppHelp(c)
	}
	return app, nil
}

// quietStdout are the commands whose standard output is a summary that --quiet silences.
var quietStdout = map[string]bool{"create": true, "verify": true, "sign": true, "repair": true}

// oneArg returns the single positional argument, refusing extras (flags that follow it were
// moved before it by hoistFlags).
func oneArg(c *cli.Context, what string) (string, error) {
	switch c.NArg() {
	case 0:
		return "", usagef("%s: missing %s argument", c.Command.Name, what)
	case 1:
		return c.Args().First(), nil
	}
	return "", usagef("%s: unexpected %q after the %s argument", c.Command.Name, c.Args().Get(1), what)
}

// required checks that flags were given: after the argument check, so that a flag placed after
// the argument is reported as such.
func required(c *cli.Context, names ...string) error {
	for _, n := range names {
		if !c.IsSet(n) {
			return usagef("%s: --%s is required", c.Command.Name, n)
		}
	}
	return nil
}

func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("%s: unexpected argument %q (this command takes none)", c.Command.Name, c.Args().First())
	}
	return nil
}

// registryFlags are the flags of every command that talks to a registry; jobs is the default
// of --jobs (docs/performance.md says how each was chosen).
func registryFlags(jobs int) []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "jobs", Value: jobs, Usage: "concurrent blob transfers"},
		&cli.StringFlag{Name: "username", Usage: "registry username (the password comes from --password-stdin or $REGISTRY_PASSWORD; default: Docker config and credential helpers)"},
		&cli.BoolFlag{Name: "password-stdin", Usage: "read the registry password from standard input"},
		&cli.StringFlag{Name: "ca-file", Usage: "PEM file of CA certificates to trust besides the system roots"},
		&cli.BoolFlag{Name: "plain-http", Usage: "allow plain HTTP to a registry that is not on loopback"},
		&cli.BoolFlag{Name: "insecure-skip-tls-verify", Usage: "do not verify registry TLS certificates"},
		&cli.DurationFlag{Name: "timeout", Value: oci.DefaultTimeout, Usage: "connect timeout, and how long a connection may stall before it is dropped and retried (after an upload is sent, the registry gets one more second per 20 MiB to answer); a transfer that stalls 4 times is given up"},
		&cli.IntFlag{Name: "retries", Value: oci.DefaultAttempts, Usage: "attempts per request that failed for a reason that may pass (dropped connection, 408, 429, 5xx)"},
		&cli.DurationFlag{Name: "retry-time", Value: oci.DefaultRetryTime, Usage: "the most time spent retrying one request (Retry-After is honoured within it)"},
	}
}

// newClient builds a registry client from the flags; credentials given on the command line
// apply to authHost (or, when authHost is mirrored, to its mirror's location).
func newClient(c *cli.Context, e *env, authHost string, extra ...oci.Option) (*oci.Client, error) {
	if c.Int("jobs") < 1 { // the operation's option (mirror's), checked once here for every command
		return nil, usagef("--jobs must be at least 1, got %d", c.Int("jobs"))
	}
	opts := append([]oci.Option{oci.WithCAFile(c.String("ca-file")),
		oci.WithPlainHTTP(c.Bool("plain-http")), oci.WithInsecureSkipTLSVerify(c.Bool("insecure-skip-tls-verify")),
		oci.WithTimeout(c.Duration("timeout")), oci.WithUserAgent(c.App.Name + "/" + version.Get().Version),
		oci.WithRetry(c.Int("retries"), c.Duration("retry-time"))}, extra...)
	ms, err := mirrors(c)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		opts = append(opts, oci.WithMirror(m))
		if h, _ := imageref.Normalize(authHost, ""); authHost != "" && h == m.Registry {
			authHost = m.Location // the requests go there, with these credentials
		}
	}
	if c.IsSet("chunk-size") {
		size, err := parseSize(c.String("chunk-size"))
		if err != nil {
			return nil, usagef("--chunk-size: %v", err)
		}
		opts = append(opts, oci.WithChunkSize(size))
	}
	if user := c.String("username"); user != "" {
		pw, err := password(c, e)
		if err != nil {
			return nil, err
		}
		if authHost == "" {
			return nil, usagef("--username: say which registry it is for")
		}
		opts = append(opts, oci.WithCredentials(authHost, user, pw))
	} else if c.Bool("password-stdin") {
		return nil, usagef("--password-stdin needs --username")
	}
	client, err := oci.New(opts...) // it checks the values, once
	if err != nil {
		if oerr := optionError(err); oerr != nil {
			return nil, oerr
		}
		return nil, err
	}
	return client, nil
}

// password reads the password from stdin (--password-stdin: at a terminal, prompted for
// without echo) or $REGISTRY_PASSWORD.
func password(c *cli.Context, e *env) (string, error) {
	if c.Bool("password-stdin") {
		pw, err := readPassword(c.Context, e)
		if err != nil {
			return "", fmt.Errorf("--password-stdin: %w", err)
		}
		if pw != "" {
			return pw, nil
		}
		return "", usagef("--password-stdin: standard input is empty")
	}
	if pw := os.Getenv("REGISTRY_PASSWORD"); pw != "" {
		return pw, nil
	}
	return "", usagef("--username needs a password: --password-stdin or $REGISTRY_PASSWORD")
}

// verifyCommand is `verify NAME.tar.zst`, shared by both programs.
func verifyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check the bundle: its .sha256 (or every part's), every blob's digest and size, the layout and the manifest",
		ArgsUsage: bundleArgsUsage,
		Description: `A bundle in parts is read in place: name its first part, NAME.tar.zst, the directory, a
   glob, or the directories of several media. Every part missing or damaged is named, and
   whether the parity parts can rebuild it (unbundle repair). With --public-key the signature
   is checked first, and who signed it, and when, is printed. With --policy (or the policy the
   bundle carries, once --public-key checked its signature) every image's signatures are then
   checked offline against it, from what the bundle carries.`,
		Flags: append([]cli.Flag{publicKeyFlag, jsonFlag}, provenanceFlags("verify")...),
		Action: func(c *cli.Context) (err error) {
			e := e // --json sends the text to stderr
			args, err := bundleArgs(c)
			if err != nil {
				return err
			}
			start := time.Now()
			var res *archive.Result
			var users map[string][]string
			if c.Bool("json") { // the report, whatever the outcome; the rest goes to stderr
				out := e.stdout
				e = &env{stdin: e.stdin, stdout: e.stderr, stderr: e.stderr, log: e.log, args: e.args}
				defer func() {
					if jerr := writeJSON(out, verifyReport(strings.Join(args, " "), res, users, start, err)); jerr != nil && err == nil {
						err = jerr
					}
				}()
			}
			s, err := findBundle(c, e, args...)
			if err != nil {
				return err
			}
			err = withProgress(e, "verify", func(m *progress.Meter) error {
				m.SetTotal(setBytes(s))
				var err error
				res, err = archive.VerifySet(c.Context, s, m)
				return err
			})
			if res != nil && len(res.Bad) > 0 {
				users = blobUsers(c.Context, s)
				for _, bad := range res.Bad {
					fmt.Fprintf(e.stderr, "BAD %s%s: %v\n", bad.Name, usedBy(users, bad.Digest), bad.Err)
				}
			}
			var pe *archive.PartsError
			if errors.As(err, &pe) {
				printBadParts(e, pe.Bad)
				if res == nil {
					res = &archive.Result{}
				}
				res.Parts = mergeParts(res.Parts, pe.Bad)
			}
			if err != nil {
				return err
			}
			if len(res.Bad) > 0 {
				return fmt.Errorf("%s: %w: %d entries failed verification", s.Name, archive.ErrCorrupt, len(res.Bad))
			}
			if res.SHA256 == "" && s.Sums != nil {
				res.SHA256 = s.Sums.SHA256
			}
			took := time.Since(start).Round(time.Millisecond)
			b, err := archive.OpenSet(s) // once, for the provenance check and the partial notice
			if err != nil {
				return err
			}
			defer b.Close()
			if err := bundleProvenance(c, e, b); err != nil {
				return err
			}
			defer printPartial(e, b)
			switch {
			case !s.Split():
				fmt.Fprintf(e.stdout, "%s: OK (sha256 %s, checksum file %s) in %s\n", s.Whole, res.SHA256, res.Checksum, took)
			case s.Sums == nil:
				fmt.Fprintf(e.stdout, "%s: OK, %d parts (no checksum file: the parts themselves are not checked) in %s\n", s.Name, len(res.Parts), took)
			default:
				fmt.Fprintf(e.stdout, "%s: OK, %s, every part matching %s.sha256 (sha256 of the joined bundle %s) in %s\n",
					s.Name, partsSummary(s.Sums), s.Name, res.SHA256, took)
			}
			fmt.Fprintf(e.stdout, "%s: %s\n", s.Name, signatureSummary(s))
			return nil
		},
	}
}

// mergeParts puts the parts found bad into the list of every part (bad ones alone when the
// list is empty).
func mergeParts(all, bad []archive.PartStatus) []archive.PartStatus {
	if len(all) == 0 {
		return bad
	}
	byName := map[string]archive.PartStatus{}
	for _, b := range bad {
		byName[b.Name] = b
	}
	for i, p := range all {
		if b, ok := byName[p.Name]; ok {
			all[i] = b
		}
	}
	return all
}

// setBytes is how many bytes verifying the bundle reads, for the progress bar.
func setBytes(s *archive.Set) int64 {
	if s.Sums != nil && s.Sums.Split() {
		return s.Sums.Size + int64(len(s.Sums.Parity))*s.Sums.PartSize
	}
	if st, err := os.Stat(s.Whole); err == nil {
		return st.Size()
	}
	return 0
}

// signatureSummary is verify's last word on who made the bundle.
func signatureSummary(s *archive.Set) string {
	switch {
	case s.Signature != nil:
		return trustLine(s) + "; signature checked"
	case s.Unchecked != nil:
		return "SIGNATURE NOT CHECKED: " + trustLine(s)
	}
	return fmt.Sprintf("not signed (no %s.sha256.sig beside it): nothing says who made it", s.Name)
}

// blobUsers maps blob digests to the containers using them; best effort (for messages).
func blobUsers(ctx context.Context, s *archive.Set) map[string][]string {
	b, err := archive.OpenSet(s)
	if err != nil {
		return nil
	}
	defer b.Close()
	g, err := graph.Read(ctx, b)
	if err != nil {
		return nil
	}
	return g.BlobUsers()
}

func usedBy(users map[string][]string, digest string) string {
	if len(users[digest]) == 0 {
		return ""
	}
	return " (used by " + strings.Join(users[digest], ", ") + ")"
}

// listCommand is `list NAME.tar.zst`, shared by both programs.
func listCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list the images of a bundle, read from the head of the file",
		ArgsUsage: bundleArgsUsage,
		Flags: []cli.Flag{jsonFlag,
			&cli.BoolFlag{Name: "manifest", Usage: "print the bundle manifest (bundle.json, docs/bundle-format.md) as it is"}, publicKeyFlag},
		Action: func(c *cli.Context) error {
			b, err := openBundle(c, e, false)
			if err != nil {
				return err
			}
			defer b.Close()
			m := b.Manifest()
			switch {
			case c.Bool("manifest"):
				return writeJSON(e.stdout, m)
			case c.Bool("json"):
				return writeJSON(e.stdout, listReport(strings.Join(c.Args().Slice(), " "), b))
			}
			refs, err := imageReferrers(c.Context, b)
			if err != nil {
				return err
			}
			w := newTable(e.stdout)
			w.row("CONTAINER", "SOURCE", "DIGEST", "UPSTREAM DIGEST", "PLATFORMS")
			for _, im := range m.Images {
				up := im.UpstreamDigest
				if up == "" {
					up = "(same)"
				}
				w.row(im.Key(), im.Ref(), im.Digest, up, strings.Join(im.Platforms, ","))
				for _, l := range provenanceLines(m, im) {
					w.row("  provenance", l, "", "", "")
				}
				for _, r := range refs[im.Digest] {
					how := "referrer"
					if r.Tag != "" {
						how = "tag " + r.Tag
					}
					w.row(strings.Repeat("  ", r.Depth)+"└ "+r.ArtifactType, "of "+r.Of+" ("+how+")", r.Digest, "", "")
				}
			}
			w.flush()
			if n := len(m.Referrers); n > 0 {
				fmt.Fprintf(e.stdout, "%d referrers (signatures, attestations, SBOMs), each under the image it refers to\n", n)
			}
			if p := m.Provenance; p != nil {
				fmt.Fprintf(e.stdout, "provenance: signatures checked at create against %s (%s); unbundle verify --policy (or --public-key) checks them again, offline\n",
					p.Policy.Name, p.Policy.Digest)
			}
			for _, ch := range m.AllCharts() {
				fmt.Fprintf(e.stdout, "chart %s %s from %s (digest %s), values applied: %s; its image blocks are the %s.<values path> entries\n",
					ch.Name, ch.Version, ch.Ref, ch.Digest, valuesNames(ch.Values), ch.Name)
			}
			for _, f := range m.Files {
				fmt.Fprintf(e.stdout, "file %s: %s, %s (unbundle extract %s %s --dir DIR)\n", f.Name, progress.Bytes(f.Size), f.Digest,
					strings.Join(c.Args().Slice(), " "), f.Name)
			}
			if len(m.Missing) > 0 {
				fmt.Fprintf(e.stdout, "%s (made with --allow-partial)\n", missingSummary(m.Missing))
			}
			if m.Base != nil {
				fmt.Fprintf(e.stdout, "delta bundle: relies on %s %s (%s) for %d layers it does not carry\n", m.Base.Kind, m.Base.Name, m.Base.Digest, len(m.External))
			}
			fmt.Fprintf(e.stdout, "%d containers, %d blobs, %s of blobs; bundle %s, created %s by %s\n", m.Totals.Images,
				m.Totals.Blobs, progress.Bytes(m.Totals.BlobBytes), progress.Bytes(b.Size()), m.Created.Format(time.RFC3339), m.Tool)
			return nil
		},
	}
}

// imageReferrers maps the digest of every image of the bundle that has referrers to them, in
// the bundle's order, read from its manifests; none are read when it carries no referrers.
func imageReferrers(ctx context.Context, b *archive.Bundle) (map[string][]graph.Referrer, error) {
	if len(b.Manifest().Referrers) == 0 {
		return nil, nil
	}
	g, err := graph.Read(ctx, b)
	if err != nil {
		return nil, err
	}
	out := map[string][]graph.Referrer{}
	for _, im := range g.Images() {
		if len(im.Referrers) > 0 {
			out[im.Digest] = im.Referrers
		}
	}
	return out, nil
}

// sortedKeys returns the keys of a map in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// createdTime is $SOURCE_DATE_EPOCH when set (reproducible builds), else now.
func createdTime() (time.Time, error) {
	t, err := sourceDateEpoch()
	if err == nil && t.IsZero() {
		t = time.Now().UTC()
	}
	return t, err
}

// sourceDateEpoch is $SOURCE_DATE_EPOCH, or the zero time when it is not set.
func sourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, usagef("SOURCE_DATE_EPOCH=%q: not a number of seconds", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// bundleAndRegistry starts every command that takes a bundle and the local registry: it reads
// the bundle argument(s) and --registry, opens the bundle (its signature first, with
// --public-key; parts in place) and makes the registry client. The caller closes the bundle.
func bundleAndRegistry(c *cli.Context, e *env) (push.Destination, *archive.Bundle, *oci.Client, error) {
	if _, err := bundleArgs(c); err != nil {
		return push.Destination{}, nil, nil, err
	}
	dest, err := destination(c)
	if err != nil {
		return dest, nil, nil, err
	}
	b, err := openBundle(c, e, true)
	if err != nil {
		return dest, nil, nil, err
	}
	client, err := newClient(c, e, dest.Host)
	if err != nil {
		b.Close()
		return dest, nil, nil, err
	}
	return dest, b, client, nil
}
