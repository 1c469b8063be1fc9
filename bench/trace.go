package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// dropCache, with -cold, syncs each file and drops its pages from the page cache, so that the
// next phase reads it from the disk.
func (b *bench) dropCache(paths ...string) {
	if !b.cfg.cold {
		return
	}
	for _, p := range paths {
		if f, err := os.Open(p); err == nil {
			f.Sync()
			unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
			f.Close()
		}
	}
}

// tracePhase, with -pprof DIR, profiles the bench process (which holds the registries) while a
// phase runs, and samples /proc/vmstat (dirty and writeback pages, pages in and out) every
// 250 ms; it returns the env entry that makes our command write its own CPU profile, and the
// function that stops it all. Without -pprof it does nothing.
func (b *bench) tracePhase(name string) (env []string, stop func()) {
	if b.cfg.pprof == "" {
		return nil, func() {}
	}
	os.MkdirAll(b.cfg.pprof, 0o755)
	base := filepath.Join(b.cfg.pprof, fmt.Sprintf("%s-%dMiB-%d", strings.ReplaceAll(name, " ", "-"), b.size>>20, b.seq.Add(1)))
	f, err := os.Create(base + ".bench.pprof")
	if err == nil && pprof.StartCPUProfile(f) != nil {
		f.Close()
		f = nil
	}
	vm, _ := os.Create(base + ".vmstat.tsv")
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		fields := []string{"nr_dirty", "nr_writeback", "pgpgin", "pgpgout", "nr_free_pages", "pgscan_direct", "allocstall_normal"}
		fmt.Fprintf(vm, "t\t%s\n", strings.Join(fields, "\t"))
		t0 := time.Now()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			data, _ := os.ReadFile("/proc/vmstat")
			vals := map[string]string{}
			for _, line := range strings.Split(string(data), "\n") {
				if k, v, ok := strings.Cut(line, " "); ok {
					vals[k] = v
				}
			}
			row := []string{fmt.Sprintf("%.2f", time.Since(t0).Seconds())}
			for _, k := range fields {
				row = append(row, vals[k])
			}
			fmt.Fprintln(vm, strings.Join(row, "\t"))
			select {
			case <-quit:
				return
			case <-tick.C:
			}
		}
	}()
	return []string{"ESS_AIRGAP_CPUPROFILE=" + base + ".ours.pprof"}, func() {
		close(quit)
		<-done
		vm.Close()
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
		}
	}
}
