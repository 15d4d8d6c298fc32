//go:build !(linux || darwin || freebsd || dragonfly || openbsd || netbsd || solaris || windows)

package ncruces

import "os"

// statFilesystem cannot tell the filesystem here (plan9, js, wasip1, AIX): it only checks
// that path exists.
func statFilesystem(path string) (Filesystem, error) {
	if _, err := os.Stat(path); err != nil {
		return Filesystem{}, err
	}
	return Filesystem{Kind: UnknownFilesystem}, nil
}
