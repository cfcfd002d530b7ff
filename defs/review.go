package defs

import "time"

// ReviewQueueFilter selects violations for the review desk's queue,
// oldest detection first.
type ReviewQueueFilter struct {
	// Statuses are the review statuses wanted; empty: every status.
	Statuses []ReviewStatus
	Type     string
	Camera   DeviceID
	Site     string
	Plate    string
	Clip     ClipStatus
	From, To time.Time
	// TSFrom and TSTo bound the detection time for a deadline bucket
	// (the service turns "due today" into them); set, they leave out
	// rejected violations, which carry no deadline.
	TSFrom, TSTo time.Time
	Cursor       string
	Limit        int
}

// ReviewDueBounds are the deadline buckets as bounds on the detection
// time: overdue before Now, due today from Now to Tomorrow, due tomorrow
// from Tomorrow to DayAfter.
type ReviewDueBounds struct {
	Now, Tomorrow, DayAfter time.Time
}

// ReviewQueueCounts counts the queue's filter by status and deadline.
type ReviewQueueCounts struct {
	Pending        int `json:"pending"`
	AwaitingSecond int `json:"awaiting_second"`
	Disputed       int `json:"disputed"`
	Confirmed      int `json:"confirmed"`
	Rejected       int `json:"rejected"`
	DueToday       int `json:"due_today"`
	DueTomorrow    int `json:"due_tomorrow"`
	Overdue        int `json:"overdue"`
}

// ReviewGuard is what a desk write (a decision, an amendment) must find
// still true in its own transaction: Version, if set, is the violation's
// version the reviewer saw; Actor, if set, must not be refused by another
// actor's claim unexpired at Now. Release removes the case's claim with
// the write.
type ReviewGuard struct {
	Version string
	Actor   string
	Now     time.Time
	Release bool
}
