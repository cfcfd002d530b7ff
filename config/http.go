package config

import (
	"crypto/tls"
	"time"
)

// HTTP bounds what clients of the HTTP server (the API, /ws, /metrics and
// the dashboard page on http_addr) may hold: no client, with or without a
// token, keeps a connection open without sending or reading.
type HTTP struct {
	// MaxConns bounds the connections open at once; one more is closed on
	// accept and counted in iocd_http_connections_refused_total. Keep it
	// well under the process's file limit (ulimit -n), which InfluxDB,
	// broker and camera connections share.
	MaxConns int `yaml:"max_conns" range:"1,1_000_000"`
	// HeaderTimeout bounds reading a request's headers.
	HeaderTimeout Duration `yaml:"header_timeout" range:"100ms,5m"`
	// BodyTimeout bounds reading a request's body, from its headers on.
	BodyTimeout Duration `yaml:"body_timeout" range:"100ms,1h"`
	// WriteTimeout bounds a whole answer, from the request's headers on;
	// the handler's context ends then too.
	WriteTimeout Duration `yaml:"write_timeout" range:"100ms,1h"`
	// StreamIdle bounds each write of a streamed answer (clip, snapshot
	// and evidence downloads), which have no overall bound: a client that
	// stops reading is cut after this long.
	StreamIdle Duration `yaml:"stream_idle" range:"100ms,1h"`
	// IdleTimeout closes a keep-alive connection idle this long.
	IdleTimeout Duration `yaml:"idle_timeout" range:"100ms,1h"`

	// TLSCert and TLSKey are PEM files of the server's certificate (with
	// its chain) and key: set both to serve HTTPS on http_addr (session
	// cookies are then Secure). Also IOCD_TLS_CERT and IOCD_TLS_KEY.
	TLSCert string `yaml:"tls_cert" env:"IOCD_TLS_CERT"`
	TLSKey  string `yaml:"tls_key" env:"IOCD_TLS_KEY"`
}

// TLS reports whether the HTTP server serves TLS.
func (h HTTP) TLS() bool { return h.TLSCert != "" && h.TLSKey != "" }

func defaultHTTP() HTTP {
	return HTTP{
		MaxConns:      1024,
		HeaderTimeout: Duration(10 * time.Second),
		BodyTimeout:   Duration(30 * time.Second),
		WriteTimeout:  Duration(60 * time.Second),
		StreamIdle:    Duration(30 * time.Second),
		IdleTimeout:   Duration(2 * time.Minute),
	}
}

func (h HTTP) validate(bad badFunc) {
	// The numeric keys are checked by their range tags.
	switch {
	case (h.TLSCert == "") != (h.TLSKey == ""):
		key := "http.tls_key"
		if h.TLSCert == "" {
			key = "http.tls_cert"
		}
		bad(key, "http.tls_cert and http.tls_key must be set together (or neither, for plain HTTP)")
	case h.TLS():
		if _, err := tls.LoadX509KeyPair(h.TLSCert, h.TLSKey); err != nil {
			bad("http.tls_cert", "cannot load the certificate and key: %v", err)
		}
	}
}
