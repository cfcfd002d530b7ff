package violations_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/config"
	"github.com/iocd/iocd/internal/testrig"
	"github.com/iocd/iocd/violations"
)

// tsa is an RFC 3161 time-stamping authority on loopback, which can be
// taken down (it then answers 503, as a TSA behind a dead link would fail).
type tsa struct {
	srv      *httptest.Server
	down     atomic.Bool
	requests atomic.Int64
}

func newTSA(t *testing.T) *tsa {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test TSA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	a := &tsa{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		if a.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		req, err := timestamp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ts := timestamp.Timestamp{HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Time: time.Now().UTC(),
			Nonce: req.Nonce, Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Accuracy: time.Second, AddTSACertificate: true}
		resp, err := ts.CreateResponseWithOpts(cert, key, crypto.SHA256)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// TestLedgerHeadsAreTimestamped: with the TSA down the head waits (the
// tries are counted); once it is up the head is stamped and the stamp
// sealed, the stamp's own seal is not stamped again, a new entry is, and
// verify checks the stamps and finds one changed or deleted.
func TestLedgerHeadsAreTimestamped(t *testing.T) {
	a := newTSA(t)
	a.down.Store(true)
	r := newKeyRig(t)
	cfg := config.Default()
	reg := prometheus.NewRegistry()
	svc := violations.New(cfg.Violations, cfg.Retention, cfg.Streams, r.dir, r.st, nil, nil, nil, reg, nil,
		violations.WithTSA(a.srv.URL), violations.WithStampEvery(20*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); svc.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	r.file(svc)
	counter := func(result string) float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "iocd_evidence_timestamps_total" {
				for _, m := range mf.GetMetric() {
					if m.GetLabel()[0].GetValue() == result {
						return m.GetCounter().GetValue()
					}
				}
			}
		}
		return -1
	}
	testrig.WaitFor(t, "tries against the down TSA counted", 20*time.Second, func() bool { return counter("failed") >= 2 })
	if tss, _ := r.st.Timestamps(ctx); len(tss) != 0 {
		t.Fatalf("want no timestamp while the TSA is down, got %d", len(tss))
	}
	head, _ := r.st.LedgerHead(ctx)
	a.down.Store(false)
	testrig.WaitFor(t, "the head stamped once the TSA is up", 20*time.Second, func() bool {
		tss, _ := r.st.Timestamps(ctx)
		return len(tss) == 1 && tss[0].Hash == head
	})
	cancel()
	wg.Wait()
	// The stamp's seal moved the head; stamping again asks nothing.
	before := a.requests.Load()
	if err := svc.StampHead(context.Background()); err != nil || a.requests.Load() != before {
		t.Errorf("stamping after the stamp's own seal: want no request, got %d (%v)", a.requests.Load()-before, err)
	}
	r.file(svc)
	if err := svc.StampHead(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tss, _ := r.st.Timestamps(context.Background()); len(tss) != 2 {
		t.Errorf("after a new entry: want a second stamp, got %d", len(tss))
	}
	rep, err := violations.Verify(context.Background(), r.st, r.dir)
	if err != nil || !rep.OK() || rep.Timestamps != 2 || rep.StampedHead == "" || time.Since(rep.StampedAt) > time.Minute {
		t.Fatalf("verify: want OK with 2 timestamps and the latest stamped head, got %d %q %v: %+v %v", rep.Timestamps, rep.StampedHead, rep.StampedAt, rep.Problems, err)
	}
	r.exec(`UPDATE violation_timestamps SET token = x'3000' WHERE id = 1`)
	if got := r.verify(); fmt.Sprint(got) != "map[timestamp_changed:1]" {
		t.Errorf("a timestamp changed: want timestamp_changed, got %v", got)
	}
	r.exec(`DELETE FROM violation_timestamps`)
	if got := r.verify(); fmt.Sprint(got) != "map[timestamp_deleted:2]" {
		t.Errorf("timestamps deleted: want timestamp_deleted twice, got %v", got)
	}
}
