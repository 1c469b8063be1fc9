package mirror

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// TestFailedError: the failures of a run give the run's error one sentinel for their cause, so
// that one cause gives one exit code: a damaged bundle first (whatever else failed), then a
// refusal a rerun meets again; transfers that broke, a registry failing every upload and a
// read-back mismatch add none. The run's own error is kept.
func TestFailedError(t *testing.T) {
	transient := fmt.Errorf("a.b (r/x:1): %w", &oci.StatusError{What: "get", Code: 503})
	notFound := fmt.Errorf("a.c (r/y:1): %w", &oci.StatusError{What: "get manifest", Code: 404, Reg: "MANIFEST_UNKNOWN"})
	denied := fmt.Errorf("a.d: %w", &oci.StatusError{What: "get manifest", Code: 401})
	damagedBlob := fmt.Errorf("blob sha256:x: %w", ErrFromBundle)
	corrupt := fmt.Errorf("entry: %w", archive.ErrCorrupt)
	stopped := fmt.Errorf("a.e: %w", ErrStopped)
	mismatch := fmt.Errorf("a.f: %w", verify.ErrMismatch)
	broken := errors.New("unexpected EOF")
	for _, tc := range []struct {
		name             string
		failed           []error
		corrupt, refused bool
	}{
		{"none", nil, false, false},
		{"a transient answer", []error{transient}, false, false},
		{"a broken stream", []error{broken}, false, false},
		{"a missing manifest", []error{notFound}, false, true},
		{"refused credentials", []error{denied, transient}, false, true},
		{"a damaged blob", []error{damagedBlob}, true, false},
		{"a corrupt entry beside refusals", []error{notFound, denied, corrupt, notFound, denied}, true, false},
		{"stopped", []error{stopped, stopped}, false, false},
		{"a read-back mismatch", []error{mismatch}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failed := map[string]error{}
			for i, f := range tc.failed {
				failed[fmt.Sprint("c", i)] = f
			}
			run := fmt.Errorf("%w: %d containers failed", ErrPartial, len(failed))
			for range 20 { // whatever order the map gives them in
				err := FailedError(run, failed)
				if !errors.Is(err, ErrPartial) || !strings.HasPrefix(err.Error(), run.Error()) {
					t.Fatalf("the run's error is lost: %v", err)
				}
				if got := errors.Is(err, archive.ErrCorrupt); got != tc.corrupt {
					t.Fatalf("ErrCorrupt %v, want %v: %v", got, tc.corrupt, err)
				}
				if got := errors.Is(err, ErrRefused); got != tc.refused {
					t.Fatalf("ErrRefused %v, want %v: %v", got, tc.refused, err)
				}
			}
		})
	}
}

// TestCause: the failures of many containers with one cause are told as one: the cause leaves
// out what was asked (the blob, the repository); a stopped push says so, with its words.
func TestCause(t *testing.T) {
	a := fmt.Errorf("web.nginx (r/nginx:1): %w", &oci.StatusError{What: "upload blob sha256:1 to ess/nginx", Code: 500, Reg: "UNKNOWN", Message: "disk full"})
	b := fmt.Errorf("db.postgres (r/postgres:16): %w", &oci.StatusError{What: "upload blob sha256:2 to ess/postgres", Code: 500, Reg: "UNKNOWN", Message: "disk full"})
	if Cause(a) != Cause(b) || strings.Contains(Cause(a), "nginx") || !strings.Contains(Cause(a), "disk full") || !strings.Contains(Cause(a), "500") {
		t.Errorf("causes %q and %q", Cause(a), Cause(b))
	}
	c := fmt.Errorf("db.postgres: %w", &oci.StatusError{What: "upload", Code: 502})
	if Cause(a) == Cause(c) {
		t.Errorf("two causes told as one: %q", Cause(a))
	}
	st := fmt.Errorf("web.nginx: %w (HTTP 500 Internal Server Error)", ErrStopped)
	if got := Cause(st); got != st.Error() {
		t.Errorf("stopped: %q", got)
	}
	if Cause(nil) != "" {
		t.Errorf("Cause(nil) = %q", Cause(nil))
	}
}

// TestDamagedRefused: which failures are the bundle's own, and which a rerun meets again.
func TestDamagedRefused(t *testing.T) {
	for _, tc := range []struct {
		name             string
		err              error
		damaged, refused bool
	}{
		{"from the bundle", fmt.Errorf("x: %w", ErrFromBundle), true, false},
		{"corrupt", archive.ErrCorrupt, true, false},
		{"unauthorized", fmt.Errorf("x: %w", oci.ErrUnauthorized), false, true},
		{"not found", &oci.StatusError{Code: 404}, false, true},
		{"too large", &oci.StatusError{Code: 413}, false, true},
		{"a media type", &oci.StatusError{Code: 415}, false, true},
		{"a gateway", &oci.StatusError{Code: 502}, false, false},
		{"a broken stream", errors.New("connection reset by peer"), false, false},
		{"stopped", ErrStopped, false, false},
		{"mismatch", verify.ErrMismatch, false, false},
		{"a platform the image lacks", fmt.Errorf("a.b (r/x:1): %w: the image is linux/amd64 only, not linux/arm64", ErrPlatform), false, true},
		{"a platform an index lacks", fmt.Errorf("a.b: %w: linux/s390x is not in index sha256:1", manifest.ErrPlatform), false, true},
	} {
		if got := Damaged(tc.err); got != tc.damaged {
			t.Errorf("%s: damaged %v", tc.name, got)
		}
		if got := Refused(tc.err); got != tc.refused {
			t.Errorf("%s: refused %v", tc.name, got)
		}
	}
}
