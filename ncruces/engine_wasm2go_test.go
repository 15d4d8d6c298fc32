//go:build litedir_wasm2go

package ncruces

import "testing"

// checkEngineSetup checks what Initialize set up on wasm2go: nothing but
// the note, on a driver of v0.33 or later.
func checkEngineSetup(t *testing.T, info Engine) {
	t.Helper()
	if info.CacheDir != "" || info.CacheNote != cacheNotNeeded {
		t.Errorf("cache: got %q, %q, want none, %q", info.CacheDir, info.CacheNote, cacheNotNeeded)
	}
	if !versionAtLeast(info.DriverVersion, 0, 33, 0) {
		t.Errorf("DriverVersion: got %q, want v0.33.0 or later", info.DriverVersion)
	}
}
