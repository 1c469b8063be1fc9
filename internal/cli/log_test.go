package cli

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"sync"
	"testing"

	"github.com/element-hq/ess-airgap/internal/progress"
	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/urfave/cli/v2"
)

func TestLevel(t *testing.T) {
	for msg, want := range map[string]string{
		"FAILED web.nginx: x":                   "error",
		"BAD blobs/sha256/x: y":                 "error",
		"REFUSED a":                             "error",
		"NOT LOCAL r/x: y":                      "error",
		"MISSING a":                             "error",
		"DAMAGED a":                             "error",
		"no ConfigMap written: rerun":           "warn",
		"render check not run: no helm on PATH": "warn",
		"warning: something":                    "warn",
		"referrer sha256:1 of a.b not carried: too big": "warn",
		"referrer sha256:1 of a.b carried":              "info",
		"pushed 3 containers":                           "info",
		"failed to do nothing":                          "info",
		"":                                              "info",
	} {
		if got := level(msg); got != want {
			t.Errorf("level(%q) = %s, want %s", msg, got, want)
		}
	}
}

// TestLoggerQuiet: --quiet keeps warnings and errors and drops the rest; each write counts as
// written either way.
func TestLoggerQuiet(t *testing.T) {
	var buf bytes.Buffer
	l := &logger{w: &buf, prog: "unbundle", quiet: true}
	for _, msg := range []string{"pushed 3 containers\n", "FAILED a.b: x\n", "warning: y\n", "\nNext steps:\n"} {
		if n, err := l.Write([]byte(msg)); n != len(msg) || err != nil {
			t.Errorf("write %q: %d, %v", msg, n, err)
		}
	}
	if buf.String() != "FAILED a.b: x\nwarning: y\n" {
		t.Errorf("quiet wrote %q", buf.String())
	}
}

// TestLoggerJSON: with --log-format json every message is one event line of the documented
// shape, its level from its words; blank writes are dropped; lines written side by side do
// not mix.
func TestLoggerJSON(t *testing.T) {
	var buf bytes.Buffer
	l := &logger{w: &buf, prog: "bundle", command: "create", json: true}
	l.Write([]byte("FAILED a.b: x\n"))
	l.Write([]byte("\n\n"))
	l.Write([]byte("\nwrote it\n"))
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Write([]byte("warning: side by side\n"))
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 22 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	want := []struct{ level, msg string }{{"error", "FAILED a.b: x"}, {"info", "wrote it"}}
	for i, line := range lines {
		var ev report.Event
		if err := report.Decode([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if ev.Event != "message" || ev.Program != "bundle" || ev.Command != "create" || ev.Time == "" {
			t.Errorf("event %+v", ev)
		}
		if i < len(want) && (ev.Level != want[i].level || ev.Msg != want[i].msg) {
			t.Errorf("event %d: %s %q, want %s %q", i, ev.Level, ev.Msg, want[i].level, want[i].msg)
		}
		if i >= len(want) && (ev.Level != "warn" || ev.Msg != "warning: side by side") {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
}

// TestLoggerConfigure: --log-format takes text or json, anything else is a usage error naming
// it; the command's name goes into every event.
func TestLoggerConfigure(t *testing.T) {
	for format, want := range map[string]bool{"text": false, "": false, "json": true} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		fs.String("log-format", format, "")
		fs.Bool("quiet", true, "")
		c := cli.NewContext(&cli.App{}, fs, nil)
		c.Command = &cli.Command{Name: "push"}
		l := &logger{}
		if err := l.configure(c); err != nil || l.json != want || !l.quiet || l.command != "push" {
			t.Errorf("%q: %+v, %v", format, l, err)
		}
	}
	r := runMain("unbundle", "", "list", "--log-format", "xml", "x.tar.zst")
	if r.code != ExitUsage || !strings.Contains(r.stderr, `--log-format "xml": text or json`) {
		t.Errorf("--log-format xml: exit %d: %s", r.code, r.stderr)
	}
}

// TestWithProgress: with --quiet nothing is shown; with --log-format json the last word is a
// progress event saying where it ended, whatever fn returned.
func TestWithProgress(t *testing.T) {
	var buf bytes.Buffer
	e := &env{log: &logger{w: &buf, prog: "bundle", quiet: true}}
	want := errors.New("it failed")
	if err := withProgress(e, "pull", func(m *progress.Meter) error { m.SetTotal(10); m.Add(10); return want }); err != want || buf.Len() != 0 {
		t.Errorf("quiet: %v, %q", err, buf.String())
	}

	buf.Reset()
	e = &env{log: &logger{w: &buf, prog: "bundle", command: "create", json: true}}
	if err := withProgress(e, "pull", func(m *progress.Meter) error { m.SetTotal(10); m.Add(4); return want }); err != want {
		t.Errorf("json: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var ev report.Event
	if err := report.Decode([]byte(lines[len(lines)-1]), &ev); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if ev.Event != "progress" || ev.Phase != "pull" || ev.DoneBytes == nil || *ev.DoneBytes != 4 || ev.TotalBytes == nil || *ev.TotalBytes != 10 || ev.BytesPerSecond == nil {
		t.Errorf("last event %+v", ev)
	}
}
