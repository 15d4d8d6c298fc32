package committer

import (
	"fmt"
	"io/fs"
	"os"
)

// The file is still the file.
//
// SQLite keeps its descriptors on the database and its WAL whatever happens
// to their names: delete the database, or the whole directory, or rename it,
// and the writer connection goes on committing into a file that nobody will
// find again — lost when the last descriptor closes. Before every COMMIT the
// loop therefore checks that the paths still name the files it opened
// (os.SameFile: the same device and inode, or the same volume and file
// index): two stats per batch, whatever its size. A batch whose files moved
// is rolled back and its callers get ErrMoved.

// fileID is a file's identity when the committer opened it.
type fileID struct {
	path string
	info fs.FileInfo
}

// identify records the identity of the file at path.
func identify(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	// On Windows, os.SameFile reads a file's identity the first time it
	// is asked, through the path the FileInfo was made from: ask now,
	// while the path names this file.
	os.SameFile(fi, fi)
	return fileID{path: path, info: fi}, nil
}

// check returns an error matching ErrMoved unless path still names the
// file.
func (id fileID) check() error {
	fi, err := os.Stat(id.path)
	switch {
	case err != nil:
		return &fs.PathError{Op: "commit", Path: id.path, Err: fmt.Errorf("%w: %w", ErrMoved, err)}
	case !os.SameFile(id.info, fi):
		return &fs.PathError{Op: "commit", Path: id.path, Err: fmt.Errorf("%w: another file is at its path now", ErrMoved)}
	}
	return nil
}
