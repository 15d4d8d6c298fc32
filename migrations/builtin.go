package migrations

import (
	"embed"
	"io/fs"
)

//go:embed builtin/*.sql
var builtinFiles embed.FS

// Builtin is the embedded example schema for AI-agent workspaces, used by the
// litedir CLI, the benchmarks and the end-to-end tests. Its migrations are at
// the root of the fs.FS:
//
//   - 00001_init.sql: sessions (title, agent, status, message_count,
//     timestamps) and messages (session, role, body), with an index for reading
//     the latest messages of a session;
//   - 00002_files_usage.sql: files touched in a session (path, sha256, size)
//     and token usage per model.
//
// Tables are STRICT, timestamps are Unix milliseconds defaulting to the
// current time, and child rows reference sessions with ON DELETE CASCADE
// (enforced when the connection has PRAGMA foreign_keys=ON).
var Builtin fs.FS = mustSub(builtinFiles, "builtin")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is a constant embedded above; this cannot fail
	}
	return sub
}
