// Package wasmhost runs a WebAssembly program built with GOOS=wasip1
// GOARCH=wasm inside the calling Go process, with wazero as a library: the
// way an editor plugin host or a sandbox would embed litedir's wasip1 build.
// e2e's wasip1 test uses it to run the litedir CLI against a real directory.
//
// A [Host] compiles the module once and runs it any number of times, also
// concurrently: each [Host.Run] is a fresh instance with its own memory,
// arguments, environment and standard streams, the WebAssembly counterpart
// of a process. Instances see the host directories given in [Run].Mounts
// and nothing else of the host's file system.
//
// Compiling a Go program of tens of megabytes takes the host seconds;
// [New] takes a wazero compilation cache directory so that later hosts (the
// next test run) load the compiled code instead.
package wasmhost

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// Host holds a compiled wasip1 module and the runtime that runs it. It is
// safe for concurrent use by multiple goroutines; Close it when done, after
// every Run has returned.
type Host struct {
	rt    wazero.Runtime
	mod   wazero.CompiledModule
	cache wazero.CompilationCache // nil without a cache directory
}

// New compiles the wasip1 module in the file wasmPath. cacheDir is a wazero
// compilation cache directory shared with later hosts; "" compiles without
// one.
func New(ctx context.Context, wasmPath, cacheDir string) (h *Host, err error) {
	bin, err := os.ReadFile(wasmPath)
	if err != nil {
		return nil, fmt.Errorf("wasmhost: %w", err)
	}
	// Closing on context done is what lets Run end an instance that would
	// otherwise run forever (one waiting for a signal that wasip1 cannot
	// deliver), the way a process is killed.
	cfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(true)
	h = &Host{}
	if cacheDir != "" {
		if h.cache, err = wazero.NewCompilationCacheWithDir(cacheDir); err != nil {
			return nil, fmt.Errorf("wasmhost: compilation cache %s: %w", cacheDir, err)
		}
		cfg = cfg.WithCompilationCache(h.cache)
	}
	h.rt = wazero.NewRuntimeWithConfig(ctx, cfg)
	defer func() {
		if err != nil {
			h.Close(context.WithoutCancel(ctx))
		}
	}()
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, h.rt); err != nil {
		return nil, fmt.Errorf("wasmhost: WASI: %w", err)
	}
	if h.mod, err = h.rt.CompileModule(ctx, bin); err != nil {
		return nil, fmt.Errorf("wasmhost: compile %s: %w", wasmPath, err)
	}
	return h, nil
}

// Run is one run of the module: its command line, environment, standard
// streams and the host directories it sees.
type Run struct {
	// Args are the arguments after the program name, which is "litedir".
	Args []string

	// Env holds the environment variables, as "KEY=value". nil means none:
	// the instance does not inherit the host's environment.
	Env []string

	// Mounts maps guest paths to host directories, such as
	// {"/ws": t.TempDir()}. The instance can reach these and nothing else.
	Mounts map[string]string

	// Stdin, Stdout and Stderr are the standard streams; nil is empty input
	// and discarded output.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run runs one instance of the module to its end and returns its exit
// status. Ending ctx ends the instance at once, like a SIGKILL; the error
// then wraps ctx's. An error is only returned for a failure of the host or
// a module that trapped, never for a non-zero exit status.
func (h *Host) Run(ctx context.Context, r Run) (exitCode int, err error) {
	fsCfg := wazero.NewFSConfig()
	for guest, host := range r.Mounts {
		fsCfg = fsCfg.WithDirMount(host, guest)
	}
	cfg := wazero.NewModuleConfig().
		// Anonymous, so that instances may run side by side.
		WithName("").
		WithArgs(append([]string{"litedir"}, r.Args...)...).
		WithFSConfig(fsCfg).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader)
	if r.Stdin != nil {
		cfg = cfg.WithStdin(r.Stdin)
	}
	if r.Stdout != nil {
		cfg = cfg.WithStdout(r.Stdout)
	}
	if r.Stderr != nil {
		cfg = cfg.WithStderr(r.Stderr)
	}
	for _, kv := range r.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return 0, fmt.Errorf("wasmhost: environment entry %q is not KEY=value", kv)
		}
		cfg = cfg.WithEnv(k, v)
	}

	mod, err := h.rt.InstantiateModule(ctx, h.mod, cfg)
	if mod != nil {
		mod.Close(context.WithoutCancel(ctx))
	}
	var exit *sys.ExitError
	switch {
	case err == nil:
		return 0, nil
	case ctx.Err() != nil:
		return 0, fmt.Errorf("wasmhost: instance ended: %w", context.Cause(ctx))
	case errors.As(err, &exit):
		return int(exit.ExitCode()), nil
	default:
		return 0, fmt.Errorf("wasmhost: run: %w", err)
	}
}

// Close releases the runtime, the compiled module and the cache handle
// (not the cache's files). It is safe to call more than once.
func (h *Host) Close(ctx context.Context) error {
	var errs []error
	if h.rt != nil {
		errs = append(errs, h.rt.Close(ctx))
		h.rt = nil
	}
	if h.cache != nil {
		errs = append(errs, h.cache.Close(ctx))
		h.cache = nil
	}
	return errors.Join(errs...)
}
