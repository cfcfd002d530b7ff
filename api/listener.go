package api

import (
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// LimitListener returns ln limited to max connections open at once. A
// connection over the limit is closed as soon as it is accepted, and
// counted in iocd_http_connections_refused_total, rather than left
// waiting in the accept queue (golang.org/x/net/netutil blocks Accept,
// which hides the refusals and leaves clients hanging): a flood of idle
// clients then costs file descriptors up to max only, and the process
// keeps the rest for InfluxDB, the broker and the cameras. Idle clients
// are cut by the deadlines (Deadlines, http.Server's ReadHeaderTimeout
// and IdleTimeout), which frees their slots.
func LimitListener(ln net.Listener, max int, reg prometheus.Registerer) net.Listener {
	l := &limitListener{
		Listener: ln,
		slots:    make(chan struct{}, max),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iocd_http_connections_open",
			Help: "HTTP connections open now (at most http.max_conns).",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_http_connections_refused_total",
			Help: "HTTP connections closed on accept because http.max_conns were open.",
		}),
	}
	if reg != nil {
		reg.MustRegister(l.open, l.refused)
	}
	return l
}

type limitListener struct {
	net.Listener
	slots   chan struct{}
	open    prometheus.Gauge
	refused prometheus.Counter
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			l.open.Inc()
			return &limitConn{Conn: c, l: l}, nil
		default:
			l.refused.Inc()
			// Reset rather than linger: the refused client learns at
			// once, and no socket waits in TIME_WAIT on our side.
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
		}
	}
}

// limitConn gives its slot back once, on the first Close.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		<-c.l.slots
		c.l.open.Dec()
	})
	return err
}
