package violations

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestViolationTypeLabelsAreBounded: 3,000 random types used to become
// 3,000 Prometheus series and 3,000 InfluxDB series; past the bound they
// are labelled "other", while the known types keep their own label.
func TestViolationTypeLabelsAreBounded(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	const bound = 64
	labels := map[string]bool{}
	for i := range 3000 {
		labels[m.types.label(fmt.Sprintf("random-%d", i), bound)] = true
	}
	if len(labels) != bound+1 || !labels[OtherType] {
		t.Errorf("distinct labels: want %d and %q, got %d", bound+1, OtherType, len(labels))
	}
	for _, k := range KnownTypes {
		if got := m.types.label(k, bound); got != k {
			t.Errorf("known type %q: label %q", k, got)
		}
	}
	if got := m.types.label("random-7", bound); got != "random-7" {
		t.Errorf("a type seen before the bound: want its own label, got %q", got)
	}
	if got := testutil.ToFloat64(m.types.overflow); got != 3000-bound {
		t.Errorf("overflow count: want %d, got %v", 3000-bound, got)
	}
}
