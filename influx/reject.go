package influx

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"regexp"
	"strconv"

	"github.com/iocd/iocd/defs"
)

// What InfluxDB refuses with a 4xx (a field type conflict, a value it
// cannot parse, a point beyond retention) costs only the refused points:
//
//   - A partial write (InfluxDB 1.8: 400 "partial write: ... dropped=N")
//     wrote the rest of the batch already. The N points are counted as
//     dropped with their reason; for a type conflict the field's type is
//     learned from the message and the dropped points are matched in the
//     batch by field and type, so that the conflict is reported per device.
//   - Any other 4xx refused the whole request (InfluxDB 2.x answers a type
//     conflict so; a line it cannot parse; a body too large): the batch is
//     split in halves and each half written again, down to the single
//     points InfluxDB refuses, which are dropped and counted alone, within
//     a budget of requests per batch.
//
// Retrying accepted points is harmless (InfluxDB keeps one point per
// series and time), so when InfluxDB becomes unreachable in the middle of
// this, the whole batch goes back to the retry path.

// Drop reasons added to iocd_influx_points_dropped_total by salvage.
const (
	dropTypeConflict = "type_conflict" // a field's type differs from its type in InfluxDB
	dropBadPoint     = "bad_point"     // InfluxDB refused the point for another reason (a bad value, beyond retention)
)

// Bounds of salvage.
const (
	// maxSalvagePosts bounds the requests spent splitting one refused
	// batch. One bad point in 5,000 takes about 26; past the budget the
	// points not yet written are dropped and counted as rejected.
	maxSalvagePosts = 64
	// maxErrorText keeps enough of InfluxDB's answer to read a partial
	// write's field name (up to 256 bytes) and dropped count.
	maxErrorText = 1024
)

var (
	reDropped  = regexp.MustCompile(`dropped=(\d+)`)
	reConflict = regexp.MustCompile(`(?s)input field "(.*)" on measurement "(.*?)" is type (\w+), already exists as type (\w+)`)
)

// partialWrite is InfluxDB 1.8's answer to a batch it wrote but for some
// points.
type partialWrite struct {
	dropped  int
	conflict bool
	field    string
	got      fieldType // the type of the refused points
	want     fieldType // the field's type in InfluxDB
}

func parsePartial(err error) (partialWrite, bool) {
	var we *WriteError
	if !errors.As(err, &we) || we.Status < 400 || we.Status > 499 {
		return partialWrite{}, false
	}
	m := reDropped.FindStringSubmatch(we.msg)
	if m == nil || !bytes.Contains([]byte(we.msg), []byte("partial write")) {
		return partialWrite{}, false
	}
	n, convErr := strconv.Atoi(m[1])
	if convErr != nil {
		return partialWrite{}, false
	}
	pw := partialWrite{dropped: n}
	if c := reConflict.FindStringSubmatch(we.msg); c != nil && c[2] == MeasurementTelemetry {
		pw.conflict, pw.field, pw.got, pw.want = true, c[1], parseFieldType(c[3]), parseFieldType(c[4])
	}
	return pw, true
}

// salvage handles a batch InfluxDB refused with err (not retryable). It
// returns how many of its n points were written in the end, or a retryable
// error when InfluxDB stopped answering on the way, for the caller to
// retry the whole batch. Every point not written is counted as dropped.
func (w *Writer) salvage(body []byte, gzipped bool, n int, err error) (int, error) {
	w.m.writeFailures.WithLabelValues("rejected").Inc()
	if gzipped {
		plain, gzErr := gunzip(body)
		if gzErr != nil {
			w.rejected(n, err)
			return 0, nil
		}
		body = plain
	}
	lines := splitLines(body)
	budget := maxSalvagePosts
	written, rerr := w.salvageLines(body, lines, err, &budget)
	if rerr != nil {
		return 0, rerr
	}
	// A batch of WritePoint points may have held lines that were not
	// counted as points; never report more written than the batch held.
	return min(written, n), nil
}

// salvageLines deals with lines (offsets into body) that InfluxDB answered
// err to, and returns how many were written.
func (w *Writer) salvageLines(body []byte, lines []span, err error, budget *int) (int, error) {
	if pw, ok := parsePartial(err); ok {
		return len(lines) - w.partial(body, lines, pw), nil
	}
	if len(lines) == 1 {
		w.dropLine(body, lines[0], dropBadPoint, err)
		return 0, nil
	}
	mid := len(lines) / 2
	total := 0
	for _, part := range [][]span{lines[:mid], lines[mid:]} {
		if *budget <= 0 {
			w.m.pointsDropped.WithLabelValues(dropRejected).Add(float64(len(part)))
			w.warn.Do(func() {
				w.log.Warn("influxdb refused a batch and splitting it to find the bad points took too many requests; dropping the rest", "points", len(part), "err", err)
			})
			continue
		}
		*budget--
		perr := w.post(body[part[0].from:part[len(part)-1].to], false)
		switch {
		case perr == nil:
			total += len(part)
		case isRetryable(perr):
			return 0, perr
		default:
			n, rerr := w.salvageLines(body, part, perr, budget)
			if rerr != nil {
				return 0, rerr
			}
			total += n
		}
	}
	return total, nil
}

// partial counts what a partial write dropped and returns how many points
// that was.
func (w *Writer) partial(body []byte, lines []span, pw partialWrite) int {
	dropped := min(pw.dropped, len(lines))
	matched := 0
	if pw.conflict {
		w.types.learn(pw.field, pw.want)
		// The points of this batch with that field in the refused type
		// are the ones InfluxDB dropped (all of them, if the batch is in
		// one shard); each is reported against its device.
		for _, l := range lines {
			if matched == dropped {
				break
			}
			line := body[l.from:l.to]
			if t, ok := lineField(line, pw.field); ok && t == pw.got {
				w.types.conflict(lineDevice(line), pw.field, pw.want, pw.got, 1)
				matched++
			}
		}
		w.m.pointsDropped.WithLabelValues(dropTypeConflict).Add(float64(matched))
	}
	if rest := dropped - matched; rest > 0 {
		w.m.pointsDropped.WithLabelValues(dropBadPoint).Add(float64(rest))
	}
	w.warn.Do(func() {
		w.log.Warn("influxdb wrote a batch but for some points; those are dropped", "points", len(lines), "dropped", dropped, "field", pw.field)
	})
	return dropped
}

// dropLine counts one point InfluxDB refused on its own.
func (w *Writer) dropLine(body []byte, l span, reason string, err error) {
	line := body[l.from:l.to]
	w.m.pointsDropped.WithLabelValues(reason).Inc()
	w.warn.Do(func() {
		w.log.Warn("influxdb refused a point; dropping it alone", "device", lineDevice(line), "err", err)
	})
}

// span is one line of a batch, body[from:to] without its newline.
type span struct{ from, to int }

// splitLines returns the point lines of a batch. Line protocol from this
// package never holds a raw newline inside a line (appendTag and
// appendString escape them). Comment lines (the WAL's "#r" receipts) are
// not points: left out, a half of a split batch is never only comments,
// which InfluxDB would refuse and which would be counted as a bad point.
func splitLines(body []byte) []span {
	var out []span
	for start := 0; start < len(body); {
		end := bytes.IndexByte(body[start:], '\n')
		if end < 0 {
			end = len(body) - start
		}
		if end > 0 && body[start] != '#' {
			out = append(out, span{start, start + end})
		}
		start += end + 1
	}
	return out
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// lineDevice returns the device (or camera) tag of a line written by this
// package, unescaped, or "" without one.
func lineDevice(line []byte) defs.DeviceID {
	key, _ := splitUnescaped(line, ' ')
	_, tags := splitUnescaped(key, ',')
	for len(tags) > 0 {
		var tag []byte
		tag, tags = splitUnescaped(tags, ',')
		k, v := splitUnescaped(tag, '=')
		if k := string(unescape(k)); k == "device" || k == "camera" {
			return defs.DeviceID(unescape(v))
		}
	}
	return ""
}

// lineField returns the type of field in line, if the line has it.
func lineField(line []byte, field string) (fieldType, bool) {
	_, rest := splitUnescaped(line, ' ')
	typ, found := typeUnknown, false
	scanFields(rest, func(kv []byte) bool {
		k, v := splitUnescaped(kv, '=')
		if string(unescape(k)) == field {
			typ, found = valueType(v), true
			return false
		}
		return true
	})
	return typ, found
}

// scanFields calls fn with each key=value of a field set ("k=v,k2="s" ts"),
// minding escapes in keys and quoted string values, until fn returns false
// or the field set ends at the space before the timestamp. A quote is
// special only at the start of a value: in a key it is a character.
func scanFields(b []byte, fn func(kv []byte) bool) {
	for i, start := 0, 0; i < len(b); start = i {
		for i < len(b) && b[i] != '=' {
			if b[i] == '\\' {
				i++
			}
			i++
		}
		i++ // '='
		if i < len(b) && b[i] == '"' {
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			i++ // the closing quote
		} else {
			for i < len(b) && b[i] != ',' && b[i] != ' ' {
				i++
			}
		}
		if !fn(b[start:min(i, len(b))]) || i >= len(b) || b[i] == ' ' {
			return
		}
		i++ // ','
	}
}

func valueType(v []byte) fieldType {
	switch {
	case len(v) == 0:
		return typeUnknown
	case v[0] == '"':
		return typeString
	case string(v) == "t" || string(v) == "T" || string(v) == "true" || string(v) == "True" || string(v) == "TRUE" ||
		string(v) == "f" || string(v) == "F" || string(v) == "false" || string(v) == "False" || string(v) == "FALSE":
		return typeBoolean
	case v[len(v)-1] == 'i':
		return typeInteger
	case v[len(v)-1] == 'u':
		return typeUnsigned
	}
	return typeFloat
}

// splitUnescaped splits b at the first sep not escaped by a backslash.
func splitUnescaped(b []byte, sep byte) (before, after []byte) {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case sep:
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

func unescape(b []byte) []byte {
	if bytes.IndexByte(b, '\\') < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			i++
		}
		out = append(out, b[i])
	}
	return out
}

// refused handles a batch from a sender that InfluxDB refused with err.
func (w *Writer) refused(b *batch, err error) {
	written, rerr := w.salvage(b.buf, false, b.n, err)
	if rerr != nil {
		w.defer_(b)
		return
	}
	w.m.pointsWritten.Add(float64(written))
	w.complete(b)
}

// salvageBacklog handles a backlog entry InfluxDB refused with err: it
// writes what it can, removes the entry and returns nil, or returns a
// retryable error, leaving the entry for the retry loop.
func (w *Writer) salvageBacklog(b *batch, f spoolFile, err error) error {
	var written int
	var rerr error
	if b != nil {
		written, rerr = w.salvage(b.buf, false, b.n, err)
	} else {
		body, readErr := w.spoolRead(f)
		if readErr != nil {
			w.dropSpoolFile(f, readErr)
			return nil
		}
		written, rerr = w.salvage(body, true, f.points, err)
	}
	if rerr != nil {
		return rerr
	}
	w.popBacklog(b, f, false)
	w.m.pointsWritten.Add(float64(written))
	return nil
}
