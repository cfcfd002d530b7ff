package streams

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"

	"github.com/iocd/iocd/defs"
)

// errNoVideo ends a connection on which no frame arrived within the read
// timeout. unannounced counts the RTP packets of a payload type the SDP
// did not announce: a camera that switched codec without telling.
type errNoVideo struct {
	timeout     time.Duration
	unannounced uint64
}

func (e errNoVideo) Error() string {
	if e.unannounced > 0 {
		return fmt.Sprintf("no video for %s: %d RTP packets of a payload type the camera did not announce", e.timeout, e.unannounced)
	}
	return fmt.Sprintf("no video for %s", e.timeout)
}

// errBadCodec is a stream iocd cannot buffer: no H.264 or H.265 track.
type errBadCodec struct{ msg string }

func (e errBadCodec) Error() string { return e.msg }

// classify names why a connection attempt or a stream ended, as the code
// operators and alert rules match on (defs.CameraReason*). err is the
// unscrubbed error, so its chain is intact.
func classify(err error) string {
	if err == nil {
		return ""
	}
	var status liberrors.ErrClientBadStatusCode
	if errors.As(err, &status) {
		if status.Code == base.StatusUnauthorized || status.Code == base.StatusForbidden {
			return defs.CameraReasonUnauthorized
		}
		return defs.CameraReasonError
	}
	var authSetup liberrors.ErrClientAuthSetup
	if errors.As(err, &authSetup) {
		return defs.CameraReasonUnauthorized
	}
	var nv errNoVideo
	if errors.As(err, &nv) {
		if nv.unannounced > 0 {
			return defs.CameraReasonBadCodec
		}
		return defs.CameraReasonNoVideo
	}
	var bc errBadCodec
	if errors.As(err, &bc) {
		return defs.CameraReasonBadCodec
	}
	// gortsplib's own read timeouts while playing: the connection holds but
	// nothing arrives.
	if errors.As(err, new(liberrors.ErrClientTCPTimeout)) || errors.As(err, new(liberrors.ErrClientUDPTimeout)) {
		return defs.CameraReasonNoVideo
	}
	var dns *net.DNSError
	if errors.As(err, &dns) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, new(liberrors.ErrClientRequestTimedOut)) {
		return defs.CameraReasonUnreachable
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return defs.CameraReasonUnreachable
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return defs.CameraReasonUnreachable
	}
	return defs.CameraReasonError
}
