package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// root is the repository, from this package's directory.
const root = "../.."

// script runs a bash script from the repository root, as the .ci scripts
// run, with the environment of the test less every LITEDIR_CI_ variable,
// plus env. It returns the combined output and the exit status.
func script(t *testing.T, env []string, text string) (string, int) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	cmd := exec.Command("bash", "-c", text)
	cmd.Dir = root
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "LITEDIR_CI_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// victim is a directory CI did not make, with files that must survive
// whatever the environment tells CI: an executable where LITEDIR_CI_TESTJSON
// may point (one that would pass anything), and a skips file.
func victim(t *testing.T) (dir, tool, skips string) {
	dir = t.TempDir()
	tool = filepath.Join(dir, "bin", "tool")
	skips = filepath.Join(dir, "skips")
	if err := os.MkdirAll(filepath.Dir(tool), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tool, []byte("#!/bin/sh\ncat >/dev/null\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(skips, []byte("old: an old skip\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, tool, skips
}

func mustExist(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v (CI removed what it did not make?)", p, err)
		}
	}
}

// TestLib checks .ci/lib.sh's judging of skips and its cleanup against the
// environment: variables that a top-level script finds set, even hostile
// ones, neither turn the judging off nor make it use or remove files it did
// not make.
func TestLib(t *testing.T) {
	t.Run("hostile environment", func(t *testing.T) {
		dir, tool, skips := victim(t)
		env := []string{
			"LITEDIR_CI_TESTJSON=" + tool,
			"LITEDIR_CI_SKIPS=" + skips,
			"LITEDIR_CI_RUN=1", // not the parent
		}
		out, code := script(t, env, `. .ci/lib.sh
echo "made $ci_dir"
echo "tool $LITEDIR_CI_TESTJSON"
ci_skip demo "did not run"
ci_finish`)
		if code == 0 {
			t.Errorf("a skip with LITEDIR_CI_SKIPS set in the environment: exit 0, want a failure:\n%s", out)
		}
		if !strings.Contains(out, "SKIPPED: demo: did not run") || strings.Contains(out, "tool "+tool) {
			t.Errorf("output:\n%s\nwant the skip judged, and a testjson of its own", out)
		}
		mustExist(t, tool, skips, dir)
		if b, _ := os.ReadFile(skips); string(b) != "old: an old skip\n" {
			t.Errorf("the environment's skips file was written: %q", b)
		}
		for _, line := range strings.Split(out, "\n") {
			if made, ok := strings.CutPrefix(line, "made "); ok {
				if _, err := os.Stat(made); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("lib.sh's own directory %s: %v, want it removed at the end", made, err)
				}
			}
		}
	})

	t.Run("hostile testjson path, no skips", func(t *testing.T) {
		// The original breakage: ci_finish removed the directory of a
		// caller's LITEDIR_CI_TESTJSON; pointed at a tool in /bin, /bin.
		dir, tool, _ := victim(t)
		out, code := script(t, []string{"LITEDIR_CI_TESTJSON=" + tool}, `. .ci/lib.sh
ci_finish`)
		if code != 0 {
			t.Errorf("no skips: exit %d, want 0:\n%s", code, out)
		}
		mustExist(t, tool, dir)
	})

	t.Run("sections report to the run", func(t *testing.T) {
		dir := t.TempDir()
		child := filepath.Join(dir, "child.sh")
		if err := os.WriteFile(child, []byte(`. .ci/lib.sh
echo "child top=$ci_top"
ci_skip child-section "not here"
ci_finish
echo "child finish $?"
test -f "$LITEDIR_CI_SKIPS" && echo "child left the list"
`), 0o644); err != nil {
			t.Fatal(err)
		}
		out, code := script(t, nil, `. .ci/lib.sh
bash `+child+`
ci_finish`)
		if !strings.Contains(out, "child top=0") || !strings.Contains(out, "child finish 0") || !strings.Contains(out, "child left the list") {
			t.Errorf("the child: want a section that reports to its parent and leaves the judging to it:\n%s", out)
		}
		if code == 0 || !strings.Contains(out, "SKIPPED: child-section: not here") {
			t.Errorf("the run: exit %d, want a failure on its section's skip:\n%s", code, out)
		}
	})

	t.Run("a script run by another process is its own judge", func(t *testing.T) {
		// LITEDIR_CI_RUN exported by the run, to a grandchild: a shell
		// between them (which does not exec its last command).
		out, _ := script(t, nil, `. .ci/lib.sh
bash -c 'bash -c '"'"'. .ci/lib.sh; echo "top=$ci_top"; ci_skip grandchild "x"; ci_finish; echo "finish $?"'"'"'; true'
true`)
		if !strings.Contains(out, "top=1") || !strings.Contains(out, "finish 1") {
			t.Errorf("a script whose parent is not the run: want it to judge itself:\n%s", out)
		}
	})

	allowance := []struct {
		allow string
		skips string
		want  int
	}{
		{"linux/386[host]", `ci_skip_host linux/386 "no IA32 emulation"`, 0},
		{"linux/386[host]", `ci_skip_host linux/386 "no IA32 emulation"; ci_skip linux/386 "must-pass test X skipped"`, 1},
		{"linux/386", `ci_skip_host linux/386 "no IA32 emulation"; ci_skip linux/386 "must-pass test X skipped"`, 0},
		{"", `ci_skip_host linux/386 "no IA32 emulation"`, 1},
		{"1", `ci_skip wine "no wine"`, 0},
		{"wine", `ci_skip wine "no wine"; ci_skip linux/arm64 "no qemu"`, 1},
	}
	for _, tt := range allowance {
		t.Run("allow "+tt.allow+": "+tt.skips, func(t *testing.T) {
			out, code := script(t, []string{"LITEDIR_CI_ALLOW_SKIP=" + tt.allow}, ". .ci/lib.sh\n"+tt.skips+"\nci_finish")
			if code != tt.want {
				t.Errorf("exit %d, want %d:\n%s", code, tt.want, out)
			}
		})
	}

	t.Run("testjson ignores LITEDIR_CI_SKIPS", func(t *testing.T) {
		_, _, skips := victim(t)
		out, code := script(t, []string{"LITEDIR_CI_SKIPS=" + skips}, `. .ci/lib.sh
printf '%s\n' '{"Action":"run","Package":"p","Test":"TestA"}' '{"Action":"skip","Package":"p","Test":"TestA"}' '{"Action":"pass","Package":"p"}' |
	"$LITEDIR_CI_TESTJSON" -section s -must TestA
echo "testjson $?"`)
		if !strings.Contains(out, "testjson 1") || code != 0 {
			t.Errorf("a must-pass skip judged by testjson alone, LITEDIR_CI_SKIPS set: want exit 1:\n%s", out)
		}
		if b, _ := os.ReadFile(skips); string(b) != "old: an old skip\n" {
			t.Errorf("testjson wrote to the environment's skips file: %q", b)
		}
	})

	t.Run("must-pass lists", func(t *testing.T) {
		out, code := script(t, nil, `. .ci/lib.sh
ci_must strace
ci_must no-such-list || echo "no list: $?"
ci_finish`)
		if code != 0 || !strings.Contains(out, "stracecheck:TestAcknowledgements,stracecheck:TestCreatedFiles,") || !strings.Contains(out, "no list: 1") {
			t.Errorf("exit %d, output:\n%s", code, out)
		}
	})
}
