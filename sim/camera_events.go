package sim

// The violation event publisher: what a camera's edge analytics or a
// roadside ANPR unit sends on P/{site}/{camera}/event. It fires events at
// random intervals with a mix of violation types, well-formed and
// malformed plates, snapshots, and an occasional re-delivery of the same
// event_id, so the demo exercises normalisation, flagging and idempotency.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"math/rand/v2"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/defs"
)

// EventsConfig configures the violation event publisher.
type EventsConfig struct {
	// URL is the broker, tcp://127.0.0.1:1883.
	URL string
	// Prefix is the topic prefix, "ioc".
	Prefix string
	// Every is the mean interval between events per camera.
	Every time.Duration
	// Seed makes a run repeatable.
	Seed uint64
}

// Events publishes violation events for a set of cameras.
type Events struct {
	cfg  EventsConfig
	cams []defs.Device
	log  *slog.Logger
	snap string // a base64 JPEG, the same for every event
}

// NewEvents returns a publisher for cams.
func NewEvents(cfg EventsConfig, cams []defs.Device, logger *slog.Logger) *Events {
	if cfg.Prefix == "" {
		cfg.Prefix = "ioc"
	}
	if cfg.Every <= 0 {
		cfg.Every = 30 * time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Events{cfg: cfg, cams: cams, log: logger.With("component", "sim-events"), snap: snapshot()}
}

// snapshot draws a small grey JPEG standing in for an ANPR crop.
func snapshot() string {
	img := image.NewGray(image.Rect(0, 0, 64, 32))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.SetGray(1, 1, color.Gray{Y: 255})
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 60})
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

var (
	eventTypes = []string{"red_light", "speeding", "wrong_way", "no_helmet", "illegal_parking", "wrong_lane", "blocking_box"}
	carPlates  = []string{"62A-123.45", "51F-678.90", "29A-1234", "30E 555 66", "51LD-246.80", "43a12345"}
	bikePlates = []string{"59-X1 234.56", "29-B1 1234", "59x298765", "29-MĐ1 123.45"}
	badPlates  = []string{"", "TM-12-34", "62O-12?45"}
)

// Run publishes until ctx ends.
func (e *Events) Run(ctx context.Context) error {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(e.cfg.URL).
		SetClientID(fmt.Sprintf("sim-events-%d", e.cfg.Seed)).SetAutoReconnect(true).SetConnectRetry(true))
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return fmt.Errorf("connecting to %s: %v", e.cfg.URL, tok.Error())
	}
	defer c.Disconnect(250)
	rng := rand.New(rand.NewPCG(e.cfg.Seed, 7))
	next := make([]time.Time, len(e.cams))
	now := time.Now()
	for i := range next {
		next[i] = now.Add(time.Duration(rng.Int64N(int64(e.cfg.Every))))
	}
	seq := 0
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			for i, cam := range e.cams {
				if now.Before(next[i]) {
					continue
				}
				next[i] = now.Add(time.Duration(rng.ExpFloat64() * float64(e.cfg.Every)))
				seq++
				payload := e.event(rng, fmt.Sprintf("%s-%d-%d", cam.ID, now.Unix(), seq), now)
				topic := fmt.Sprintf("%s/%s/%s/event", e.cfg.Prefix, cam.Site, cam.ID)
				c.Publish(topic, 1, false, payload)
				if rng.IntN(10) == 0 {
					// A re-delivery, as a unit retrying after a lost ack.
					c.Publish(topic, 1, false, payload)
				}
				e.log.Debug("violation event published", "camera", cam.ID)
			}
		}
	}
}

func (e *Events) event(rng *rand.Rand, id string, now time.Time) []byte {
	typ := eventTypes[rng.IntN(len(eventTypes))]
	vehicle := []string{"car", "motorbike", "motorbike", "truck", "bus"}[rng.IntN(5)]
	plates := carPlates
	if vehicle == "motorbike" {
		plates = bikePlates
	}
	plate := plates[rng.IntN(len(plates))]
	if rng.IntN(8) == 0 {
		plate = badPlates[rng.IntN(len(badPlates))]
	}
	ev := map[string]any{
		"event_id":         id,
		"type":             typ,
		"ts":               now.Add(-300 * time.Millisecond).UnixMilli(), // analytics lag
		"plate":            plate,
		"plate_confidence": 0.6 + rng.Float64()*0.39,
		"vehicle":          vehicle,
		"lane":             1 + rng.IntN(3),
	}
	if typ == "speeding" {
		ev["limit_kmh"] = 50
		ev["speed_kmh"] = 55 + rng.IntN(40)
	}
	if rng.IntN(2) == 0 {
		ev["snapshot_jpeg"] = e.snap
	}
	b, _ := json.Marshal(ev)
	return b
}

// DemoCameras serves one simulated camera per device of kind camera in
// devs (path = device id), alternating H.264 and H.265, and returns devs
// with those cameras' RTSP URLs (credentials included, as real cameras
// have) set, ready to be registered: `iocd demo` passes sim.Province's
// devices through it.
func DemoCameras(addr string, devs []defs.Device, logger *slog.Logger) (*CameraServer, []defs.Device, error) {
	srv, err := NewCameraServer(addr, logger)
	if err != nil {
		return nil, nil, err
	}
	recs := map[Codec]*Recording{}
	for _, c := range []Codec{H264, H265} {
		if recs[c], err = LoadRecording(c); err != nil {
			srv.Close()
			return nil, nil, err
		}
	}
	out := make([]defs.Device, len(devs))
	n := 0
	for i, d := range devs {
		out[i] = d
		if d.Kind != defs.KindCamera {
			continue
		}
		codec := H264
		if n%2 == 1 {
			codec = H265
		}
		n++
		cam, err := srv.AddCamera(CameraSpec{Path: string(d.ID), Recording: recs[codec], User: "admin", Pass: fmt.Sprintf("demo-%d", n)})
		if err != nil {
			srv.Close()
			return nil, nil, err
		}
		out[i].RTSPURL = cam.URL()
	}
	return srv, out, nil
}
