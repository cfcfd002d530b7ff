package ingest

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/iocd/iocd/config"
)

// This file holds two changes to paho's plumbing that the drain benchmark
// showed were worth it: together paho's per-packet syscalls and its
// in-memory store took about a third of iocd's CPU per message.

// nullStore is a paho Store that keeps nothing. paho's default MemoryStore
// records every inbound QoS 1 message and every PUBACK (with a fmt-built
// key) only to forget it a moment later; it lives in process memory, so it
// survives nothing a restart would need. The broker's persistent session
// is what keeps unacknowledged messages, and iocd publishes nothing that
// needs storing.
type nullStore struct{}

func (nullStore) Open()                             {}
func (nullStore) Put(string, packets.ControlPacket) {}
func (nullStore) Get(string) packets.ControlPacket  { return nil }
func (nullStore) All() []string                     { return nil }
func (nullStore) Del(string)                        {}
func (nullStore) Close()                            {}
func (nullStore) Reset()                            {}

var _ mqtt.Store = nullStore{}

// tlsConfig builds the TLS configuration of an ssl://, tls://, mqtts://
// or wss:// broker URL from mqtt.tls_ca_file (the roots that signed the
// broker's certificate; empty: the system's) and mqtt.tls_cert_file and
// mqtt.tls_key_file (a client certificate, for brokers that require one).
// It returns nil for other schemes.
func tlsConfig(m config.MQTT) (*tls.Config, error) {
	if !m.TLS() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if m.TLSCAFile != "" {
		pem, err := os.ReadFile(m.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt.tls_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt.tls_ca_file %s: no PEM certificate in it", m.TLSCAFile)
		}
		cfg.RootCAs = pool
	}
	if m.TLSCertFile != "" || m.TLSKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(m.TLSCertFile, m.TLSKeyFile)
		if err != nil {
			// The error names the files, never their contents.
			return nil, fmt.Errorf("mqtt.tls_cert_file/mqtt.tls_key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// openConn dials tcp:// and ssl:// brokers itself so that the connection
// can be buffered (see bufConn), and records each connection in dialled,
// where the MQTT handler finds the connection its messages arrive on
// (acks.go). It is not used for other schemes (ws, wss), which paho dials
// as usual.
func openConn(timeout time.Duration, dialled *atomic.Pointer[bufConn]) mqtt.OpenConnectionFunc {
	return func(u *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
		d := &net.Dialer{Timeout: timeout}
		var c net.Conn
		var err error
		switch u.Scheme {
		case "tcp", "mqtt":
			c, err = d.Dial("tcp", u.Host)
		default: // ssl, tls, mqtts
			cfg := &tls.Config{}
			if o.TLSConfig != nil {
				cfg = o.TLSConfig.Clone()
			}
			if cfg.ServerName == "" {
				cfg.ServerName = u.Hostname()
			}
			c, err = tls.DialWithDialer(d, "tcp", u.Host, cfg)
		}
		if err != nil {
			return nil, err
		}
		b := newBufConn(c)
		dialled.Store(b)
		return b, nil
	}
}

// bufConn buffers both directions of the broker connection. paho reads a
// packet's header a byte at a time and writes each PUBACK with its own
// syscall; here reads come from a 64 KiB buffer, and writes are queued and
// sent by one flusher goroutine, which sends all that queued within a short
// pause in one syscall. Under load that turns tens of thousands of PUBACK
// writes a second into a few thousand.
type bufConn struct {
	net.Conn
	r *bufio.Reader

	mu    sync.Mutex
	buf   []byte
	err   error
	kick  chan struct{}
	done  chan struct{}
	ended chan struct{}
	once  sync.Once
}

func newBufConn(c net.Conn) *bufConn {
	b := &bufConn{
		Conn:  c,
		r:     bufio.NewReaderSize(c, 64<<10),
		kick:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		ended: make(chan struct{}),
	}
	go b.flushLoop()
	return b
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// Write queues p. An error of an earlier flush is returned here, which is
// how paho learns that the connection is gone.
func (b *bufConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return 0, err
	}
	b.buf = append(b.buf, p...)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// writeAcks queues PUBACKs written by the ack rings (acks.go). Each Write
// is appended whole, and paho writes each of its packets in one Write, so
// packets never interleave. After Close it fails, and the acks are dropped.
func (b *bufConn) writeAcks(p []byte) error {
	_, err := b.Write(p)
	return err
}

var _ ackConn = (*bufConn)(nil)

func (b *bufConn) flushLoop() {
	defer close(b.ended)
	var spare []byte
	for {
		select {
		case <-b.kick:
		case <-b.done:
			b.flush(&spare) // what paho wrote last, such as DISCONNECT
			return
		}
		// Let a burst gather: under load, acks for a whole read buffer
		// of messages follow within microseconds; one short pause turns
		// them into one syscall. A big enough batch goes at once.
		b.mu.Lock()
		small := len(b.buf) < 2048
		b.mu.Unlock()
		if small {
			time.Sleep(coalesce)
		}
		if !b.flush(&spare) {
			return
		}
	}
}

// coalesce is how long a small write waits for company. It delays acks and
// pings by at most this much; with a broker in-flight window of 20 (the
// Mosquitto default) that still allows 20 / 200 µs = 100,000 messages/s.
const coalesce = 200 * time.Microsecond

// flush writes what is queued, swapping buffers so Write never waits on
// the socket.
func (b *bufConn) flush(spare *[]byte) bool {
	b.mu.Lock()
	out := b.buf
	b.buf = (*spare)[:0]
	b.mu.Unlock()
	if len(out) == 0 {
		*spare = out
		return true
	}
	_ = b.Conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := b.Conn.Write(out)
	*spare = out[:0]
	if err != nil {
		b.mu.Lock()
		b.err = err
		b.mu.Unlock()
		b.Conn.Close() // wakes paho's reader, which reports the loss
		return false
	}
	return true
}

// Close sends what is queued, then closes the connection.
func (b *bufConn) Close() error {
	b.once.Do(func() {
		b.mu.Lock()
		if b.err == nil {
			b.err = net.ErrClosed // later writes are refused, not queued
		}
		b.mu.Unlock()
		close(b.done)
	})
	select {
	case <-b.ended:
	case <-time.After(5 * time.Second):
	}
	return b.Conn.Close()
}
