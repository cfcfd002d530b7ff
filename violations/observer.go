package violations

import "github.com/iocd/iocd/defs"

// Observer is told of every violation when it is recorded (once per
// event, never for a re-delivery); the alerts engine is one, counting
// violations for its rate rules. It must not block.
type Observer interface {
	ObserveViolation(v defs.Violation)
}

// SetObserver sets the Observer; call it before Run. Without one,
// recording tells no one.
func (s *Service) SetObserver(o Observer) { s.observer = o }

func (s *Service) observe(v defs.Violation) {
	if s.observer != nil {
		s.observer.ObserveViolation(v)
	}
}
