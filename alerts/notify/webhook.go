package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iocd/iocd/defs"
)

// Webhook request headers.
const (
	HeaderSignature = "X-Iocd-Signature" // sha256=<hex HMAC-SHA256(secret, body)>
	HeaderTimestamp = "X-Iocd-Timestamp" // Unix seconds when this attempt was sent
	HeaderDelivery  = "X-Iocd-Delivery"  // <alert id>-<seq>, the same on every retry and resend
)

// Sign returns the X-Iocd-Signature value of body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether sig is body's signature under secret, in
// constant time: what a receiver written in Go does.
func Verify(secret, body []byte, sig string) bool {
	return hmac.Equal([]byte(sig), []byte(Sign(secret, body)))
}

// DeliveryID is the X-Iocd-Delivery value of a transition.
func DeliveryID(alert string, seq int) string { return alert + "-" + strconv.Itoa(seq) }

// webhookSender POSTs notifications to one webhook, retrying with
// exponential backoff. Its log lines and notes name the webhook, never its
// URL (which may carry a token) or its secret.
type webhookSender struct {
	n         *Notifier
	name      string
	url       string
	secret    []byte
	timeout   time.Duration
	client    *http.Client
	delivered prometheus.Counter
	failed    prometheus.Counter
	retries   prometheus.Counter
}

func newWebhookSender(w Webhook, n *Notifier, rt http.RoundTripper) *webhookSender {
	if rt == nil {
		rt = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: w.Timeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   w.Timeout,
			ResponseHeaderTimeout: w.Timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
		}
	}
	l := n.m.label(destWebhook + w.Name)
	return &webhookSender{
		n:       n,
		name:    w.Name,
		url:     w.URL,
		secret:  []byte(w.Secret),
		timeout: w.Timeout,
		// No redirects: a signed body must not be replayed to where the
		// receiver points.
		client: &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		delivered: n.m.delivered.WithLabelValues(l),
		failed:    n.m.failed.WithLabelValues(l),
		retries:   n.m.retries.WithLabelValues(l),
	}
}

// deliver tries d up to MaxAttempts times. It returns pending when the
// notifier stops first, so the next start sends it again.
func (s *webhookSender) deliver(ctx context.Context, d defs.AlertDelivery) (defs.DeliveryStatus, int, string) {
	id := DeliveryID(d.Alert, d.Seq)
	attempts := d.Attempts
	for {
		attempts++
		err := s.post(ctx, id, d.Body)
		if err == nil {
			s.delivered.Inc()
			return defs.DeliveryDone, attempts, ""
		}
		if ctx.Err() != nil {
			return defs.DeliveryPending, attempts, ""
		}
		var perm *permanentError
		if errors.As(err, &perm) || attempts >= s.n.cfg.MaxAttempts {
			s.failed.Inc()
			s.n.warn.Do(func() {
				s.n.log.Warn("alert webhook delivery failed; giving up", "webhook", s.name, "delivery", id, "attempts", attempts, "err", err)
			})
			return defs.DeliveryFailed, attempts, err.Error()
		}
		s.retries.Inc()
		if !sleep(ctx, s.n.backoff(attempts)) {
			return defs.DeliveryPending, attempts, ""
		}
	}
}

// permanentError is an answer that will not change on retry (a 4xx other
// than 408 and 429).
type permanentError struct{ status int }

func (e *permanentError) Error() string { return fmt.Sprintf("webhook answered %d", e.status) }

func (s *webhookSender) post(ctx context.Context, id string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return errors.New("webhook url does not parse")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "iocd")
	req.Header.Set(HeaderDelivery, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
	if len(s.secret) > 0 {
		req.Header.Set(HeaderSignature, Sign(s.secret, body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// url.Error quotes the URL, which may hold a token: keep only
		// the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no answer within %s", s.timeout)
		}
		return fmt.Errorf("sending: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	default:
		return &permanentError{status: resp.StatusCode}
	}
}
