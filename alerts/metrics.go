package alerts

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	transitions *prometheus.CounterVec
	dropped     prometheus.Counter
	storeErrors prometheus.Counter
	ticks       prometheus.Counter
	stale       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iocd_alerts_transitions_total", Help: "Alert transitions recorded, by change.",
		}, []string{"change"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_alerts_observations_dropped_total",
			Help: "Readings, violations and rejections the engine's queue could not take (a reading is re-evaluated with the next one).",
		}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_alerts_store_errors_total", Help: "Alert transitions the store failed to save (still notified).",
		}),
		ticks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_alerts_evaluations_total", Help: "State-rule evaluations (ticks and bus wake-ups).",
		}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iocd_alerts_readings_out_of_order_total",
			Help: "Readings older than one already evaluated for their device, not evaluated by threshold rules.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.transitions, m.dropped, m.storeErrors, m.ticks, m.stale)
	}
	return m
}
