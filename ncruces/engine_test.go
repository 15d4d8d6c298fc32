package ncruces

import (
	"strings"
	"testing"
)

func TestInitialize(t *testing.T) {
	if got := EngineInfo().Name; got != engineName {
		t.Errorf("Name before Initialize: got %q, want %q", got, engineName)
	}
	Warmup(nil)
	if err := Initialize(testLogger(t)); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	if err := Initialize(nil); err != nil {
		t.Fatalf("second Initialize: %v", err)
	}
	info := EngineInfo()
	if info.Name != engineName {
		t.Errorf("Name: got %q, want %q", info.Name, engineName)
	}
	if !strings.HasPrefix(info.SQLiteVersion, "3.") {
		t.Errorf("SQLiteVersion: got %q, want 3.x", info.SQLiteVersion)
	}
	if info.InitTime <= 0 {
		t.Errorf("InitTime: got %v, want > 0", info.InitTime)
	}
	checkEngineSetup(t, info)
	t.Logf("engine: %+v", info)
}

func TestVersionAtLeast(t *testing.T) {
	for _, tt := range []struct {
		v    string
		want bool
	}{
		{"v0.35.3", true},
		{"v0.35.4", true},
		{"v0.36.0", true},
		{"v1.0.0", true},
		{"v0.35.2", false},
		{"v0.34.9", false},
		{"v0.32.0", false},
		{"v0.35.3-rc.1", false},
		{"v0.35.4-0.20260101000000-abcdef123456", true},
		{"v0.35.3+incompatible", true},
		{"", false},
		{"0.35.3", false},
		{"v0.35", false},
		{"vx.y.z", false},
	} {
		if got := versionAtLeast(tt.v, 0, 35, 3); got != tt.want {
			t.Errorf("versionAtLeast(%q, 0.35.3): got %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestDriverPathVersion(t *testing.T) {
	for _, tt := range []struct{ file, want string }{
		{"/root/go/pkg/mod/github.com/ncruces/go-sqlite3@v0.35.3/conn.go", "v0.35.3"},
		{"github.com/ncruces/go-sqlite3@v0.32.0/conn.go", "v0.32.0"},
		{"/src/go-sqlite3/conn.go", ""},
	} {
		got := ""
		if m := driverPathVersion.FindStringSubmatch(tt.file); m != nil {
			got = m[1]
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.file, got, tt.want)
		}
	}
	if v := driverSourceVersion(); !strings.HasPrefix(v, "v0.") {
		t.Errorf("driverSourceVersion: got %q, want the linked driver's v0.x", v)
	}
}
