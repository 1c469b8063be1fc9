package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/create"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/progress"
	"github.com/urfave/cli/v2"
	"golang.org/x/crypto/ssh"
)

// printCreated tells what bundle create did (res, err from create.Run): the failures, the
// report (--report, --json), then the plan (--dry-run), why no bundle was written, or the
// bundle written, signed with --sign-key. It returns the command's error: err, with the flag
// that mends it named where one does.
func printCreated(c *cli.Context, e *env, o create.RunOptions, res *create.Result, signer ssh.Signer, err error) error {
	switch {
	case errors.Is(err, mirror.ErrChartRef):
		return fmt.Errorf("--chart %w", err)
	case res != nil && res.Created != nil && res.SHA256 != "" && errors.Is(err, mirror.ErrPartial):
		err = fmt.Errorf("%w (--allow-partial)", err) // a bundle without them was written
	}
	if res == nil || res.Created == nil {
		return err
	}
	if done, rerr := printCreateOutcome(c, e, o, res, signer); rerr != nil {
		return rerr
	} else if done {
		return err
	}
	switch {
	case res.Manifest == nil:
		return err
	case o.DryRun:
		printCreatePlan(e, o.Output, res)
		return err
	case res.Unfinished:
		fmt.Fprintf(e.stderr, "no bundle written: %d containers could not be pulled (above); %s.partial keeps every layer pulled.\n"+
			"  Fix what is named and run the same command again: it pulls only what is missing.\n"+
			"  Or add --allow-partial to write a bundle without them (its manifest lists them as missing).\n",
			len(res.Failed), o.Output)
		return err
	case res.Set == nil: // the bundle written could not be found: err says why
		return err
	}
	if werr := printWritten(c, e, o.Output, res, signer); werr != nil {
		return werr
	}
	return err // nil, or partial (--allow-partial): the bundle holds every image that was pulled
}

// printCreateOutcome prints the provenance verdicts, the failures and the referrers left out,
// and writes the report (--report; --json, after signing the bundle with --sign-key). done:
// --json said it all.
func printCreateOutcome(c *cli.Context, e *env, o create.RunOptions, res *create.Result, signer ssh.Signer) (done bool, err error) {
	printCreateProvenance(e, res.Provenance)
	refs := sourceRefs(o.List, o.Extra, res.Charts) // when nothing could be pulled, there is no manifest
	if res.Manifest != nil {
		refs = imageRefs(res.Manifest)
	}
	printFailures(e, res.Failed, refs)
	for _, sk := range res.Skipped {
		fmt.Fprintf(e.stderr, "referrer %s of %s not carried: %s\n", sk.Referrer, sk.Image, sk.Reason)
	}
	rep := createReport(c, o.Output, res.Created, res.Started, signer != nil)
	if rp := c.String("report"); rp != "" {
		if err := writeReportFile(e.stdout, rp, rep); err != nil {
			return true, err
		}
	}
	if !c.Bool("json") {
		return false, nil
	}
	if signer != nil && res.Set != nil {
		if err := signBundle(&env{stdout: e.stderr, stderr: e.stderr, log: e.log}, res.Set, signer); err != nil {
			return true, err
		}
	}
	return true, writeJSON(e.stdout, rep)
}

// printCreatePlan prints what --dry-run found: each chart's images, and the blobs and bytes.
func printCreatePlan(e *env, out string, res *create.Result) {
	for _, ch := range res.Charts {
		printChartPlan(e, ch, res.Manifest)
	}
	p := res.Plan
	fmt.Fprintf(e.stdout, "plan for %s: %d containers, %d blobs (%s); to pull %s, in the cache %d blobs (%s), left out by --since %d layers (%s)\n",
		out, res.Manifest.Totals.Images, p.Blobs, progress.Bytes(p.Bytes), progress.Bytes(p.Pull), p.Cached,
		progress.Bytes(p.CachedBytes), p.External, progress.Bytes(p.ExternalBytes))
}

// printWritten describes the bundle written, signs it with --sign-key, and says what to carry.
func printWritten(c *cli.Context, e *env, out string, res *create.Result, signer ssh.Signer) error {
	set, m := res.Set, res.Manifest
	t := m.Totals
	fmt.Fprintf(e.stdout, "wrote %s: %d containers, %d blobs (%s), file %s in %s, sha256 %s, in %s\n", out, t.Images, t.Blobs,
		progress.Bytes(t.BlobBytes), progress.Bytes(set.Sums.Size), partsSummary(set.Sums), res.SHA256, time.Since(res.Started).Round(time.Millisecond))
	if n := len(m.Referrers); n > 0 || c.IsSet("referrers") {
		fmt.Fprintf(e.stdout, "carried %d referrers (signatures, attestations, SBOMs): see bundle list\n", n)
	}
	if fs := m.Files; len(fs) > 0 {
		var names []string
		for _, f := range fs {
			names = append(names, f.Name)
		}
		fmt.Fprintf(e.stdout, "carried %d files: %s (unbundle extract %s NAME... --dir DIR writes them out)\n", len(fs), strings.Join(names, ", "), out)
	}
	if k := res.Kept; k.Blobs > 0 || k.Taken > 0 {
		fmt.Fprintf(e.stdout, "resumed the unfinished run: kept %d layers (%s; %d checked against its checkpoint, %d verified in full), took up %d half-written layers where they stopped (%s written); pulled the rest\n",
			k.Blobs, progress.Bytes(k.Bytes), k.Checked, k.Verified, k.Taken, progress.Bytes(k.TakenBytes))
	}
	if m.Base != nil {
		var left int64
		for _, b := range m.External {
			left += b.Size
		}
		fmt.Fprintf(e.stdout, "delta against %s %s: %d layers (%s) left out; %s\n", m.Base.Kind, m.Base.Name,
			len(m.External), progress.Bytes(left), deltaNeeds(m.Base))
	}
	if signer != nil {
		if err := signBundle(e, set, signer); err != nil {
			return err
		}
	}
	files := out
	if set.Split() {
		files = fmt.Sprintf("%s.001 to .%03d", out, len(set.Data))
		if len(set.Parity) > 0 {
			files += fmt.Sprintf(", .p01 to .p%02d", len(set.Parity))
		}
	}
	if signer != nil {
		files += ", " + out + ".sha256.sig"
	}
	if ms := m.Missing; len(ms) > 0 {
		fmt.Fprintf(e.stdout, "%s; unbundle push writes the ConfigMap or Helm values of this bundle only with --allow-partial\n", missingSummary(ms))
	}
	fmt.Fprintf(e.stdout, "carry %s and %s.sha256 across; check with: %s\n", files, out, sumCheckCommand(out))
	return nil
}
