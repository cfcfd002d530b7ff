// The review desk's media: the clip in a <video> with its own controls
// (0.25×, 0.5× and 1×, a frame either way, seeking on a timeline that
// marks the violation's moment) and the snapshot with a zoom and a
// magnifier for the plate. The player never loads the clip before the
// reviewer plays it (preload="none"): the server records a clip as
// "opened" when it is fetched, and a confirmation needs the reviewer to
// have looked at it.
import { t } from "./common.js";

const byId = id => document.getElementById(id);
export const RATES = [0.25, 0.5, 1];
const ZOOMS = [1, 2, 4];

// fpsOf reads the frame rate the evidential gate measured for the clip
// ("25.0 fps (minimum 10)"); 25, the usual camera rate, when none was.
export function fpsOf(v) {
  const c = (v?.evidence_checks || []).find(x => x.name === "frame_rate");
  const m = /([\d.]+)\s*fps/.exec(c?.detail || "");
  const f = m ? parseFloat(m[1]) : NaN;
  return f >= 1 && f <= 240 ? f : 25;
}

export class Player {
  constructor({ onPlayed }) {
    this.video = byId("video");
    this.onPlayed = onPlayed;
    this.rate = 1;
    this.fps = 25;
    this.duration = 0; // from the record's clip window until the metadata says
    this.moment = null; // seconds into the clip
    this.seq = 0;
    const v = this.video;
    v.addEventListener("loadedmetadata", () => { if (Number.isFinite(v.duration) && v.duration > 0) this.duration = v.duration; this.draw(); });
    v.addEventListener("timeupdate", () => this.draw());
    v.addEventListener("seeked", () => this.draw());
    v.addEventListener("play", () => { byId("player").dataset.played = "yes"; this.draw(); this.tick(); this.onPlayed?.(); });
    v.addEventListener("pause", () => this.draw());
    v.addEventListener("ended", () => this.draw());
    v.addEventListener("error", () => {
      if (!v.getAttribute("src")) return;
      const e = v.error;
      this.message(t("review.video.error", { e: e ? `${e.code}${e.message ? ": " + e.message : ""}` : "?" }));
    });
    byId("v-play").addEventListener("click", () => this.toggle());
    byId("v-back").addEventListener("click", () => this.frame(-1));
    byId("v-fwd").addEventListener("click", () => this.frame(1));
    byId("v-moment").addEventListener("click", () => this.toMoment());
    for (const b of byId("rates").querySelectorAll("button")) b.addEventListener("click", () => this.setRate(Number(b.dataset.rate)));
    v.addEventListener("click", () => this.toggle());
    this.timeline();
    this.setRate(1);
  }

  // load shows the clip of a case: src is the viewing copy's URL, or
  // null with a message saying why there is nothing to play.
  load({ src, derived, duration, moment, fps, message, poster }) {
    this.seq++;
    const v = this.video;
    v.pause();
    v.removeAttribute("src");
    v.load();
    this.duration = duration > 0 ? duration : 0;
    this.moment = Number.isFinite(moment) ? moment : null;
    this.fps = fps || 25;
    byId("video-derived").hidden = !derived;
    // Until the clip is played the frame shows the still, so the desk
    // is never a black box.
    if (poster) v.poster = poster;
    else v.removeAttribute("poster");
    if (src) {
      v.preload = "none";
      v.src = src;
      v.defaultPlaybackRate = this.rate;
      v.playbackRate = this.rate;
      this.message("");
    } else {
      this.message(message || "");
    }
    byId("player").dataset.src = src ? "yes" : "no";
    byId("player").dataset.played = "no";
    this.draw();
  }

  message(s) {
    const m = byId("video-msg");
    m.textContent = s;
    m.hidden = !s;
  }

  has() { return !!this.video.getAttribute("src"); }

  toggle() {
    if (!this.has()) return;
    const v = this.video;
    if (v.paused || v.ended) v.play().catch(e => this.message(t("review.video.error", { e: e.message })));
    else v.pause();
  }

  setRate(r) {
    this.rate = r;
    this.video.defaultPlaybackRate = r;
    this.video.playbackRate = r;
    for (const b of byId("rates").querySelectorAll("button")) b.classList.toggle("on", Number(b.dataset.rate) === r);
  }

  cycleRate() { this.setRate(RATES[(RATES.indexOf(this.rate) + 1) % RATES.length]); }

  // seek goes to s seconds; a clip not loaded yet is loaded first (the
  // browser fetches the part it needs).
  seek(s) {
    if (!this.has()) return;
    const v = this.video;
    // A clip not fetched yet (preload="none") is fetched now: seeking
    // is looking at it. The position is kept as where it starts.
    if (v.readyState === 0 && v.networkState !== HTMLMediaElement.NETWORK_LOADING) {
      v.preload = "auto";
      v.load();
      v.defaultPlaybackRate = this.rate;
      v.playbackRate = this.rate;
    }
    byId("player").dataset.played = "yes"; // the frame, not the play sign
    const max = this.duration || v.duration || 0;
    v.currentTime = Math.max(0, Math.min(max > 0 ? max : s, s));
    this.draw();
  }

  seekBy(d) { this.seek(this.video.currentTime + d); }

  frame(n) {
    if (!this.has()) return;
    this.video.pause();
    this.seek(this.video.currentTime + n / this.fps);
  }

  toMoment() { if (this.moment !== null) this.seek(this.moment); }

  timeline() {
    const tl = byId("timeline");
    const at = ev => {
      const r = tl.getBoundingClientRect();
      const f = Math.max(0, Math.min(1, (ev.clientX - r.left) / r.width));
      return f * (this.duration || this.video.duration || 0);
    };
    let dragging = false;
    tl.addEventListener("pointerdown", ev => { dragging = true; tl.setPointerCapture(ev.pointerId); this.seek(at(ev)); });
    tl.addEventListener("pointermove", ev => { if (dragging) this.seek(at(ev)); });
    tl.addEventListener("pointerup", () => { dragging = false; });
  }

  // tick redraws the timeline smoothly while playing (timeupdate comes
  // only four times a second).
  tick() {
    const seq = this.seq;
    const step = () => {
      if (seq !== this.seq || this.video.paused) return;
      this.draw();
      requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  }

  draw() {
    const v = this.video;
    const d = this.duration || (Number.isFinite(v.duration) ? v.duration : 0);
    const cur = v.currentTime || 0;
    const f = d > 0 ? Math.min(1, cur / d) : 0;
    byId("tl-fill").style.width = (f * 100).toFixed(3) + "%";
    byId("tl-head").style.left = (f * 100).toFixed(3) + "%";
    const mark = byId("tl-mark");
    mark.hidden = !(this.moment !== null && d > 0);
    if (!mark.hidden) mark.style.left = (Math.min(1, this.moment / d) * 100).toFixed(3) + "%";
    byId("v-time").textContent = `${clock(cur)} / ${clock(d)}`;
    byId("v-play").textContent = v.paused || v.ended ? "▶" : "❚❚";
    byId("player").dataset.playing = v.paused ? "no" : "yes";
  }
}

function clock(s) {
  if (!Number.isFinite(s) || s < 0) s = 0;
  const m = Math.floor(s / 60);
  const r = s - m * 60;
  return `${m}:${r.toFixed(2).padStart(5, "0")}`;
}

// Snapshot shows the still with a zoom (1×, 2×, 4× around a point: the
// plate's box when the detector sent one, else where the reviewer
// clicked) and a magnifier that follows the pointer.
export class Snapshot {
  constructor() {
    this.img = byId("snap-img");
    this.frame = byId("snap-frame");
    this.lens = byId("lens");
    this.zoom = 1;
    this.focus = [0.5, 0.5];
    this.lensOn = false;
    for (const b of document.querySelectorAll("#snap [data-zoom]")) b.addEventListener("click", () => this.setZoom(Number(b.dataset.zoom)));
    byId("snap-lens").addEventListener("click", () => { this.lensOn = !this.lensOn; this.draw(); });
    this.frame.addEventListener("click", ev => {
      const r = this.frame.getBoundingClientRect();
      // The point under the pointer, in the image's own coordinates.
      const x = (ev.clientX - r.left) / r.width, y = (ev.clientY - r.top) / r.height;
      const z = this.zoom, [fx, fy] = this.focus;
      this.focus = [fx + (x - 0.5) / z, fy + (y - 0.5) / z];
      if (this.zoom === 1) this.zoom = 2;
      this.draw();
    });
    this.frame.addEventListener("pointermove", ev => this.moveLens(ev));
    this.frame.addEventListener("pointerleave", () => { this.lens.hidden = true; });
    this.img.addEventListener("load", () => this.draw());
  }

  load(url, derived, box) {
    byId("snap-derived").hidden = !derived;
    byId("snap-none").hidden = !!url;
    this.frame.hidden = !url;
    this.box = box;
    this.zoom = box ? 2 : 1;
    this.focus = box ? [box[0] + box[2] / 2, box[1] + box[3] / 2] : [0.5, 0.5];
    if (url) this.img.src = url;
    else this.img.removeAttribute("src");
    this.lens.hidden = true;
    this.draw();
  }

  setZoom(z) { this.zoom = z; if (z === 1) this.focus = [0.5, 0.5]; this.draw(); }
  cycle() { this.setZoom(ZOOMS[(ZOOMS.indexOf(this.zoom) + 1) % ZOOMS.length]); }

  draw() {
    const z = this.zoom;
    // Keep the zoomed image covering the frame.
    const clamp = c => Math.max(0.5 / z, Math.min(1 - 0.5 / z, c));
    this.focus = [clamp(this.focus[0]), clamp(this.focus[1])];
    const [fx, fy] = this.focus;
    this.img.style.transform = `translate(${((0.5 - fx) * z * 100).toFixed(2)}%, ${((0.5 - fy) * z * 100).toFixed(2)}%) scale(${z})`;
    this.frame.dataset.zoom = String(z);
    for (const b of document.querySelectorAll("#snap [data-zoom]")) b.classList.toggle("on", Number(b.dataset.zoom) === z);
    byId("snap-lens").classList.toggle("on", this.lensOn);
  }

  moveLens(ev) {
    if (!this.lensOn || !this.img.getAttribute("src")) { this.lens.hidden = true; return; }
    const r = this.frame.getBoundingClientRect();
    const ir = this.img.getBoundingClientRect();
    const px = ev.clientX - r.left, py = ev.clientY - r.top;
    const mag = 3;
    const size = r.width * 0.34;
    const L = this.lens;
    L.hidden = false;
    L.style.width = L.style.height = size + "px";
    L.style.left = (px - size / 2) + "px";
    L.style.top = (py - size / 2) + "px";
    L.style.backgroundImage = `url("${this.img.src}")`;
    L.style.backgroundSize = `${ir.width * mag}px ${ir.height * mag}px`;
    const ix = ev.clientX - ir.left, iy = ev.clientY - ir.top;
    L.style.backgroundPosition = `${-(ix * mag - size / 2)}px ${-(iy * mag - size / 2)}px`;
  }
}

// plateBox reads the plate's box from the detector's raw event when it
// sent one (plate_bbox or plate_box: [x, y, w, h] as fractions of the
// image, or pixels of an image of width x height).
export function plateBox(raw, w, h) {
  const b = raw?.plate_bbox || raw?.plate_box;
  if (!Array.isArray(b) || b.length !== 4 || !b.every(Number.isFinite)) return null;
  if (b.every(x => x >= 0 && x <= 1)) return b;
  const iw = raw.image_width || w, ih = raw.image_height || h;
  if (!(iw > 0 && ih > 0)) return null;
  return [b[0] / iw, b[1] / ih, b[2] / iw, b[3] / ih];
}
