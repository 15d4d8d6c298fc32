package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/litedir/litedir/internal/testdir"
)

func TestBenchExitStatus(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		want       int
		wantStderr string
	}{
		{"help", []string{"-h"}, exitOK, "Usage: litedir bench"},
		{"no writers", []string{"-writers", "0"}, exitUsage, "-writers 0: need at least 1"},
		{"unknown flag", []string{"-nope"}, exitUsage, "flag provided but not defined: -nope"},
		{"bad sync", []string{"-sync", "x"}, exitUsage, `-sync "x"`},
		{"bad name", []string{"-name", "a/b", "-duration", "1ms", "-open-runs", "0"}, exitUsage, "not a plain file name"},
		{"two dirs", []string{"a", "b"}, exitUsage, `unexpected argument "b"`},
		{"empty dir", []string{""}, exitUsage, "empty DIR"},
		{"bad workload", []string{"-workload", "orm"}, exitUsage, `-workload "orm"`},
	}
	t.Setenv("TMPDIR", t.TempDir())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := runBench(context.Background(), tt.args, &stdout, &stderr)
			if got != tt.want {
				t.Errorf("runBench(%q) = %d, want %d; stderr:\n%s", tt.args, got, tt.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("runBench(%q): stderr %q does not contain %q", tt.args, stderr.String(), tt.wantStderr)
			}
			if tt.want != exitOK && stdout.Len() > 0 {
				t.Errorf("runBench(%q): got stdout %q, want nothing", tt.args, stdout.String())
			}
		})
	}
	testdir.MustBeEmpty(t, os.Getenv("TMPDIR"))
}
