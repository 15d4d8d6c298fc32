//go:build unix && !linux

package lock

// zombie reports false: only Linux is checked for processes that have
// exited and wait to be reaped (see liveness_zombie_linux.go). Elsewhere such
// a process counts as running until its parent reaps it.
func zombie(int) bool { return false }
