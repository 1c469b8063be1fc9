// Package progress shows how far a transfer is. Hot paths add to a Meter's atomic counters; one
// ticker renders them: a bar with bytes, rate and ETA on a terminal, a plain line every few
// seconds otherwise.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Meter counts bytes done against a total. Safe for concurrent use.
type Meter struct {
	total, done atomic.Int64
}

// SetTotal sets the number of bytes expected.
func (m *Meter) SetTotal(n int64) { m.total.Store(n) }

// Add counts n bytes done.
func (m *Meter) Add(n int64) { m.done.Add(n) }

// Total is the number of bytes expected (0 until SetTotal).
func (m *Meter) Total() int64 { return m.total.Load() }

// Done is the number of bytes done so far.
func (m *Meter) Done() int64 { return m.done.Load() }

// Display renders a Meter until Stop.
type Display struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Start renders m on w under label: a progress bar when w is a terminal, else a line every
// interval. Stop it before writing anything else to w.
func Start(w io.Writer, label string, m *Meter, interval time.Duration) *Display {
	d := &Display{stop: make(chan struct{})}
	tty := IsTerminal(w)
	var bar *progressbar.ProgressBar
	if tty {
		interval = 150 * time.Millisecond
		bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription(label), progressbar.OptionSetWidth(30), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish(), progressbar.OptionUseANSICodes(true))
	}
	start := time.Now()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-d.stop:
				if bar != nil {
					bar.Finish()
				}
				return
			case <-t.C:
				total, done := m.total.Load(), m.done.Load()
				if bar != nil {
					if bar.GetMax64() != total && total > 0 {
						bar.ChangeMax64(total)
					}
					bar.Set64(min(done, max(total, done)))
					continue
				}
				fmt.Fprintln(w, Line(label, done, total, time.Since(start)))
			}
		}
	}()
	return d
}

// Stop ends the display.
func (d *Display) Stop() {
	close(d.stop)
	d.wg.Wait()
}

// Line is the plain progress line: "label: 1.2 GiB of 2.0 GiB (60%), 150.0 MiB/s".
func Line(label string, done, total int64, elapsed time.Duration) string {
	pct := 0.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	rate := float64(done) / max(elapsed.Seconds(), 0.001)
	return fmt.Sprintf("%s: %s of %s (%.0f%%), %s/s", label, Bytes(done), Bytes(total), pct, Bytes(int64(rate)))
}

// Bytes formats n in binary units.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
