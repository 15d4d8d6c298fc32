//go:build solaris

package ncruces

import "golang.org/x/sys/unix"

// statFilesystem reads f_basetype of path's filesystem with statvfs(2) (Solaris and illumos).
func statFilesystem(path string) (Filesystem, error) {
	var st unix.Statvfs_t
	if err := ignoringEINTR(func() error { return unix.Statvfs(path, &st) }); err != nil {
		return Filesystem{}, fsPathError("statvfs", path, err)
	}
	b := make([]byte, 0, len(st.Basetype))
	for _, c := range st.Basetype {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return solarisFilesystem(string(b)), nil
}
