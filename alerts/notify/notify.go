package notify

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/throttle"
)

// Destination names as kept in the outbox; a webhook is "webhook:<name>".
const (
	DestMQTT    = "mqtt"
	DestHistory = "influx"
	destWebhook = "webhook:"
)

// Defaults for the members of Config left zero.
const (
	DefaultQueueSize      = 1000
	DefaultMaxAttempts    = 8
	DefaultBackoffMin     = time.Second
	DefaultBackoffMax     = time.Minute
	DefaultWebhookTimeout = 10 * time.Second
	DefaultRetain         = 7 * 24 * time.Hour
	// historyReplay is how far back, at start, the `alerts` points already
	// handed to the InfluxDB writer are written again: the writer holds a
	// point in memory for up to its flush interval (longer while InfluxDB
	// is down) before it is durable, and a kill -9 loses what it holds.
	// Writing a point again is harmless: InfluxDB keeps one point per
	// series and timestamp.
	historyReplay = 10 * time.Minute
	// maxReload bounds the pending deliveries loaded at start.
	maxReload = 100000
)

// Config is what the notifier sends where. The zero value sends to no one
// but the history (if Deps.History is set).
type Config struct {
	MQTT     MQTT
	Webhooks []Webhook
	// QueueSize bounds each destination's queue; beyond it the oldest
	// notification is dropped and counted.
	QueueSize int
	// MaxAttempts bounds a webhook delivery's attempts, BackoffMin and
	// BackoffMax the exponential pause between them.
	MaxAttempts int
	BackoffMin  time.Duration
	BackoffMax  time.Duration
	// Retain is how long finished outbox rows are kept, which is how long
	// a transition notified twice is recognised.
	Retain time.Duration
}

// MQTT is the broker notifications are published to. URL empty: none.
type MQTT struct {
	URL            string
	ClientID       string
	Username       string
	Password       string
	TopicPrefix    string
	ConnectTimeout time.Duration
}

// Webhook is one HTTP receiver.
type Webhook struct {
	Name string
	URL  string
	// Secret, if set, signs every body (X-Iocd-Signature).
	Secret string
	// Default webhooks get every notification; the others only those of
	// the rules that name them.
	Default bool
	Timeout time.Duration
}

// Outbox keeps the deliveries across restarts; *store.SQLite is one.
type Outbox interface {
	AddAlertDeliveries(ctx context.Context, ds []defs.AlertDelivery) ([]defs.AlertDelivery, error)
	FinishAlertDelivery(ctx context.Context, id int64, status defs.DeliveryStatus, attempts int, note string) error
	PendingAlertDeliveries(ctx context.Context, limit int) ([]defs.AlertDelivery, error)
	RecentAlertDeliveries(ctx context.Context, destination string, since time.Time, limit int) ([]defs.AlertDelivery, error)
	PruneAlertDeliveries(ctx context.Context, before time.Time) (int64, error)
}

// Points writes the `alerts` measurement; *influx.Writer is one.
type Points interface {
	WritePoint(measurement string, tags map[string]string, fields map[string]any, ts time.Time)
}

// Deps are the notifier's collaborators; nil members are no-ops (no
// Outbox: nothing survives a restart; no History: no `alerts` points).
type Deps struct {
	Outbox     Outbox
	History    Points
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Transport, if set, carries the webhook requests (tests).
	Transport http.RoundTripper
}

// Notifier sends alert notifications. Start it once, Close it after the
// engine that calls Notify has stopped.
type Notifier struct {
	cfg    Config
	out    Outbox
	log    *slog.Logger
	m      *metrics
	warn   *throttle.Throttle
	dests  map[string]*destination
	order  []*destination
	mqtt   *mqttSender // nil without MQTT
	hist   *historySender
	byName map[string]bool

	mu     sync.Mutex // serialises enqueueing, and guards lastMs, started, early
	lastMs map[string]int64
	// started is set once Start has queued what an earlier run left
	// pending; early holds the outbox ids Notify queued before that, so
	// Start does not queue them twice.
	started bool
	early   map[int64]bool

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	startOnce sync.Once
	closeOnce sync.Once
}

// destination is one receiver with its queue and its sender.
type destination struct {
	name    string
	q       chan defs.AlertDelivery
	deliver func(ctx context.Context, d defs.AlertDelivery) (defs.DeliveryStatus, int, string)
	dropped prometheus.Counter
}

// New returns a Notifier; it sends nothing before Start.
func New(cfg Config, deps Deps) *Notifier {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = DefaultBackoffMin
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(DefaultBackoffMax, cfg.BackoffMin)
	}
	if cfg.Retain <= 0 {
		cfg.Retain = DefaultRetain
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Outbox == nil {
		deps.Outbox = noOutbox{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{
		cfg:    cfg,
		out:    deps.Outbox,
		log:    deps.Logger.With("component", "alerts-notify"),
		m:      newMetrics(deps.Registerer),
		warn:   throttle.New(10 * time.Second),
		dests:  map[string]*destination{},
		byName: map[string]bool{},
		lastMs: map[string]int64{},
		early:  map[int64]bool{},
		ctx:    ctx,
		cancel: cancel,
	}
	if deps.History != nil {
		n.hist = &historySender{w: deps.History, m: n.m}
		n.add(DestHistory, n.hist.deliver)
	}
	if cfg.MQTT.URL != "" {
		n.mqtt = newMQTTSender(cfg.MQTT, n)
		n.add(DestMQTT, n.mqtt.deliver)
	}
	for _, w := range cfg.Webhooks {
		if w.Timeout <= 0 {
			w.Timeout = DefaultWebhookTimeout
		}
		ws := newWebhookSender(w, n, deps.Transport)
		n.byName[w.Name] = true
		n.add(destWebhook+w.Name, ws.deliver)
	}
	return n
}

func (n *Notifier) add(name string, deliver func(context.Context, defs.AlertDelivery) (defs.DeliveryStatus, int, string)) {
	d := &destination{
		name:    name,
		q:       make(chan defs.AlertDelivery, n.cfg.QueueSize),
		deliver: deliver,
		dropped: n.m.dropped.WithLabelValues(n.m.label(name)),
	}
	n.m.depth(n.m.label(name), func() float64 { return float64(len(d.q)) })
	n.dests[name] = d
	n.order = append(n.order, d)
}

// Start connects to the broker, queues the deliveries an earlier run left
// pending, writes the recent history points again, and starts a sender
// per destination.
func (n *Notifier) Start() {
	n.startOnce.Do(func() {
		if n.mqtt != nil {
			n.mqtt.connect()
		}
		n.reload()
		for _, d := range n.order {
			n.wg.Add(1)
			go n.sendLoop(d)
		}
		n.wg.Add(1)
		go n.pruneLoop()
	})
}

// Close stops the senders without draining their queues, and waits. What
// was not delivered stays pending in the outbox and is sent by the next
// Start. It is idempotent.
func (n *Notifier) Close() error {
	n.closeOnce.Do(func() {
		n.startOnce.Do(func() {}) // a Start after Close starts nothing
		n.cancel()
		n.wg.Wait()
		if n.mqtt != nil {
			n.mqtt.close()
		}
	})
	return nil
}

// Notify records the transition's deliveries in the outbox and queues
// them; it returns without waiting for any destination. Notifying the same
// (alert id, seq) again sends nothing more, so the engine may notify again
// after a restart whatever it is not sure was notified. Silenced and
// suppressed alerts go to the history only.
func (n *Notifier) Notify(note defs.AlertNotification, rule defs.AlertRule) {
	if note.Transition.Alert == "" {
		note.Transition.Alert = note.Alert.ID
	}
	if note.Transition.Severity == "" {
		note.Transition.Severity = note.Alert.Severity
	}
	body, err := json.Marshal(note)
	if err != nil { // a notification is plain data; this cannot happen
		n.m.outboxErrors.Inc()
		n.log.Error("encoding an alert notification", "alert", note.Transition.Alert, "err", err)
		return
	}
	key := func(dest string, b []byte) defs.AlertDelivery {
		return defs.AlertDelivery{Alert: note.Transition.Alert, Seq: note.Transition.Seq, Destination: dest, Body: b}
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	var ds []defs.AlertDelivery
	if n.hist != nil {
		ds = append(ds, key(DestHistory, n.historyBody(note)))
	}
	held := note.Alert.Silenced != "" || note.Alert.SuppressedBy != ""
	if held {
		n.m.held.Inc()
	} else {
		if n.mqtt != nil {
			ds = append(ds, key(DestMQTT, body))
		}
		for _, name := range n.webhooksFor(rule) {
			ds = append(ds, key(destWebhook+name, body))
		}
	}
	if len(ds) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	added, err := n.out.AddAlertDeliveries(ctx, ds)
	cancel()
	if err != nil {
		// Deliver anyway, without the restart guarantee: a notification
		// late is better than one lost to a full disk.
		n.m.outboxErrors.Inc()
		n.warn.Do(func() { n.log.Warn("alert outbox unavailable; notifying without crash safety", "err", err) })
		added = ds
	}
	for _, d := range added {
		if !n.started && d.ID != 0 {
			n.early[d.ID] = true
		}
		n.enqueue(d)
	}
}

// webhooksFor returns the default webhooks and those rule names, once
// each, in configuration order.
func (n *Notifier) webhooksFor(rule defs.AlertRule) []string {
	var out []string
	for _, w := range n.cfg.Webhooks {
		if w.Default || slices.Contains(rule.Webhooks, w.Name) {
			out = append(out, w.Name)
		}
	}
	for _, name := range rule.Webhooks {
		if !n.byName[name] {
			n.m.unknownWebhook.Inc()
			n.warn.Do(func() {
				n.log.Warn("alert rule names a webhook that is not configured", "rule", rule.ID, "webhook", name)
			})
		}
	}
	return out
}

// enqueue queues d on its destination, dropping that queue's oldest
// delivery when it is full. Called with n.mu held.
func (n *Notifier) enqueue(d defs.AlertDelivery) {
	dst := n.dests[d.Destination]
	if dst == nil {
		// A webhook removed from the configuration since the delivery
		// was recorded.
		n.finish(d, defs.DeliveryDropped, 0, "destination no longer configured")
		n.m.unknownWebhook.Inc()
		return
	}
	for {
		select {
		case dst.q <- d:
			return
		default:
		}
		select {
		case old := <-dst.q:
			dst.dropped.Inc()
			n.finish(old, defs.DeliveryDropped, old.Attempts, "queue full")
			n.warn.Do(func() {
				n.log.Warn("alert notification queue full; dropping the oldest", "destination", dst.name, "alert", old.Alert, "seq", old.Seq)
			})
		default:
		}
	}
}

// finish records d's outcome in the outbox.
func (n *Notifier) finish(d defs.AlertDelivery, status defs.DeliveryStatus, attempts int, note string) {
	if d.ID == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.out.FinishAlertDelivery(ctx, d.ID, status, attempts, note); err != nil {
		n.m.outboxErrors.Inc()
		n.warn.Do(func() { n.log.Warn("recording an alert delivery in the outbox", "err", err) })
	}
}

// sendLoop delivers d's queue in order until Close.
func (n *Notifier) sendLoop(d *destination) {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case x := <-d.q:
			status, attempts, note := d.deliver(n.ctx, x)
			if status == defs.DeliveryPending {
				return // stopping: stays pending for the next start
			}
			n.finish(x, status, attempts, note)
		}
	}
}

// reload queues what an earlier run left pending, oldest first, and writes
// the recent history points again.
func (n *Notifier) reload() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pending, err := n.out.PendingAlertDeliveries(ctx, maxReload)
	if err != nil {
		n.m.outboxErrors.Inc()
		n.log.Warn("reading pending alert notifications", "err", err)
	}
	if n.hist != nil {
		recent, err := n.out.RecentAlertDeliveries(ctx, DestHistory, time.Now().Add(-historyReplay), maxReload)
		if err != nil {
			n.m.outboxErrors.Inc()
			n.log.Warn("reading recent alert history points", "err", err)
		}
		for _, d := range recent {
			if d.Status == defs.DeliveryDone {
				n.hist.deliver(ctx, d)
			}
		}
	}
	if len(pending) > 0 {
		n.log.Info("sending alert notifications left pending by an earlier run", "deliveries", len(pending))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, d := range pending {
		if n.early[d.ID] {
			continue // notified since New, already queued
		}
		n.m.resent.Inc()
		n.enqueue(d)
	}
	n.started, n.early = true, nil
}

// pruneLoop deletes finished outbox rows past cfg.Retain, at start and
// hourly.
func (n *Notifier) pruneLoop() {
	defer n.wg.Done()
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(n.ctx, time.Minute)
		if _, err := n.out.PruneAlertDeliveries(ctx, time.Now().Add(-n.cfg.Retain)); err != nil && !errors.Is(err, context.Canceled) {
			n.m.outboxErrors.Inc()
			n.warn.Do(func() { n.log.Warn("pruning the alert outbox", "err", err) })
		}
		cancel()
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// backoff returns the pause before attempt (1-based) + 1.
func (n *Notifier) backoff(attempt int) time.Duration {
	d := n.cfg.BackoffMin
	for i := 1; i < attempt && d < n.cfg.BackoffMax; i++ {
		d *= 2
	}
	return min(d, n.cfg.BackoffMax)
}

// sleep waits d or until Close; it reports false when stopping.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// noOutbox is the Outbox of a notifier without a store: every delivery is
// new, and nothing is kept.
type noOutbox struct{}

func (noOutbox) AddAlertDeliveries(_ context.Context, ds []defs.AlertDelivery) ([]defs.AlertDelivery, error) {
	return ds, nil
}
func (noOutbox) FinishAlertDelivery(context.Context, int64, defs.DeliveryStatus, int, string) error {
	return nil
}
func (noOutbox) PendingAlertDeliveries(context.Context, int) ([]defs.AlertDelivery, error) {
	return nil, nil
}
func (noOutbox) RecentAlertDeliveries(context.Context, string, time.Time, int) ([]defs.AlertDelivery, error) {
	return nil, nil
}
func (noOutbox) PruneAlertDeliveries(context.Context, time.Time) (int64, error) { return 0, nil }
