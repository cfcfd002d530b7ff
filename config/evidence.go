package config

import "time"

// Evidence configures how violation evidence is sealed, and the evidential
// health gate: the checks a violation's camera and clock must pass for the
// record to be marked evidential.
type Evidence struct {
	// SigningKeyFile is the Ed25519 private key (PEM, PKCS #8, mode 0600)
	// that signs the evidence ledger. Empty: data_dir/evidence/signing.key,
	// created at first start. A configured file must exist.
	SigningKeyFile string `yaml:"signing_key_file"`
	// TSAURL is an RFC 3161 time-stamping authority (http or https) that
	// timestamps ledger heads. Empty: none.
	TSAURL string `yaml:"tsa_url"`
	// MaxClockOffset is how far a camera's clock (from its RTCP sender
	// reports) may be from iocd's before its violations are not evidential.
	MaxClockOffset Duration `yaml:"max_clock_offset" range:"1ms,1h"`
	// MinFPS is the lowest frame rate, measured in the clip window, of an
	// evidential clip.
	MinFPS float64 `yaml:"min_fps" range:"0,240"`
	// MaxKeyframeInterval is the longest keyframe interval in the clip
	// window of an evidential clip: a camera that sends keyframes rarely
	// loses that much video after any packet loss.
	MaxKeyframeInterval Duration `yaml:"max_keyframe_interval" range:"100ms,5m"`
	// RequireHostSync marks violations not evidential while the kernel
	// says iocd's own clock is not synchronised (adjtimex). Turn it off
	// only where the host's time is vouched for otherwise (a GPS clock the
	// kernel does not know about); the state is recorded either way.
	RequireHostSync bool `yaml:"require_host_sync"`
}

func defaultEvidence() Evidence {
	return Evidence{
		MaxClockOffset:      Duration(time.Second),
		MinFPS:              5,
		MaxKeyframeInterval: Duration(10 * time.Second),
		RequireHostSync:     true,
	}
}

func (e Evidence) validate(bad badFunc) {
	if e.TSAURL != "" {
		if err := checkURL(e.TSAURL, "http", "https"); err != nil {
			bad("evidence.tsa_url", "%v", err)
		}
	}
}
