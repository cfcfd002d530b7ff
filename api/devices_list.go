package api

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/devices"
)

// deviceFilterParams are the filters of the device list and its CSV.
var deviceFilterParams = []string{"health", "site", "kind", "status", "q"}

// deviceStatusItem is one device of the list: its registry entry
// (redacted) and, when fleet is wired, what fleet knows of it.
type deviceStatusItem struct {
	defs.Device
	Health   defs.Health    `json:"health,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	LastSeen time.Time      `json:"last_seen,omitzero"`
	Firmware string         `json:"firmware,omitempty"`
	Values   map[string]any `json:"values,omitempty"`
}

type deviceStatusList struct {
	Devices []deviceStatusItem `json:"devices"`
}

// filteredDevices lists the registry's devices by site, kind and status,
// joins each with fleet's status and keeps those matching health and q
// (a case-insensitive substring of the id or the name).
func (s *Server) filteredDevices(r *http.Request) ([]deviceStatusItem, error) {
	q := r.URL.Query()
	f := devices.Filter{Site: q.Get("site"), Kind: defs.Kind(q.Get("kind")), Status: defs.Status(q.Get("status"))}
	if f.Kind != "" && !f.Kind.Valid() {
		return nil, defs.Invalid("kind", "%q is not one of sensor, camera, controller, gateway", f.Kind)
	}
	if f.Status != "" && !f.Status.Valid() {
		return nil, defs.Invalid("status", "%q is not one of pending, active, disabled", f.Status)
	}
	health := defs.Health(q.Get("health"))
	switch health {
	case "", defs.HealthOnline, defs.HealthStale, defs.HealthOffline, defs.HealthUnknown:
	default:
		return nil, defs.Invalid("health", "%q is not one of online, stale, offline, unknown", health)
	}
	if health != "" && s.opts.Fleet == nil {
		return nil, defs.Errorf(defs.EUNAVAILABLE, "fleet health is not available on this server")
	}
	text := strings.ToLower(q.Get("q"))
	ds, err := s.opts.Devices.List(r.Context(), f)
	if err != nil {
		return nil, err
	}
	var status map[defs.DeviceID]defs.DeviceStatus
	if s.opts.Fleet != nil {
		all := s.opts.Fleet.Devices()
		status = make(map[defs.DeviceID]defs.DeviceStatus, len(all))
		for _, st := range all {
			status[st.ID] = st
		}
	}
	out := make([]deviceStatusItem, 0, len(ds))
	for _, d := range ds {
		if text != "" && !strings.Contains(strings.ToLower(string(d.ID)), text) && !strings.Contains(strings.ToLower(d.Name), text) {
			continue
		}
		it := deviceStatusItem{Device: present(d)}
		if status != nil {
			st, ok := status[d.ID]
			if !ok {
				st = defs.DeviceStatus{Health: defs.HealthUnknown, Reason: "never heard from"}
			}
			it.Health, it.Reason, it.LastSeen, it.Firmware, it.Values = st.Health, st.Reason, st.LastSeen, st.Firmware, st.Values
		}
		if health != "" && it.Health != health {
			continue
		}
		out = append(out, it)
	}
	return out, nil
}

// deviceCSVHeader are the CSV export's columns. The stream URL, tags and
// latest values are left out: the URL holds credentials even redacted
// (user, host), and the export is for lists, not for configuration.
var deviceCSVHeader = []string{"id", "name", "site", "kind", "status", "health", "reason", "last_seen", "firmware", "lat", "lon", "address"}

// exportDevicesCSV answers the filtered list as RFC 4180 CSV (CRLF line
// ends, a header row).
func (s *Server) exportDevicesCSV(w http.ResponseWriter, r *http.Request) error {
	items, err := s.filteredDevices(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="devices.csv"`)
	w.Header().Set("Cache-Control", "private, no-store")
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(deviceCSVHeader); err != nil {
		return err
	}
	for _, it := range items {
		seen := ""
		if !it.LastSeen.IsZero() {
			seen = it.LastSeen.UTC().Format(time.RFC3339)
		}
		rec := []string{
			cell(string(it.ID)), cell(it.Name), cell(it.Site), string(it.Kind), string(it.Status), string(it.Health),
			cell(it.Reason), seen, cell(it.Firmware),
			strconv.FormatFloat(it.Lat, 'f', -1, 64), strconv.FormatFloat(it.Lon, 'f', -1, 64), cell(it.Address),
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cell keeps a text a spreadsheet would run as a formula (=, +, -, @, or
// a tab or CR first) from being one, by a leading apostrophe: device names
// and ids may come from the field (a pending device names itself).
func cell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}
