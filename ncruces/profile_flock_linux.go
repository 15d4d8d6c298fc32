//go:build linux && sqlite3_flock

package ncruces

// The sqlite3_flock build tag is refused on Linux. BSD locks there are not
// compatible with the POSIX/OFD locks that C SQLite and the default driver
// build use on the same files, and in testing such a mix lost writes. Build
// without the tag: Linux has OFD locks.
var _ = sqlite3_flock_is_not_supported_on_linux_build_without_the_tag
