package defs

import "time"

// ReviewStatus is a violation's place in the police review workflow.
type ReviewStatus string

// Review statuses: pending until a reviewer confirms or rejects it.
const (
	ReviewPending   ReviewStatus = "pending"
	ReviewConfirmed ReviewStatus = "confirmed"
	ReviewRejected  ReviewStatus = "rejected"
)

// ClipStatus says what video evidence a violation has.
type ClipStatus string

// Clip statuses.
const (
	// ClipRecording: the clip's window has not been fully buffered yet.
	ClipRecording ClipStatus = "recording"
	// ClipComplete: the clip covers the whole window.
	ClipComplete ClipStatus = "complete"
	// ClipPartial: the camera dropped inside the window; the clip holds
	// what there was.
	ClipPartial ClipStatus = "partial"
	// ClipNoVideo: the camera was down, or had nothing buffered.
	ClipNoVideo ClipStatus = "no_video"
	// ClipPurged: retention removed the clip file; its hash remains.
	ClipPurged ClipStatus = "purged"
)

// Violation is one traffic-violation record with its evidence.
type Violation struct {
	ID              string       `json:"id"`
	Camera          DeviceID     `json:"camera"`
	Site            string       `json:"site"`
	EventID         string       `json:"event_id"`
	Type            string       `json:"type"`
	Time            time.Time    `json:"ts"`
	Plate           string       `json:"plate"`
	PlateRaw        string       `json:"plate_raw"`
	PlateValid      bool         `json:"plate_valid"`
	PlateConfidence float64      `json:"plate_confidence"`
	Vehicle         string       `json:"vehicle,omitempty"`
	SpeedKmh        float64      `json:"speed_kmh,omitempty"`
	LimitKmh        float64      `json:"limit_kmh,omitempty"`
	Lane            int          `json:"lane,omitempty"`
	Status          ReviewStatus `json:"status"`
	ClipStatus      ClipStatus   `json:"clip_status"`
	ClipSHA256      string       `json:"clip_sha256,omitempty"`
	ClipStart       time.Time    `json:"clip_start,omitzero"`
	ClipEnd         time.Time    `json:"clip_end,omitzero"`
	SnapshotSHA256  string       `json:"snapshot_sha256,omitempty"`
	CreatedAt       time.Time    `json:"created_at"`
	UpdatedAt       time.Time    `json:"updated_at"`
}
