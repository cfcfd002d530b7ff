package violations

// Exported for violations_test, which plays someone with write access to
// the database re-sealing a record the same public way iocd does.
var (
	SealEvidence = sealEvidence
	LinkHash     = linkHash
)
