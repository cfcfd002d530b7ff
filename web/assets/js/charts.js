// The wall's live charts (uPlot): one per configured (site, field), one
// line per device of the site over the last 15 minutes, filled from the
// history API when the server has InfluxDB and from the feed's telemetry.
import { api, el, fmtNum, numTicks, t, timeTicks } from "./common.js";

const CHART_WINDOW = 15 * 60 * 1000;
const byId = id => document.getElementById(id);
const rootFont = () => parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;


const LINE_COLORS = ["#5aa9ff", "#2fd27a", "#ffbf3c", "#ff7ae0", "#9d8cff", "#4de3e3"];
const plots = new Map(); // "site|field" → {u, box, devices}

function chartKey(c) { return `${c.site}|${c.field}`; }

function pickCharts(state) {
  if (state.ui?.charts?.length) return state.ui.charts;
  // Nothing configured: up to four, water level and PM2.5 first, from the
  // latest values the fleet reports.
  const prefer = ["level_m", "pm25", "temp_c"];
  const found = [];
  const sites = [...new Set([...state.devices.values()].map(d => d.site))].sort();
  for (const field of prefer) {
    for (const site of sites) {
      if (found.length >= 4) break;
      const has = [...state.devices.values()].some(d => d.site === site && typeof d.values?.[field] === "number");
      if (has) found.push({ site, field });
    }
  }
  return found.slice(0, 4);
}

function chartLabel(c) { return c.label || `${c.field} · ${c.site}`; }

export function buildCharts(state) {
  const want = pickCharts(state);
  if (want.map(chartKey).join() === state.charts.map(chartKey).join() && plots.size) return;
  state.charts = want;
  for (const p of plots.values()) p.u?.destroy();
  plots.clear();
  const box = byId("charts");
  if (!want.length) { box.replaceChildren(el("div", { class: "empty", text: t("none.charts") })); return; }
  box.replaceChildren(...want.map(c => {
    const node = el("div", { class: "chart", dataset: { site: c.site, field: c.field } },
      el("h3", {}, el("span", { class: "label", text: chartLabel(c) }), el("b", { class: "last", text: "" })),
      el("div", { class: "plot" }));
    plots.set(chartKey(c), { node, u: null, devices: [] });
    if (!state.series.has(chartKey(c))) state.series.set(chartKey(c), new Map());
    return node;
  }));
  state.feed?.subscribe([...new Set(want.map(c => "telemetry:" + c.site))]);
  loadChartHistory(state);
  drawCharts(state);
}

async function loadChartHistory(state) {
  // Without InfluxDB the history answers 503: ask once, then chart live
  // readings only.
  if (state.noHistory) return;
  for (const c of state.charts) {
    const series = state.series.get(chartKey(c));
    const devs = [...state.devices.values()].filter(d => d.site === c.site && d.values && c.field in d.values);
    if (state.noHistory) break;
    await Promise.all(devs.map(async d => {
      try {
        const r = await api("GET", `/api/v1/devices/${encodeURIComponent(d.id)}/telemetry?field=${encodeURIComponent(c.field)}&from=-15m&every=10s`);
        const pts = (r.points || []).filter(p => p.v !== null).map(p => [new Date(p.t).getTime() / 1000, p.v]);
        const have = series.get(d.id) || [];
        series.set(d.id, mergePoints(pts, have));
      } catch (e) {
        if (e.status === 503) state.noHistory = true;
      }
    }));
  }
  drawCharts(state);
}

function mergePoints(a, b) {
  const m = new Map();
  for (const p of [...a, ...b]) m.set(p[0], p[1]);
  return [...m.entries()].sort((x, y) => x[0] - y[0]);
}

export function addReadings(state, readings) {
  for (const r of readings || []) {
    if (typeof r.value !== "number") continue;
    const s = state.series.get(`${r.site}|${r.field}`);
    if (!s) continue;
    const pts = s.get(r.device) || [];
    const ts = new Date(r.ts).getTime() / 1000;
    if (!pts.length || pts[pts.length - 1][0] < ts) pts.push([ts, r.value]);
    s.set(r.device, pts);
  }
}

export function drawCharts(state) {
  const uPlot = window.uPlot;
  const cut = Date.now() / 1000 - CHART_WINDOW / 1000;
  for (const c of state.charts) {
    const p = plots.get(chartKey(c));
    const s = state.series.get(chartKey(c));
    if (!p || !s) continue;
    for (const [dev, pts] of s) {
      while (pts.length && pts[0][0] < cut) pts.shift();
      if (!pts.length) s.delete(dev);
    }
    const devices = [...s.keys()].sort();
    const xs = [...new Set(devices.flatMap(d => s.get(d).map(q => q[0])))].sort((a, b) => a - b);
    const data = [xs, ...devices.map(d => {
      const m = new Map(s.get(d));
      return xs.map(x => (m.has(x) ? m.get(x) : null));
    })];
    const lastVals = devices.map(d => s.get(d).at(-1)?.[1]).filter(v => v !== undefined);
    p.node.querySelector(".last").textContent = lastVals.length ? fmtNum(lastVals.reduce((a, b) => a + b, 0) / lastVals.length, 2) : "";
    p.node.dataset.points = String(xs.length);
    p.node.dataset.lastTs = xs.length ? String(xs[xs.length - 1]) : "";
    const plotBox = p.node.querySelector(".plot");
    const w = plotBox.clientWidth, h = plotBox.clientHeight;
    if (!w || !h) continue;
    const fs = rootFont();
    if (!p.u || p.devices.join() !== devices.join() || p.fs !== fs) {
      p.u?.destroy();
      p.fs = fs;
      const axis = { stroke: "#c3ccd8", grid: { stroke: "#2a3646", width: 1 }, ticks: { stroke: "#2a3646", size: fs * 0.3 }, font: `600 ${Math.round(fs * 0.85)}px "Be Vietnam Pro"`, gap: fs * 0.2 };
      p.u = new uPlot({
        width: w, height: h, legend: { show: false }, cursor: { show: false }, pxAlign: 0,
        scales: { x: { time: true } },
        axes: [{ ...axis, size: fs * 1.7, space: fs * 6.5, values: timeTicks },
          { ...axis, size: fs * 3.2, space: fs * 2, values: numTicks }],
        series: [{}, ...devices.map((d, i) => ({ label: d, stroke: LINE_COLORS[i % LINE_COLORS.length], width: Math.max(2, fs / 8), spanGaps: true, points: { show: false } }))],
      }, data, plotBox);
      p.devices = devices;
    } else {
      if (p.u.width !== w || p.u.height !== h) p.u.setSize({ width: w, height: h });
      p.u.setData(data);
    }
  }
}

