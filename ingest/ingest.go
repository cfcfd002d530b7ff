package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fastjson"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/fleet"
	"github.com/iocd/iocd/influx"
	"github.com/iocd/iocd/internal/throttle"
)

// The components cmd/iocd wires in.
var (
	_ Sink     = (*influx.Writer)(nil)
	_ Receipts = (*influx.Writer)(nil)
	_ Health   = (*fleet.Tracker)(nil)
)

// Registry answers whether a device may report. The devices registry
// implements it.
type Registry interface {
	// Lookup is called per message and must be cheap (in-memory cache).
	Lookup(id defs.DeviceID) (defs.Device, bool)
	// Unknown applies the unknown-device policy (pending: record a pending device, drop; register: create an active device and accept; reject: drop). It returns the device and true when the data should be accepted.
	Unknown(ctx context.Context, site string, id defs.DeviceID) (defs.Device, bool, error)
}

// EventHandler takes camera analytics events; the violations package
// implements it.
type EventHandler interface {
	HandleEvent(ctx context.Context, dev defs.Device, payload []byte, received time.Time) error
}

// Sink stores telemetry; *influx.Writer is one. WriteTelemetry may block
// while the sink's queue is full, and returns an error only when the sink
// is closed. done, if not nil, is called once the point is durable: it is
// what releases the message's acknowledgement.
type Sink interface {
	WriteTelemetry(dev defs.DeviceID, site string, kind defs.Kind, ts time.Time, fields []defs.Field, done func()) error
}

// Receipts keeps the receipt times of readings stored without their own
// timestamp, so that a message redelivered after a crash is stored at the
// same time again (InfluxDB merges the two) instead of at a new one;
// *influx.Writer is one. NoteReceipt records key (receiptKey of the topic
// and payload) with the message's points; Receipt returns a time recorded
// by an earlier run, once; Receipts reports whether any is left to claim.
type Receipts interface {
	NoteReceipt(key uint64, recv time.Time)
	Receipt(key uint64) (time.Time, bool)
	Receipts() bool
}

type noReceipts struct{}

func (noReceipts) NoteReceipt(uint64, time.Time)    {}
func (noReceipts) Receipt(uint64) (time.Time, bool) { return time.Time{}, false }
func (noReceipts) Receipts() bool                   { return false }

// Conditions is where ingest raises and clears defs.ConditionBrokerDown;
// *conditions.Registry is one.
type Conditions interface {
	Set(defs.Condition)
	Clear(code, subject string)
}

type noConditions struct{}

func (noConditions) Set(defs.Condition)   {}
func (noConditions) Clear(string, string) {}

// Health receives what each message says about its device's liveness;
// *fleet.Tracker is one.
type Health interface {
	Seen(dev defs.Device, recv time.Time, fields []defs.Field)
	Status(dev defs.Device, state string, meta map[string]string, recv time.Time)
}

// Observer sees every accepted reading and every refused message as it is
// decoded, in the decoder's goroutine; the alerts engine is one (threshold
// and rate rules are evaluated on readings as they arrive, never by
// polling InfluxDB). It must be cheap, must not block, and must not keep
// fields: the slice is reused after the call.
type Observer interface {
	ObserveReading(dev defs.Device, ts time.Time, fields []defs.Field)
	ObserveRejected(device defs.DeviceID, reason string, at time.Time)
}

// noObserver is the Observer of an Ingester built without one.
type noObserver struct{}

func (noObserver) ObserveReading(defs.Device, time.Time, []defs.Field) {}
func (noObserver) ObserveRejected(defs.DeviceID, string, time.Time)    {}

// Deps are the Ingester's collaborators. Registry and Bus are required;
// Sink nil means no metrics history (readings still update fleet health
// and the bus); Health nil means no health tracking; Events nil counts
// every event as no_handler.
type Deps struct {
	Registry Registry
	Sink     Sink
	Health   Health
	Events   EventHandler
	// Observer nil means no observer.
	Observer Observer
	// Receipts nil means receipt times are not kept across a crash.
	Receipts Receipts
	// Conditions nil means the broker condition is not reported.
	Conditions Conditions
	Bus        *bus.Bus
	Logger     *slog.Logger
	Metrics    prometheus.Registerer
}

// Ingester consumes device topics from the broker. Run it once.
type Ingester struct {
	mqttCfg config.MQTT
	cfg     config.Ingest
	d       Deps
	log     *slog.Logger
	m       *metrics

	// queues feed the telemetry and status decoders, one queue each, a
	// device's messages always to the same one (shard), so that they are
	// handled in the order they arrived: a last will followed by the
	// device's reconnect must leave it online. events feed their own
	// workers; tel and ev are the ack rings (acks.go).
	queues   []chan job
	events   chan job
	tel, ev  *acker
	stopping chan struct{}
	tls      *tls.Config // nil for tcp:// brokers
	// lookups counts the messages after a (re)connect whose receipt
	// times are looked up: redeliveries come first.
	lookups atomic.Int64

	// conn is what /readyz reports: connState, and why it is not ready.
	conn    atomic.Int32
	connWhy atomic.Pointer[string]
	warn    *throttle.Throttle
	// dialled is the broker connection iocd dialled last (conn.go): the
	// one the messages being handled arrived on, which their PUBACKs
	// are written to (acks.go).
	dialled atomic.Pointer[bufConn]
	// names bounds each device's distinct field names (fieldnames.go).
	names *fieldNames
}

// job is one message waiting for a decoder. recv is its receipt time, the
// time of every reading in it without its own ts; lookup says whether a
// receipt time from an earlier run may apply.
type job struct {
	msg    mqtt.Message
	recv   time.Time
	s      *slot
	lookup bool
}

// New returns an Ingester for the broker in mqttCfg (its URL must be set;
// with the embedded broker, the caller passes the embedded address).
func New(mqttCfg config.MQTT, cfg config.Ingest, d Deps) (*Ingester, error) {
	if d.Registry == nil || d.Bus == nil || d.Logger == nil {
		return nil, errors.New("ingest: registry, bus and logger are required")
	}
	if mqttCfg.URL == "" {
		return nil, errors.New("ingest: mqtt url is empty")
	}
	if d.Observer == nil {
		d.Observer = noObserver{}
	}
	if d.Receipts == nil {
		d.Receipts = noReceipts{}
	}
	if d.Conditions == nil {
		d.Conditions = noConditions{}
	}
	if cfg.MaxUnacked <= 0 || cfg.EventQueueSize <= 0 || cfg.EventWorkers <= 0 {
		return nil, errors.New("ingest: max_unacked, event_queue_size and event_workers must be positive")
	}
	tlsCfg, err := tlsConfig(mqttCfg)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	in := &Ingester{
		tls:      tlsCfg,
		mqttCfg:  mqttCfg,
		cfg:      cfg,
		d:        d,
		log:      d.Logger.With("component", "ingest"),
		queues:   make([]chan job, cfg.Workers),
		events:   make(chan job, cfg.EventQueueSize),
		tel:      newAcker(cfg.MaxUnacked),
		ev:       newAcker(cfg.EventQueueSize + cfg.EventWorkers),
		stopping: make(chan struct{}),
		warn:     throttle.New(10 * time.Second),
		names:    newFieldNames(cfg.MaxFieldsPerDevice),
	}
	for i := range in.queues {
		in.queues[i] = make(chan job, max(1, min(cfg.QueueSize, cfg.MaxUnacked)/cfg.Workers))
	}
	in.m = newMetrics(d.Metrics, in.queueDepth,
		func() float64 { return float64(len(in.events)) },
		func() float64 { return float64(in.Unacked()) })
	in.expectRedeliveries()
	return in, nil
}

// expectRedeliveries arms the receipt lookups for the first messages of
// the next connection: the broker resends what it had in flight first, and
// those may be messages an earlier run (or connection) stored but did not
// get to acknowledge. It is armed before the connection is up, since paho
// runs the on-connect handler in a goroutine that session messages may
// overtake.
func (in *Ingester) expectRedeliveries() {
	in.lookups.Store(int64(in.cfg.MaxUnacked + in.cfg.EventQueueSize))
}

// Unacked returns the messages received and not yet acknowledged.
func (in *Ingester) Unacked() int {
	return int(in.tel.unacked.Load() + in.ev.unacked.Load())
}

func (in *Ingester) brokerDown(why string) {
	in.d.Conditions.Set(defs.Condition{
		Code: defs.ConditionBrokerDown, Source: "ingest", Severity: defs.SeverityCritical,
		Message: "no connection to the MQTT broker " + defs.RedactURL(in.mqttCfg.URL) + ": " + why,
	})
}

// Connection states reported by Ready.
const (
	connDown int32 = iota
	connSubscribing
	connReady
)

func (in *Ingester) setConn(state int32, why string) {
	in.connWhy.Store(&why)
	in.conn.Store(state)
}

// Ready reports nil once the broker has confirmed iocd's subscriptions, and
// otherwise why not, for /readyz: a replica that is connected but not yet
// subscribed would receive nothing.
func (in *Ingester) Ready(context.Context) error {
	if in.conn.Load() == connReady {
		return nil
	}
	why := "not connected yet"
	if p := in.connWhy.Load(); p != nil && *p != "" {
		why = *p
	}
	return fmt.Errorf("mqtt broker %s: %s", defs.RedactURL(in.mqttCfg.URL), why)
}

// Run connects to the broker, subscribes in the on-connect handler (so
// every reconnect resubscribes), and decodes messages until ctx ends. It
// then stops taking messages, finishes those queued, and disconnects;
// messages not yet acknowledged stay in the broker's persistent session.
func (in *Ingester) Run(ctx context.Context) error {
	var workers sync.WaitGroup
	for _, q := range in.queues {
		workers.Add(1)
		go func() {
			defer workers.Done()
			in.work(ctx, q)
		}()
	}
	for range in.cfg.EventWorkers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			in.work(ctx, in.events)
		}()
	}

	// Down until the first connection is up: from now, when iocd starts
	// trying, not from New, so the time the rest of the service takes to
	// start (a WAL replay, a slow disk) does not count towards the
	// condition's `for` and raise a false "broker down" alert.
	in.brokerDown("not connected yet")
	client := mqtt.NewClient(in.clientOptions(ctx))
	tok := client.Connect()
	// With ConnectRetry the token completes only once connected; waiting on
	// ctx as well keeps a broker that is down at start from blocking
	// shutdown.
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			close(in.stopping)
			workers.Wait()
			return fmt.Errorf("connecting to mqtt broker: %w", err)
		}
	case <-ctx.Done():
	}
	<-ctx.Done()

	// Shutdown order: stop handing messages to the queues, let the
	// workers finish what is queued, give the write-ahead log a moment to
	// make their points durable (their acks go out as it does), then
	// disconnect. What is not acknowledged by then stays in the broker's
	// session and is redelivered.
	close(in.stopping)
	workers.Wait()
	deadline := time.Now().Add(ackGrace)
	for !(in.tel.idle() && in.ev.idle()) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	client.Disconnect(500)
	return nil
}

// ackGrace bounds how long shutdown waits for the acks of messages whose
// points are on their way to the write-ahead log.
const ackGrace = 5 * time.Second

func (in *Ingester) clientOptions(ctx context.Context) *mqtt.ClientOptions {
	filters := subscriptions(in.mqttCfg.TopicPrefix, in.mqttCfg.ShareGroup)
	o := mqtt.NewClientOptions().
		AddBroker(in.mqttCfg.URL).
		SetClientID(in.mqttCfg.ClientID).
		SetUsername(in.mqttCfg.Username).
		SetPassword(in.mqttCfg.Password).
		// The persistent session keeps QoS 1 messages queued at the
		// broker while iocd is down or restarting.
		SetCleanSession(false).
		// Acks are sent by ackAccepted, not when the handler returns.
		SetAutoAckDisabled(true).
		// OrderMatters true, deliberately: the handler only hands the
		// message to the bounded queue, so paho's router is not where
		// the work happens, and when the queue is full the handler
		// blocks the router, then paho's reader, then TCP, so a flood
		// slows the broker's delivery. With false, paho starts a
		// goroutine per message before any handler runs, and the
		// bound then rests on the broker's in-flight window alone,
		// which Mosquitto 2.0.11 did not hold when draining a
		// persistent session (54,000 blocked goroutines, 450 MiB RSS in
		// the drain benchmark, and a fifth of the CPU spent creating
		// and scanning goroutines). Decoding stays concurrent in the
		// worker pool; readings carry their own timestamps, so order
		// does not matter downstream.
		SetOrderMatters(true).
		// Messages from the persistent session can arrive before the
		// SUBSCRIBE is answered, when no route matches yet.
		SetDefaultPublishHandler(in.onMessage).
		SetConnectTimeout(in.mqttCfg.ConnectTimeout.D()).
		SetStore(nullStore{}).
		SetTLSConfig(in.tls).
		SetKeepAlive(30 * time.Second).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(2 * time.Second).
		SetMaxReconnectInterval(30 * time.Second).
		SetOnConnectHandler(func(c mqtt.Client) {
			in.m.connected.Set(1)
			in.d.Conditions.Clear(defs.ConditionBrokerDown, "")
			in.setConn(connSubscribing, "connected; subscriptions not yet confirmed by the broker")
			in.log.Info("connected to mqtt broker", "broker", defs.RedactURL(in.mqttCfg.URL), "subscriptions", filters)
			subs := make(map[string]byte, len(filters))
			for _, f := range filters {
				subs[f] = 1
			}
			// No per-subscription callback: every message goes to the
			// default handler, which spares paho matching each topic
			// against a route list.
			tok := c.SubscribeMultiple(subs, nil)
			go func() {
				select {
				case <-tok.Done():
					if err := tok.Error(); err != nil {
						in.log.Error("subscribing failed", "err", err)
						in.setConn(connSubscribing, "connected, but subscribing failed: "+err.Error())
						return
					}
					in.setConn(connReady, "")
				case <-ctx.Done():
				}
			}()
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			in.m.connected.Set(0)
			in.setConn(connDown, "connection lost: "+err.Error())
			in.m.connLost.Inc()
			in.brokerDown("connection lost: " + err.Error())
			in.expectRedeliveries()
			in.log.Warn("lost the mqtt broker; reconnecting", "err", err)
		})
	if u, err := url.Parse(in.mqttCfg.URL); err == nil && u.Scheme != "ws" && u.Scheme != "wss" {
		o.SetCustomOpenConnectionFn(openConn(in.mqttCfg.ConnectTimeout.D(), &in.dialled))
	}
	return o
}

// onMessage is paho's handler, called in arrival order. It gives the
// message its ack slot (waiting while max_unacked messages are
// unacknowledged) and hands it to the decoders, or to the event workers,
// blocking while their queue is full. Once stopping, it drops the message
// unacknowledged: the broker redelivers it in the next session.
func (in *Ingester) onMessage(_ mqtt.Client, msg mqtt.Message) {
	in.m.received.Inc()
	recv := time.Now()
	q, acks := in.queues[shard(msg.Topic(), len(in.queues))], in.tel
	if strings.HasSuffix(msg.Topic(), "/"+topicEvent) {
		q, acks = in.events, in.ev
	}
	// paho runs every handler call of a connection before it dials the
	// next, so the connection dialled last is this message's.
	var conn ackConn // nil (paho acknowledges) unless iocd dialled it
	if c := in.dialled.Load(); c != nil {
		conn = c
	}
	s := acks.acquire(msg, conn, in.stopping)
	if s == nil {
		return
	}
	lookup := msg.Duplicate()
	if in.lookups.Load() > 0 {
		lookup = in.lookups.Add(-1) >= 0 || lookup
	}
	select {
	case q <- job{msg: msg, recv: recv, s: s, lookup: lookup}:
	case <-in.stopping:
		s.noAck = true
		s.release()
	}
}

// shard picks the decoder queue of a topic's device: FNV-1a of the topic
// up to its last level (prefix/site/device), so a device's telemetry and
// status share a queue. It does not allocate.
func shard(topic string, n int) int {
	if n == 1 {
		return 0
	}
	if i := strings.LastIndexByte(topic, '/'); i >= 0 {
		topic = topic[:i]
	}
	h := uint32(2166136261)
	for i := 0; i < len(topic); i++ {
		h ^= uint32(topic[i])
		h *= 16777619
	}
	return int(h % uint32(n))
}

// queueDepth is the messages waiting for a decoder, over all queues.
func (in *Ingester) queueDepth() float64 {
	n := 0
	for _, q := range in.queues {
		n += len(q)
	}
	return float64(n)
}

// work is one decoder: it owns its parser and buffers. Messages are
// handled with a context that shutdown does not cancel: once a message is
// taken from the queue it is finished (stored, or rejected for good), so a
// SIGTERM cannot turn a queued violation event into a failed insert that
// would be acknowledged and lost. in.stopping only stops the intake.
func (in *Ingester) work(ctx context.Context, queue chan job) {
	ctx = context.WithoutCancel(ctx)
	w := &worker{in: in, dec: NewDecoder(in.cfg.MaxPayloadBytes)}
	for {
		select {
		case j := <-queue:
			w.handle(ctx, j)
		case <-in.stopping:
			for {
				select {
				case j := <-queue:
					w.handle(ctx, j)
				default:
					return
				}
			}
		}
	}
}

// ackAccepted releases the handler's hold on a message: it is acknowledged
// once every point it produced is durable and every message before it in
// its ring is acknowledged (acks.go).
func (in *Ingester) ackAccepted(j job) {
	j.s.release()
}

// leaveUnacked releases a message without acknowledging it: the broker
// redelivers it in the next session.
func (in *Ingester) leaveUnacked(j job) {
	j.s.noAck = true
	j.s.release()
}

type worker struct {
	in     *Ingester
	dec    *Decoder
	status fastjson.Parser
}

// Retrying transient failures: a store that is briefly busy or a disk
// that is briefly full must not turn into lost events. The worker retries
// the message itself, which holds back its queue (events have their own,
// so telemetry goes on), for up to retryLimit; past that it counts the
// failure, logs it at Error and leaves the message unacknowledged, so one
// poison message cannot stall its queue and an event is never acknowledged
// without being stored: the broker redelivers it in the next session.
// While stopping, a failing message is left unacknowledged at once.
const (
	retryFirst = 100 * time.Millisecond
	retryMax   = 5 * time.Second
	retryLimit = 30 * time.Second
)

// errTransient marks a failure worth retrying, with the reason it is
// counted under if the retries run out.
type errTransient struct {
	reason Reason
	err    error
}

func (e *errTransient) Error() string { return string(e.reason) + ": " + e.err.Error() }

func (w *worker) handle(ctx context.Context, j job) {
	t := w.handleOnce(ctx, j)
	if t == nil {
		return // the common case: no clock read, no retry state
	}
	in := w.in
	delay, giveUp := retryFirst, time.Now().Add(retryLimit)
	for ; t != nil; t = w.handleOnce(ctx, j) {
		if time.Now().After(giveUp) {
			in.log.Error("giving up on a message after retrying transient failures; it is left unacknowledged for the broker to redeliver in the next session",
				"topic", j.msg.Topic(), "reason", t.reason, "err", t.err)
			in.m.rejected[t.reason].Inc()
			in.d.Observer.ObserveRejected("", string(t.reason), j.recv)
			in.leaveUnacked(j)
			return
		}
		in.warn.Do(func() {
			in.log.Warn("retrying a message after a transient failure", "topic", j.msg.Topic(), "err", t.err)
		})
		select {
		case <-in.stopping:
			in.m.rejected[ReasonShutdown].Inc()
			in.leaveUnacked(j) // redelivered in the next session
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, retryMax)
	}
}

// handleOnce takes one message as far as it goes: accepted or rejected for
// good (nil), or failed in a way worth retrying.
func (w *worker) handleOnce(ctx context.Context, j job) *errTransient {
	in := w.in
	topic := j.msg.Topic()
	site, id, kind, ok := parseTopic(in.mqttCfg.TopicPrefix, topic)
	if !ok {
		w.reject(j, ReasonBadTopic, "", topic)
		return nil
	}
	dev, reason, err := w.device(ctx, site, defs.DeviceID(id))
	if err != nil {
		return &errTransient{ReasonRegistryError, err}
	}
	if reason != "" {
		w.reject(j, reason, id, topic)
		return nil
	}
	switch kind {
	case topicTelemetry:
		w.telemetry(j, dev)
	case topicStatus:
		state, meta, reason := decodeStatus(&w.status, j.msg.Payload(), in.cfg.MaxPayloadBytes)
		if reason != "" {
			w.reject(j, reason, id, topic)
			return nil
		}
		if in.d.Health != nil {
			in.d.Health.Status(dev, state, meta, j.recv)
		}
		in.m.decoded[topicStatus].Inc()
		in.ackAccepted(j)
	case topicEvent:
		if in.d.Events == nil {
			w.reject(j, ReasonNoHandler, id, topic)
			return nil
		}
		// Events have their own size bound (they carry snapshots); before
		// it they had none, and a 30 MB event was decoded whole.
		if len(j.msg.Payload()) > in.cfg.MaxEventBytes {
			w.reject(j, ReasonTooLarge, id, topic)
			return nil
		}
		err := in.d.Events.HandleEvent(ctx, dev, j.msg.Payload(), j.recv)
		switch {
		case err == nil:
		case defs.ErrorCode(err) == defs.EINVALID:
			w.reject(j, ReasonBadEvent, id, topic)
			return nil
		default:
			return &errTransient{ReasonHandlerError, err}
		}
		in.m.decoded[topicEvent].Inc()
		in.ackAccepted(j)
	}
	return nil
}

// device checks the topic's device against the registry. A registry
// failure (not a refusal) is returned as an error, to be retried.
func (w *worker) device(ctx context.Context, site string, id defs.DeviceID) (defs.Device, Reason, error) {
	dev, ok := w.in.d.Registry.Lookup(id)
	if !ok {
		var err error
		dev, ok, err = w.in.d.Registry.Unknown(ctx, site, id)
		if defs.ErrorCode(err) == defs.EINVALID {
			// The topic's site or device is not a valid identifier.
			return dev, ReasonBadTopic, nil
		}
		if err != nil {
			return dev, "", err
		}
		if !ok {
			return dev, ReasonUnknownDevice, nil
		}
	}
	switch {
	case dev.Site != site:
		return dev, ReasonSiteMismatch, nil
	case dev.Status == defs.StatusPending:
		return dev, ReasonPendingDevice, nil
	case dev.Status != defs.StatusActive:
		return dev, ReasonInactiveDevice, nil
	}
	return dev, "", nil
}

func (w *worker) telemetry(j job, dev defs.Device) {
	in := w.in
	recv := j.recv
	var key uint64
	if j.lookup && in.d.Receipts.Receipts() {
		// Possibly a redelivery of a message an earlier run stored:
		// give its readings the time they were stored with.
		key = receiptKey(j.msg.Topic(), j.msg.Payload())
		if t, ok := in.d.Receipts.Receipt(key); ok {
			recv = t
		}
	}
	samples, reason := w.dec.Decode(j.msg.Payload(), recv)
	if reason == "" && !in.names.admit(dev.ID, samples) {
		reason = ReasonTooManyFieldNames
	}
	if reason != "" {
		w.reject(j, reason, string(dev.ID), j.msg.Topic())
		return
	}
	if in.d.Sink != nil {
		noted := false
		for _, s := range samples {
			if !noted && s.Time.Equal(recv.Truncate(time.Millisecond)) {
				if key == 0 {
					key = receiptKey(j.msg.Topic(), j.msg.Payload())
				}
				in.d.Receipts.NoteReceipt(key, recv)
				noted = true
			}
		}
	}
	wantReadings := in.d.Bus.Wants(defs.EventReading)
	for _, s := range samples {
		if in.d.Sink != nil {
			j.s.hold()
			if err := in.d.Sink.WriteTelemetry(dev.ID, dev.Site, dev.Kind, s.Time, s.Fields, j.s.done); err != nil {
				// Shutting down: leave the message unacknowledged
				// for the next session.
				j.s.release()
				in.m.rejected[ReasonShutdown].Inc()
				in.leaveUnacked(j)
				return
			}
		}
		if in.d.Health != nil {
			in.d.Health.Seen(dev, j.recv, s.Fields)
		}
		in.d.Observer.ObserveReading(dev, s.Time, s.Fields)
		if wantReadings {
			in.d.Bus.Publish(defs.Event{Kind: defs.EventReading, Time: s.Time, Reading: &defs.Reading{
				Device: dev.ID, Site: dev.Site, Kind: dev.Kind, Time: s.Time, Received: j.recv,
				Fields: slices.Clone(s.Fields),
			}})
		}
	}
	in.m.readings.Add(float64(len(samples)))
	in.m.decoded[topicTelemetry].Inc()
	in.ackAccepted(j)
}

// receiptKey hashes a message's topic and payload (FNV-1a, 64 bits): the
// identity under which its receipt time is kept for a redelivery.
func receiptKey(topic string, payload []byte) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(topic); i++ {
		h = (h ^ uint64(topic[i])) * prime
	}
	h = (h ^ 0) * prime // separator
	for _, c := range payload {
		h = (h ^ uint64(c)) * prime
	}
	if h == 0 {
		h = 1 // 0 means "not computed" in telemetry
	}
	return h
}

// reject counts a message that will never be accepted and acknowledges it,
// since redelivering it cannot help.
func (w *worker) reject(j job, reason Reason, device, topic string) {
	in := w.in
	in.m.rejected[reason].Inc()
	in.d.Observer.ObserveRejected(defs.DeviceID(device), string(reason), j.recv)
	in.log.Debug("message rejected", "reason", reason, "topic", topic)
	in.warn.Do(func() {
		in.log.Warn("rejecting device messages (more are counted in iocd_ingest_messages_rejected_total)",
			"reason", reason, "device", device, "topic", topic, "bytes", len(j.msg.Payload()))
	})
	in.ackAccepted(j)
}
