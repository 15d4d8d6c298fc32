//go:build !unix && !windows

package ncruces

// isDiskFull reports false: the driver's files here report no full disk that
// litedir could recognize.
func isDiskFull(error) bool { return false }
