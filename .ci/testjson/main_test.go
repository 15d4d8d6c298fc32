package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// events returns go test -json lines for package pkg: each test of results
// ("TestA": "pass") with an output line, then the package's result.
func events(pkg string, results map[string]string, reasons map[string]string) string {
	var b strings.Builder
	line := func(action, test, output string) {
		b.WriteString(`{"Action":"` + action + `","Package":"` + pkg + `"`)
		if test != "" {
			b.WriteString(`,"Test":"` + test + `"`)
		}
		if output != "" {
			b.WriteString(`,"Output":` + quote(output))
		}
		b.WriteString("}\n")
	}
	pkgResult := "pass"
	for test, r := range results {
		line("run", test, "")
		line("output", test, "=== RUN   "+test+"\n")
		if why := reasons[test]; why != "" {
			line("output", test, "    x_test.go:12: "+why+"\n")
		}
		line(r, test, "")
		if r == "fail" {
			pkgResult = "fail"
		}
	}
	line("output", "", "ok  \t"+pkg+"\t0.1s\n")
	line(pkgResult, "", "")
	return b.String()
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

func TestRun(t *testing.T) {
	const pkg = "github.com/litedir/litedir/lock"
	tests := []struct {
		name      string
		in        string
		must      string
		allow     string
		skipsFile bool
		want      int
		out       string // in the output
		skips     string // in the skips file
	}{
		{"all pass", events(pkg, map[string]string{"TestA": "pass", "TestB": "pass"}, nil), "lock:TestA,TestB", "", true, 0, "2 tests passed", ""},
		{"a test fails", events(pkg, map[string]string{"TestA": "fail"}, nil), "", "", true, 1, "=== RUN   TestA", ""},
		{"a must-pass test missing", events(pkg, map[string]string{"TestA": "pass"}, nil), "lock:TestGone", "", true, 1, "must-pass test lock:TestGone did not run", ""},
		{"a must-pass test of another package", events(pkg, map[string]string{"TestA": "pass"}, nil), "e2e:TestA", "", true, 1, "did not run", ""},
		{"a must-pass skip, recorded for the run's judge", events(pkg, map[string]string{"TestA": "skip"}, map[string]string{"TestA": "no root"}), "TestA", "", true, 0,
			"SKIPPED: sec: must-pass test TestA skipped: no root", "sec: must-pass test TestA skipped: no root"},
		{"a must-pass skip, judged here", events(pkg, map[string]string{"TestA": "skip"}, nil), "TestA", "", false, 1, "SKIPPED", ""},
		{"a must-pass skip, judged here and allowed", events(pkg, map[string]string{"TestA": "skip"}, nil), "TestA", "sec", false, 0, "SKIPPED", ""},
		{"a must-pass skip, judged here, another kind allowed", events(pkg, map[string]string{"TestA": "skip"}, nil), "TestA", "sec[host]", false, 1, "SKIPPED", ""},
		{"another test skips", events(pkg, map[string]string{"TestA": "skip"}, map[string]string{"TestA": "not here"}), "", "", false, 0, "skip lock TestA: not here", ""},
		{"nothing ran", "", "", "", true, 1, "nothing ran", ""},
		{"a build failure", `{"ImportPath":"x","Action":"build-fail"}` + "\n" + events(pkg, map[string]string{"TestA": "pass"}, nil), "", "", true, 1, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LITEDIR_CI_ALLOW_SKIP", tt.allow)
			skips := ""
			if tt.skipsFile {
				skips = filepath.Join(t.TempDir(), "skips")
			}
			var out bytes.Buffer
			got := run(strings.NewReader(tt.in), &out, io.Discard, "sec", tt.must, skips)
			if got != tt.want || !strings.Contains(out.String(), tt.out) {
				t.Errorf("got %d, want %d, with %q in the output:\n%s", got, tt.want, tt.out, out.String())
			}
			if skips != "" {
				b, _ := os.ReadFile(skips)
				if !strings.Contains(string(b), tt.skips) || (tt.skips == "") != (len(b) == 0) {
					t.Errorf("skips file: got %q, want %q", b, tt.skips)
				}
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	for _, tt := range []struct {
		allow, section string
		want           bool
	}{
		{"", "linux/386", false},
		{"1", "linux/386", true},
		{"1", "anything[host]", true},
		{"linux/386", "linux/386", true},
		{"linux/386", "linux/386[host]", true},
		{"linux/386[host]", "linux/386[host]", true},
		{"linux/386[host]", "linux/386", false},
		{"wine,linux/386[host]", "linux/386", false},
		{"wine,linux/386[host]", "wine", true},
		{"linux/38", "linux/386", false},
		{",", "", false},
	} {
		if got := allowed(tt.allow, tt.section); got != tt.want {
			t.Errorf("allowed(%q, %q): got %v, want %v", tt.allow, tt.section, got, tt.want)
		}
	}
}
