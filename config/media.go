package config

// Media configures the derived files made for viewing evidence: the
// H.264 viewing copy of an H.265 clip and the still taken from a clip
// when a camera sent no snapshot. Filled in by the viewing-copy work.
type Media struct{}

func defaultMedia() Media { return Media{} }

func (m Media) validate(bad badFunc) {}
