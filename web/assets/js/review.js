// The review desk (/review): the queue of violations awaiting a decision
// (GET /api/v1/review/queue, oldest first, re-read when the feed says a
// violation changed), the case view (POST …/open claims the case and
// answers its record, history and version; GET …/media its clip and
// still), decisions from the keyboard with a reason code, plate
// corrections, and, for admins, the statistics (/review/stats).
// The server only serves this page to reviewers and admins.
import "./review-i18n.js";
import {
  api, applyLang, el, Feed, fmtNum, header, lang, locale, onLang, roleAtLeast, session, t, violationType,
} from "./common.js";
import { fpsOf, Player, plateBox, Snapshot } from "./review-player.js";
import { loadStats } from "./review-stats.js";

const byId = id => document.getElementById(id);
const enc = encodeURIComponent;
const OPEN = ["pending", "awaiting_second", "disputed"];
// The queue is re-read at most once a second however fast the feed
// brings changes; the desk shows this many cases at a time.
const REREAD_EVERY = 1000;
const QUEUE_LIMIT = 200;

const S = {
  sess: null,
  tz: undefined,
  reasons: [],
  requireSecond: false,
  queue: [],
  counts: {},
  more: false,
  cameras: [],
  cur: null,        // the open answer of the case shown, with .media
  curId: null,
  openSeq: 0,
  decision: null,   // "confirmed" | "rejected"
  reason: null,     // a reason code
  submitting: false,
  loading: false,
  dirty: false,
  timer: null,
  lastLoad: 0,
  feedState: "connecting",
  message: "",
};
window.iocdReview = S; // for the browser tests and a curious officer

// ---- Time, in ui.timezone -------------------------------------------------

function fmtFull(ts) {
  if (!ts) return "–";
  const d = new Date(ts);
  if (isNaN(d)) return "–";
  return d.toLocaleString(locale(), { timeZone: S.tz, hour12: false, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// fmtShort is "02/12 13:28:14": the day first, as a Vietnamese desk
// reads it, whatever the browser's own locale.
function fmtShort(ts) {
  const d = new Date(ts);
  if (isNaN(d)) return "";
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { timeZone: S.tz, hourCycle: "h23", day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .formatToParts(d).map(x => [x.type, x.value]));
  return `${p.day}/${p.month} ${p.hour}:${p.minute}:${p.second}`;
}

function fmtDate(ts) {
  const d = new Date(ts);
  if (isNaN(d)) return "–";
  return d.toLocaleDateString(locale(), { timeZone: S.tz, year: "numeric", month: "2-digit", day: "2-digit" });
}

// dayKey is the calendar day (YYYY-MM-DD) of ms in ui.timezone.
function dayKey(ms) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: S.tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(ms));
}

// zoneOffset is how many minutes ui.timezone is ahead of UTC at ms.
function zoneOffset(ms) {
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone: S.tz, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
  }).formatToParts(new Date(ms)).map(x => [x.type, x.value]));
  return Math.round((Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second) - Math.floor(ms / 1000) * 1000) / 60000);
}

// midnight is 00:00 of day ymd (YYYY-MM-DD) in ui.timezone, epoch ms.
function midnight(ymd) {
  const [y, m, d] = ymd.split("-").map(Number);
  const utc = Date.UTC(y, m - 1, d);
  return utc - zoneOffset(utc) * 60000;
}

// dayInput reads a date field written day first (dd/mm/yyyy, as a
// Vietnamese desk writes it; browsers' own date pickers follow the
// browser's locale instead) as YYYY-MM-DD; "" when empty, null when not
// a date, and the field is marked.
function dayInput(id, mark = true) {
  const inp = byId(id);
  const s = inp.value.trim();
  const m = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(s);
  const ok = m && +m[2] >= 1 && +m[2] <= 12 && +m[1] >= 1 && +m[1] <= new Date(Date.UTC(+m[3], +m[2], 0)).getUTCDate();
  if (mark) inp.classList.toggle("invalid", !!s && !ok);
  if (!s) return "";
  return ok ? `${m[3]}-${m[2].padStart(2, "0")}-${m[1].padStart(2, "0")}` : null;
}

// dueOf flags a case by its notify_by deadline.
function dueOf(v) {
  if (!v.notify_by || v.status === "rejected") return null;
  const nb = new Date(v.notify_by).getTime();
  if (!Number.isFinite(nb)) return null;
  const now = Date.now();
  if (nb < now) return "overdue";
  const k = dayKey(nb);
  if (k === dayKey(now)) return "today";
  if (k === dayKey(now + 86_400_000)) return "tomorrow";
  return null;
}

const who = s => String(s || "").replace(/^(user|token):/, "");
const plateOf = v => v.plate_corrected || v.plate || "";
const reasonLabel = code => S.reasons.find(r => r.code === code)?.label || code || "";
const statusWord = s => (t("status." + s) === "status." + s ? s : t("status." + s));
const clipWord = s => (t("clip." + s) === "clip." + s ? s : t("clip." + s));

function showError(msg) {
  const e = byId("desk-error");
  e.textContent = msg;
  e.hidden = !msg;
}

// ---- The queue ------------------------------------------------------------

function queueQuery() {
  const p = new URLSearchParams();
  for (const [k, id] of [["status", "f-status"], ["type", "f-type"], ["site", "f-site"], ["camera", "f-camera"], ["clip", "f-clip"], ["due", "f-due"]]) {
    const v = byId(id).value;
    if (v) p.set(k, v);
  }
  const plate = byId("f-plate").value.trim();
  if (plate) p.set("plate", plate);
  const from = dayInput("f-from"), to = dayInput("f-to");
  if (from) p.set("from", String(midnight(from)));
  if (to) p.set("to", String(midnight(to) + 86_400_000));
  return p;
}

async function loadQueue() {
  if (S.loading) { S.dirty = true; return; }
  S.loading = true;
  const p = queueQuery();
  p.set("limit", String(QUEUE_LIMIT));
  try {
    const r = await api("GET", "/api/v1/review/queue?" + p);
    S.queue = r.violations || [];
    S.counts = r.counts || {};
    S.more = !!r.next_cursor;
    showError("");
    learnOptions(S.queue);
    renderQueue();
    renderCounts();
  } catch (e) {
    showError(t("error", { e: e.message }));
  } finally {
    S.loading = false;
    S.lastLoad = Date.now();
    if (S.dirty) { S.dirty = false; soon(); }
  }
}

// soon re-reads the queue, coalescing a burst of changes into one read.
function soon() {
  if (S.timer) return;
  const wait = Math.max(0, REREAD_EVERY - (Date.now() - S.lastLoad));
  S.timer = setTimeout(() => { S.timer = null; loadQueue(); }, wait);
}

function addOption(sel, value, label) {
  if (!value || [...sel.options].some(o => o.value === value)) return;
  sel.append(el("option", { value, text: label || value }));
}

function learnOptions(list) {
  for (const v of list) {
    addOption(byId("f-type"), v.type, violationType(v.type));
    addOption(byId("f-site"), v.site);
    addOption(byId("f-camera"), v.camera, v.camera_name ? `${v.camera_name} (${v.camera})` : v.camera);
  }
}

function takenBy(v) {
  const c = v.claim;
  if (!c || new Date(c.until) < Date.now()) return null;
  return c.actor === S.sess.subject ? "mine" : c;
}

function renderQueue() {
  const rows = S.queue.map((v, i) => {
    const due = dueOf(v);
    const tk = takenBy(v);
    const plate = plateOf(v);
    return el("li", {
      class: "qrow" + (v.id === S.curId ? " current" : "") + (tk && tk !== "mine" ? " taken" : ""),
      dataset: { id: v.id, status: v.status, clip: v.clip_status, due: due || "", index: String(i) },
      "aria-current": v.id === S.curId ? "true" : null,
      onclick: () => openCase(v.id),
    },
    el("div", { class: "l1" },
      el("time", { text: fmtShort(v.ts) }),
      el("b", { class: "vt", text: violationType(v.type) }),
      due ? el("span", { class: "flag " + due, text: t("due." + due) }) : null),
    el("div", { class: "l2" },
      plate ? el("span", { class: "plate" + (v.plate_corrected ? " corrected" : ""), text: plate }) : el("span", { class: "noplate", text: t("queue.noplate") }),
      el("span", { class: "spacer" }),
      el("span", { class: "clip " + v.clip_status, title: clipWord(v.clip_status), text: clipWord(v.clip_status) })),
    el("div", { class: "cam", text: `${v.camera_name || v.camera}${v.site ? " · " + v.site : ""}` }),
    v.status !== "pending" ? el("div", { class: "l3 st-" + v.status, text: statusWord(v.status) }) : null,
    tk === "mine" ? el("div", { class: "l3 mine", text: t("queue.mine") }) : null,
    tk && tk !== "mine" ? el("div", { class: "l3 takenby", text: t("queue.taken", { name: tk.name || who(tk.actor) }) }) : null,
    );
  });
  byId("queue").replaceChildren(...(rows.length ? rows : [el("li", { class: "empty", text: t("queue.empty") })]));
  byId("queue-more").hidden = !S.more;
  byId("queue-more").textContent = t("queue.more");
  byId("queue").querySelector(".current")?.scrollIntoView({ block: "nearest" });
  const open = S.queue.filter(v => OPEN.includes(v.status)).length;
  byId("empty-count").textContent = fmtNum(open);
  byId("case-empty").dataset.open = String(open);
  renderPos();
}

function renderCounts() {
  const c = S.counts;
  const chip = (kind, key, n, filter) => el("button", {
    type: "button", class: `chip ${kind}${n === 0 ? " zero" : ""}`, dataset: { count: key },
    onclick: () => { const [id, v] = filter; byId(id).value = byId(id).value === v ? "" : v; loadQueue(); },
  }, el("b", { text: fmtNum(n ?? 0) }), " ", el("span", { text: t(kind === "due" ? "count." + key : "status." + key) }));
  const st = ["pending", ...(S.requireSecond || c.awaiting_second ? ["awaiting_second"] : []), ...(c.disputed ? ["disputed"] : []), "confirmed", "rejected"];
  byId("counts").replaceChildren(
    el("div", { class: "chips" }, ...st.map(s => chip("status", s, c[s], ["f-status", s]))),
    el("div", { class: "chips" },
      chip("due", "overdue", c.overdue, ["f-due", "overdue"]),
      chip("due", "due_today", c.due_today, ["f-due", "today"]),
      chip("due", "due_tomorrow", c.due_tomorrow, ["f-due", "tomorrow"])),
  );
}

function renderPos() {
  const i = S.queue.findIndex(v => v.id === S.curId);
  byId("c-pos").textContent = i >= 0 ? t("review.pos", { i: i + 1, n: S.queue.length }) : "";
}

// step opens the case n places after (or before) the current one.
function step(n) {
  if (S.queue.length === 0) return;
  const i = S.queue.findIndex(v => v.id === S.curId);
  const j = i < 0 ? (n > 0 ? 0 : S.queue.length - 1) : i + n;
  if (j >= 0 && j < S.queue.length) openCase(S.queue[j].id);
}

// nextPending is the first open case after index i that nobody else
// holds, then the first before it.
function nextPending(i, skip) {
  const ok = v => v.id !== skip && OPEN.includes(v.status) && (!takenBy(v) || takenBy(v) === "mine");
  return S.queue.slice(i + 1).find(ok) || S.queue.slice(0, Math.max(0, i)).find(ok) || null;
}

// ---- The case -------------------------------------------------------------

async function openCase(id) {
  const seq = ++S.openSeq;
  S.curId = id;
  resetDecision();
  renderQueue();
  history.replaceState(null, "", location.pathname + location.search + "#" + enc(id));
  let o;
  try {
    o = await api("POST", `/api/v1/violations/${enc(id)}/open`, {});
  } catch (e) {
    if (seq !== S.openSeq) return;
    showError(t("error", { e: e.message }));
    return;
  }
  if (seq !== S.openSeq) return;
  showError("");
  S.cur = { ...o, played: false, media: null };
  byId("case").hidden = false;
  byId("case-empty").hidden = true;
  byId("case").dataset.id = id;
  byId("case").querySelector(".side-col").scrollTop = 0;
  renderCase();
  loadMedia(seq);
}

// loadMedia reads where the clip and the still are, and waits (bounded)
// while the viewing copy of an H.265 clip is being made.
async function loadMedia(seq, tries = 0) {
  const v = S.cur.violation;
  let m;
  try {
    m = await api("GET", `/api/v1/violations/${enc(v.id)}/media`);
  } catch (e) {
    if (seq !== S.openSeq) return;
    // An iocd without the media routes: the original clip and the
    // camera's still, as its clip and snapshot routes serve them.
    m = e.status === 404 ? {
      clip: { url: `/api/v1/violations/${enc(v.id)}/clip`, codec: "", sha256: v.clip_sha256, status: v.clip_status },
      view: { url: `/api/v1/violations/${enc(v.id)}/clip`, derived: false, state: "ready" },
      snapshot: v.snapshot_sha256 ? { url: `/api/v1/violations/${enc(v.id)}/snapshot`, derived: false } : null,
      event_offset_seconds: v.clip_start ? (new Date(v.ts) - new Date(v.clip_start)) / 1000 : undefined,
    } : { error: e.message };
  }
  if (seq !== S.openSeq) return;
  S.cur.media = m;
  showMedia();
  if (m.view?.state === "making" && tries < 90) setTimeout(() => { if (seq === S.openSeq) loadMedia(seq, tries + 1); }, 2000);
}

function showMedia() {
  const v = S.cur.violation, m = S.cur.media || {};
  const span = v.clip_start && v.clip_end ? (new Date(v.clip_end) - new Date(v.clip_start)) / 1000 : 0;
  const moment = Number.isFinite(m.event_offset_seconds) ? m.event_offset_seconds
    : (v.clip_start ? (new Date(v.ts) - new Date(v.clip_start)) / 1000 : NaN);
  const common = { duration: span, moment, fps: fpsOf(v), poster: m.snapshot?.url || null };
  let message = "";
  if (m.error) message = t("review.video.unavailable", { r: m.error });
  else if (v.clip_status === "recording") message = t("review.video.recording");
  else if (v.clip_status === "no_video" || v.clip_status === "purged") message = t("review.video.none", { r: v.clip_reason || clipWord(v.clip_status) });
  else if (m.view?.state === "making") message = t("review.video.making");
  else if (m.view?.state === "unavailable") message = t("review.video.unavailable", { r: m.view.reason || "" });
  else if (!m.view?.url) message = t("review.video.unavailable", { r: "" });
  if (message) player.load({ ...common, src: null, message });
  else player.load({ ...common, src: m.view.url, derived: !!m.view.derived });
  const codec = (m.clip?.codec || "").toUpperCase().replace("H26", "H.26");
  byId("clipinfo").textContent = v.clip_sha256 ? t("review.clipinfo", { codec, sha: v.clip_sha256 }) : "";
  byId("clipinfo").title = v.clip_sha256 || "";
  let raw = null;
  try { raw = typeof v.raw_event === "string" ? JSON.parse(v.raw_event) : v.raw_event; } catch { raw = null; }
  snapshot.load(m.snapshot?.url || null, !!m.snapshot?.derived, plateBox(raw, 0, 0));
  renderChecks();
}

function rawEvent(v) {
  if (!v.raw_event) return {};
  if (typeof v.raw_event === "object") return v.raw_event;
  try { return JSON.parse(v.raw_event); } catch { return {}; }
}

function renderCase() {
  const o = S.cur, v = o.violation;
  byId("c-type").textContent = violationType(v.type);
  byId("c-time").textContent = fmtFull(v.ts);
  byId("c-cam").textContent = `${v.camera_name || v.camera}${v.site ? " · " + v.site : ""}`;
  const st = byId("c-status");
  st.textContent = statusWord(v.status);
  st.className = "badge st-" + v.status;
  const due = dueOf(v);
  byId("c-due").hidden = !due;
  if (due) { byId("c-due").textContent = t("due." + due); byId("c-due").className = "badge due " + due; }
  byId("c-evidence").href = `/api/v1/violations/${enc(v.id)}/evidence`;
  byId("c-evidence").setAttribute("download", `violation-${v.id}-evidence.zip`);

  const taken = !o.mine && o.claim && new Date(o.claim.until) > Date.now();
  byId("c-taken").hidden = !taken;
  if (taken) byId("c-taken").textContent = t("review.taken", { name: o.claim.name || who(o.claim.actor), until: fmtFull(o.claim.until) });
  byId("case").dataset.taken = taken ? "yes" : "no";

  renderPlate();
  renderFacts();
  renderDecision();
  renderHistory();
  renderPos();
}

function renderPlate() {
  const v = S.cur.violation;
  const plate = byId("c-plate");
  plate.textContent = plateOf(v) || t("queue.noplate");
  plate.classList.toggle("none", !plateOf(v));
  plate.classList.toggle("corrected", !!v.plate_corrected);
  byId("c-conf").textContent = v.plate_confidence ? fmtNum(v.plate_confidence * 100, 0) + " %" : "";
  const sub = [];
  if (v.plate_corrected) sub.push(t("review.plate.corrected", { plate: v.plate_corrected, orig: v.plate || "–" }));
  sub.push(t("review.plate.read", { raw: v.plate_raw || "–" }));
  if (v.plate && v.plate !== v.plate_raw) sub.push(t("review.plate.norm", { plate: v.plate }));
  if (v.plate_raw && !v.plate_valid) sub.push(t("review.plate.invalid") + (v.plate_flag ? ` (${v.plate_flag})` : ""));
  byId("c-plate-sub").replaceChildren(...sub.map(s => el("div", { text: s })));
}

function renderFacts() {
  const v = S.cur.violation;
  const raw = rawEvent(v);
  const light = raw.light_phase ?? raw.signal_phase ?? raw.light ?? raw.phase;
  const lightWord = light === undefined ? null : (t("light." + light) === "light." + light ? String(light) : t("light." + light));
  const failed = (v.evidence_checks || []).filter(c => !c.ok);
  const checkName = c => (t("check." + c.name) === "check." + c.name ? c.name : t("check." + c.name));
  const facts = [
    ["fact.type", violationType(v.type)],
    ["fact.time", fmtFull(v.ts)],
    ["fact.camera", v.camera_name ? `${v.camera_name} (${v.camera})` : v.camera],
    ["fact.place", [v.address, v.lat || v.lon ? `${fmtNum(v.lat, 5)}°N ${fmtNum(v.lon, 5)}°E` : ""].filter(Boolean).join(" · ") || "–"],
    v.lane ? ["fact.lane", String(v.lane)] : null,
    v.speed_kmh || v.limit_kmh ? ["fact.speed", `${fmtNum(v.speed_kmh)} / ${fmtNum(v.limit_kmh)} km/h`, v.speed_kmh > v.limit_kmh ? "over" : ""] : null,
    lightWord ? ["fact.light", lightWord] : null,
    v.vehicle ? ["fact.vehicle", t("vehicle." + v.vehicle) === "vehicle." + v.vehicle ? v.vehicle : t("vehicle." + v.vehicle)] : null,
    ["fact.clip", clipWord(v.clip_status) + (v.clip_reason ? ` — ${v.clip_reason}` : ""), "clip-" + v.clip_status],
    ["fact.evidential", v.evidential ? t("fact.evidential.ok")
      : t("fact.evidential.bad", { names: failed.map(c => checkName(c) + (c.detail ? ` (${c.detail})` : "")).join("; ") || "–" }), v.evidential ? "ok" : "bad"],
    ["fact.notify", v.notify_by ? fmtDate(v.notify_by) : "–", dueOf(v) || ""],
    ["fact.publish", v.publish_after ? fmtDate(v.publish_after) : "–"],
    ["fact.id", v.id, "mono"],
  ].filter(Boolean);
  byId("facts").replaceChildren(...facts.flatMap(([k, val, cls]) => [el("dt", { text: t(k) }), el("dd", { class: cls || null, dataset: { fact: k.slice(5) }, text: val })]));
}

function historyLine(h) {
  if (h.kind === "review") {
    const d = statusWord(h.decision) + (h.reason ? ` · ${reasonLabel(h.reason)}` : "");
    return el("li", { class: "h-review st-" + h.decision }, el("time", { text: fmtFull(h.at) }),
      el("span", { class: "msg" }, el("b", { text: t("hist.review", { who: who(h.actor), d }) }), h.note ? el("span", { class: "note", text: " — " + h.note }) : null));
  }
  if (h.kind === "amend") {
    return el("li", { class: "h-amend" }, el("time", { text: fmtFull(h.at) }),
      el("span", { class: "msg" }, el("b", { text: t("hist.amend", { who: who(h.actor), from: h.from || "–", to: h.to }) }), h.note ? el("span", { class: "note", text: " — " + h.note }) : null));
  }
  const key = { "violation.open": "hist.open", "violation.clip": "hist.clip", "violation.evidence": "hist.evidence", "violation.snapshot": "hist.snapshot" }[h.action] || "hist.other";
  return el("li", { class: "h-audit" }, el("time", { text: fmtFull(h.at) }),
    el("span", { class: "msg muted", text: t(key, { who: who(h.actor), a: h.action }) + (h.detail ? ` (${h.detail})` : "") }));
}

function renderHistory() {
  const o = S.cur;
  const all = [
    ...(o.reviews || []).map(r => ({ ...r, kind: "review" })),
    ...(o.amendments || []).map(a => ({ ...a, kind: "amend" })),
    ...(o.custody || []).slice(-30).map(a => ({ ...a, kind: "audit" })),
  ].sort((a, b) => new Date(b.at) - new Date(a.at));
  byId("history").replaceChildren(...(all.length ? all.map(historyLine) : [el("li", { class: "empty", text: t("review.history.none") })]));
}

async function refreshHistory() {
  const id = S.cur?.violation.id;
  if (!id) return;
  try {
    const h = await api("GET", `/api/v1/violations/${enc(id)}/history`);
    if (S.cur?.violation.id !== id) return;
    Object.assign(S.cur, { reviews: h.reviews || [], amendments: h.amendments || [], custody: h.custody || [] });
    renderHistory();
  } catch { /* the next change retries */ }
}

// ---- Decisions ------------------------------------------------------------

function canDecide() {
  const o = S.cur;
  if (!o) return false;
  if (!o.mine && o.claim && new Date(o.claim.until) > Date.now()) return false;
  const s = o.violation.status;
  if (s === "disputed") return roleAtLeast(S.sess.role, "admin");
  // A final decision is changed only by an admin.
  return OPEN.includes(s) || roleAtLeast(S.sess.role, "admin");
}

const reasonsFor = d => S.reasons.filter(r => (r.decisions || []).includes(d));

function resetDecision() {
  S.decision = null;
  S.reason = null;
  S.message = "";
  byId("d-note").value = "";
  closePlate();
}

function choose(d) {
  if (!canDecide()) return;
  S.decision = S.decision === d ? null : d;
  S.reason = null;
  // A single reason for the decision is the one.
  const rs = reasonsFor(d);
  if (S.decision && rs.length === 1) S.reason = rs[0].code;
  S.message = "";
  renderDecision();
}

function pickReason(n) {
  if (!S.decision) return;
  const rs = reasonsFor(S.decision);
  if (n >= 1 && n <= rs.length) { S.reason = rs[n - 1].code; renderDecision(); }
}

function renderDecision() {
  const ok = canDecide();
  const o = S.cur;
  byId("d-confirm").disabled = !ok;
  byId("d-reject").disabled = !ok;
  byId("d-confirm").classList.toggle("on", S.decision === "confirmed");
  byId("d-reject").classList.toggle("on", S.decision === "rejected");
  byId("decide").dataset.decision = S.decision || "";
  const rs = S.decision ? reasonsFor(S.decision) : [];
  byId("reasons").replaceChildren(...(S.decision
    ? rs.map((r, i) => el("li", { class: S.reason === r.code ? "on" : "", dataset: { code: r.code } },
      el("button", { type: "button", class: "ghost", onclick: () => pickReason(i + 1) }, el("kbd", { text: String(i + 1) }), " ", r.label)))
    : [el("li", { class: "hint muted", text: ok ? t("review.choose") : (o && !OPEN.includes(o.violation.status) ? t("review.readonly", { s: statusWord(o.violation.status) }) : "") })]));
  if (S.decision && !S.reason) byId("reasons").append(el("li", { class: "hint muted", text: t("review.choose.reason", { n: rs.length }) }));
  byId("d-submit").disabled = !(ok && S.decision && S.reason) || S.submitting;
  byId("d-submit").classList.toggle("confirm", S.decision === "confirmed");
  byId("d-submit").classList.toggle("reject", S.decision === "rejected");
  const r = byId("d-refusal");
  r.textContent = S.message;
  r.hidden = !S.message;
  r.classList.toggle("ok", S.messageOK === true);
  renderChecks();
}

// renderChecks shows what a confirmation needs, as the server checks it.
function renderChecks() {
  const o = S.cur;
  if (!o || S.decision !== "confirmed") { byId("checks").replaceChildren(); return; }
  const v = o.violation;
  const items = [
    ["review.check.clip", v.clip_status === "complete"],
    ["review.check.plate", !!plateOf(v)],
    ["review.check.opened", !!(o.opened_clip || o.played)],
    ["review.check.reason", !!S.reason],
  ];
  byId("checks").replaceChildren(...items.map(([k, good]) => el("li", { class: good ? "ok" : "no", dataset: { check: k.split(".").pop() } }, good ? "✓ " : "✗ ", t(k))));
}

async function submit() {
  const o = S.cur;
  if (!o || !S.decision || !S.reason || S.submitting || !canDecide()) return;
  S.submitting = true;
  renderDecision();
  const id = o.violation.id, decision = S.decision;
  try {
    await api("POST", `/api/v1/violations/${enc(id)}/review`, {
      decision, reason: S.reason, note: byId("d-note").value.trim(), version: o.version,
    });
  } catch (e) {
    S.submitting = false;
    S.message = t("review.refused", { e: e.message });
    S.messageOK = false;
    renderDecision();
    return;
  }
  S.submitting = false;
  // The next pending case loads at once; the queue is re-read behind it.
  const i = S.queue.findIndex(v => v.id === id);
  const next = nextPending(i < 0 ? -1 : i, id);
  S.queue = S.queue.filter(v => v.id !== id);
  if (next) openCase(next.id);
  else { S.cur = null; S.curId = null; byId("case").hidden = true; byId("case-empty").hidden = false; renderQueue(); }
  // Said where the officer looks next: under the next case's decision.
  S.message = t("review.decided", { d: statusWord(decision), id: o.violation.id });
  S.messageOK = true;
  soon();
}

// ---- Plate correction -----------------------------------------------------

function openPlate() {
  if (!S.cur || !canDecide()) return;
  byId("plate-form").hidden = false;
  byId("plate-edit").hidden = true;
  const inp = byId("plate-input");
  inp.value = plateOf(S.cur.violation);
  inp.focus();
  inp.select();
}

function closePlate() {
  byId("plate-form").hidden = true;
  byId("plate-edit").hidden = false;
  byId("plate-note").value = "";
}

async function savePlate(ev) {
  ev.preventDefault();
  const o = S.cur;
  if (!o) return;
  const plate = byId("plate-input").value.trim();
  if (!plate) return;
  try {
    const r = await api("POST", `/api/v1/violations/${enc(o.violation.id)}/plate`, { plate, note: byId("plate-note").value.trim(), version: o.version });
    if (S.cur !== o) return;
    o.violation = { ...o.violation, ...r.violation, raw_event: o.violation.raw_event };
    if (r.version) o.version = r.version;
    if (r.amendment) o.amendments = [...(o.amendments || []), r.amendment];
    closePlate();
    S.message = t("review.plate.saved", { plate: plateOf(o.violation) });
    S.messageOK = true;
    renderCase();
    soon();
  } catch (e) {
    S.message = t("review.refused", { e: e.message });
    S.messageOK = false;
    renderDecision();
  }
}

// ---- The keyboard ---------------------------------------------------------

function onKey(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const tgt = e.target;
  if (tgt.matches?.("input, textarea, select")) {
    if (e.key === "Escape") {
      e.preventDefault();
      if (tgt.closest("#plate-form")) closePlate();
      tgt.blur();
    } else if (e.key === "Enter" && tgt.id === "d-note") {
      e.preventDefault();
      submit();
    }
    return;
  }
  if (!byId("stats").hidden) return;
  const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  switch (k) {
    case "n": step(1); break;
    case "p": step(-1); break;
    case "c": choose("confirmed"); break;
    case "r": choose("rejected"); break;
    case "Enter": submit(); break;
    case "Escape": if (byId("plate-form").hidden) { S.decision = null; S.reason = null; S.message = ""; renderDecision(); } else closePlate(); break;
    case "e": openPlate(); break;
    case " ": player.toggle(); break;
    case ",": player.frame(-1); break;
    case ".": player.frame(1); break;
    case "ArrowLeft": player.seekBy(-1); break;
    case "ArrowRight": player.seekBy(1); break;
    case "s": player.cycleRate(); break;
    case "m": player.toMoment(); break;
    case "z": snapshot.cycle(); break;
    default:
      if (/^[1-9]$/.test(k)) { pickReason(Number(k)); break; }
      return;
  }
  e.preventDefault();
}

// ---- The feed -------------------------------------------------------------

function onViolation(v) {
  soon();
  const o = S.cur;
  if (!o || v.id !== o.violation.id) return;
  const before = o.violation;
  o.violation = { ...before, ...v, raw_event: before.raw_event };
  // A clip sealed (or a decision by someone else) changes the case's
  // version: open it again, so the decision is made on what is shown.
  if (before.clip_status !== v.clip_status || before.status !== v.status) {
    reopen(o.violation.id);
  } else {
    renderCase();
  }
}

async function reopen(id) {
  const seq = S.openSeq;
  try {
    const o = await api("POST", `/api/v1/violations/${enc(id)}/open`, {});
    if (seq !== S.openSeq || S.cur?.violation.id !== id) return;
    const played = S.cur.played;
    S.cur = { ...o, played, media: S.cur.media };
    renderCase();
    loadMedia(seq);
  } catch { /* the case view keeps what it had */ }
}

function renderConn() {
  const c = byId("conn");
  c.dataset.state = S.feedState;
  c.textContent = t("conn." + S.feedState);
}

// ---- Start ----------------------------------------------------------------

let player, snapshot;

function statsRange() {
  const from = dayInput("s-from"), to = dayInput("s-to");
  return { from: from ? midnight(from) : 0, to: to ? midnight(to) + 86_400_000 : 0 };
}

async function main() {
  applyLang();
  try { S.tz = (await (await fetch("/assets/ui.json")).json()).timezone || undefined; } catch { /* the browser's zone */ }
  S.sess = await session();
  header(S.sess);
  const admin = roleAtLeast(S.sess.role, "admin");
  byId("tab-stats").hidden = !admin;
  const statsPage = location.pathname === "/review/stats";
  (statsPage ? byId("tab-stats") : byId("tab-queue")).setAttribute("aria-current", "page");
  if (statsPage) {
    byId("desk").hidden = true;
    byId("stats").hidden = false;
    for (const id of ["s-from", "s-to"]) byId(id).addEventListener("change", () => loadStats(statsRange()));
    onLang(() => loadStats(statsRange()));
    await loadStats(statsRange());
    return;
  }

  player = new Player({ onPlayed: () => { if (S.cur) { S.cur.played = true; renderChecks(); } } });
  snapshot = new Snapshot();
  byId("d-confirm").addEventListener("click", () => choose("confirmed"));
  byId("d-reject").addEventListener("click", () => choose("rejected"));
  byId("d-submit").addEventListener("click", submit);
  byId("plate-edit").addEventListener("click", openPlate);
  byId("plate-cancel").addEventListener("click", closePlate);
  byId("plate-form").addEventListener("submit", savePlate);
  byId("filters").addEventListener("submit", e => { e.preventDefault(); loadQueue(); });
  let typing = null;
  for (const id of ["f-status", "f-type", "f-site", "f-camera", "f-clip", "f-due", "f-from", "f-to"]) byId(id).addEventListener("change", loadQueue);
  for (const id of ["f-from", "f-to"]) byId(id).addEventListener("input", () => { if (dayInput(id, false) !== null) { clearTimeout(typing); typing = setTimeout(loadQueue, 300); } });
  byId("f-plate").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(loadQueue, 300); });
  document.addEventListener("keydown", onKey);
  onLang(() => { renderQueue(); renderCounts(); if (S.cur) { renderCase(); showMedia(); } renderConn(); });

  try {
    const r = await api("GET", "/api/v1/review/reasons");
    S.reasons = r.reasons || [];
    S.requireSecond = !!r.require_second;
  } catch (e) {
    showError(t("error", { e: e.message }));
  }
  try {
    const c = await api("GET", "/api/v1/cameras");
    for (const cam of c.cameras || []) {
      addOption(byId("f-site"), cam.site);
      addOption(byId("f-camera"), cam.camera, cam.name ? `${cam.name} (${cam.camera})` : cam.camera);
    }
  } catch { /* the queue's cases fill the lists */ }
  await loadQueue();
  const want = decodeURIComponent(location.hash.slice(1));
  if (want) openCase(want);

  new Feed(["violations"], {
    onFrame: f => {
      if (f.type === "violation" && f.data?.id) onViolation(f.data);
      else if (f.type === "snapshot" && f.data?.topic === "violations") soon();
    },
    onState: s => { S.feedState = s; renderConn(); if (s === "live") soon(); },
  }).start();
  // Claims run out and deadlines pass without any event: re-read now
  // and then.
  setInterval(soon, 30_000);
  document.documentElement.lang = lang();
}

main().catch(e => { console.error(e); showError(t("error", { e: e.message })); });
