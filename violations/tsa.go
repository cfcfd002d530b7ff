package violations

// RFC 3161 timestamps of ledger heads. With evidence.tsa_url set, the
// service asks the TSA to timestamp the ledger's head whenever the head
// has moved since the last stamp. A stamp of a head covers every entry
// before it (the chain links them), so the queue while the TSA is
// unreachable is a single item, the current head: each try takes the
// newest head, and nothing piles up. Every try is counted
// (iocd_evidence_timestamps_total{result}).
//
// The message stamped is the head hash as hex text, hashed with SHA-256
// (the TSA sees a digest only). Verify checks each stored token's
// signature (with the TSA certificate it carries), that it stamps that
// digest, and that the stamped head is in the chain.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/iocd/iocd/defs"
)

const (
	// stampEvery is how often the head is checked for a new stamp.
	stampEvery = 30 * time.Second
	// tsaTimeout bounds one request to the TSA.
	tsaTimeout = 10 * time.Second
	// maxTSAResponse bounds a TSA's answer.
	maxTSAResponse = 1 << 20
)

// timestampStore is what stamping needs from the store.
type timestampStore interface {
	LedgerHead(ctx context.Context) (string, error)
	// LastTimestamp returns the head stamped last and the hash of the
	// ledger entry sealing that stamp.
	LastTimestamp(ctx context.Context) (stamped, sealedBy string, err error)
	// AddTimestamp stores a timestamp with the ledger entry seal computes.
	AddTimestamp(ctx context.Context, ts defs.LedgerTimestamp, seal func(defs.LedgerTimestamp, string) defs.LedgerEntry) error
}

// WithTSA makes the service timestamp ledger heads at the RFC 3161 TSA at
// url (evidence.tsa_url). The store must keep timestamps.
func WithTSA(url string) Option {
	return func(s *Service) { s.tsaURL = url }
}

// stampLoop stamps the head now and every stampEvery until ctx ends.
func (s *Service) stampLoop(ctx context.Context, st timestampStore) {
	t := time.NewTicker(s.stampEvery)
	defer t.Stop()
	for {
		if err := s.stampHead(ctx, st); err != nil && ctx.Err() == nil {
			s.metrics.timestamps.WithLabelValues("failed").Inc()
			if s.warnLimit.Allow() {
				s.log.Warn("timestamping the ledger head failed; retrying", "tsa", s.tsaURL, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// stampHead gets a TSA's timestamp of the ledger head unless it has one.
func (s *Service) stampHead(ctx context.Context, st timestampStore) error {
	head, err := st.LedgerHead(ctx)
	if err != nil || head == "" {
		return err
	}
	// The stamp's own seal moves the head; that is not news.
	stamped, sealedBy, err := st.LastTimestamp(ctx)
	if err != nil || head == stamped || head == sealedBy {
		return err
	}
	token, at, err := requestTimestamp(ctx, s.tsaURL, head)
	if err != nil {
		return err
	}
	if err := s.OpenLedger(ctx); err != nil {
		return err
	}
	seal := func(ts defs.LedgerTimestamp, prev string) defs.LedgerEntry {
		return s.signer.Load().SealTimestamp(ts, prev)
	}
	if err := st.AddTimestamp(ctx, defs.LedgerTimestamp{Hash: head, Token: token, At: at}, seal); err != nil {
		return err
	}
	s.metrics.timestamps.WithLabelValues("stamped").Inc()
	return nil
}

// requestTimestamp asks the TSA at url to stamp head and returns the
// checked token and its time.
func requestTimestamp(ctx context.Context, url, head string) ([]byte, time.Time, error) {
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, time.Time{}, err
	}
	q, err := timestamp.CreateRequest(bytes.NewReader([]byte(head)), &timestamp.RequestOptions{Hash: crypto.SHA256, Certificates: true, Nonce: nonce})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("making timestamp request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, tsaTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(q))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("timestamp request: %w", err)
	}
	req.Header.Set("Content-Type", "application/timestamp-query")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("asking the TSA: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTSAResponse))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("reading the TSA's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, time.Time{}, fmt.Errorf("the TSA answered %s", resp.Status)
	}
	ts, err := timestamp.ParseResponse(body)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("the TSA's answer: %w", err)
	}
	if err := checkTimestamp(ts, head); err != nil {
		return nil, time.Time{}, err
	}
	if ts.Nonce == nil || ts.Nonce.Cmp(nonce) != 0 {
		return nil, time.Time{}, fmt.Errorf("the TSA's answer does not carry the request's nonce")
	}
	return ts.RawToken, ts.Time.UTC(), nil
}

// checkTimestamp checks that a parsed token stamps head and was signed by
// the certificate it carries.
func checkTimestamp(ts *timestamp.Timestamp, head string) error {
	if len(ts.Certificates) == 0 {
		return fmt.Errorf("the timestamp carries no TSA certificate, so its signature cannot be checked")
	}
	want := sha256.Sum256([]byte(head))
	if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, want[:]) {
		return fmt.Errorf("the timestamp does not stamp head %s", head)
	}
	return nil
}

// SealTimestamp is the store's sealer for a TSA timestamp of a head.
func (s *Signer) SealTimestamp(ts defs.LedgerTimestamp, prev string) defs.LedgerEntry {
	return s.finish(defs.LedgerEntry{Kind: defs.LedgerStamp, Ref: ts.Hash, ContentHash: sha256Hex(ts.Token), PrevHash: prev, At: time.Now()})
}

// verifyTimestamps checks every stored timestamp: sealed, signed by the
// TSA, stamping its head, and the head in the chain; and that no sealed
// timestamp is missing.
func verifyTimestamps(tss []defs.LedgerTimestamp, sealed map[string]defs.LedgerEntry, inChain map[string]bool, rep *Report,
	add func(kind, id string, seq int64, format string, args ...any)) {
	rep.Timestamps = len(tss)
	seen := map[string]bool{}
	for _, t := range tss {
		seen[t.Hash] = true
		ts, err := timestamp.Parse(t.Token)
		if err == nil {
			err = checkTimestamp(ts, t.Hash)
		}
		e, ok := sealed[t.Hash]
		switch {
		case !ok:
			add("timestamp_unsealed", "", 0, "the timestamp of head %s has no ledger entry", t.Hash)
		case e.ContentHash != sha256Hex(t.Token):
			add("timestamp_changed", "", e.Seq, "the timestamp of head %s differs from what entry %d sealed", t.Hash, e.Seq)
		case err != nil:
			add("timestamp_invalid", "", 0, "the timestamp of head %s does not verify: %v", t.Hash, err)
		case !inChain[t.Hash]:
			add("timestamp_invalid", "", 0, "head %s, timestamped at %s, is not in the chain: the chain was rewritten", t.Hash, ts.Time.UTC().Format(time.RFC3339))
		case !ts.Time.Equal(t.At):
			add("timestamp_invalid", "", 0, "the timestamp of head %s says %s, the store %s", t.Hash, ts.Time.UTC().Format(time.RFC3339), t.At.Format(time.RFC3339))
		default:
			rep.StampedHead, rep.StampedAt = t.Hash, ts.Time.UTC()
		}
	}
	for h, e := range sealed {
		if !seen[h] {
			add("timestamp_deleted", "", e.Seq, "the timestamp of head %s sealed by entry %d is missing", h, e.Seq)
		}
	}
}
