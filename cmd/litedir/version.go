package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/litedir/litedir/ncruces"
	"github.com/litedir/litedir/workspace"
)

const versionDoc = `
Version prints the version of litedir and of what it is built with: Go, the
SQLite engine, the go-sqlite3 driver and the engine that runs SQLite (the
wazero runtime by default, wasm2go with -tags litedir_wasm2go), the platform
profile: which file locks the driver uses here, whether WAL has shared memory,
and what litedir does about what is missing, and the engine cache.

The profile is the one a workspace in the current directory, or in the
directory of -dir, would get: its filesystem (local, network or FUSE, as
detected) and LITEDIR_FILESYSTEM decide part of it.

Examples:

	litedir version -json
	litedir version -dir /mnt/nfs/agent`

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlagSet("version", "[-json] [-dir DIR]", versionDoc, stderr)
	asJSON := flags.Bool("json", false, "print the versions as JSON")
	dir := flags.String("dir", ".", "show the profile of a workspace in `dir`")
	if _, err := parseArgs(flags, args); err != nil {
		return usageExit(flags, err)
	}
	return report(stderr, "version", printVersion(stdout, stderr, *dir, *asJSON))
}

// printVersion prints the versions and the platform profile for a
// workspace in dir.
func printVersion(stdout, stderr io.Writer, dir string, asJSON bool) error {
	profile, err := dirProfile(dir)
	if err != nil {
		return err
	}
	// The SQLite version comes from the engine itself, so it has to be
	// compiled (from the cache, usually: milliseconds). If that fails the
	// rest is still worth printing.
	initErr := ncruces.Initialize(newLogger(stderr, slog.LevelWarn))
	engine := ncruces.EngineInfo()
	v := versionJSON{
		Litedir:  "(devel)",
		Go:       runtime.Version(),
		GOOS:     runtime.GOOS,
		GOARCH:   runtime.GOARCH,
		Wazero:   engineWazeroVersion(engine),
		Platform: newPlatformJSON(profile),
		Engine:   newEngineJSON(engine),
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v.Litedir = bi.Main.Version
		}
		v.Revision, v.Modified = vcsInfo(bi.Settings)
	}
	if asJSON {
		err = writeJSON(stdout, v)
	} else {
		err = writeVersion(stdout, &v, engine, profile)
	}
	if initErr != nil {
		return initErr
	}
	return err
}

// dirProfile returns the profile a workspace in dir would start from: the
// platform's on dir's filesystem, in the mode of LITEDIR_FILESYSTEM. (Open
// may still fall back to a safer one.)
func dirProfile(dir string) (ncruces.Profile, error) {
	mode, err := ncruces.ParseFilesystemMode(os.Getenv(workspace.EnvFilesystem))
	if err != nil {
		return ncruces.Profile{}, fmt.Errorf("%s: %w", workspace.EnvFilesystem, err)
	}
	f, err := ncruces.DetectFilesystem(dir)
	if err != nil {
		return ncruces.Profile{}, err
	}
	return ncruces.Platform().OnFilesystem(f, mode), nil
}

// vcsInfo returns the commit a binary was built from and whether its
// checkout had uncommitted changes, from the build settings the go command
// records when it builds inside a checkout; "" and nil without them.
func vcsInfo(settings []debug.BuildSetting) (revision string, modified *bool) {
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = new(s.Value == "true")
		}
	}
	return revision, modified
}

// wazeroVersion returns the version of the Wasm runtime in the build info,
// or "unknown".
func wazeroVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, m := range bi.Deps {
		if m.Path != wazeroModule {
			continue
		}
		if m.Replace != nil && m.Replace.Version != "" {
			return m.Replace.Version
		}
		return m.Version
	}
	return "unknown"
}

// engineWazeroVersion returns wazeroVersion on the wazero engine and "" on
// wasm2go, which does not run SQLite in wazero (a program may still link
// wazero for something else).
func engineWazeroVersion(e ncruces.Engine) string {
	if e.Name != ncruces.EngineWazero {
		return ""
	}
	return wazeroVersion()
}

// wazeroModule is the module path of the Wasm runtime, for its version in
// the build info.
const wazeroModule = "github.com/tetratelabs/wazero"

// versionJSON is the -json output of version.
type versionJSON struct {
	Litedir  string       `json:"litedir"`
	Revision string       `json:"revision,omitempty"` // the VCS commit, when built from a checkout
	Modified *bool        `json:"modified,omitempty"` // the checkout had uncommitted changes; with revision
	Go       string       `json:"go"`
	GOOS     string       `json:"goos"`
	GOARCH   string       `json:"goarch"`
	Wazero   string       `json:"wazero,omitempty"` // the wazero engine only
	Platform platformJSON `json:"platform"`
	Engine   engineJSON   `json:"engine"`
}

// writeVersion prints v as aligned "key: value" lines.
func writeVersion(w io.Writer, v *versionJSON, engine ncruces.Engine, profile ncruces.Profile) error {
	var f fields
	switch {
	case v.Revision != "" && v.Modified != nil && *v.Modified:
		f.add("litedir", "%s (commit %s, modified)", v.Litedir, v.Revision)
	case v.Revision != "":
		f.add("litedir", "%s (commit %s)", v.Litedir, v.Revision)
	default:
		f.add("litedir", "%s", v.Litedir)
	}
	f.add("go", "%s %s/%s", v.Go, v.GOOS, v.GOARCH)
	if v.Wazero != "" {
		f.add("wazero", "%s", v.Wazero)
	}
	f.addEngine(engine)
	f.addPlatform(profile)
	return f.write(w)
}
