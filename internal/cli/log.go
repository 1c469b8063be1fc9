package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/element-hq/ess-airgap/internal/mirror"
	"github.com/element-hq/ess-airgap/internal/progress"
	"github.com/element-hq/ess-airgap/internal/report"
	"github.com/urfave/cli/v2"
)

// logFlags are on every command: how messages and progress go to stderr.
func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "`text`, or json: every message, progress tick and image or blob step as one JSON line on standard error (docs/json.md)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress and no messages but warnings and errors (the report, --json, and files asked for are still written)"},
	}
}

// logger is standard error as the commands write it: text as it is, or every message as a
// JSON event (--log-format json); with --quiet, only warnings and errors. Each Write is one
// message. Safe for concurrent use.
type logger struct {
	mu      sync.Mutex
	w       io.Writer
	prog    string
	command string
	json    bool
	quiet   bool
}

// configure reads --log-format and --quiet of the command being run.
func (l *logger) configure(c *cli.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.command = c.Command.Name
	l.quiet = c.Bool("quiet")
	switch f := c.String("log-format"); f {
	case "text", "":
		l.json = false
	case "json":
		l.json = true
	default:
		return usagef("--log-format %q: text or json", f)
	}
	return nil
}

// level classifies a message by how the commands begin it.
func level(msg string) string {
	for _, p := range []string{"FAILED ", "BAD ", "REFUSED ", "NOT LOCAL ", "MISSING ", "DAMAGED "} {
		if strings.HasPrefix(msg, p) {
			return "error"
		}
	}
	for _, p := range []string{"no ConfigMap written", "render check not run", "warning:"} {
		if strings.HasPrefix(msg, p) {
			return "warn"
		}
	}
	if strings.HasPrefix(msg, "referrer ") && strings.Contains(msg, "not carried") {
		return "warn"
	}
	return "info"
}

func (l *logger) Write(p []byte) (int, error) {
	msg := strings.TrimRight(string(p), "\n")
	lv := level(strings.TrimLeft(msg, "\n"))
	l.mu.Lock()
	quiet, asJSON := l.quiet, l.json
	l.mu.Unlock()
	if quiet && lv == "info" {
		return len(p), nil
	}
	if !asJSON {
		l.mu.Lock()
		defer l.mu.Unlock()
		_, err := l.w.Write(p)
		return len(p), err
	}
	if strings.TrimSpace(msg) == "" {
		return len(p), nil
	}
	l.emit(report.Event{Level: lv, Event: "message", Msg: strings.Trim(msg, "\n")})
	return len(p), nil
}

// emit writes one event as a JSON line, time and program filled in.
func (l *logger) emit(ev report.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev.Time = time.Now().UTC().Format(time.RFC3339Nano)
	ev.Program, ev.Command = l.prog, l.command
	b, _ := json.Marshal(ev)
	l.w.Write(append(b, '\n'))
}

func (l *logger) isJSON() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.json
}

func (l *logger) isQuiet() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.quiet
}

// exit reports a failed command: a line of text, or an exit event.
func (l *logger) exit(err error, code int) {
	if l.isJSON() {
		l.emit(report.Event{Level: "error", Event: "exit", Msg: err.Error(), ExitCode: code})
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s: %v\n", l.prog, err)
}

// meter is the Progress handed to mirror: bytes to the display, and (with --log-format json)
// every image and blob step as an event.
type meter struct {
	*progress.Meter
	log *logger
}

// Observe writes e as an event when the log is JSON.
func (m meter) Observe(e mirror.Event) {
	if !m.log.isJSON() {
		return
	}
	ev := report.Event{Level: "info", Event: e.Kind, Phase: e.Phase, Container: e.Container, Image: e.Ref, Repository: e.Repo,
		Digest: e.Digest, Size: e.Size}
	if e.Err != nil {
		ev.Level, ev.Error = "error", e.Err.Error()
	}
	m.log.emit(ev)
}

// observed is m for mirror: with --log-format json, it writes every image and blob step too.
func observed(e *env, m *progress.Meter) meter { return meter{Meter: m, log: e.log} }

// withProgress runs fn while showing a Meter on stderr: a bar on a terminal, a line every
// interval otherwise, a JSON progress event every interval with --log-format json, nothing
// with --quiet.
func withProgress(e *env, label string, fn func(m *progress.Meter) error) error {
	m := &progress.Meter{}
	switch {
	case e.log.isQuiet():
		return fn(m)
	case e.log.isJSON():
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		start := time.Now()
		tick := func() {
			done, total := m.Done(), m.Total()
			rate := int64(float64(done) / max(time.Since(start).Seconds(), 0.001))
			e.log.emit(report.Event{Level: "info", Event: "progress", Phase: label, DoneBytes: &done, TotalBytes: &total, BytesPerSecond: &rate})
		}
		go func() {
			defer wg.Done()
			t := time.NewTicker(progressInterval)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					tick()
				}
			}
		}()
		err := fn(m)
		close(stop)
		wg.Wait()
		tick() // the last word: where it ended
		return err
	}
	d := progress.Start(e.stderr, label, m, progressInterval)
	err := fn(m)
	d.Stop()
	return err
}

// progressInterval is how often progress is written when stderr is not a terminal.
var progressInterval = 5 * time.Second
