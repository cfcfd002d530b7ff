// A device's page: its registry entry and health, a chart of one field's
// history from InfluxDB (GET /api/v1/devices/{id}/telemetry) and its
// health history (GET /api/v1/devices/{id}/health).
import { api, applyLang, el, fmtAgo, fmtDateTime, header, numTicks, timeTicks, normDevice, onLang, session, t } from "./common.js";

const byId = id => document.getElementById(id);
const id = decodeURIComponent(location.pathname.replace(/^\/fleet\//, ""));
let dev = null, plot = null, healthRows = [];

function renderFacts() {
  if (!dev) return;
  byId("dev-title").textContent = `${dev.name || dev.id}`;
  const facts = [
    ["col.id", dev.id], ["col.health", t("health." + dev.health) + (dev.reason ? ` (${dev.reason})` : "")],
    ["col.site", dev.site], ["col.kind", t("kind." + dev.kind) === "kind." + dev.kind ? dev.kind : t("kind." + dev.kind)], ["col.lastseen", dev.last_seen ? `${fmtDateTime(dev.last_seen)} · ${fmtAgo(dev.last_seen)}` : t("never")],
    ["col.firmware", dev.firmware || "–"],
  ];
  if (dev.status === "pending") facts.push(["pending", ""]);
  byId("facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: t(k) }), el("dd", { text: v ?? "" })]),
    ...Object.entries(dev.values || {}).flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]));
}

async function loadHistory() {
  const field = byId("field").value;
  if (!field) { byId("history-none").hidden = false; return; }
  const [from, every] = byId("range").value.split("|");
  try {
    const r = await api("GET", `/api/v1/devices/${encodeURIComponent(id)}/telemetry?field=${encodeURIComponent(field)}&from=${from}&every=${every}`);
    const pts = r.points || [];
    const data = [pts.map(p => new Date(p.t).getTime() / 1000), pts.map(p => p.v)];
    const values = pts.filter(p => p.v !== null).length;
    byId("history-none").hidden = values > 0;
    const box = byId("history");
    box.hidden = values === 0;
    box.dataset.values = String(values);
    if (!values) { plot?.destroy(); plot = null; return; }
    plot?.destroy();
    const fs = parseFloat(getComputedStyle(document.documentElement).fontSize);
    const axis = { stroke: "#c3ccd8", grid: { stroke: "#2a3646" }, ticks: { stroke: "#2a3646" }, font: `${Math.round(fs * 0.8)}px "Be Vietnam Pro"` };
    plot = new window.uPlot({
      width: box.clientWidth, height: box.clientHeight, legend: { show: false },
      axes: [{ ...axis, values: timeTicks, space: fs * 5 }, { ...axis, size: fs * 4, values: numTicks }],
      series: [{}, { label: field, stroke: "#5aa9ff", width: 2, spanGaps: false, points: { show: false } }],
    }, data, box);
  } catch (e) {
    plot?.destroy();
    plot = null;
    byId("history").hidden = true;
    byId("history-none").hidden = false;
  }
}

function renderHealth() {
  const rows = healthRows.map(h => el("li", {},
    el("time", { text: fmtDateTime(h.at || h.ts || h.time) }),
    h.from ? el("span", { class: "muted", text: t("health." + h.from) + " →" }) : null,
    el("span", {}, el("span", { class: "dot " + (h.health || h.to) }), " ", t("health." + (h.health || h.to))),
    h.reason ? el("span", { class: "muted", text: h.reason }) : null));
  byId("health-history").replaceChildren(...(rows.length ? rows : [el("li", { class: "empty", text: t("device.nohealth") })]));
}

async function main() {
  applyLang();
  const sess = await session();
  header(sess);
  try {
    dev = normDevice(await api("GET", `/api/v1/devices/${encodeURIComponent(id)}`));
  } catch (e) {
    byId("dev-error").textContent = e.status === 404 ? t("device.notfound") : t("error", { e: e.message });
    byId("dev-error").hidden = false;
    return;
  }
  renderFacts();
  const fields = Object.entries(dev.values || {}).filter(([, v]) => typeof v === "number").map(([k]) => k).sort();
  byId("field").replaceChildren(...fields.map(f => el("option", { value: f, text: f })));
  // The field a person most likely came for: the measurement, not the battery.
  const first = ["level_m", "pm25", "temp_c", "cabinet_temp_c", "cpu_pct", "fps"].find(f => fields.includes(f));
  if (first) byId("field").value = first;
  byId("field").addEventListener("change", loadHistory);
  byId("range").addEventListener("change", loadHistory);
  onLang(() => { renderFacts(); renderHealth(); });
  loadHistory();
  try {
    const h = await api("GET", `/api/v1/devices/${encodeURIComponent(id)}/health`);
    healthRows = (h.history || h.changes || h.health || h.points || []).slice().sort((a, b) => new Date(b.at || b.ts || b.time) - new Date(a.at || a.ts || a.time));
  } catch { healthRows = []; }
  renderHealth();
}

main().catch(e => console.error(e));
