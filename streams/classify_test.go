package streams

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"

	"github.com/iocd/iocd/defs"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"401", fmt.Errorf("describe: %w", liberrors.ErrClientBadStatusCode{Code: base.StatusUnauthorized}), defs.CameraReasonUnauthorized},
		{"403", fmt.Errorf("describe: %w", liberrors.ErrClientBadStatusCode{Code: base.StatusForbidden}), defs.CameraReasonUnauthorized},
		{"404", fmt.Errorf("describe: %w", liberrors.ErrClientBadStatusCode{Code: base.StatusNotFound}), defs.CameraReasonError},
		{"refused", fmt.Errorf("describe: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), defs.CameraReasonUnreachable},
		{"dial timeout", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("i/o timeout")}, defs.CameraReasonUnreachable},
		{"reset", fmt.Errorf("play: %w", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), defs.CameraReasonUnreachable},
		{"dns", fmt.Errorf("describe: %w", &net.DNSError{Err: "no such host", Name: "cam.invalid", IsNotFound: true}), defs.CameraReasonUnreachable},
		{"no answer", fmt.Errorf("describe: %w", liberrors.ErrClientRequestTimedOut{}), defs.CameraReasonUnreachable},
		{"no video", errNoVideo{time.Second, 0}, defs.CameraReasonNoVideo},
		{"tcp timeout", liberrors.ErrClientTCPTimeout{}, defs.CameraReasonNoVideo},
		{"unannounced payload type", errNoVideo{time.Second, 12}, defs.CameraReasonBadCodec},
		{"no h264 or h265", errBadCodec{"camera offers neither H.264 nor H.265"}, defs.CameraReasonBadCodec},
		{"other", errors.New("rtsp_url does not parse"), defs.CameraReasonError},
		{"none", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.err); got != tc.want {
				t.Errorf("classify(%v): want %q, got %q", tc.err, tc.want, got)
			}
		})
	}
}
