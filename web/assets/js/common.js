// Shared by every page: the session, API calls with the CSRF token, the
// language (Vietnamese by default, English remembered per screen), the
// header, and the feed client.

import { dict } from "./i18n.js";

export { dict };

const LANG_KEY = "iocd-lang";
const ROLES = ["none", "viewer", "operator", "reviewer", "admin"];

// violationType names a violation type in the page's language; a type
// this page does not know is shown as the camera sent it.
export function violationType(type) {
  const k = "vt." + type;
  return t(k) === k ? type : t(k);
}

export function lang() {
  const l = localStorage.getItem(LANG_KEY);
  return l === "en" ? "en" : "vi";
}

// t translates key, filling {name} placeholders from args.
export function t(key, args = {}) {
  const s = dict[lang()][key] ?? dict.vi[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in args ? String(args[k]) : ""));
}

const langListeners = [];
export function onLang(fn) { langListeners.push(fn); }

// applyLang fills every [data-i18n] element (and [data-i18n-placeholder])
// and tells the page to redraw what it builds itself.
export function applyLang() {
  document.documentElement.lang = lang();
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  document.title = t(document.body.dataset.title || "app.title");
  for (const fn of langListeners) fn();
}

export function toggleLang() {
  localStorage.setItem(LANG_KEY, lang() === "vi" ? "en" : "vi");
  applyLang();
}

export function locale() { return lang() === "vi" ? "vi-VN" : "en-GB"; }

export function fmtTime(ts) {
  if (!ts) return "";
  const d = new Date(ts);
  if (isNaN(d)) return "";
  return d.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

export function fmtDateTime(ts) {
  if (!ts) return "";
  const d = new Date(ts);
  if (isNaN(d)) return "";
  return d.toLocaleString(locale(), { hour12: false, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function fmtAgo(ts, now = Date.now()) {
  if (!ts) return t("never");
  const s = Math.max(0, Math.round((now - new Date(ts)) / 1000));
  if (s < 60) return t("ago.s", { n: s });
  if (s < 3600) return t("ago.m", { n: Math.floor(s / 60) });
  if (s < 86400) return t("ago.h", { n: Math.floor(s / 3600) });
  return t("ago.d", { n: Math.floor(s / 86400) });
}

// Axis labels for uPlot: times as 24-hour HH:MM, and numbers with as many
// decimals as the tick step needs (0.879, 0.880, ... rather than 0.88 twice).
export function timeTicks(u, vals) {
  const step = vals.length > 1 ? Math.abs(vals[1] - vals[0]) : 60;
  const opts = { hour: "2-digit", minute: "2-digit", hour12: false };
  if (step < 60) opts.second = "2-digit";
  return vals.map(v => new Date(v * 1000).toLocaleTimeString(locale(), opts));
}

export function numTicks(u, vals) {
  const step = vals.length > 1 ? Math.abs(vals[1] - vals[0]) : 1;
  const d = step > 0 ? Math.min(6, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9))) : 0;
  return vals.map(v => (v === null ? "" : Number(v).toLocaleString(locale(), { minimumFractionDigits: d, maximumFractionDigits: d })));
}

export function fmtNum(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  return Number(n).toLocaleString(locale(), { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function roleAtLeast(role, min) { return ROLES.indexOf(role) >= ROLES.indexOf(min); }

// el builds an element: el("li", {class: "x", dataset: {id}}, child...).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// The session: who is logged in and the CSRF token every state-changing
// request carries.
let current = null;

export function toLogin() {
  const next = location.pathname + location.search;
  location.replace("/login" + (next && next !== "/" ? "?next=" + encodeURIComponent(next) : ""));
}

export async function session() {
  const res = await fetch("/api/v1/session", { credentials: "same-origin", cache: "no-store" });
  if (res.status === 401 || res.status === 403) {
    toLogin();
    return new Promise(() => {}); // the page is going away
  }
  if (!res.ok) throw new Error(`session: HTTP ${res.status}`);
  current = await res.json();
  return current;
}

export class APIError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

// api calls the API with the session cookie; POST, PUT, PATCH and DELETE
// carry X-CSRF-Token. A 401 means the session ended: back to the login.
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") {
    if (current?.csrf) headers["X-CSRF-Token"] = current.csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
  }
  const res = await fetch(path, {
    method, headers, credentials: "same-origin", cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) {
    toLogin();
    throw new APIError(401, null);
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) throw new APIError(res.status, data);
  return data;
}

export async function logout() {
  try {
    await fetch("/logout", { method: "POST", credentials: "same-origin", headers: current?.csrf ? { "X-CSRF-Token": current.csrf } : {} });
  } finally {
    location.replace("/login");
  }
}

// header wires the page header: user, language toggle, logout.
export function header(sess) {
  const who = document.getElementById("who");
  if (who) who.textContent = `${sess.name || sess.subject || ""} · ${sess.role}`;
  // The review desk is linked for those who may use it.
  const nav = document.querySelector(".topbar nav");
  if (nav && roleAtLeast(sess.role, "reviewer") && !nav.querySelector('a[href="/review"]')) {
    nav.append(el("a", { href: "/review", "data-i18n": "nav.review", text: t("nav.review") }));
  }
  document.getElementById("lang")?.addEventListener("click", toggleLang);
  document.getElementById("logout")?.addEventListener("click", logout);
}

// Feed is the live feed: /ws with subprotocol iocd.v1, authenticated by
// the session cookie (same origin). It subscribes on every (re)connect, so
// the server answers with fresh snapshots, and reconnects with a growing,
// jittered backoff (1 s doubling to 30 s).
export class Feed {
  constructor(topics, { onFrame, onState }) {
    this.topics = topics;
    this.onFrame = onFrame;
    this.onState = onState;
    this.backoff = 1000;
    this.lastFrame = 0;
    this.state = "connecting";
    this.closed = false;
  }

  start() {
    this.connect();
    // The browser knows first when the network goes: drop at once rather
    // than wait for TCP to notice.
    window.addEventListener("offline", () => this.drop());
    // A half-open connection sends nothing: the server's overview comes
    // every 2 s, so 20 s of silence means the feed is gone.
    setInterval(() => {
      if (this.state === "live" && Date.now() - this.lastFrame > 20_000) this.drop();
    }, 5000);
  }

  // drop closes the socket and goes on as if the server had closed it.
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    try { ws.close(); } catch { /* already closed */ }
    this.retry();
  }

  setState(s) {
    this.state = s;
    this.onState?.(s);
  }

  connect() {
    if (this.closed) return;
    this.setState("connecting");
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    let ws;
    try { ws = new WebSocket(url, ["iocd.v1"]); } catch { this.retry(); return; }
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 1000;
      this.lastFrame = Date.now();
      ws.send(JSON.stringify({ subscribe: this.topics }));
      this.setState("live");
    };
    ws.onmessage = ev => {
      this.lastFrame = Date.now();
      let f;
      try { f = JSON.parse(ev.data); } catch { return; }
      this.onFrame(f);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.retry();
    };
  }

  retry() {
    this.setState("down");
    const wait = this.backoff * (0.75 + Math.random() * 0.5);
    this.backoff = Math.min(this.backoff * 2, 30000);
    // A feed refused because the session ended would loop for ever:
    // check the session before trying again.
    setTimeout(async () => {
      try {
        const r = await fetch("/api/v1/session", { credentials: "same-origin", cache: "no-store" });
        if (r.status === 401) { toLogin(); return; }
      } catch { /* server down: keep trying */ }
      this.connect();
    }, wait);
  }

  subscribe(topics) {
    const add = topics.filter(x => !this.topics.includes(x));
    if (add.length === 0) return;
    this.topics.push(...add);
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ subscribe: add }));
  }
}

// Health colours, shared by the map, the tiles and the fleet table.
export const HEALTH = ["online", "stale", "offline", "unknown"];
export const SEVERITIES = ["critical", "major", "minor", "warning", "info"];

// healthOf reads a device's health from either shape the API may give:
// a DeviceStatus ({"health":"online"}) or a registry entry with a health
// object ({"health":{"health":"online",...}}).
export function normDevice(d) {
  if (d && d.device) {
    const h = d.health || {};
    return { ...d.device, health: h.health || "unknown", last_seen: h.last_seen, values: h.values, firmware: h.meta?.fw, reason: h.reason };
  }
  if (d && typeof d.health === "object" && d.health !== null) {
    const h = d.health;
    return { ...d, health: h.health || "unknown", last_seen: d.last_seen || h.last_seen, values: d.values || h.values, firmware: d.firmware || h.meta?.fw, reason: d.reason || h.reason };
  }
  return { ...d, health: d?.health || "unknown" };
}
