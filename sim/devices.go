package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/defs"
)

// Site is one district of the simulated province (Long An).
type Site struct {
	ID   string
	Name string
	Lat  float64
	Lon  float64
	// Road is the main road its devices stand on, for their addresses: a
	// violation's evidence carries the camera's address as it was.
	Road string
}

// Sites are the districts the simulated fleet is spread over.
var Sites = []Site{
	{"tan-an", "Tân An", 10.5359, 106.4137, "Quốc lộ 1A"},
	{"ben-luc", "Bến Lức", 10.6406, 106.4920, "Quốc lộ 1A"},
	{"can-giuoc", "Cần Giuộc", 10.6080, 106.6711, "Quốc lộ 50"},
	{"duc-hoa", "Đức Hòa", 10.8830, 106.4070, "Tỉnh lộ 825"},
}

// model is a kind of simulated device: its registry kind, id prefix,
// heartbeat and how it makes a reading.
type model struct {
	kind      defs.Kind
	prefix    string
	label     string
	heartbeat int
	read      func(s *state, t time.Time) map[string]any
}

var models = []model{
	{defs.KindController, "tl", "Tủ điều khiển đèn tín hiệu", 5, readController},
	{defs.KindSensor, "aq", "Trạm quan trắc không khí", 10, readAir},
	{defs.KindSensor, "wl", "Cảm biến mực nước", 10, readWater},
	{defs.KindGateway, "gw", "Gateway", 15, readGateway},
	{defs.KindCamera, "cam", "Camera giao thông", 15, readCameraHealth},
}

// Province returns a fleet of perSite devices of each model per site, as
// active registry entries, ready to seed a demo registry. IDs are stable:
// "tan-an-aq-01".
func Province(perSite int) []defs.Device {
	var out []defs.Device
	for _, s := range Sites {
		for _, m := range models {
			for i := 1; i <= perSite; i++ {
				out = append(out, defs.Device{
					ID:         defs.DeviceID(fmt.Sprintf("%s-%s-%02d", s.ID, m.prefix, i)),
					Site:       s.ID,
					Kind:       m.kind,
					Name:       fmt.Sprintf("%s %s %02d", m.label, s.Name, i),
					Lat:        s.Lat + float64(i)*0.003,
					Lon:        s.Lon + float64(i)*0.002,
					Address:    fmt.Sprintf("%s, km %d, %s, Long An", s.Road, 10+3*i, s.Name),
					HeartbeatS: m.heartbeat,
					Status:     defs.StatusActive,
					Tags:       map[string]string{"model": m.prefix},
				})
			}
		}
	}
	return out
}

// DevicesConfig configures the device simulator.
type DevicesConfig struct {
	// URL is the broker, tcp://127.0.0.1:1883.
	URL string
	// Prefix is the topic prefix, "ioc".
	Prefix string
	// Speed divides every heartbeat; 1 is real time.
	Speed float64
	// DropoutChance is the chance per reading that a device drops out for
	// 30 to 120 s (scaled by Speed): half by losing its connection (the
	// broker publishes its last will), half by falling silent (it goes
	// stale).
	DropoutChance float64
	// Seed makes a run repeatable.
	Seed uint64
}

// Devices runs one MQTT client per simulated device, as real firmware
// does, each with a retained status and an "offline" last will.
type Devices struct {
	cfg  DevicesConfig
	devs []defs.Device
	log  *slog.Logger
}

// NewDevices returns a simulator for devs. Devices whose id prefix is not a
// known model (see Province) report as generic sensors.
func NewDevices(cfg DevicesConfig, devs []defs.Device, logger *slog.Logger) *Devices {
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "ioc"
	}
	return &Devices{cfg: cfg, devs: devs, log: logger.With("component", "sim-devices")}
}

// Run simulates every device until ctx ends, then disconnects them all
// cleanly (so no last will fires).
func (d *Devices) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i, dev := range d.devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &state{dev: dev, model: modelFor(dev), rng: rand.New(rand.NewPCG(d.cfg.Seed, uint64(i)))}
			d.device(ctx, s)
		}()
	}
	d.log.Info("simulating devices", "devices", len(d.devs), "broker", d.cfg.URL)
	wg.Wait()
	return nil
}

func modelFor(dev defs.Device) model {
	for _, m := range models {
		if dev.Tags["model"] == m.prefix {
			return m
		}
	}
	for _, m := range models {
		if m.kind == dev.Kind {
			return m
		}
	}
	return models[1]
}

// state is one simulated device's memory between readings, so values
// drift rather than jump.
type state struct {
	dev   defs.Device
	model model
	rng   *rand.Rand
	start time.Time
	level float64
	phase int
	n     int
}

func (d *Devices) scaled(x time.Duration) time.Duration {
	return time.Duration(float64(x) / d.cfg.Speed)
}

// device runs one device: connect, announce, report every heartbeat, and
// now and then drop out and come back.
func (d *Devices) device(ctx context.Context, s *state) {
	base := fmt.Sprintf("%s/%s/%s/", d.cfg.Prefix, s.dev.Site, s.dev.ID)
	hb := time.Duration(max(s.dev.HeartbeatS, 1)) * time.Second
	s.start = time.Now()
	// Stagger the start so the fleet does not report in lockstep.
	if !sleep(ctx, time.Duration(s.rng.Int64N(int64(d.scaled(hb))+1))) {
		return
	}
	for ctx.Err() == nil {
		var raw net.Conn
		c := mqtt.NewClient(mqtt.NewClientOptions().
			AddBroker(d.cfg.URL).
			SetClientID("sim-"+string(s.dev.ID)).
			SetAutoReconnect(false).
			SetBinaryWill(base+"status", []byte(`{"state":"offline"}`), 1, true).
			SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
				var err error
				raw, err = net.DialTimeout("tcp", u.Host, 10*time.Second)
				return raw, err
			}))
		if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
			d.log.Debug("device cannot connect; retrying", "device", s.dev.ID, "err", tok.Error())
			if !sleep(ctx, 5*time.Second) {
				return
			}
			continue
		}
		status, _ := json.Marshal(map[string]any{"state": "online", "fw": "2.4." + fmt.Sprint(len(s.dev.ID)%7), "ip": fmt.Sprintf("10.20.%d.%d", len(s.dev.Site), 10+s.rng.IntN(200))})
		c.Publish(base+"status", 1, true, status)
		dropout := d.report(ctx, s, c, base, hb)
		if ctx.Err() != nil {
			// A clean DISCONNECT, no offline status: the simulator
			// stopping is not the fleet going down, and an offline
			// message from every device at once would raise an alert per
			// device as a demo exits.
			c.Disconnect(250)
			return
		}
		pause := d.scaled(time.Duration(30+s.rng.IntN(91)) * time.Second)
		if dropout == dropLink {
			// Power cut: the socket dies without DISCONNECT and the
			// broker publishes the last will.
			raw.Close()
			d.log.Debug("device lost its link", "device", s.dev.ID, "for", pause)
		} else {
			d.log.Debug("device fell silent", "device", s.dev.ID, "for", pause)
		}
		if !sleep(ctx, pause) {
			c.Disconnect(0)
			return
		}
		c.Disconnect(0)
	}
}

type dropKind int

const (
	dropNone dropKind = iota
	dropLink
	dropSilent
)

// report publishes a reading every heartbeat until ctx ends or the device
// drops out.
func (d *Devices) report(ctx context.Context, s *state, c mqtt.Client, base string, hb time.Duration) dropKind {
	for {
		jitter := time.Duration(s.rng.Int64N(int64(hb)/5 + 1))
		if !sleep(ctx, d.scaled(hb-hb/10+jitter)) {
			return dropNone
		}
		now := time.Now()
		values := s.model.read(s, now)
		s.n++
		var payload any
		switch s.n % 3 {
		case 0: // the flat ThingsBoard form
			payload = values
		case 1:
			payload = map[string]any{"ts": now.UnixMilli(), "values": values}
		default:
			payload = map[string]any{"ts": now.UTC().Format(time.RFC3339Nano), "values": values}
		}
		b, _ := json.Marshal(payload)
		// Wait for the broker's ack, so that a dropout right after does
		// not lose the reading (and a slow broker slows the simulator).
		c.Publish(base+"telemetry", 1, false, b).WaitTimeout(10 * time.Second)
		if d.cfg.DropoutChance > 0 && s.rng.Float64() < d.cfg.DropoutChance {
			if s.rng.IntN(2) == 0 {
				return dropLink
			}
			return dropSilent
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// daily is a 24-hour wave, peaking at hour peak.
func daily(t time.Time, peak float64) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	return math.Cos((h - peak) / 24 * 2 * math.Pi)
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

func readController(s *state, t time.Time) map[string]any {
	s.phase = (s.phase + 1) % 4
	modes := []string{"auto", "auto", "auto", "auto", "auto", "auto", "manual", "flash"}
	return map[string]any{
		"phase":          s.phase,
		"cycle_s":        90 + 30*math.Round(daily(t, 8)),
		"cabinet_temp_c": round(38+6*daily(t, 14)+s.rng.NormFloat64(), 1),
		"power_v":        round(220+4*s.rng.NormFloat64(), 1),
		"door_open":      s.rng.IntN(200) == 0,
		"mode":           modes[s.rng.IntN(len(modes))],
	}
}

func readAir(s *state, t time.Time) map[string]any {
	rush := max(daily(t, 7.5), daily(t, 17.5))
	pm25 := max(5, 30+25*rush+8*s.rng.NormFloat64())
	return map[string]any{
		"pm25":     round(pm25, 1),
		"pm10":     round(pm25*1.6+5*s.rng.NormFloat64(), 1),
		"co_ppm":   round(max(0, 1.2+0.8*rush+0.2*s.rng.NormFloat64()), 2),
		"temp_c":   round(29+4*daily(t, 14)+0.5*s.rng.NormFloat64(), 1),
		"humidity": round(min(100, 75-12*daily(t, 14)+3*s.rng.NormFloat64()), 1),
	}
}

func readWater(s *state, t time.Time) map[string]any {
	// Mekong delta tides: two highs a day; rain adds a slow rise.
	tide := math.Sin(float64(t.Unix()%44700) / 44700 * 2 * math.Pi)
	rain := 0.0
	if s.rng.IntN(20) == 0 {
		rain = round(s.rng.ExpFloat64()*4, 1)
	}
	s.level = s.level*0.95 + rain*0.01
	return map[string]any{
		"level_m":   round(1.2+0.6*tide+s.level+0.02*s.rng.NormFloat64(), 3),
		"rain_mm":   rain,
		"battery_v": round(12.6-0.3*s.rng.Float64(), 2),
	}
}

func readGateway(s *state, t time.Time) map[string]any {
	return map[string]any{
		"cpu_pct":  round(max(1, 20+15*s.rng.NormFloat64()), 1),
		"mem_pct":  round(40+5*s.rng.Float64(), 1),
		"uptime_s": int(t.Sub(s.start).Seconds()),
		"rssi_dbm": -60 - s.rng.IntN(30),
		"temp_c":   round(45+5*daily(t, 14)+s.rng.NormFloat64(), 1),
	}
}

// readCameraHealth is the camera's own health report over MQTT, separate
// from its video stream.
func readCameraHealth(s *state, t time.Time) map[string]any {
	return map[string]any{
		"fps":          round(25-s.rng.ExpFloat64()*0.3, 1),
		"bitrate_kbps": 4000 + s.rng.IntN(800),
		"temp_c":       round(42+6*daily(t, 14)+s.rng.NormFloat64(), 1),
		"storage_pct":  round(60+10*s.rng.Float64(), 1),
		"uptime_s":     int(t.Sub(s.start).Seconds()),
	}
}
