//go:build windows

package ncruces

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// statFilesystem asks for the drive type and file system name of the volume that holds path:
// GetVolumePathNameW finds the volume's root ("C:\", "\\server\share\", or the folder a volume
// is mounted on), GetDriveTypeW tells a remote drive (mapped network drives included), and
// GetVolumeInformationW names the file system. A UNC path is a network path whatever its drive
// type says.
func statFilesystem(path string) (Filesystem, error) {
	// GetVolumePathNameW works on the path's text alone: a path that does not exist would
	// get its volume's answer.
	if _, err := os.Stat(path); err != nil {
		return Filesystem{}, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Filesystem{}, fsPathError("statfs", path, err)
	}
	p, err := windows.UTF16PtrFromString(abs)
	if err != nil {
		return Filesystem{}, fsPathError("statfs", path, err)
	}
	var root [windows.MAX_PATH + 1]uint16
	if err := windows.GetVolumePathName(p, &root[0], uint32(len(root))); err != nil {
		return Filesystem{}, fsPathError("GetVolumePathName", path, err)
	}
	driveType := windows.GetDriveType(&root[0])
	var name [windows.MAX_PATH + 1]uint16
	fsName := ""
	if windows.GetVolumeInformation(&root[0], nil, 0, nil, nil, nil, &name[0], uint32(len(name))) == nil {
		fsName = windows.UTF16ToString(name[:])
	}
	return windowsFilesystem(windowsUNC(abs), driveType, fsName), nil
}
