// The wall: KPI tiles, the map, open alerts, what changed, live charts
// and the violation ticker. On every (re)connect of the feed each list is
// rebuilt from the API and the feed's snapshots, then kept up to date in
// place: one line per record, keyed by its id.
import { addReadings, buildCharts, drawCharts } from "./charts.js";
import {
  api, applyLang, el, Feed, fmtNum, fmtTime, header, lang, normDevice, onLang, roleAtLeast,
  session, SEVERITIES, t, violationType,
} from "./common.js";

const CHANGES_WINDOW = 15 * 60 * 1000;
const QUIET_AFTER = 10_000; // overview frames come every 2 s
const MAX_VIOLATIONS = 50;

const state = {
  sess: null,
  overview: null,
  devices: new Map(),    // id → DeviceStatus
  alerts: new Map(),     // id → Alert
  violations: new Map(), // id → Violation
  changes: new Map(),    // key → change
  charts: [],            // configured or picked {site, field, label}
  series: new Map(),     // "site|field" → Map(device → [[ts, v]...])
  lastData: 0,
  feedState: "connecting",
};

const byId = id => document.getElementById(id);

// ---- KPI tiles -------------------------------------------------------

function renderKPIs() {
  const o = state.overview;
  if (!o) return;
  for (const h of ["online", "stale", "offline"]) {
    const n = o.devices?.[h] ?? 0;
    byId("n-" + h).textContent = fmtNum(n);
    byId("n-" + h).parentElement.classList.toggle("zero", n === 0);
  }
  const sites = byId("sites");
  sites.replaceChildren(el("tr", { class: "head" }, el("td"), ...["online", "stale", "offline"].map(h => el("td", { class: "n " + h, title: t("health." + h) }, el("span", { class: "dot " + h })))),
    ...(o.sites || []).map(s => el("tr", {},
    el("td", { class: "name", text: s.site }),
    ...["online", "stale", "offline"].map(h => {
      const n = s.devices?.[h] ?? 0;
      return el("td", { class: `n ${h}${n === 0 ? " zero" : ""}`, title: t("health." + h), text: fmtNum(n) });
    }),
  )));
  byId("n-cameras").textContent = fmtNum(o.cameras?.streaming ?? 0);
  byId("n-cameras-total").textContent = "/ " + fmtNum(o.cameras?.total ?? 0);
  const vt = Object.entries(o.violations_today || {}).sort((a, b) => b[1] - a[1]);
  byId("n-violations").textContent = fmtNum(vt.reduce((s, [, n]) => s + n, 0));
  // How many confirmed violations' owners must be notified by tomorrow
  // (the review desk's deadlines); shown once the server reports it.
  const due = o.violations_due_tomorrow;
  byId("violations-due").hidden = typeof due !== "number";
  if (typeof due === "number") {
    byId("n-due-tomorrow").textContent = fmtNum(due);
    byId("violations-due").classList.toggle("zero", due === 0);
  }
  byId("violations-by-type").replaceChildren(...vt.slice(0, 3).map(([k, n]) => el("li", {}, el("span", { text: violationType(k) }), el("b", { text: fmtNum(n) }))));
  byId("alerts-by-sev").replaceChildren(...SEVERITIES.slice(0, 4).map(s => {
    const n = o.alerts_open?.[s] ?? 0;
    return el("li", { class: n === 0 ? "zero" : "" }, el("b", { text: fmtNum(n) }), el("span", { class: "sev " + s, text: t("sev." + s) }));
  }));
  byId("n-rate").textContent = fmtNum(o.readings_per_second ?? 0, o.readings_per_second < 10 ? 1 : 0);
}

// ---- Map ---------------------------------------------------------------

let map, markers = new Map(), fitted = false;
const COLORS = { online: "#2fd27a", stale: "#ffbf3c", offline: "#ff4d4f", unknown: "#8a96a6" };

async function initMap() {
  const L = window.L;
  map = L.map("map", { zoomControl: false, attributionControl: true, zoomSnap: 0.25, preferCanvas: false });
  map.attributionControl.setPrefix("Leaflet");
  let ui = { map: "/assets/map.geojson", pmtiles: false };
  try { ui = await (await fetch("/assets/ui.json")).json(); } catch { /* defaults */ }
  state.ui = ui;
  if (ui.pmtiles && window.pmtiles?.leafletRasterLayer) {
    const p = new window.pmtiles.PMTiles("/assets/basemap.pmtiles");
    window.pmtiles.leafletRasterLayer(p, { attribution: "basemap" }).addTo(map);
  }
  try {
    const geo = await (await fetch(ui.map)).json();
    const layer = L.geoJSON(geo, { style: { color: "#5f7a99", weight: 2, fillColor: "#1b2b45", fillOpacity: ui.pmtiles ? 0 : 1 }, interactive: false }).addTo(map);
    map.fitBounds(layer.getBounds());
    map.attributionControl.addAttribution("Natural Earth");
  } catch {
    map.setView([10.7, 106.5], 10);
  }
  renderLegend();
}

function renderLegend() {
  byId("legend").replaceChildren(
    ...["online", "stale", "offline"].map(h => el("span", {}, el("span", { class: "dot " + h }), " ", t("health." + h))),
    el("span", {}, el("span", { class: "ring" }), " ", t("legend.camera")),
  );
}

function placeDevice(d) {
  if (!map || !(d.lat || d.lon)) return;
  const L = window.L;
  const color = COLORS[d.health] || COLORS.unknown;
  const cam = d.kind === "camera";
  let m = markers.get(d.id);
  const fs = rootFont();
  const style = { radius: fs * (cam ? 0.62 : 0.5), color: cam ? "#f2f5f8" : "#0b0f14", weight: cam ? fs * 0.16 : fs * 0.08, fillColor: color, fillOpacity: 1 };
  if (!m) {
    m = L.circleMarker([d.lat, d.lon], style).addTo(map);
    m.bindTooltip("", { direction: "top" });
    markers.set(d.id, m);
  } else {
    m.setLatLng([d.lat, d.lon]);
    m.setStyle(style);
  }
  m.getElement?.()?.setAttribute("data-health", d.health);
  m.getElement?.()?.setAttribute("data-device", d.id);
  m.setTooltipContent(`${d.name || d.id} · ${t("health." + d.health)}${d.reason ? " · " + d.reason : ""}`);
  // Problems on top, so a red dot is never hidden under a green one.
  if (d.health !== "online") m.bringToFront();
}

function rootFont() { return parseFloat(getComputedStyle(document.documentElement).fontSize) || 16; }

// fitDevices frames the devices (the province), not the whole country,
// and labels each site at the middle of its devices.
const siteLabels = new Map();
function fitDevices() {
  if (!map) return;
  const L = window.L;
  const bySite = new Map();
  for (const d of state.devices.values()) {
    if (!(d.lat || d.lon)) continue;
    if (!bySite.has(d.site)) bySite.set(d.site, []);
    bySite.get(d.site).push([d.lat, d.lon]);
  }
  for (const [site, pts] of bySite) {
    const c = L.latLngBounds(pts).getCenter();
    let m = siteLabels.get(site);
    if (!m) {
      m = L.tooltip({ permanent: true, direction: "right", className: "site-label", offset: [rootFont(), 0], interactive: false }).setLatLng(c).setContent(site).addTo(map);
      siteLabels.set(site, m);
    } else m.setLatLng(c);
  }
  if (fitted) return;
  const pts = [...bySite.values()].flat();
  if (pts.length < 2) return;
  map.fitBounds(L.latLngBounds(pts).pad(0.35));
  fitted = true;
}

// ---- Alerts --------------------------------------------------------------

const sevRank = s => { const i = SEVERITIES.indexOf(s); return i < 0 ? SEVERITIES.length : i; };
const alertTime = a => new Date(a.raised_at || a.pending_since || a.updated_at || 0).getTime();

function renderAlerts() {
  const list = [...state.alerts.values()].filter(a => a.state && a.state !== "resolved")
    .sort((a, b) => sevRank(a.severity) - sevRank(b.severity) || alertTime(b) - alertTime(a));
  byId("alerts-count").textContent = list.length ? `(${list.length})` : "";
  const canAck = roleAtLeast(state.sess.role, "operator");
  const rows = list.slice(0, 40).map(a => el("li", { class: a.state, dataset: { id: a.id, state: a.state } },
    el("span", { class: "sev " + a.severity, text: t("sev." + a.severity) }),
    el("time", { text: fmtTime(a.raised_at || a.pending_since) }),
    el("span", { class: "msg", text: (lang() === "en" && a.message_en) ? a.message_en : a.message }),
    a.state === "acknowledged" ? el("span", { class: "who", text: t("acked.by", { who: (a.acked_by || "").replace(/^user:/, "") }) }) : null,
    a.state === "pending" ? el("span", { class: "who", text: t("state.pending") }) : null,
    canAck && a.state === "firing" ? el("button", { type: "button", class: "ack", onclick: () => ack(a.id), text: t("ack") }) : null,
  ));
  byId("alerts").replaceChildren(...(rows.length ? rows : [el("li", { class: "empty", text: t("none.alerts") })]));
}

async function ack(id) {
  try {
    const res = await api("POST", `/api/v1/alerts/${encodeURIComponent(id)}/ack`, {});
    if (res?.alert) { state.alerts.set(res.alert.id, res.alert); renderAlerts(); }
  } catch (e) {
    console.warn("ack", e);
  }
}

// ---- Violations ticker ---------------------------------------------------

function renderViolations() {
  const list = [...state.violations.values()].sort((a, b) => new Date(b.ts) - new Date(a.ts)).slice(0, 20);
  const rows = list.map(v => el("li", { dataset: { id: v.id } },
    el("time", { text: fmtTime(v.ts) }),
    el("b", { text: violationType(v.type) }), " · ", v.camera, v.site ? ` (${v.site})` : "",
    v.plate ? el("span", { class: "plate", text: v.plate }) : null,
  ));
  byId("violations").replaceChildren(...(rows.length ? rows : [el("li", { class: "empty", text: t("none.violations") })]));
}

function addViolation(v) {
  state.violations.set(v.id, v);
  if (state.violations.size > MAX_VIOLATIONS) {
    const oldest = [...state.violations.values()].sort((a, b) => new Date(a.ts) - new Date(b.ts))[0];
    state.violations.delete(oldest.id);
  }
}

// ---- What changed ----------------------------------------------------------

// changeLine turns a change (from /api/v1/changes, or made here from a
// feed frame in the same shape) into one line.
function healthWord(h) {
  const k = "health." + h;
  return t(k) === k ? (h || "") : t(k);
}

function changeLine(c) {
  const subject = c.subject || c.device || "";
  const parts = [el("time", { text: fmtTime(c.at) })];
  if (c.kind === "alert") {
    const msg = (lang() === "en" && c.message_en) || c.message || subject;
    parts.push(c.severity ? el("span", { class: "sev " + c.severity, text: t("sev." + c.severity) }) : null,
      el("span", { class: "msg" }, el("b", { text: t("state." + c.to) === "state." + c.to ? c.to : t("state." + c.to) }), " · ", msg));
  } else if (c.kind === "camera") {
    parts.push(el("span", { class: "msg" }, t("legend.camera"), " ", subject, " ",
      el("span", { class: c.to === "up" ? "h-online" : "h-offline", text: c.to === "up" ? "▲ " + t("health.online") : "▼ " + t("health.offline") }),
      c.reason ? el("span", { class: "who", text: " " + c.reason }) : null));
  } else {
    const dev = state.devices.get(c.device || c.subject);
    parts.push(el("span", { class: "msg" }, (dev?.name || subject), " ",
      el("span", { class: "h-" + c.from, text: healthWord(c.from) }),
      el("span", { class: "arrow", text: " → " }),
      el("span", { class: "h-" + c.to, text: healthWord(c.to) }),
      c.reason ? el("span", { class: "who", text: " " + c.reason }) : null));
  }
  return el("li", { dataset: { kind: c.kind || "" } }, ...parts.filter(Boolean));
}

function renderChanges() {
  const cut = Date.now() - CHANGES_WINDOW;
  for (const [k, c] of state.changes) if (new Date(c.at).getTime() < cut) state.changes.delete(k);
  const list = [...state.changes.values()].sort((a, b) => new Date(b.at) - new Date(a.at)).slice(0, 40);
  byId("changes").replaceChildren(...(list.length ? list.map(changeLine) : [el("li", { class: "empty", text: t("none.changes") })]));
}

function addChange(c) {
  // The same change from the API and the feed gets one line.
  const key = `${c.kind}|${c.alert || c.device || c.subject}|${c.to ?? ""}|${Math.round(new Date(c.at).getTime() / 1000)}`;
  state.changes.set(key, c);
}

// ---- Staleness -------------------------------------------------------------

function renderStale() {
  if (state.feed?.lastFrame) state.lastData = Math.max(state.lastData, state.feed.lastFrame);
  const banner = byId("stale-banner");
  const since = state.lastData ? fmtTime(state.lastData) : "–";
  let msg = "";
  if (state.feedState !== "live") msg = t("stale.feed", { t: since });
  else if (state.lastData && Date.now() - state.lastData > QUIET_AFTER) msg = t("stale.quiet", { s: Math.round((Date.now() - state.lastData) / 1000), t: since });
  banner.textContent = msg;
  banner.hidden = !msg;
  document.body.classList.toggle("is-stale", !!msg);
  const conn = byId("conn");
  conn.dataset.state = state.feedState;
  conn.textContent = t("conn." + state.feedState);
}

// ---- The feed --------------------------------------------------------------

function onFrame(f) {
  const d = f.data || {};
  switch (f.type) {
    case "snapshot":
      if (d.topic === "fleet") {
        state.fleetSnapshot = true;
        state.devices.clear();
        for (const x of d.devices || []) state.devices.set(x.id, x);
        for (const [id, m] of markers) if (!state.devices.has(id)) { m.remove(); markers.delete(id); }
        for (const x of state.devices.values()) placeDevice(x);
        fitDevices();
        if (d.overview) state.overview = d.overview;
        renderKPIs();
        buildCharts(state);
      } else if (d.topic === "alerts") {
        state.alerts.clear();
        for (const a of d.alerts || []) state.alerts.set(a.id, a);
        renderAlerts();
      } else if (d.topic === "violations") {
        for (const v of d.violations || []) addViolation(v);
        renderViolations();
      } else if (d.topic?.startsWith("telemetry:")) {
        addReadings(state, d.readings);
      }
      state.lastData = Date.now();
      break;
    case "overview":
      state.overview = d;
      state.overviewAt = Date.now();
      state.lastData = Date.now();
      renderKPIs();
      break;
    case "device": {
      const prev = state.devices.get(d.id);
      state.devices.set(d.id, d);
      placeDevice(d);
      if (prev && prev.health !== d.health) addChange({ kind: "health", subject: d.id, device: d.id, site: d.site, from: prev.health, to: d.health, reason: d.reason, at: f.at || new Date().toISOString() });
      renderChanges();
      break;
    }
    case "alert":
      state.alerts.set(d.id, d);
      if (d.state === "firing" || d.state === "resolved") addChange({ kind: "alert", alert: d.id, subject: d.subject, to: d.state, severity: d.severity, message: d.message, message_en: d.message_en, at: f.at || d.updated_at });
      renderAlerts();
      renderChanges();
      break;
    case "violation":
      addViolation(d);
      renderViolations();
      break;
    case "telemetry":
      addReadings(state, d.readings);
      state.lastData = Date.now();
      break;
    case "camera":
      break;
    default:
      break;
  }
}

// rebuild reloads every list from the API: on the first connect and on
// every reconnect, so a screen that was away shows the truth, not what it
// happened to hear.
async function rebuild() {
  const [dv, ov, al, vi, ch] = await Promise.allSettled([
    api("GET", "/api/v1/devices"),
    api("GET", "/api/v1/overview"),
    api("GET", "/api/v1/alerts?state=firing,acknowledged,pending&limit=200"),
    api("GET", "/api/v1/violations?limit=50"),
    api("GET", "/api/v1/changes?since=15m"),
  ]);
  if (dv.status === "fulfilled" && !state.fleetSnapshot) {
    for (const x of (dv.value?.devices || []).map(normDevice)) { state.devices.set(x.id, x); placeDevice(x); }
    fitDevices();
    buildCharts(state);
  }
  if (ov.status === "fulfilled" && ov.value) { state.overview = ov.value.overview || ov.value; renderKPIs(); }
  if (al.status === "fulfilled") { state.alerts.clear(); for (const a of al.value?.alerts || []) state.alerts.set(a.id, a); renderAlerts(); }
  if (vi.status === "fulfilled") { state.violations.clear(); for (const v of vi.value?.violations || []) addViolation(v); renderViolations(); }
  if (ch.status === "fulfilled") { state.changes.clear(); for (const c of ch.value?.changes || []) addChange(c); renderChanges(); }
}

// pollLag says how far behind the telemetry path is: a wall whose
// readings lag (InfluxDB down, the spool growing) must say so rather than
// look current.
async function pollLag() {
  try {
    const b = await api("GET", "/api/v1/ingest");
    const behind = Math.round(b.behind_seconds || 0);
    const lagEl = byId("lag");
    lagEl.hidden = false;
    lagEl.classList.toggle("behind", behind >= 5);
    lagEl.dataset.behind = String(behind);
    lagEl.textContent = behind >= 5 ? t("lag.behind", { s: behind, mb: fmtNum((b.spool_bytes || 0) / 1e6, 1) }) : t("lag.ok");
  } catch { /* the next poll retries */ }
}

function tickClock() {
  byId("clock").textContent = fmtTime(Date.now());
}

async function main() {
  applyLang();
  state.sess = await session();
  header(state.sess);
  await initMap();
  renderAlerts(); renderViolations(); renderChanges();
  onLang(() => { pollLag(); renderKPIs(); renderAlerts(); renderViolations(); renderChanges(); renderLegend(); renderStale(); tickClock(); for (const d of state.devices.values()) placeDevice(d); });
  state.feed = new Feed(["fleet", "alerts", "violations", "cameras"], {
    onFrame,
    onState: s => {
      state.feedState = s;
      if (s === "live") rebuild();
      renderStale();
    },
  });
  state.feed.start();
  setInterval(() => { tickClock(); renderStale(); drawCharts(state); }, 1000);
  setInterval(renderChanges, 15_000);
  pollLag();
  setInterval(pollLag, 5000);
  // The feed sends the figures every 2 s; should it not (an older
  // server), read them from the API instead.
  setInterval(async () => {
    if (state.feedState !== "live" || Date.now() - (state.overviewAt || 0) < 5000) return;
    try { const o = await api("GET", "/api/v1/overview"); state.overview = o.overview || o; renderKPIs(); } catch { /* next time */ }
  }, 5000);
  window.addEventListener("resize", () => {
    map?.invalidateSize();
    fitted = false;
    fitDevices();
    for (const d of state.devices.values()) placeDevice(d);
    drawCharts(state);
  });
  tickClock();
  window.iocdWall = state; // for the browser tests and a curious operator
}

main().catch(e => console.error(e));
