package api

import (
	"context"
	"errors"
	"mime"
	"net/http"

	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/devices"
)

// DeviceService is the device registry as the API uses it.
// *devices.Registry satisfies it. Devices it returns are unredacted: the
// handlers redact at the edge, in present.
type DeviceService interface {
	List(ctx context.Context, f devices.Filter) ([]defs.Device, error)
	Get(ctx context.Context, id defs.DeviceID) (defs.Device, error)
	Create(ctx context.Context, d defs.Device) (defs.Device, error)
	Update(ctx context.Context, id defs.DeviceID, p devices.Patch) (defs.Device, error)
	Delete(ctx context.Context, id defs.DeviceID) error
	Approve(ctx context.Context, id defs.DeviceID) (defs.Device, error)
	Import(ctx context.Context, ds []defs.Device) ([]defs.Device, error)
}

var _ DeviceService = (*devices.Registry)(nil)

func (s *Server) devicesRoutes() {
	d := s.domain("devices", s.opts.Devices != nil)
	d.route("GET", "/api/v1/devices", defs.RoleViewer, s.listDevices, deviceFilterParams...)
	d.route("GET", "/api/v1/devices.csv", defs.RoleViewer, s.exportDevicesCSV, deviceFilterParams...)
	d.route("POST", "/api/v1/devices", defs.RoleAdmin, s.createDevice)
	d.route("POST", "/api/v1/devices/import", defs.RoleAdmin, s.importDevices)
	d.route("GET", "/api/v1/devices/{id}", defs.RoleViewer, s.getDevice)
	d.route("PATCH", "/api/v1/devices/{id}", defs.RoleAdmin, s.updateDevice)
	d.route("DELETE", "/api/v1/devices/{id}", defs.RoleAdmin, s.deleteDevice)
	d.route("POST", "/api/v1/devices/{id}/approve", defs.RoleAdmin, s.approveDevice)
}

// present is the only road a device takes out of the API: redacted.
func present(d defs.Device) defs.Device { return d.Redacted() }

// deviceList is the answer to a list or an import.
type deviceList struct {
	Devices []defs.Device `json:"devices"`
}

// deviceResponse is the answer about one device. It wraps the device so
// that GET can grow siblings (fleet health, latest values) without
// clients that send the device back tripping over unknown fields.
type deviceResponse struct {
	Device defs.Device `json:"device"`
	// Health is fleet tracking's view (GET only, when fleet is wired):
	// health, last_seen, latest values and status meta.
	Health *deviceHealthView `json:"health,omitempty"`
}

func presentList(ds []defs.Device) deviceList {
	out := deviceList{Devices: make([]defs.Device, len(ds))}
	for i, d := range ds {
		out.Devices[i] = present(d)
	}
	return out
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) error {
	items, err := s.filteredDevices(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deviceStatusList{Devices: items})
	return nil
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := s.opts.Devices.Get(r.Context(), defs.DeviceID(r.PathValue("id")))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deviceResponse{Device: present(d), Health: s.deviceHealth(d.ID)})
	return nil
}

func (s *Server) createDevice(w http.ResponseWriter, r *http.Request) error {
	var d defs.Device
	if err := s.decodeJSON(w, r, &d); err != nil {
		return err
	}
	d, err := s.opts.Devices.Create(r.Context(), d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, deviceResponse{Device: present(d)})
	return nil
}

func (s *Server) updateDevice(w http.ResponseWriter, r *http.Request) error {
	var p devices.Patch
	if err := s.decodeJSON(w, r, &p); err != nil {
		return err
	}
	d, err := s.opts.Devices.Update(r.Context(), defs.DeviceID(r.PathValue("id")), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deviceResponse{Device: present(d)})
	return nil
}

func (s *Server) deleteDevice(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.Devices.Delete(r.Context(), defs.DeviceID(r.PathValue("id"))); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) approveDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := s.opts.Devices.Approve(r.Context(), defs.DeviceID(r.PathValue("id")))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deviceResponse{Device: present(d)})
	return nil
}

// importDevices takes a JSON array (application/json, the default) or a
// CSV with a header row (text/csv) and imports all of it or nothing.
func (s *Server) importDevices(w http.ResponseWriter, r *http.Request) error {
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxImportBytes)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var (
		ds  []defs.Device
		err error
	)
	switch mt {
	case "", "application/json":
		ds, err = devices.ParseJSON(body)
	case "text/csv", "application/csv":
		ds, err = devices.ParseCSV(body)
	default:
		return defs.Invalid("Content-Type", "%q is not application/json or text/csv", mt)
	}
	if err != nil {
		return importError(err, s.opts.MaxImportBytes)
	}
	ds, err = s.opts.Devices.Import(r.Context(), ds)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, presentList(ds))
	return nil
}

// importError names the size limit when the body was cut off by it.
func importError(err error, limit int64) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return defs.Invalid("body", "is larger than %d bytes", limit)
	}
	return err
}
