package ingest

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/iocd/iocd/bus"
	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/defs"
	"github.com/iocd/iocd/internal/testrig"
)

// oneDevice is a Registry that knows a single device.
type oneDevice struct{ d defs.Device }

func (r oneDevice) Lookup(id defs.DeviceID) (defs.Device, bool) { return r.d, id == r.d.ID }
func (r oneDevice) Unknown(context.Context, string, defs.DeviceID) (defs.Device, bool, error) {
	return defs.Device{}, false, nil
}

// countingObserver counts the readings ingest accepts.
type countingObserver struct{ n atomic.Int64 }

func (o *countingObserver) ObserveReading(defs.Device, time.Time, []defs.Field) { o.n.Add(1) }
func (o *countingObserver) ObserveRejected(defs.DeviceID, string, time.Time)    {}

// TestMQTTOverTLSWithClientCertificate runs Mosquitto with a TLS-only
// listener that requires a client certificate from a CA made here, and
// iocd's ingest configured with mqtt.tls_ca_file, tls_cert_file and
// tls_key_file: it must connect and ingest a device's reading; a client
// without a certificate must be refused, and the TLS keys with a tcp:// URL are a configuration error.
func TestMQTTOverTLSWithClientCertificate(t *testing.T) {
	ca := testrig.NewCA(t)
	srvCert, srvKey := ca.Issue("broker", true)
	iocdCert, iocdKey := ca.Issue("iocd", false)
	devCert, devKey := ca.Issue("wl-01", false)
	mq := testrig.Mosquitto(t, testrig.MosquittoTLS(ca.File, srvCert, srvKey, true))

	dev := defs.Device{ID: "wl-01", Site: "tan-an", Kind: defs.KindSensor, Status: defs.StatusActive}
	obs := &countingObserver{}
	mcfg := config.Default().MQTT
	mcfg.URL, mcfg.ClientID = mq.SSLURL(), "iocd-tls-test"
	mcfg.TLSCAFile, mcfg.TLSCertFile, mcfg.TLSKeyFile = ca.File, iocdCert, iocdKey
	c := config.Default()
	c.MQTT = mcfg
	if err := c.Validate(); err != nil {
		t.Fatalf("config with TLS files: %v", err)
	}
	in, err := New(mcfg, config.Default().Ingest, Deps{Registry: oneDevice{dev}, Bus: bus.New(nil), Logger: slog.New(slog.DiscardHandler), Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = in.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	testrig.WaitFor(t, "ingest subscribed over TLS", 20*time.Second, func() bool { return in.Ready(context.Background()) == nil })

	connect := func(id string, tlsCert, tlsKey string) (mqtt.Client, error) {
		o := mqtt.NewClientOptions().AddBroker(mq.SSLURL()).SetClientID(id).SetAutoReconnect(false).
			SetConnectTimeout(5 * time.Second).SetTLSConfig(ca.ClientTLS(tlsCert, tlsKey))
		cl := mqtt.NewClient(o)
		tok := cl.Connect()
		if !tok.WaitTimeout(10 * time.Second) {
			return nil, context.DeadlineExceeded
		}
		return cl, tok.Error()
	}
	pub, err := connect("wl-01", devCert, devKey)
	if err != nil {
		t.Fatalf("device with a certificate: %v", err)
	}
	defer pub.Disconnect(100)
	if tok := pub.Publish("ioc/tan-an/wl-01/telemetry", 1, false, `{"level_m": 1.25}`); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publishing: %v", tok.Error())
	}
	testrig.WaitFor(t, "the reading ingested over TLS", 20*time.Second, func() bool { return obs.n.Load() == 1 })

	if cl, err := connect("no-cert", "", ""); err == nil {
		cl.Disconnect(0)
		t.Error("a client without a certificate was let in")
	}

	// The TLS keys with a plain tcp:// URL are a configuration error.
	c.MQTT.URL = "tcp://" + mq.Addr()
	if err := c.Validate(); err == nil {
		t.Error("mqtt.tls_* with a tcp:// URL: want a configuration error")
	}
}
