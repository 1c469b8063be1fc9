package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/archive/trust"
	"github.com/element-hq/ess-airgap/internal/create"
	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/provenance"
	"github.com/element-hq/ess-airgap/internal/push"
	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// TestExitCode: every cause has the exit code the help documents, whatever wraps it; a
// damaged bundle wins over the rest (it is what to mend), a stopped push is an error of the
// registry rather than a refusal, and our own context cancelled is an interruption.
func TestExitCode(t *testing.T) {
	bg := context.Background()
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	wrap := func(errs ...error) error {
		var parts []string
		var args []any
		for _, e := range errs {
			parts = append(parts, "%w")
			args = append(args, e)
		}
		return fmt.Errorf("run: "+strings.Join(parts, "; "), args...)
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"none", bg, nil, ExitOK},
		{"usage", bg, usagef("--x: bad"), ExitUsage},
		{"usage, wrapped", bg, fmt.Errorf("create: %w", usagef("--x")), ExitUsage},
		{"corrupt", bg, wrap(archive.ErrCorrupt), ExitVerify},
		{"checksum", bg, wrap(trust.ErrChecksum), ExitVerify},
		{"digest mismatch", bg, wrap(verify.ErrMismatch), ExitVerify},
		{"signature", bg, wrap(trust.ErrSignature), ExitVerify},
		{"provenance refused", bg, wrap(provenance.ErrRefused), ExitVerify},
		{"partial and corrupt", bg, wrap(mirror.ErrPartial, archive.ErrCorrupt), ExitVerify},
		{"partial and refused", bg, wrap(mirror.ErrPartial, mirror.ErrRefused), ExitRefused},
		{"stopped, with a refusal beside", bg, wrap(mirror.ErrStopped, mirror.ErrRefused), ExitError},
		{"unauthorized", bg, wrap(oci.ErrUnauthorized), ExitRefused},
		{"partial", bg, wrap(mirror.ErrPartial), ExitPartial},
		{"not local", bg, wrap(push.ErrNotLocal), ExitNotLocal},
		{"nothing to bundle", bg, wrap(create.ErrNothing), ExitError},
		{"anything else", bg, errors.New("dial tcp: connection refused"), ExitError},
		{"interrupted", cancelled, wrap(context.Canceled), ExitInterrupted},
		{"interrupted, whatever failed", cancelled, wrap(archive.ErrCorrupt), ExitInterrupted},
		{"a request cancelled, not the run", bg, wrap(context.Canceled), ExitError},
	} {
		if got := exitCode(tc.ctx, tc.err); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestExitReport: the error is printed once, after the program's name; unbundle adds to a
// damaged bundle what to do about it (not to a signature or a policy refusal, which another
// copy does not mend); an interruption says so; with --log-format json it is an exit event.
func TestExitReport(t *testing.T) {
	bg := context.Background()
	for _, tc := range []struct {
		name, prog string
		ctx        context.Context
		err        error
		code       int
		says, not  []string
	}{
		{"unbundle, damaged", "unbundle", bg, fmt.Errorf("blob x: %w", archive.ErrCorrupt), ExitVerify,
			[]string{"unbundle: blob x: bundle is corrupt", "carry it again", "unbundle repair"}, nil},
		{"bundle, damaged", "bundle", bg, fmt.Errorf("blob x: %w", archive.ErrCorrupt), ExitVerify,
			[]string{"bundle: blob x"}, []string{"unbundle repair"}},
		{"unbundle, not signed by a trusted key", "unbundle", bg, fmt.Errorf("x: %w", trust.ErrSignature), ExitVerify,
			nil, []string{"carry it again"}},
		{"unbundle, refused by the policy", "unbundle", bg, fmt.Errorf("x: %w", provenance.ErrRefused), ExitVerify,
			nil, []string{"carry it again"}},
		{"a refusal", "unbundle", bg, fmt.Errorf("push: %w", oci.ErrUnauthorized), ExitRefused,
			[]string{"unbundle: push: registry refused the credentials"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			lg := &logger{w: &buf, prog: tc.prog}
			if code := exitReport(tc.ctx, lg, tc.err); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			for _, s := range tc.says {
				if !strings.Contains(buf.String(), s) {
					t.Errorf("%q does not say %q", buf.String(), s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(buf.String(), s) {
					t.Errorf("%q says %q", buf.String(), s)
				}
			}
			if n := strings.Count(buf.String(), tc.err.Error()); n != 1 {
				t.Errorf("the error told %d times: %q", n, buf.String())
			}
		})
	}

	cancelled, cancel := context.WithCancel(bg)
	cancel()
	var buf bytes.Buffer
	if code := exitReport(cancelled, &logger{w: &buf, prog: "bundle"}, context.Canceled); code != ExitInterrupted || buf.String() != "bundle: interrupted\n" {
		t.Errorf("interrupted: exit %d, %q", code, buf.String())
	}
	buf.Reset()
	if code := exitReport(bg, &logger{w: &buf, prog: "bundle"}, nil); code != ExitOK || buf.Len() != 0 {
		t.Errorf("success: exit %d, %q", code, buf.String())
	}

	buf.Reset()
	lg := &logger{w: &buf, prog: "unbundle", command: "push", json: true}
	code := exitReport(bg, lg, fmt.Errorf("%w: 2 of 3", mirror.ErrPartial))
	var ev report.Event
	if err := report.Decode(bytes.TrimSpace(buf.Bytes()), &ev); err != nil || ev.Event != "exit" || ev.Level != "error" || ev.ExitCode != code ||
		code != ExitPartial || ev.Program != "unbundle" || ev.Command != "push" || !strings.Contains(ev.Msg, "2 of 3") {
		t.Errorf("JSON exit event (%v): %s", err, buf.String())
	}
}

// TestExitCodesInHelp: the help lists every exit code the constants define.
func TestExitCodesInHelp(t *testing.T) {
	for _, code := range []int{ExitOK, ExitError, ExitUsage, ExitVerify, ExitPartial, ExitRefused, ExitNotLocal, ExitInterrupted} {
		if !strings.Contains(exitCodesHelp, fmt.Sprintf("\n   %-4d ", code)) && !strings.HasPrefix(strings.TrimPrefix(exitCodesHelp, "EXIT CODES:\n"), fmt.Sprintf("   %-4d ", code)) {
			t.Errorf("exit code %d is not in the help", code)
		}
	}
}
