package testregistry

import "testing"

// StartT starts a Distribution registry (see Start) in t.TempDir, closes it when the test
// ends, and fails the test if it cannot start.
func StartT(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	r, err := Start(t.Context(), t.TempDir(), opts...)
	if err != nil {
		t.Fatalf("start registry: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}
