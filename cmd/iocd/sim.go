package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/iocd/iocd/sim"
)

const simSummary = `Runs a simulator against a broker:
  iocd sim devices [-url tcp://127.0.0.1:1883] [-per-site 3] [-speed 1]
publishes realistic readings for a province's fleet (traffic-light
controllers, air-quality and water-level sensors, gateways, cameras' health)
at Tân An, Bến Lức, Cần Giuộc and Đức Hòa, with some devices dropping out
and coming back. -seed-out FILE writes the fleet as a JSON device list to
import into iocd first (POST /api/v1/devices/import or devices.seed_file).`

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "devices" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprintf(stderr, "Usage: iocd sim devices [flags]\n\n%s\n", simSummary)
			return nil
		}
		fmt.Fprintf(stderr, "Usage: iocd sim devices [flags]\n\n%s\n", simSummary)
		return errUsage
	}
	fs := newFlags("sim devices", simSummary, stderr)
	url := fs.String("url", "tcp://127.0.0.1:1883", "the MQTT broker `url`")
	prefix := fs.String("prefix", "ioc", "the topic prefix")
	perSite := fs.Int("per-site", 3, "devices of each model per site")
	speed := fs.Float64("speed", 1, "simulation speed: heartbeats are divided by it")
	dropout := fs.Float64("dropout", 0.002, "chance per reading that a device drops out for a while")
	seedOut := fs.String("seed-out", "", "write the simulated fleet as a JSON device list to `file` and exit")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *perSite < 1 || *speed <= 0 || *dropout < 0 || *dropout > 1 {
		return usageError(fs, "-per-site must be at least 1, -speed above 0, -dropout within 0..1")
	}
	devs := sim.Province(*perSite)
	if *seedOut != "" {
		if err := writeJSONFile(*seedOut, devs); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote %d devices to %s\n", len(devs), *seedOut)
		return nil
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return sim.NewDevices(sim.DevicesConfig{URL: *url, Prefix: *prefix, Speed: *speed, DropoutChance: *dropout}, devs, log).Run(ctx)
}
