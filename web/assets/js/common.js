// Shared by every page: the session, API calls with the CSRF token, the
// language (Vietnamese by default, English remembered per screen), the
// header, and the feed client.

const LANG_KEY = "iocd-lang";
const ROLES = ["none", "viewer", "operator", "reviewer", "admin"];

export const dict = {
  vi: {
    "app.title": "Trung tâm điều hành IOC",
    "nav.wall": "Màn hình tổng",
    "nav.fleet": "Thiết bị",
    "lang.other": "English",
    "logout": "Đăng xuất",
    "login.title": "Đăng nhập",
    "login.user": "Tên đăng nhập",
    "login.password": "Mật khẩu",
    "login.remember": "Giữ màn hình này luôn đăng nhập",
    "login.remember.hint": "Cho màn hình treo tường (tài khoản xem).",
    "login.submit": "Đăng nhập",
    "login.refused": "Sai tên đăng nhập hoặc mật khẩu.",
    "login.limited": "Quá nhiều lần thử. Thử lại sau {s} giây.",
    "login.error": "Không đăng nhập được: {e}",
    "conn.live": "Trực tuyến",
    "conn.connecting": "Đang kết nối…",
    "conn.down": "Mất kết nối",
    "stale.feed": "MẤT KẾT NỐI DỮ LIỆU — đang kết nối lại. Số liệu dưới đây là từ {t}.",
    "stale.quiet": "KHÔNG CÓ DỮ LIỆU MỚI trong {s} giây. Số liệu dưới đây là từ {t}.",
    "kpi.devices": "Thiết bị",
    "kpi.sites": "Theo khu vực",
    "kpi.cameras": "Camera đang truyền",
    "kpi.violations": "Vi phạm hôm nay",
    "kpi.alerts": "Cảnh báo đang mở",
    "kpi.rate": "Số đọc / giây",
    "health.online": "Trực tuyến",
    "health.stale": "Chậm",
    "health.offline": "Mất kết nối",
    "health.unknown": "Chưa rõ",
    "sev.critical": "Nghiêm trọng",
    "sev.major": "Cao",
    "sev.minor": "Trung bình",
    "sev.warning": "Lưu ý",
    "sev.info": "Thông tin",
    "state.firing": "Đang báo",
    "state.acknowledged": "Đã nhận",
    "state.pending": "Chờ",
    "state.resolved": "Đã hết",
    "panel.map": "Bản đồ",
    "panel.alerts": "Cảnh báo",
    "panel.changes": "Thay đổi trong 15 phút",
    "panel.charts": "Số liệu trực tiếp",
    "panel.violations": "Vi phạm mới nhất",
    "ack": "Xác nhận",
    "acked.by": "đã nhận: {who}",
    "none.alerts": "Không có cảnh báo nào đang mở.",
    "none.changes": "Không có thay đổi.",
    "none.violations": "Chưa có vi phạm.",
    "none.charts": "Chưa có số liệu.",
    "legend.camera": "Camera",
    "legend.device": "Thiết bị",
    "fleet.title": "Danh sách thiết bị",
    "fleet.search": "Tìm theo mã hoặc tên",
    "fleet.all.health": "Mọi trạng thái",
    "fleet.all.site": "Mọi khu vực",
    "fleet.all.kind": "Mọi loại",
    "fleet.csv": "Tải CSV",
    "fleet.count": "{n} thiết bị",
    "col.health": "Trạng thái",
    "col.id": "Mã",
    "col.name": "Tên",
    "col.site": "Khu vực",
    "col.kind": "Loại",
    "col.lastseen": "Lần cuối",
    "col.firmware": "Firmware",
    "col.values": "Giá trị mới nhất",
    "col.action": "",
    "approve": "Duyệt",
    "pending": "Chờ duyệt",
    "kind.camera": "Camera",
    "kind.sensor": "Cảm biến",
    "kind.controller": "Tủ điều khiển",
    "kind.gateway": "Gateway",
    "device.back": "← Danh sách thiết bị",
    "device.history": "Lịch sử số liệu",
    "device.health": "Lịch sử trạng thái",
    "device.field": "Trường",
    "device.range": "Khoảng thời gian",
    "device.nohistory": "Không có lịch sử số liệu (chưa cấu hình InfluxDB hoặc chưa có dữ liệu).",
    "device.nohealth": "Chưa có lịch sử trạng thái.",
    "device.notfound": "Không tìm thấy thiết bị.",
    "ago.s": "{n} giây trước",
    "ago.m": "{n} phút trước",
    "ago.h": "{n} giờ trước",
    "ago.d": "{n} ngày trước",
    "never": "chưa từng",
    "error": "Lỗi: {e}",
    "lag.ok": "Dữ liệu kịp thời",
    "lag.behind": "Dữ liệu chậm {s} giây · hàng đợi {mb} MB",
    "vt.red_light": "Vượt đèn đỏ",
    "vt.speeding": "Quá tốc độ",
    "vt.wrong_way": "Đi ngược chiều",
    "vt.no_helmet": "Không đội mũ bảo hiểm",
    "vt.illegal_parking": "Đỗ xe sai quy định",
    "vt.wrong_lane": "Đi sai làn",
    "vt.blocking_box": "Dừng trong nút giao",
    "vt.other": "Khác",
  },
  en: {
    "app.title": "IOC operations centre",
    "nav.wall": "Wall",
    "nav.fleet": "Devices",
    "lang.other": "Tiếng Việt",
    "logout": "Log out",
    "login.title": "Log in",
    "login.user": "User name",
    "login.password": "Password",
    "login.remember": "Keep this screen logged in",
    "login.remember.hint": "For a wall screen (viewer account).",
    "login.submit": "Log in",
    "login.refused": "Wrong user name or password.",
    "login.limited": "Too many attempts. Try again in {s} s.",
    "login.error": "Could not log in: {e}",
    "conn.live": "Live",
    "conn.connecting": "Connecting…",
    "conn.down": "Disconnected",
    "stale.feed": "FEED LOST — reconnecting. The figures below are from {t}.",
    "stale.quiet": "NO NEW DATA for {s} s. The figures below are from {t}.",
    "kpi.devices": "Devices",
    "kpi.sites": "By site",
    "kpi.cameras": "Cameras streaming",
    "kpi.violations": "Violations today",
    "kpi.alerts": "Open alerts",
    "kpi.rate": "Readings / s",
    "health.online": "Online",
    "health.stale": "Stale",
    "health.offline": "Offline",
    "health.unknown": "Unknown",
    "sev.critical": "Critical",
    "sev.major": "Major",
    "sev.minor": "Minor",
    "sev.warning": "Warning",
    "sev.info": "Info",
    "state.firing": "Firing",
    "state.acknowledged": "Acknowledged",
    "state.pending": "Pending",
    "state.resolved": "Resolved",
    "panel.map": "Map",
    "panel.alerts": "Alerts",
    "panel.changes": "Changed in the last 15 minutes",
    "panel.charts": "Live readings",
    "panel.violations": "Latest violations",
    "ack": "Acknowledge",
    "acked.by": "acknowledged: {who}",
    "none.alerts": "No open alerts.",
    "none.changes": "Nothing changed.",
    "none.violations": "No violations yet.",
    "none.charts": "No readings yet.",
    "legend.camera": "Camera",
    "legend.device": "Device",
    "fleet.title": "Devices",
    "fleet.search": "Search by id or name",
    "fleet.all.health": "Any health",
    "fleet.all.site": "Any site",
    "fleet.all.kind": "Any kind",
    "fleet.csv": "Download CSV",
    "fleet.count": "{n} devices",
    "col.health": "Health",
    "col.id": "ID",
    "col.name": "Name",
    "col.site": "Site",
    "col.kind": "Kind",
    "col.lastseen": "Last seen",
    "col.firmware": "Firmware",
    "col.values": "Latest values",
    "col.action": "",
    "approve": "Approve",
    "pending": "Pending approval",
    "kind.camera": "Camera",
    "kind.sensor": "Sensor",
    "kind.controller": "Controller",
    "kind.gateway": "Gateway",
    "device.back": "← All devices",
    "device.history": "Reading history",
    "device.health": "Health history",
    "device.field": "Field",
    "device.range": "Range",
    "device.nohistory": "No reading history (InfluxDB not configured, or no data yet).",
    "device.nohealth": "No health history yet.",
    "device.notfound": "Device not found.",
    "ago.s": "{n} s ago",
    "ago.m": "{n} min ago",
    "ago.h": "{n} h ago",
    "ago.d": "{n} d ago",
    "never": "never",
    "error": "Error: {e}",
    "lag.ok": "Data on time",
    "lag.behind": "Data {s} s behind · {mb} MB queued",
    "vt.red_light": "Red light",
    "vt.speeding": "Speeding",
    "vt.wrong_way": "Wrong way",
    "vt.no_helmet": "No helmet",
    "vt.illegal_parking": "Illegal parking",
    "vt.wrong_lane": "Wrong lane",
    "vt.blocking_box": "Blocking the junction",
    "vt.other": "Other",
  },
};

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
