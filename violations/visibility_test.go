package violations

import (
	"testing"

	"github.com/iocd/iocd/defs"
)

func TestForRole(t *testing.T) {
	v := defs.Violation{ID: "v1", Plate: "51A12345", PlateRaw: "51A-123.45", PlateValid: true, PlateConfidence: 0.9, PlateFlag: "x"}
	for _, tc := range []struct {
		role defs.Role
		see  bool
	}{
		{defs.RoleNone, false}, {defs.RoleViewer, false}, {defs.RoleOperator, false},
		{defs.RoleReviewer, true}, {defs.RoleAdmin, true},
	} {
		got := ForRole(v, tc.role)
		if tc.see != (got.Plate == v.Plate && got.PlateRaw == v.PlateRaw && got.PlateConfidence == v.PlateConfidence) {
			t.Errorf("%s: got %+v, plate visible should be %v", tc.role, got, tc.see)
		}
		if !tc.see && (got.Plate != "" || got.PlateRaw != "" || got.PlateFlag != "" || got.PlateValid || got.PlateConfidence != 0) {
			t.Errorf("%s: plate data left in %+v", tc.role, got)
		}
		if got.ID != v.ID {
			t.Errorf("%s: id changed", tc.role)
		}
		if PlateVisibleTo(tc.role) != tc.see {
			t.Errorf("PlateVisibleTo(%s) = %v", tc.role, !tc.see)
		}
	}
}
