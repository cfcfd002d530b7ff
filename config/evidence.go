package config

// Evidence configures how violation evidence is sealed.
type Evidence struct {
	// SigningKeyFile is the Ed25519 private key (PEM, PKCS #8, mode 0600)
	// that signs the evidence ledger. Empty: data_dir/evidence/signing.key,
	// created at first start. A configured file must exist.
	SigningKeyFile string `yaml:"signing_key_file"`
}
