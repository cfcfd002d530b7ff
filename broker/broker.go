// Package broker owns the embedded MQTT broker that iocd runs when no
// external broker (IOCD_MQTT_URL) is configured, built on mochi-mqtt.
//
// The embedded broker is meant for single-host and demo deployments: it
// allows anonymous clients and has no TLS, so it must only listen where the
// operator configured it, by default 127.0.0.1:1883. Sessions and queued
// messages live in memory and do not survive a restart of iocd; sites that
// need that run Mosquitto and set IOCD_MQTT_URL. mochi v2.7.9 also replays a
// reconnecting persistent session's queued messages in no fixed order when
// they were queued within the same second, so consumers must order readings
// by their own timestamps.
//
// Two more mochi v2.7.9 behaviours bound what the embedded broker promises,
// and are why sites that cannot lose a reading run Mosquitto: it
// acknowledges a QoS 1 publish before routing it to subscribers, so a
// publish that lands while a persistent session is being taken over by its
// reconnecting client can be lost (seen once in 20,000 under full CPU
// load); and it drops a message when a connected subscriber's outbound
// queue is full (counted in iocd_broker_messages_dropped_total).
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// DefaultAddr is where the embedded broker listens unless configured
// otherwise: loopback only, because it accepts anonymous clients.
const DefaultAddr = "127.0.0.1:1883"

// Limits sized for bursts of about 60,000 messages per second into one
// ingest subscriber, where mochi's defaults would drop messages.
const (
	// maxInflight is the most unacknowledged QoS1/2 messages stored per
	// client, including those queued for a disconnected persistent
	// session. It is the protocol's packet ID space; beyond it mochi drops
	// and counts the message.
	maxInflight = 65535
	// maxWritesPending is the per-client outbound queue. mochi allocates
	// it up front for every client (8 bytes a slot), so it is sized for a
	// subscriber that falls about a quarter second behind a 60k/s burst
	// rather than as large as possible; 1,000 device clients cost ~128 MiB.
	maxWritesPending = 16384
	// receiveMaximum is what MQTT 5 publishers are told they may have in
	// flight; a higher value lets a single publisher pipeline QoS1.
	receiveMaximum = 65535
	// sessionExpiry bounds how long a disconnected persistent session and
	// its queue are kept; mochi's default is forever, which leaks memory
	// for every simulated device that goes away.
	sessionExpiry = 24 * time.Hour
	// netBufferSize is each client's read and write buffer; larger than
	// mochi's 2 KiB so bursts go out in fewer syscalls.
	netBufferSize = 16 << 10
)

// Broker is an embedded MQTT 3.1.1/5 broker listening on one TCP address.
type Broker struct {
	addr      string
	logger    *slog.Logger
	maxPacket int

	mu       sync.Mutex
	server   *mqtt.Server
	bound    string
	closed   bool
	closeErr error
}

// Option adjusts a Broker built by New.
type Option func(*Broker)

// WithMaxPacketBytes makes the broker disconnect a client that sends a
// packet larger than n bytes, before it reads the rest: a 30 MB publish
// then costs the broker nothing, where iocd's own payload limits act only
// after the whole packet was read. 0 (the default) is no limit.
func WithMaxPacketBytes(n int) Option {
	return func(b *Broker) { b.maxPacket = n }
}

// New returns a broker that will listen on addr (host:port; port 0 picks a
// free port) once started. Mochi's own logs go to logger, one level quieter
// (see Start).
func New(addr string, logger *slog.Logger, opts ...Option) (*Broker, error) {
	if addr == "" {
		return nil, errors.New("broker address is empty")
	}
	if logger == nil {
		return nil, errors.New("broker logger is nil")
	}
	b := &Broker{addr: addr, logger: logger.With("component", "broker")}
	for _, o := range opts {
		o(b)
	}
	if b.maxPacket < 0 || int64(b.maxPacket) > 1<<28 {
		return nil, fmt.Errorf("broker max packet size %d is out of range 0-%d", b.maxPacket, 1<<28)
	}
	return b, nil
}

// Start binds the listening socket and starts serving. When it returns nil
// clients can connect at once; a bind failure such as the address being in
// use is returned. ctx only bounds starting: the broker runs until Close.
func (b *Broker) Start(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("starting broker: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("starting broker: already closed")
	}
	if b.server != nil {
		return errors.New("starting broker: already started")
	}

	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumInflight = maxInflight
	caps.MaximumClientWritesPending = maxWritesPending
	caps.ReceiveMaximum = receiveMaximum
	caps.MaximumSessionExpiryInterval = uint32(sessionExpiry / time.Second)
	caps.MaximumPacketSize = uint32(b.maxPacket)
	server := mqtt.New(&mqtt.Options{
		Capabilities:             caps,
		ClientNetWriteBufferSize: netBufferSize,
		ClientNetReadBufferSize:  netBufferSize,
		Logger:                   slog.New(quietHandler{b.logger.Handler()}),
	})
	if err := server.AddHook(new(auth.AllowHook), nil); err != nil {
		return fmt.Errorf("starting broker: allowing anonymous clients: %w", err)
	}

	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: b.addr})
	// AddListener binds the socket, so errors like "address already in use"
	// surface here, before Start reports success.
	if err := server.AddListener(tcp); err != nil {
		return fmt.Errorf("listening on %s: %w", b.addr, err)
	}
	if err := server.Serve(); err != nil {
		_ = server.Close()
		return fmt.Errorf("serving mqtt on %s: %w", b.addr, err)
	}
	b.server = server
	b.bound = tcp.Address()
	b.logger.Info("embedded mqtt broker listening", "addr", b.bound)
	return nil
}

// Addr returns the address the broker is bound to, with the real port when
// it was configured as 0. Before Start it returns the configured address.
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bound != "" {
		return b.bound
	}
	return b.addr
}

// Close stops accepting connections, disconnects all clients and waits for
// their connection handlers to finish, freeing the port. It is safe to call
// more than once and before Start; later calls return the first result.
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.closeErr
	}
	b.closed = true
	if b.server == nil {
		return nil
	}
	if err := b.server.Close(); err != nil {
		b.closeErr = fmt.Errorf("closing broker: %w", err)
	}
	b.logger.Info("embedded mqtt broker stopped", "addr", b.bound)
	return b.closeErr
}
