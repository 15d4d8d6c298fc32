package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
)

// phaseProfilePath is where -cpuprofile path puts the profile of the named
// phase: the phase's name before path's extension, so that one run leaves
// cpu.litedir.pprof, cpu.front.pprof and cpu.baseline.pprof beside each
// other for "go tool pprof".
func phaseProfilePath(path, phase string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "." + phase + ext
}

// startProfile starts the CPU profile of the named phase, when path is not
// "", and returns the function that stops it and closes its file. Only the
// workload is profiled: not the sessions it adds, nor the verification.
func startProfile(path, phase string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	name := phaseProfilePath(path, phase)
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, errors.Join(fmt.Errorf("cpu profile %s: %w", name, err), f.Close(), os.Remove(name))
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		return nil
	}, nil
}
