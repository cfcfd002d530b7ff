package config

// Review configures the review desk (violations' police workflow): the
// reason codes, the second pair of eyes, how long an opened case is held
// for its reviewer and the notification deadlines. Filled in by the
// review-desk work.
type Review struct{}

func defaultReview() Review { return Review{} }

func (r Review) validate(bad badFunc) {}
