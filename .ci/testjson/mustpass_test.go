package main

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mustPassLists reads .ci/mustpass: list name to its tests.
func mustPassLists(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, ".ci", "mustpass"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lists := map[string][]string{}
	name := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			var rest string
			var ok bool
			name, rest, ok = strings.Cut(line, ":")
			if !ok {
				t.Fatalf(".ci/mustpass: %q: want LIST: TESTS", line)
			}
			if _, dup := lists[name]; dup {
				t.Errorf(".ci/mustpass: list %s twice", name)
			}
			lists[name] = nil
			line = rest
		} else if name == "" {
			t.Fatalf(".ci/mustpass: %q: a continuation before any list", line)
		}
		lists[name] = append(lists[name], strings.Fields(line)...)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lists
}

// TestMustPassCoversREADME checks that every test README names (Test...,
// Example..., Fuzz...) is in a must-pass list, so that no promise README
// supports with a test can pass CI with that test skipped or gone.
func TestMustPassCoversREADME(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tests := range mustPassLists(t) {
		for _, test := range tests {
			_, name, ok := strings.Cut(test, ":")
			if !ok {
				name = test
			}
			top, _, _ := strings.Cut(name, "/")
			listed[top] = true
		}
	}
	cited := regexp.MustCompile(`\b(?:Test|Example|Fuzz)[A-Z][A-Za-z0-9_]*`).FindAllString(string(readme), -1)
	if len(cited) == 0 {
		t.Fatal("README names no test: the check has nothing to check")
	}
	for _, name := range cited {
		if !listed[name] {
			t.Errorf("README names %s, which no must-pass list of .ci/mustpass has: add it to the list of the section that runs it", name)
		}
	}
}

// TestMustPassListsExist checks that every test of .ci/mustpass is a
// function of a _test.go file of its package, so that a renamed test is
// found here, not only when its section runs.
func TestMustPassListsExist(t *testing.T) {
	// The test functions of every package directory, by directory.
	funcs := map[string]map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Example|Fuzz)[A-Za-z0-9_]*)\(`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dir, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		dir = filepath.ToSlash(dir)
		if funcs[dir] == nil {
			funcs[dir] = map[string]bool{}
		}
		for _, m := range decl.FindAllSubmatch(b, -1) {
			funcs[dir][string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for list, tests := range mustPassLists(t) {
		for _, test := range tests {
			pkg, name, ok := strings.Cut(test, ":")
			if !ok {
				pkg, name = "", test
			}
			top, _, _ := strings.Cut(name, "/")
			found := false
			for dir, names := range funcs {
				if (pkg == "" || dir == pkg || strings.HasSuffix(dir, "/"+pkg)) && names[top] {
					found = true
					break
				}
			}
			if !found {
				t.Errorf(".ci/mustpass: list %s: %s: no func %s in a _test.go of package %q", list, test, top, pkg)
			}
		}
	}
}
