package violations

import "github.com/iocd/iocd/defs"

// The plate policy is decided here, once, and applied by every road a
// violation leaves iocd by: the REST API, the live feed and every export.
// A plate is personal data; it is for the police (reviewers) and admins.

// PlateVisibleTo reports whether a principal of role r may see plates and
// search by them.
func PlateVisibleTo(r defs.Role) bool { return r.Allows(defs.RoleReviewer) }

// ForRole returns v as a principal of role r may see it: without its
// plate (as read, as normalised, its flag and confidence) unless
// PlateVisibleTo(r).
func ForRole(v defs.Violation, r defs.Role) defs.Violation {
	if PlateVisibleTo(r) {
		return v
	}
	v.Plate, v.PlateRaw, v.PlateFlag, v.PlateCorrected = "", "", "", ""
	v.PlateValid, v.PlateConfidence = false, 0
	// The raw event is the detector's own JSON, plate included.
	v.RawEvent = nil
	return v
}
