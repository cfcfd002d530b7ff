package broker

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestQuietHandlerLowersMochiLevels(t *testing.T) {
	tests := []struct {
		name    string
		level   slog.Level // what mochi logs at
		handler slog.Level // what iocd's handler lets through
		want    string     // level printed, or "" when dropped
	}{
		{name: "info hidden at info", level: slog.LevelInfo, handler: slog.LevelInfo, want: ""},
		{name: "info shown as debug", level: slog.LevelInfo, handler: slog.LevelDebug, want: "level=DEBUG"},
		{name: "warn shown as info", level: slog.LevelWarn, handler: slog.LevelInfo, want: "level=INFO"},
		{name: "warn hidden at warn", level: slog.LevelWarn, handler: slog.LevelWarn, want: ""},
		{name: "error stays error", level: slog.LevelError, handler: slog.LevelWarn, want: "level=ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			next := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.handler})
			log := slog.New(quietHandler{next}).With("listener", "tcp")
			log.Log(context.Background(), tt.level, "mochi says")
			got := buf.String()
			if tt.want == "" {
				if got != "" {
					t.Errorf("logged %q, want nothing", got)
				}
				return
			}
			if !strings.Contains(got, tt.want) || !strings.Contains(got, "listener=tcp") {
				t.Errorf("logged %q, want %s with listener=tcp", got, tt.want)
			}
		})
	}
}
