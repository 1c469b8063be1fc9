package mirror

import "testing"

func TestVersionTag(t *testing.T) {
	for in, want := range map[string]string{"1.2.3": "1.2.3", "1.2.3+build.5": "1.2.3_build.5", "0.1.0-rc.1+a+b": "0.1.0-rc.1_a_b", "": ""} {
		if got := VersionTag(in); got != want {
			t.Errorf("VersionTag(%q) = %q, want %q", in, got, want)
		}
	}
}
