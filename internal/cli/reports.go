package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/create"
	"github.com/element-hq/ess-airgap/internal/push"
	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/element-hq/ess-airgap/internal/version"
	"github.com/urfave/cli/v2"
)

// This file fills the documents of internal/report (--json, --report) from what the commands
// did; docs/json.md shows each.

// writeReportFile writes a report document to path (--report), atomically; "-" is stdout.
func writeReportFile(stdout io.Writer, path string, doc any) error {
	var sb strings.Builder
	if err := writeJSON(&sb, doc); err != nil {
		return err
	}
	return writeFile(stdout, path, []byte(sb.String()), 0o644)
}

// failures lists failed containers, sorted.
func failures(failed map[string]error) []report.Failure {
	out := []report.Failure{}
	for _, k := range sortedKeys(failed) {
		out = append(out, report.Failure{Container: k, Error: failed[k].Error()})
	}
	return out
}

// createReport describes what bundle create did (res) into out.
func createReport(c *cli.Context, out string, res *create.Created, start time.Time, signed bool) report.Create {
	dry := c.Bool("dry-run")
	p := res.Plan
	r := report.Create{SchemaVersion: report.SchemaVersion, Command: "create", Tool: version.Tool("bundle"), Started: start.UTC(),
		Finished: time.Now().UTC(), Bundle: out, DryRun: dry, OK: len(res.Failed) == 0, Images: []report.Image{}, Failed: failures(res.Failed),
		Kept: report.Count{Blobs: res.Kept.Blobs, Bytes: res.Kept.Bytes},
		Plan: report.Plan{Blobs: p.Blobs, Bytes: p.Bytes, PullBytes: p.Pull, CachedBlobs: p.Cached, CachedBytes: p.CachedBytes,
			ExternalBlobs: p.External, ExternalBytes: p.ExternalBytes}}
	for _, sk := range res.Skipped {
		r.SkippedReferrers = append(r.SkippedReferrers, report.SkippedReferrer{Referrer: sk.Referrer, Image: sk.Image, Reason: sk.Reason})
	}
	m := res.Manifest
	if m == nil {
		return r
	}
	r.Created = m.Created
	r.Totals = totals(m)
	for _, im := range m.Images {
		r.Images = append(r.Images, report.Image{Container: im.Key(), Image: im.Ref(), Digest: im.Digest})
	}
	r.Referrers = len(m.Referrers)
	r.Files = files(m)
	if b := m.Base; b != nil {
		r.Base = &report.Base{Kind: b.Kind, Name: b.Name, Digest: b.Digest}
	}
	if dry || res.Unfinished { // no bundle written (an earlier one of the name is not this run's)
		return r
	}
	r.SHA256 = res.SHA256
	if set, err := trust.Find(c.Context, trust.Trust{Replacing: true}, out); err == nil && set.Sums != nil {
		r.Size = set.Sums.Size
		r.Parts = partList(set.Sums)
	}
	if signed {
		r.Signature = out + ".sha256.sig"
	}
	return r
}

func totals(m *archive.Manifest) report.CreateTotals {
	t := report.CreateTotals{Images: m.Totals.Images, Blobs: m.Totals.Blobs, BlobBytes: m.Totals.BlobBytes, ExternalBlobs: len(m.External)}
	for _, b := range m.External {
		t.ExternalBytes += b.Size
	}
	return t
}

// partList lists the parts of a bundle in parts, with their sums; nil for one file.
func partList(s *parts.Sums) []report.Part {
	if !s.Split() {
		return nil
	}
	var out []report.Part
	for i, sum := range s.Parts {
		out = append(out, report.Part{Name: fmt.Sprintf("%s.%03d", s.Name, i+1), SHA256: sum})
	}
	for i, sum := range s.Parity {
		out = append(out, report.Part{Name: fmt.Sprintf("%s.p%02d", s.Name, i+1), Parity: true, SHA256: sum})
	}
	return out
}

// files lists the plain files a bundle carries.
func files(m *archive.Manifest) []report.File {
	var out []report.File
	for _, f := range m.Files {
		out = append(out, report.File{Name: f.Name, Digest: f.Digest, Size: f.Size})
	}
	return out
}

// pushReport describes what unbundle push did.
func pushReport(c *cli.Context, bundle string, res *push.Pushed, start time.Time) report.Push {
	r := report.Push{SchemaVersion: report.SchemaVersion, Command: "push", Tool: version.Tool("unbundle"), Started: start.UTC(),
		Finished: time.Now().UTC(), Bundle: bundle, Registry: c.String("registry"), Images: []report.Image{}, Failed: []report.Failure{}}
	if res == nil {
		return r
	}
	s := res.Stats
	r.Stats = report.PushStats{BlobsUploaded: s.BlobsUploaded, BlobsMounted: s.BlobsMounted, BlobsSkipped: s.BlobsSkipped,
		BytesUploaded: s.BytesUploaded, ManifestsPushed: s.ManifestsPushed, ManifestsSkipped: s.ManifestsSkipped,
		ReferrersPushed: s.ReferrersPushed, ReferrersSkipped: s.ReferrersSkipped, ReferrersFailed: s.ReferrersFailed}
	for _, im := range res.Images {
		r.Images = append(r.Images, report.Image{Container: im.Key(), Image: im.Ref(), Digest: im.Digest})
	}
	r.Failed = failures(res.Failed)
	for _, k := range sortedKeys(res.ReferrersFailed) {
		r.ReferrersFailed = append(r.ReferrersFailed, report.ReferrerFailure{Referrer: k, Error: res.ReferrersFailed[k].Error()})
	}
	r.Problems = problems(res.Problems)
	r.OK = len(r.Failed) == 0 && len(r.ReferrersFailed) == 0 && len(r.Problems) == 0
	return r
}

func problems(ps []push.Problem) []report.Problem {
	var out []report.Problem
	for _, p := range ps {
		repos := p.Repos
		if repos == nil {
			repos = []string{}
		}
		out = append(out, report.Problem{Cause: p.Cause, Fix: problemFix(p), Repositories: repos})
	}
	return out
}

// listReport describes a bundle from its manifest.
func listReport(path string, b *archive.Bundle) report.List {
	m := b.Manifest()
	r := report.List{SchemaVersion: report.SchemaVersion, Command: "list", Bundle: path, Size: b.Size(), Created: m.Created, Tool: m.Tool,
		Images: []report.ListImage{}, Totals: totals(m), Files: files(m)}
	for _, im := range m.Images {
		plats := im.Platforms
		if plats == nil {
			plats = []string{}
		}
		r.Images = append(r.Images, report.ListImage{Container: im.Key(), Source: im.Ref(), Digest: im.Digest, UpstreamDigest: im.UpstreamDigest,
			MediaType: im.MediaType, Size: im.Size, Platforms: plats, Kind: im.Kind, ValuesPath: im.ValuesPath})
	}
	for _, ref := range m.Referrers {
		r.Referrers = append(r.Referrers, report.Referrer{Subject: ref.Subject, Digest: ref.Digest, MediaType: ref.MediaType, Size: ref.Size,
			ArtifactType: ref.ArtifactType, Tag: ref.Tag})
	}
	if ch := m.Chart; ch != nil {
		rc := &report.Chart{Ref: ch.Ref, Name: ch.Name, Version: ch.Version, Digest: ch.Digest, Values: []string{}}
		for _, v := range ch.Values {
			rc.Values = append(rc.Values, v.Name)
		}
		r.Chart = rc
	}
	if bs := m.Base; bs != nil {
		r.Base = &report.Base{Kind: bs.Kind, Name: bs.Name, Digest: bs.Digest}
		r.External = &report.Count{Blobs: r.Totals.ExternalBlobs, Bytes: r.Totals.ExternalBytes}
	}
	if m.Source.Name != "" {
		r.Source = &report.ListedSource{Name: m.Source.Name, Digest: m.Source.Digest, Include: m.Source.Include, Exclude: m.Source.Exclude}
	}
	return r
}

// verifyReport describes what verify found; err is why it failed, if it did.
func verifyReport(name string, res *archive.Result, users map[string][]string, start time.Time, err error) report.Verify {
	r := report.Verify{SchemaVersion: report.SchemaVersion, Command: "verify", Bundle: name, Started: start.UTC(), Finished: time.Now().UTC(),
		OK: err == nil, Bad: []report.BadEntry{}}
	if err != nil {
		r.Error = err.Error()
	}
	if res == nil {
		return r
	}
	r.SHA256, r.Checksum = res.SHA256, res.Checksum
	for _, bad := range res.Bad {
		used := users[bad.Digest]
		if used == nil {
			used = []string{}
		}
		r.Bad = append(r.Bad, report.BadEntry{Name: bad.Name, Digest: bad.Digest, UsedBy: used, Error: bad.Err.Error()})
	}
	for _, p := range res.Parts {
		r.Parts = append(r.Parts, report.Part{Name: p.Name, Parity: p.Parity, Problem: p.Problem})
	}
	return r
}

// stdoutTaken refuses --json where the command writes something else to standard output.
func stdoutTaken(c *cli.Context, flag string) error {
	if c.Bool("json") && (c.String(flag) == "-" || c.String(flag) == "") {
		return usagef("--json prints the report on standard output: give --%s FILE", flag)
	}
	return nil
}
