package config

// Evidence configures how violation evidence is sealed.
type Evidence struct {
	// SigningKeyFile is the Ed25519 private key (PEM, PKCS #8, mode 0600)
	// that signs the evidence ledger. Empty: data_dir/evidence/signing.key,
	// created at first start. A configured file must exist.
	SigningKeyFile string `yaml:"signing_key_file"`
	// TSAURL is an RFC 3161 time-stamping authority (http or https) that
	// timestamps ledger heads. Empty: none.
	TSAURL string `yaml:"tsa_url"`
}

func (e Evidence) validate(bad badFunc) {
	if e.TSAURL != "" {
		if err := checkURL(e.TSAURL, "http", "https"); err != nil {
			bad("evidence.tsa_url", "%v", err)
		}
	}
}
