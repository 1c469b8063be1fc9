package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/create"
	"github.com/element-hq/ess-airgap/internal/provenance"
	"github.com/element-hq/ess-airgap/internal/verify"
	"github.com/urfave/cli/v2"
)

// provenanceFlags are --policy and --trusted-root of create, verify and push.
func provenanceFlags(side string) []cli.Flag {
	policy := "check every image's signatures against the provenance policy `FILE` (docs/ess-airgap.md, Provenance)"
	root := "the Sigstore trusted root `FILE` (trusted_root.json) to check keyless signatures against"
	if side == "create" {
		policy += ": an image it refuses is left out (exit 4); the policy, the trusted root and the signatures are carried in the bundle"
		root += " (default: fetched over TUF from the public-good Sigstore instance)"
	} else {
		policy += ", offline, from what the bundle carries, before anything is pushed (default: the policy the bundle carries, when --public-key checked its signature)"
		root += " (default: the one the bundle carries, when --public-key checked its signature)"
	}
	return []cli.Flag{
		&cli.StringFlag{Name: "policy", Usage: policy},
		&cli.StringFlag{Name: "trusted-root", Usage: root},
	}
}

// readPolicy reads and parses a policy file.
func readPolicy(path string) (*provenance.Policy, error) {
	data, err := readBounded(path, provenance.MaxPolicySize)
	if err != nil {
		return nil, fmt.Errorf("--policy: %w", err)
	}
	return provenance.ParsePolicy(path, data)
}

// readTrustedRoot reads and parses a trusted root file.
func readTrustedRoot(path string) (*provenance.TrustedRoot, error) {
	data, err := readBounded(path, provenance.MaxTrustedRootSize)
	if err != nil {
		return nil, fmt.Errorf("--trusted-root: %w", err)
	}
	return provenance.ParseTrustedRoot(path, data)
}

// readBounded reads a file of at most max bytes.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(data)) > max {
		err = fmt.Errorf("%s: more than %d bytes", path, max)
	}
	return data, err
}

// createProvenance reads --policy and --trusted-root for bundle create; nil without --policy.
// Without --trusted-root, a policy with keyless signers fetches the public-good trusted root.
func createProvenance(c *cli.Context, e *env) (*create.Provenance, error) {
	path := c.String("policy")
	if path == "" {
		if c.IsSet("trusted-root") {
			return nil, usagef("--trusted-root goes with --policy")
		}
		return nil, nil
	}
	if c.IsSet("platform") {
		return nil, usagef("--policy with --platform: a platform cut makes a new index that no upstream signature names; carry whole images to check their signatures")
	}
	p, err := readPolicy(path)
	if err != nil {
		return nil, err
	}
	out := &create.Provenance{PolicyName: path, Policy: p.Raw}
	var tr *provenance.TrustedRoot
	switch {
	case c.IsSet("trusted-root"):
		if tr, err = readTrustedRoot(c.String("trusted-root")); err != nil {
			return nil, err
		}
		out.TrustedRootName = c.String("trusted-root")
	case p.NeedsTrustedRoot():
		if tr, err = provenance.FetchTrustedRoot(c.Context); err != nil {
			return nil, trustedRootError(err)
		}
		out.TrustedRootName = "trusted_root.json"
		fmt.Fprintf(e.stderr, "fetched the Sigstore trusted root over TUF (sha256 %s)\n", shortSum(tr.JSON))
	}
	if tr != nil {
		out.TrustedRoot = tr.JSON
	}
	out.Verifier = provenance.NewVerifier(p, tr)
	return out, nil
}

// bundleProvenance decides what a bundle's images are checked against on the bastion, and
// checks them, offline, printing a line per image. A policy the bundle carries is used only
// when Find checked the bundle's signature against an allowed key; a carried trusted root
// likewise. It returns nil when there is nothing to check (no --policy and the bundle carries
// none).
func bundleProvenance(c *cli.Context, e *env, b *archive.Bundle) error {
	signed := trust.SetOf(b) != nil && trust.SetOf(b).Signature != nil
	carried := b.Manifest().Provenance
	var p *provenance.Policy
	var from string
	var err error
	switch {
	case c.IsSet("policy"):
		if p, err = readPolicy(c.String("policy")); err != nil {
			return err
		}
		from = "--policy " + c.String("policy")
	case carried == nil:
		if c.IsSet("trusted-root") {
			return usagef("--trusted-root goes with --policy (the bundle carries no policy)")
		}
		return nil
	case !signed:
		return usagef("the bundle carries a provenance policy (%s), but its signature was not checked, so that policy is not trusted: give --policy FILE (and --trusted-root FILE), or --public-key to check the bundle's signature and use what it carries", carried.Policy.Name)
	default:
		if p, err = provenance.ParsePolicy(carried.Policy.Name+" (carried in the bundle)", []byte(carried.Policy.Content)); err != nil {
			return err
		}
		from = "the bundle's " + carried.Policy.Name + " (covered by its checked signature)"
	}
	var tr *provenance.TrustedRoot
	switch {
	case c.IsSet("trusted-root"):
		if tr, err = readTrustedRoot(c.String("trusted-root")); err != nil {
			return err
		}
	case carried != nil && carried.TrustedRoot != nil && signed:
		if tr, err = provenance.ParseTrustedRoot(carried.TrustedRoot.Name+" (carried in the bundle)", []byte(carried.TrustedRoot.Content)); err != nil {
			return err
		}
	case p.NeedsTrustedRoot():
		return usagef("the policy accepts keyless signatures, and there is no trusted root to check them against: give --trusted-root FILE, or --public-key so that the trusted root the bundle carries is covered by its checked signature")
	}
	results, err := create.CheckProvenance(c.Context, b, provenance.NewVerifier(p, tr))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "provenance: checking every image's signatures offline against %s\n", from)
	return reportProvenance(e, results)
}

// reportProvenance prints a line per image, and an error wrapping provenance.ErrRefused when
// the policy refuses some.
func reportProvenance(e *env, results []provenance.Result) error {
	var refused, verified, reported int
	for _, r := range results {
		ref := r.Image + "@" + r.Digest
		switch {
		case r.Status == provenance.StatusVerified:
			verified++
			for _, s := range r.Signed {
				fmt.Fprintf(e.stderr, "  verified  %s: signed by %s%s [%s]\n", ref, s.Who(), at(s.Time), s.Format)
			}
		case r.Failed():
			refused++
			fmt.Fprintf(e.stderr, "  REFUSED   %s (rule %s): %s\n", ref, r.Rule, r.Reason())
		default:
			reported++
			fmt.Fprintf(e.stderr, "  %-9s %s%s: %s\n", r.Status, ref, ruleOf(r), r.Reason())
		}
	}
	fmt.Fprintf(e.stderr, "provenance: %d images verified, %d reported (not required), %d refused\n", verified, reported, refused)
	if refused > 0 {
		return fmt.Errorf("%w: %d images (above); nothing was pushed", provenance.ErrRefused, refused)
	}
	return nil
}

func ruleOf(r provenance.Result) string {
	if r.Rule == "" {
		return ""
	}
	return " (rule " + r.Rule + ", missing: " + r.Missing + ")"
}

func at(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return " at " + t.UTC().Format(time.RFC3339)
}

// printCreateProvenance prints bundle create's verdicts on the images it carries.
func printCreateProvenance(e *env, results []provenance.Result) {
	if len(results) == 0 {
		return
	}
	reportProvenance(e, results) // refused images are among the failures already
}

// provenanceLines are list's lines under an image: who signed it, as verified at create.
func provenanceLines(m *archive.Manifest, im archive.Image) []string {
	if m.Provenance == nil {
		return nil
	}
	for _, ip := range m.Provenance.Images {
		if ip.Digest != im.Digest || ip.Image != im.Repository() {
			continue
		}
		var out []string
		for _, s := range ip.Signers {
			who := s.Identity + " (" + s.Issuer + ")"
			if s.Key != "" {
				who = "key " + s.Key
			}
			out = append(out, "signed by "+who+at(s.Time)+" ["+s.Format+"]")
		}
		if len(out) == 0 {
			out = append(out, ip.Status+": "+strings.Join(ip.Problems, "; "))
		}
		return out
	}
	return []string{"not checked at create"}
}

func shortSum(data []byte) string {
	return strings.TrimPrefix(verify.Digest(data), "sha256:")[:12]
}
