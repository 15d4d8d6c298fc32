package migrations

import (
	"context"
	"errors"
	"testing"
)

func TestHasUpAnnotation(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{"-- +goose Up\nSELECT 1;\n", true},
		{"-- leading comment\n\n-- +goose Up\nSELECT 1;\n", true},
		{"--+goose up\r\nSELECT 1;\r\n", true},
		{"-- +goose UP", true},
		// goose rejects an indented annotation; the check is looser on purpose.
		{"  -- +goose Up\n", true},
		{"", false},
		{"CREATE TABLE t (x);\n", false},
		{"-- +goose Down\nDROP TABLE t;\n", false},
		{"-- +goose Upgrade\n", false},
		{"-- goose Up\n", false},
		{"SELECT '-- +goose Up';\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			if got := hasUpAnnotation(tt.body); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestWaitHonorsContext checks that a call waiting for a running Up or Status
// gives up when its context ends. The semaphore is held directly, so no
// database and no timing is involved.
func TestWaitHonorsContext(t *testing.T) {
	m := &Migrator{sem: make(chan struct{}, 1)}
	if err := m.lock(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer m.unlock()

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := m.Up(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("got Up error %v, want context.Canceled", err)
	}
	if _, err := m.Status(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("got Status error %v, want context.Canceled", err)
	}
}
