package influx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

// TestFieldHistoryRefusesPastTheLimit: a range holding more values than
// the limit is refused with an error naming "from", not truncated; one
// holding exactly the limit is returned whole.
func TestFieldHistoryRefusesPastTheLimit(t *testing.T) {
	ix := testrig.Influx(t) // with Flux
	ix.CreateDB("iocd")
	cfg := config.Default().Influx
	cfg.URL, cfg.Bucket = ix.URL(), "iocd"
	h := NewHistory(cfg)
	t.Cleanup(h.Close)
	defer func(n int) { fieldPointsLimit = n }(fieldPointsLimit)
	fieldPointsLimit = 10

	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	var lines []string
	for i := range 11 {
		lines = append(lines, fmt.Sprintf("telemetry,device=d1 pm25=%d %d", i, t0.Add(time.Duration(i)*time.Second).UnixNano()))
	}
	ix.Write("iocd", lines...)

	got, err := h.FieldHistory(context.Background(), "pm25", []defs.DeviceID{"d1"}, t0, t0.Add(10*time.Second))
	if err != nil || len(got) != 10 {
		t.Fatalf("10 values under a limit of 10: got %d, %v", len(got), err)
	}
	_, err = h.FieldHistory(context.Background(), "pm25", []defs.DeviceID{"d1"}, t0, t0.Add(time.Minute))
	var de *defs.Error
	if !errors.As(err, &de) || de.Code != defs.EINVALID || de.Field != "from" || !strings.Contains(de.Message, "more than 10") {
		t.Errorf("11 values under a limit of 10: err = %v, want EINVALID on from saying more than 10", err)
	}
}
