// Package notify owns how iocd tells the outside world about alert
// transitions: it publishes each one on MQTT (<prefix>/iocd/alerts/<severity>),
// writes it to the InfluxDB measurement `alerts`, and POSTs it, signed with
// HMAC-SHA256, to the configured webhooks.
//
// Notify never blocks on a destination: every destination has its own
// bounded queue drained by its own goroutine, and a full queue drops its
// oldest notification, counted. Each (alert id, seq, destination) is
// recorded in the store's outbox before it is queued and marked once
// delivered, so that after a crash, kill -9 included, what was pending is
// sent again (at least once, with the same delivery id) and what was
// delivered is not.
//
// Silenced and suppressed alerts go to the InfluxDB history only, never to
// MQTT or webhooks: the policy is decided here, once.
package notify
