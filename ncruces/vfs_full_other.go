//go:build !unix && !windows

package ncruces

// isDiskFull reports false: the driver's files here report no full disk that
// litedir could recognize.
func isDiskFull(error) bool { return false }

// dirSyncs is false: the driver's files here have no directory to sync.
const dirSyncs = false

// readOnlyFS returns nil: there is no read-only file system to recognize.
func readOnlyFS(string) error { return nil }
