package broker

import (
	"context"
	"log/slog"
)

// quietHandler passes mochi's log records on one level lower: its Info
// lines (hooks added, listeners attached, every client connect) become
// Debug, and its Warn lines, which include routine client disconnects,
// become Info. Errors stay errors. This keeps iocd's log about iocd at the
// default level while leaving the broker's detail a -log-level away.
type quietHandler struct {
	next slog.Handler
}

func quieter(l slog.Level) slog.Level {
	switch {
	case l >= slog.LevelError:
		return l
	case l >= slog.LevelWarn:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, quieter(l))
}

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = quieter(r.Level)
	return h.next.Handle(ctx, r)
}

func (h quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietHandler{h.next.WithAttrs(attrs)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.next.WithGroup(name)}
}
