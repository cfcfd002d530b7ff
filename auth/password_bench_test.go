package auth

import "testing"

// BenchmarkVerifyPassword is what one login costs in CPU at the default
// argon2id parameters (19 MiB, t=2, p=1).
func BenchmarkVerifyPassword(b *testing.B) {
	h, err := hashPassword("correct horse battery", DefaultArgon2)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !verifyPassword("correct horse battery", h) {
			b.Fatal("no match")
		}
	}
}
