package ncruces

// For the external tests (crash_test.go).

// FullFsyncPragmas returns the pragmas a darwin profile adds to ps.
var FullFsyncPragmas = fullFsyncPragmas

// DirSyncs reports that the VFS syncs directories on this platform.
const DirSyncs = dirSyncs
