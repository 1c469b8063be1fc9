package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// compressStudy answers, layer by layer, whether compressing a layer in the bundle would be
// worth its time: each unique blob is compressed once more, as the bundle writer would (zstd
// at klauspost's default level, zstd -3's equal, one core), and the bytes saved are set against
// the time spent. Compressing pays only when carrying the saved bytes takes longer than
// compressing them: when the medium (or link) is slower than the break-even speed,
// saved fraction x compression speed.
type compressStudy struct {
	layers          []layerGain
	bytes, saved    int64
	took            time.Duration
	worth           int   // layers whose break-even is above minMedium
	worthBytes      int64 // their bytes
	worthSavedBytes int64
}

type layerGain struct {
	digest      string
	size, saved int64
	took        time.Duration
}

// minMedium is the slowest medium considered (a USB 2 stick writes about 20 MB/s): a layer is
// worth compressing when its break-even speed is above it.
const minMedium = 20e6

func (g layerGain) breakEven() float64 {
	if g.took <= 0 {
		return 0
	}
	return float64(g.saved) / g.took.Seconds()
}

// studyCompression compresses every blob of the plan above 1 MiB (configs are small and
// compressed in the bundle already).
func studyCompression(plan *floorPlan) (*compressStudy, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer enc.Close()
	s := &compressStudy{}
	for _, bl := range plan.blobs {
		if bl.size < 1<<20 {
			continue
		}
		f, err := os.Open(bl.file)
		if err != nil {
			return nil, err
		}
		cw := &countWriter{}
		enc.Reset(cw)
		t0 := time.Now()
		_, err = io.Copy(enc, f)
		f.Close()
		if err == nil {
			err = enc.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("compress %s: %w", bl.digest, err)
		}
		g := layerGain{digest: bl.digest, size: bl.size, saved: bl.size - cw.n, took: time.Since(t0)}
		s.layers = append(s.layers, g)
		s.bytes += g.size
		s.saved += g.saved
		s.took += g.took
		if g.breakEven() > minMedium {
			s.worth++
			s.worthBytes += g.size
			s.worthSavedBytes += g.saved
		}
	}
	sort.Slice(s.layers, func(i, j int) bool { return s.layers[i].breakEven() > s.layers[j].breakEven() })
	return s, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// markdown reports the study.
func (s *compressStudy) markdown() string {
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }
	pct := func(a, b int64) float64 { return 100 * float64(a) / float64(max(b, 1)) }
	p("Each layer above 1 MiB compressed once more with zstd at klauspost's default level (zstd -3's equal), one core: %d layers, %s MiB, %.2f %% saved (%s MiB) in %.1f s of CPU (%.0f MB/s). ",
		len(s.layers), mib(s.bytes), pct(s.saved, s.bytes), mib(s.saved), s.took.Seconds(), float64(s.bytes)/max(s.took.Seconds(), 1e-9)/1e6)
	p("A layer is worth compressing when the medium that carries the bundle is slower than its break-even speed (bytes saved per second of compression): %d of them are above %.0f MB/s (%s MiB, saving %s MiB).\n\n",
		s.worth, minMedium/1e6, mib(s.worthBytes), mib(s.worthSavedBytes))
	p("| layer | MiB | saved | break-even MB/s |\n|---|---:|---:|---:|\n")
	for i, g := range s.layers {
		if i == 5 {
			break
		}
		p("| %s | %s | %.2f %% | %.2f |\n", short(g.digest), mib(g.size), pct(g.saved, g.size), g.breakEven()/1e6)
	}
	if n := len(s.layers); n > 5 {
		g := s.layers[n-1]
		p("| ... the least: %s | %s | %.2f %% | %.2f |\n", short(g.digest), mib(g.size), pct(g.saved, g.size), g.breakEven()/1e6)
	}
	return w.String()
}
