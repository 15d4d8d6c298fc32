package ncruces

import (
	"testing"
	"time"
)

func TestResolve(t *testing.T) {
	wal := Profile{JournalMode: "wal", Locking: "ofd"}
	nolock := Profile{JournalMode: "delete", NoLock: true, SingleConnection: true}
	tests := []struct {
		name    string
		pragmas []Pragma
		prof    Profile
		want    Settings
	}{
		{"defaults", nil, wal, Settings{BusyTimeout: 10 * time.Second, JournalMode: "wal", Synchronous: "NORMAL", AutoCheckpoint: 1000}},
		{"defaults without locks", nil, nolock, Settings{BusyTimeout: 10 * time.Second, JournalMode: "delete", Synchronous: "NORMAL", AutoCheckpoint: 1000}},
		{"nothing set", []Pragma{{"foreign_keys", "ON"}}, wal, Settings{BusyTimeout: time.Minute, JournalMode: "delete", Synchronous: "FULL", AutoCheckpoint: 1000}},
		{"numbers", []Pragma{{"busy_timeout", "250"}, {"synchronous", "3"}, {"wal_autocheckpoint", "0"}}, wal,
			Settings{BusyTimeout: 250 * time.Millisecond, JournalMode: "delete", Synchronous: "EXTRA", AutoCheckpoint: 0}},
		{"names in any case", []Pragma{{"Journal_Mode", "Wal"}, {"main.synchronous", "full"}, {"wal_autocheckpoint", "-1"}}, wal,
			Settings{BusyTimeout: time.Minute, JournalMode: "wal", Synchronous: "FULL", AutoCheckpoint: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pragmas := tt.pragmas
			if pragmas != nil {
				var err error
				if pragmas, err = MergePragmas(nil, pragmas...); err != nil {
					t.Fatal(err)
				}
			}
			if got := Resolve(pragmas, tt.prof); got != tt.want {
				t.Errorf("Resolve(%v) = %+v, want %+v", pragmas, got, tt.want)
			}
		})
	}
}
