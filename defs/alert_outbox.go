package defs

import "time"

// DeliveryStatus is where one delivery of an alert notification to one
// destination stands in the notifier's outbox.
type DeliveryStatus string

// Delivery statuses. Only pending deliveries are sent again after a
// restart; the others are kept a while so that a transition notified twice
// (alert id, seq) is recognised and not sent again.
const (
	DeliveryPending DeliveryStatus = "pending"
	DeliveryDone    DeliveryStatus = "done"
	DeliveryFailed  DeliveryStatus = "failed"  // gave up: attempts exhausted or refused for good
	DeliveryDropped DeliveryStatus = "dropped" // pushed out of a full queue
)

// AlertDelivery is one (alert id, seq, destination) in the notifier's
// outbox: the notification of one transition to one destination ("mqtt",
// "influx", "webhook:<name>"), with the exact bytes to send, so that a
// delivery repeated after a crash is byte-identical.
type AlertDelivery struct {
	ID          int64          `json:"id"`
	Alert       string         `json:"alert"`
	Seq         int            `json:"seq"`
	Destination string         `json:"destination"`
	Body        []byte         `json:"-"`
	Status      DeliveryStatus `json:"status"`
	Attempts    int            `json:"attempts"`
	CreatedAt   time.Time      `json:"created_at"`
}
