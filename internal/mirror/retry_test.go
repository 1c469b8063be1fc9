package mirror

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/manifest"
	"github.com/element-hq/ess-airgap/internal/oci"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// TestRetryStops: retry tries again only what another try may mend, and only while the budget
// lasts; what it returns is the last try's error, as it was.
func TestRetryStops(t *testing.T) {
	broken := errors.New("unexpected EOF")
	for _, tc := range []struct {
		name    string
		retries int
		errs    []error // what each try returns; the last one again once they run out
		calls   int
		ok      bool
	}{
		{"the first try passes", 5, []error{nil}, 1, true},
		{"a broken stream, then a pass", 5, []error{broken, nil}, 2, true},
		{"refused credentials", 5, []error{&oci.StatusError{What: "get", Code: 401}}, 1, false},
		{"a missing blob", 5, []error{fmt.Errorf("blob: %w", oci.ErrNotFound)}, 1, false},
		{"the bundle's copy is bad", 5, []error{fmt.Errorf("read: %w", ErrFromBundle)}, 1, false},
		{"a digest that does not match", 5, []error{fmt.Errorf("blob: %w", verify.ErrBadDigest)}, 1, false},
		{"an unusable manifest", 5, []error{fmt.Errorf("x: %w", manifest.ErrBad)}, 1, false},
		{"no retries left", 0, []error{broken}, 1, false},
		{"one retry", 1, []error{broken}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			var last error
			err := retry(t.Context(), oci.NewBudget(tc.retries, time.Minute), t.Context(), func(context.Context) error {
				i := min(calls, len(tc.errs)-1)
				calls++
				last = tc.errs[i]
				return last
			})
			if calls != tc.calls {
				t.Errorf("%d tries, want %d", calls, tc.calls)
			}
			if (err == nil) != tc.ok || err != last {
				t.Errorf("err = %v, the last try's %v", err, last)
			}
		})
	}
}

// TestRetryCancelled: a run cancelled while a transfer fails is not tried again.
func TestRetryCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := retry(ctx, oci.NewBudget(100, time.Hour), ctx, func(context.Context) error {
		calls++
		cancel() // Ctrl-C while the transfer broke
		return errors.New("unexpected EOF")
	})
	if calls != 1 || err == nil {
		t.Errorf("%d tries after Ctrl-C: %v", calls, err)
	}
}

// TestRetryManyGetsItsContext: the operation of many requests runs with the caller's context
// (each request keeps the transport's own retries), a blob's transfer with one that carries
// its budget: either way the caller's deadline reaches the requests.
func TestRetryManyGetsItsContext(t *testing.T) {
	c := newClient(t)
	type key struct{}
	ctx := context.WithValue(t.Context(), key{}, "mine")
	for name, run := range map[string]func(context.Context, *oci.Client, func(context.Context) error) error{
		"RetryMany": RetryMany, "RetryBlob": RetryBlob,
	} {
		var got any
		if err := run(ctx, c, func(fctx context.Context) error { got = fctx.Value(key{}); return nil }); err != nil || got != "mine" {
			t.Errorf("%s: %v, the function saw %v", name, err, got)
		}
	}
}

// TestRetryableMore: the causes another try cannot mend, beside those of TestRetryable.
func TestRetryableMore(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"given up for its stalls", fmt.Errorf("x (%w)", errStalledOut), false},
		{"a bad digest", fmt.Errorf("blob: %w", verify.ErrBadDigest), false},
		{"an unusable manifest (mirror)", fmt.Errorf("x: %w", ErrBadManifest), false},
		{"an unusable manifest (manifest)", fmt.Errorf("x: %w", manifest.ErrBad), false},
		{"a platform the index lacks", fmt.Errorf("x: %w: linux/s390x is not in index sha256:1", manifest.ErrPlatform), false},
		{"a connection reset", errors.New("read tcp: connection reset by peer"), true},
		{"a 502 to an upload", &oci.StatusError{What: "upload", Code: 502}, true},
		{"a 404", &oci.StatusError{What: "get", Code: 404}, false},
		{"a 413", &oci.StatusError{What: "upload", Code: 413}, false},
	} {
		if got := Retryable(ctx, tc.err); got != tc.want {
			t.Errorf("%s: retryable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestRetryBlobBudgetFloor: --retries below blobAttempts still leaves a whole-blob transfer
// its blobAttempts tries' worth of budget; the transfer gives up with the last error.
func TestRetryBlobBudgetFloor(t *testing.T) {
	b := newClient(t, oci.WithRetry(1, time.Minute)).NewBudget(blobAttempts - 1)
	n := 0
	for b.Retry("") {
		n++
	}
	if n != blobAttempts-1 {
		t.Errorf("%d retries with --retries 1, want %d", n, blobAttempts-1)
	}
	b = newClient(t, oci.WithRetry(20, time.Minute)).NewBudget(blobAttempts - 1)
	n = 0
	for b.Retry("") {
		n++
	}
	if n != 19 {
		t.Errorf("%d retries with --retries 20, want 19", n)
	}
}

func newClient(t testing.TB, opts ...oci.Option) *oci.Client {
	t.Helper()
	c, err := oci.New(append([]oci.Option{oci.WithTimeout(2 * time.Second), oci.WithRetry(3, 5*time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRetryable(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"a broken stream", ctx, errors.New("unexpected EOF"), true},
		{"a transient answer to an upload", ctx, &oci.StatusError{Code: 503}, true},
		{"a refusal", ctx, &oci.StatusError{Code: 401}, false},
		{"the bundle's copy is bad", ctx, ErrFromBundle, false},
		{"a corrupt bundle", ctx, archive.ErrCorrupt, false},
		{"a missing platform", ctx, ErrPlatform, false},
		{"cancelled", cancelled, errors.New("unexpected EOF"), false},
	} {
		if got := Retryable(tc.ctx, tc.err); got != tc.want {
			t.Errorf("%s: retryable = %v", tc.name, got)
		}
	}
}

// TestRetryBlobSameAnswer: a transfer that gets the same error answer every time is tried
// oci.SameAnswer times, whatever --retries allows, and says so; one that breaks differently
// each time goes on to the budget's end.
func TestRetryBlobSameAnswer(t *testing.T) {
	noPause(t) // the count of tries is the point, not the waits between them (TestRetryPause)
	c := newClient(t, oci.WithRetry(50, time.Minute))
	calls := 0
	err := RetryBlob(t.Context(), c, func(context.Context) error {
		calls++
		return &oci.StatusError{What: "upload blob sha256:x to a", Code: 500, Reg: "UNKNOWN", Message: "no space left on device"}
	})
	if calls != oci.SameAnswer || !strings.Contains(err.Error(), "the same answer 4 times in a row") {
		t.Errorf("%d calls: %v", calls, err)
	}
	calls = 0
	err = RetryBlob(t.Context(), newClient(t, oci.WithRetry(3, time.Minute)), func(context.Context) error {
		calls++
		return &oci.StatusError{What: "upload", Code: 500 + calls%2*3}
	})
	if calls != blobAttempts || err == nil {
		t.Errorf("answers that differ: %d calls, want %d: %v", calls, blobAttempts, err)
	}
}

// noPause makes the retries of the test not wait between tries.
func noPause(t *testing.T) {
	t.Helper()
	pause := retryPause
	retryPause = func(int) time.Duration { return time.Millisecond }
	t.Cleanup(func() { retryPause = pause })
}

// TestRetryPause: the wait between tries grows by 250 ms a try, to at most 2 s.
func TestRetryPause(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: 250 * time.Millisecond, 2: 500 * time.Millisecond, 7: 1750 * time.Millisecond,
		8: 2 * time.Second, 9: 2 * time.Second, 100: 2 * time.Second} {
		if got := retryPause(attempt); got != want {
			t.Errorf("retryPause(%d) = %v, want %v", attempt, got, want)
		}
	}
}
