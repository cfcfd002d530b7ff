package violations

import "testing"

func TestNormalizePlate(t *testing.T) {
	tests := []struct {
		raw       string
		motorbike bool
		want      Plate
	}{
		{"62A-123.45", false, Plate{Text: "62A-123.45", Valid: true}},
		{" 62a 12345 ", false, Plate{Text: "62A-123.45", Valid: true}},
		{"29A1234", false, Plate{Text: "29A-1234", Valid: true}},
		{"51LD-123.45", false, Plate{Text: "51LD-123.45", Valid: true}},
		{"59-X1 234.56", true, Plate{Text: "59-X1 234.56", Valid: true}},
		{"59x123456", false, Plate{Text: "59-X1 234.56", Valid: true}},
		{"29-b1-1234", true, Plate{Text: "29-B1 1234", Valid: true}},
		{"29AA12345", true, Plate{Text: "29-AA 123.45", Valid: true}},
		{"29-mđ1 123.45", true, Plate{Text: "29-MĐ1 123.45", Valid: true}},
		{"29MD112345", true, Plate{Text: "29-MĐ1 123.45", Valid: true}},
		{"", false, Plate{Flag: "missing"}},
		{"TM-12-34", false, Plate{Text: "TM-12-34", Flag: "unknown_format"}},
		{"62O-123.45", false, Plate{Text: "62O-123.45", Flag: "unknown_format"}},
		{"09A-123.45", false, Plate{Text: "09A-123.45", Flag: "unknown_format"}},
		{"62A-123456", false, Plate{Text: "62A-123456", Flag: "unknown_format"}},
		{"62A?12345", false, Plate{Text: "62A?12345", Flag: "unknown_format"}},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			if got := NormalizePlate(tc.raw, tc.motorbike); got != tc.want {
				t.Errorf("NormalizePlate(%q, %v): want %+v, got %+v", tc.raw, tc.motorbike, tc.want, got)
			}
		})
	}
}

// FuzzNormalizePlate checks that any read normalises without panicking,
// that a valid result is a fixed point, and that an invalid one keeps the
// read.
func FuzzNormalizePlate(f *testing.F) {
	for _, s := range []string{"62A-123.45", "59-X1 234.56", "29-MĐ1 123.45", "TM-12-34", "", "51LD12345", "\xff\xfe"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, motorbike bool) {
		p := NormalizePlate(raw, motorbike)
		if p.Valid {
			if again := NormalizePlate(p.Text, motorbike); again != p {
				t.Errorf("not a fixed point: %q -> %+v -> %+v", raw, p, again)
			}
			if p.Flag != "" {
				t.Errorf("valid plate %q flagged %q", p.Text, p.Flag)
			}
		} else if p.Flag == "" {
			t.Errorf("invalid plate %q not flagged", raw)
		}
	})
}
