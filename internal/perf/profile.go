package perf

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// StartProfiles starts a CPU profile into cpuPath and arranges a heap
// profile (allocations since the start, by site) into memPath, each only
// when its path is set; the returned stop writes them. Both are for go tool
// pprof; moxing sets them through MOXING_CPUPROFILE and MOXING_MEMPROFILE,
// which errors name, so that every command can be profiled without a flag
// of its own.
func StartProfiles(cpuPath, memPath string) (stop func() error, err error) {
	var cpu *os.File
	if cpuPath != "" {
		if cpu, err = os.Create(cpuPath); err != nil {
			return nil, fmt.Errorf("MOXING_CPUPROFILE: %w", err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("MOXING_CPUPROFILE: %w", err)
		}
	}
	return func() error {
		var errs []error
		if cpu != nil {
			pprof.StopCPUProfile()
			errs = append(errs, cpu.Close())
		}
		if memPath != "" {
			f, err := os.Create(memPath)
			if err != nil {
				return errors.Join(append(errs, fmt.Errorf("MOXING_MEMPROFILE: %w", err))...)
			}
			runtime.GC() // the profile is as of the last collection: make that now
			errs = append(errs, pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
		}
		return errors.Join(errs...)
	}, nil
}
