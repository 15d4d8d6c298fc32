//go:build !unix && !windows

package lock

// processRunning cannot look processes up here.
func processRunning(int) running { return runUnknown }
