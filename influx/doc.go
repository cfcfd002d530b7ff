// Package influx owns iocd's metrics history in InfluxDB: the Writer that
// batches points into line protocol and writes them with retry, backoff and
// an on-disk spool that keeps points through an outage, and History, which
// reads a device's telemetry back with Flux for the dashboard.
//
// It speaks InfluxDB 2.x and InfluxDB 1.8's compatibility API alike: bucket
// "db/rp" (or "db"), token "user:password" or empty, org ignored by 1.8.
//
// Schema, at millisecond precision:
//
//	telemetry,device=<id>,kind=<kind>,site=<site> <field>=<value>,... <time>
//	device_status,device=<id>,kind=<kind>,site=<site> health="online",online=1i <time>
//
// telemetry has one field per value the device sent: numbers as floats
// (always, so that 41 then 41.5 never conflict), booleans, strings. Its time
// is the device's ts, or the time iocd received the message. device_status
// is written on every health change; health is unknown, online, offline or
// stale, and online is 1 only when health is online.
package influx
