// The review desk (/review) in a real browser, as a traffic police officer
// uses it: Debian's /usr/bin/chromium driven by playwright-core against
// `iocd demo` built from this checkout, with its simulators running (the
// province's devices and cameras on RTSP, H.264 and H.265 alternating;
// the demo's own random violation events are switched off so that the
// test decides which cases exist, publishing them over MQTT as a
// camera's analytics would).
//
// A reviewer logs in, opens the first pending case, plays and seeks its
// clip, confirms it from the keyboard with a reason, is refused on the
// next one until the clip is watched, rejects it, plays an H.265 case
// (through its derived H.264 viewing copy) and downloads its evidence
// package, whose clip's SHA-256 must be the record's. A viewer who opens
// /review gets the forbidden page and no case data. An admin reads the
// statistics. Screenshots of the queue and of a case at 1920x1080 and at
// 3840x2160 (a 1920x1080 desk at 200 %) go to docs/ (IOCD_E2E_DOCS
// overrides the directory).
//
// Run with `make e2e` (part of `make test`) or `cd e2e && node --test`.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { accessSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { setTimeout as delay } from "node:timers/promises";
import { inflateRawSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..");
const docs = process.env.IOCD_E2E_DOCS || join(repo, "docs");
const chromiumPath = process.env.IOCD_CHROMIUM || "/usr/bin/chromium";
const required = process.env.CI === "true" || process.env.IOCD_REQUIRE_SERVERS === "1";
const SEE_WITHIN = 30_000;
// The clip window of the test's cases (violations.pre / .post).
const PRE = 4, POST = 3;

function which(name, extra = []) {
  for (const d of [...(process.env.PATH || "").split(delimiter), ...extra]) {
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch { /* not here */ }
  }
  return null;
}

const tools = process.env.IOCD_TOOLS || join(process.env.HOME || "", ".cache", "iocd-tools");
const missing = [];
try { accessSync(chromiumPath, constants.X_OK); } catch { missing.push(`chromium (${chromiumPath})`); }
if (!which("influxd", [join(tools, "bin")])) missing.push("influxd");
if (!which("mosquitto_pub", ["/usr/sbin"])) missing.push("mosquitto_pub");
if (!which("ffmpeg")) missing.push("ffmpeg");
if (!which("go")) missing.push("go");
if (missing.length > 0 && required) throw new Error(`e2e: missing ${missing.join(", ")}; run scripts/setup.sh`);
const skip = missing.length > 0 ? `missing ${missing.join(", ")}; run scripts/setup.sh` : false;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function eventually(what, read, check, timeout = SEE_WITHIN) {
  const deadline = Date.now() + timeout;
  let got;
  for (;;) {
    got = await read();
    if (check(got)) return got;
    if (Date.now() > deadline) assert.fail(`${what}: not seen within ${timeout} ms; last saw ${JSON.stringify(got)}`);
    await delay(150);
  }
}

// unzip reads a zip archive's entries from its central directory (stored
// or deflated, as archive/zip writes them): name → Buffer.
export function unzip(buf) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error("not a zip: no end of central directory");
  const n = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = new Map();
  for (let i = 0; i < n; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`zip: bad central directory entry ${i}`);
    const method = buf.readUInt16LE(p + 10);
    const csize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28), extraLen = buf.readUInt16LE(p + 30), commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString("utf8");
    if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error(`zip: bad local header for ${name}`);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const data = buf.subarray(start, start + csize);
    if (method === 0) out.set(name, data);
    else if (method === 8) out.set(name, inflateRawSync(data));
    else throw new Error(`zip: ${name} uses method ${method}`);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

describe("the review desk in Chromium", { skip }, () => {
  let tmp, base, mqttPort, admin, browser, pub, creds;
  const procs = [];
  const cases = {}; // name → violation id

  function start(name, bin, args) {
    const logFile = join(tmp, name + ".log");
    const child = spawn(bin, args, { stdio: ["ignore", openSync(logFile, "w"), openSync(logFile, "a")] });
    const exit = new Promise(resolve => child.once("exit", (code, signal) => resolve({ code, signal })));
    procs.push({ name, child, exit, logFile });
    return { child, exit, logFile };
  }

  async function api(method, path, body, token = admin) {
    const res = await fetch(base + path, {
      method,
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch { parsed = text; }
    return { status: res.status, body: parsed };
  }

  const password = name => creds.accounts.find(a => a.name === name).password;

  async function publish(topic, payload) {
    await promisify(execFile)(pub, ["-h", "127.0.0.1", "-p", String(mqttPort), "-q", "1", "-t", topic, "-m", JSON.stringify(payload)]);
  }

  before(async () => {
    const { chromium } = await import("playwright-core");
    tmp = mkdtempSync(join(tmpdir(), "iocd-e2e-review-"));
    mkdirSync(docs, { recursive: true });
    const bin = join(tmp, "iocd");
    await promisify(execFile)("go", ["build", "-o", bin, "./cmd/iocd"], { cwd: repo });

    const [httpPort, rtspPort] = [await freePort(), await freePort()];
    mqttPort = await freePort();
    base = `http://127.0.0.1:${httpPort}`;
    admin = "e2e-admin-" + randomBytes(16).toString("hex");
    const varDir = join(tmp, "var");
    const demo = start("demo", bin, [
      "demo",
      "-var", varDir,
      "-log-file", join(tmp, "demo-iocd.log"),
      "-devices-per-site", "1",
      "-speed", "10",
      "-rtsp-addr", `127.0.0.1:${rtspPort}`,
      // No random events: the test publishes the cases it reviews.
      "-violation-every", "1000000h",
      "-http_addr", `127.0.0.1:${httpPort}`,
      "-mqtt.embedded_addr", `127.0.0.1:${mqttPort}`,
      "-admin_token", admin,
      "-violations.pre", PRE + "s",
      "-violations.post", POST + "s",
    ]);
    // Ready when the demo's accounts exist (it makes them once serving).
    const deadline = Date.now() + 120_000;
    for (;;) {
      const exited = await Promise.race([demo.exit, delay(200).then(() => null)]);
      if (exited) throw new Error(`iocd demo exited (${JSON.stringify(exited)}):\n${readFileSync(demo.logFile, "utf8")}\n${readFileSync(join(tmp, "demo-iocd.log"), "utf8")}`);
      try {
        const r = await api("GET", "/api/v1/users");
        if (r.status === 200 && (r.body.users || []).some(u => u.name === "reviewer")) break;
      } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`iocd demo not ready within 120 s:\n${readFileSync(demo.logFile, "utf8")}`);
    }
    creds = JSON.parse(readFileSync(join(varDir, "data", "demo-credentials.json"), "utf8"));
    pub = which("mosquitto_pub", ["/usr/sbin"]);
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--font-render-hinting=none", "--lang=vi-VN"],
    });

    // One H.264 camera and one H.265 camera, each streaming with a full
    // pre-event buffer, so every case's clip is complete.
    const cams = await eventually("an H.264 and an H.265 camera streaming with a full buffer", async () => {
      const r = await api("GET", "/api/v1/cameras");
      const ok = (r.body?.cameras || []).filter(c => c.state === "streaming" && c.buffer_seconds >= PRE + 1);
      return { h264: ok.find(c => c.codec === "h264"), h265: ok.find(c => c.codec === "h265") };
    }, c => c.h264 && c.h265, 90_000);

    // The cases, oldest first as the queue orders them: two on the H.264
    // camera (the first with the camera's snapshot, the second without,
    // so the desk shows a still taken from the clip), one on the H.265.
    const events = [
      ["first", cams.h264, { type: "red_light", plate: "51F-678.90", plate_confidence: 0.94, vehicle: "car", lane: 2, light_phase: "red" }],
      ["second", cams.h264, { type: "speeding", plate: "62A-123.45", plate_confidence: 0.71, vehicle: "car", lane: 1, speed_kmh: 74, limit_kmh: 50 }],
      ["hevc", cams.h265, { type: "wrong_way", plate: "59-X1 234.56", plate_confidence: 0.88, vehicle: "motorbike", lane: 3 }],
    ];
    for (const [name, cam, ev] of events) {
      const id = `e2e-review-${name}-${Date.now()}`;
      await publish(`ioc/${cam.site}/${cam.camera}/event`, { event_id: id, ts: Date.now(), ...ev });
      const v = await eventually(`the ${name} case filed`, async () => {
        const r = await api("GET", `/api/v1/violations?camera=${encodeURIComponent(cam.camera)}&limit=10`);
        return (r.body?.violations || []).find(x => x.event_id === id);
      }, v => !!v);
      cases[name] = v.id;
      // A second apart, so their order in the queue is certain.
      await eventually(`a second after the ${name} case`, async () => Date.now(), now => now - new Date(v.ts).getTime() >= 1000);
    }
    for (const [name, id] of Object.entries(cases)) {
      await eventually(`the ${name} case's clip complete`, async () => (await api("GET", `/api/v1/violations/${id}`)).body?.violation?.clip_status,
        s => s === "complete", (PRE + POST) * 1000 + SEE_WITHIN);
    }
  }, { timeout: 420_000 });

  after(async () => {
    await browser?.close();
    for (const p of procs.reverse()) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      p.child.kill("SIGTERM");
      const stopped = await Promise.race([p.exit, delay(60_000, null, { ref: false })]);
      if (!stopped) {
        p.child.kill("SIGKILL");
        await p.exit;
        assert.fail(`${p.name} did not stop within 60 s of SIGTERM`);
      }
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function login(user, pw, { path = "/review", viewport = { width: 1920, height: 1080 }, deviceScaleFactor = 1 } = {}) {
    // A Vietnamese officer's browser: its date pickers read dd/mm/yyyy.
    const context = await browser.newContext({ viewport, deviceScaleFactor, acceptDownloads: true, locale: "vi-VN", timezoneId: "Asia/Ho_Chi_Minh" });
    const page = await context.newPage();
    page.errors = [];
    page.on("pageerror", e => page.errors.push(String(e)));
    page.on("console", m => { if (m.type() === "error" && !/^Failed to load resource/.test(m.text())) page.errors.push(m.text()); });
    // Failed requests by name (the console says only "Failed to load").
    page.on("response", r => { if (r.status() >= 400) page.errors.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`); });
    await page.goto(base + path);
    await page.waitForURL(/\/login\?next=/);
    await page.fill("#user", user);
    await page.fill("#password", pw);
    await page.click("#login-submit");
    await page.waitForURL(base + path);
    return page;
  }

  const text = (page, sel) => page.locator(sel).textContent();
  const currentCase = page => page.locator("#case").getAttribute("data-id");
  // playing waits until the clip has played on by at least s seconds.
  async function playing(page, s = 0.5) {
    const from = await page.evaluate(() => document.getElementById("video").currentTime);
    await page.waitForFunction(([from, s]) => {
      const v = document.getElementById("video");
      return !v.paused && v.readyState >= 2 && v.currentTime >= from + s;
    }, [from, s], { timeout: SEE_WITHIN });
  }

  test("a reviewer works through the queue from the keyboard", async () => {
    const page = await login("reviewer", password("reviewer"));
    await eventually("feed live", () => page.locator("#conn").getAttribute("data-state"), s => s === "live");
    // The queue: the three cases, oldest first, with counts.
    const ids = await eventually("the three cases in the queue, oldest first", () => page.locator("#queue li.qrow").evaluateAll(lis => lis.map(li => li.dataset.id)),
      got => got.length === 3);
    assert.deepEqual(ids, [cases.first, cases.second, cases.hevc]);
    assert.equal(await text(page, '#counts [data-count="pending"] b'), "3");
    assert.match(await text(page, "#queue li.qrow:first-child"), /Vượt đèn đỏ.*51F-678\.90/s);
    await page.screenshot({ path: join(docs, "review-queue-1920x1080.png") });

    // A filter narrows the queue (through the API) and clearing it
    // brings the three back.
    await page.selectOption("#f-type", "speeding");
    await eventually("only the speeding case", () => page.locator("#queue li.qrow").evaluateAll(lis => lis.map(li => li.dataset.id)), got => got.length === 1 && got[0] === cases.second);
    await page.selectOption("#f-type", "");
    await eventually("the three cases again", () => page.locator("#queue li.qrow").count(), n => n === 3);
    // The date range, written day first: from tomorrow finds none.
    const tomorrow = new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Ho_Chi_Minh", day: "2-digit", month: "2-digit", year: "numeric" }).format(Date.now() + 86_400_000);
    await page.fill("#f-from", tomorrow);
    await eventually(`nothing from ${tomorrow}`, () => page.locator("#queue li.empty").count(), n => n === 1);
    await page.fill("#f-from", "");
    await eventually("the three cases once more", () => page.locator("#queue li.qrow").count(), n => n === 3);

    // The first pending case: its facts, its clip and the moment marked.
    await page.click("#queue li.qrow:first-child");
    await eventually("the first case open", () => currentCase(page), id => id === cases.first);
    assert.equal(await text(page, "#c-type"), "Vượt đèn đỏ");
    assert.equal(await text(page, "#c-plate"), "51F-678.90");
    assert.equal(await text(page, '#facts dd[data-fact="light"]'), "Đỏ");
    assert.equal(await text(page, '#facts dd[data-fact="lane"]'), "2");
    await page.locator("#tl-mark").waitFor({ state: "visible" });
    await page.waitForFunction(() => document.getElementById("video").getAttribute("src"), null, { timeout: SEE_WITHIN });

    // Play (Space): the clip plays; 0.5× is chosen from the controls.
    await page.keyboard.press("Space");
    await playing(page);
    await page.click('#rates button[data-rate="0.5"]');
    assert.equal(await page.evaluate(() => document.getElementById("video").playbackRate), 0.5);
    await playing(page, 0.2);
    // Seek: to the violation's moment (M), then a click a quarter along
    // the timeline.
    await page.keyboard.press("Space");
    await page.waitForFunction(() => document.getElementById("video").paused);
    await page.keyboard.press("m");
    const moment = await page.evaluate(() => window.iocdReview.cur.media?.event_offset_seconds ?? null);
    assert.ok(moment > 0, `the media answer's event offset: ${moment}`);
    await page.waitForFunction(m => Math.abs(document.getElementById("video").currentTime - m) < 0.05 && document.getElementById("video").readyState >= 2, moment, { timeout: SEE_WITHIN });
    // One frame on (.) moves by one frame's time.
    await page.keyboard.press(".");
    await page.waitForFunction(m => { const t = document.getElementById("video").currentTime - m; return t > 0.01 && t < 0.1; }, moment, { timeout: SEE_WITHIN });
    const box = await page.locator("#timeline").boundingBox();
    await page.mouse.click(box.x + box.width / 4, box.y + box.height / 2);
    const dur = await page.evaluate(() => document.getElementById("video").duration);
    await page.waitForFunction(d => Math.abs(document.getElementById("video").currentTime - d / 4) < 0.3, dur, { timeout: SEE_WITHIN });

    // Confirm from the keyboard: C, the first reason, Enter. The next
    // case loads at once.
    await page.keyboard.press("c");
    await page.keyboard.press("1");
    assert.equal(await page.locator("#reasons li.on").getAttribute("data-code"), "violation_clear");
    assert.equal(await page.locator('#checks li[data-check="opened"]').getAttribute("class"), "ok");
    await page.keyboard.press("Enter");
    await eventually("the next case open after the confirmation", () => currentCase(page), id => id === cases.second);
    const first = (await api("GET", `/api/v1/violations/${cases.first}`)).body.violation;
    assert.equal(first.status, "confirmed");
    assert.match(first.reviewed_by, /^(user:)?reviewer$/);
    const hist = (await api("GET", `/api/v1/violations/${cases.first}/history`)).body;
    assert.equal(hist.reviews.at(-1).reason, "violation_clear");

    // The second case: confirming before watching its clip is refused,
    // with the server's reason on the page.
    await page.keyboard.press("c");
    await page.keyboard.press("1");
    assert.equal(await page.locator('#checks li[data-check="opened"]').getAttribute("class"), "no");
    await page.keyboard.press("Enter");
    await page.locator("#d-refusal").waitFor({ state: "visible", timeout: SEE_WITHIN });
    assert.match(await text(page, "#d-refusal"), /^Không ghi được: .*(clip|opened|xem)/i);
    assert.equal((await api("GET", `/api/v1/violations/${cases.second}`)).body.violation.status, "pending");
    // The still was taken from the clip (the camera sent none): marked.
    await page.locator("#snap-derived").waitFor({ state: "visible", timeout: SEE_WITHIN });

    // Esc, then reject with the second reject reason and a note.
    await page.keyboard.press("Escape");
    assert.equal(await page.locator("#decide").getAttribute("data-decision"), "");
    await page.keyboard.press("r");
    const rejectCode = await page.locator("#reasons li:nth-child(2)").getAttribute("data-code");
    await page.keyboard.press("2");
    await page.fill("#d-note", "xe ưu tiên đang làm nhiệm vụ");
    await page.keyboard.press("Enter"); // in the note: submits
    await eventually("the H.265 case open after the rejection", () => currentCase(page), id => id === cases.hevc);
    const second = (await api("GET", `/api/v1/violations/${cases.second}`)).body.violation;
    assert.equal(second.status, "rejected");
    const h2 = (await api("GET", `/api/v1/violations/${cases.second}/history`)).body;
    assert.equal(h2.reviews.at(-1).reason, rejectCode);
    assert.equal(h2.reviews.at(-1).note, "xe ưu tiên đang làm nhiệm vụ");

    // The H.265 case plays, through the derived H.264 viewing copy.
    await page.waitForFunction(() => document.getElementById("video").getAttribute("src"), null, { timeout: 120_000 });
    assert.ok(await page.locator("#video-derived").isVisible(), "the viewing copy is marked derived");
    assert.match(await text(page, "#video-derived"), /bản sao xem H\.264 \(dẫn xuất\) — bằng chứng là bản gốc/);
    await page.click('#rates button[data-rate="1"]');
    await page.keyboard.press("Space");
    await playing(page);
    await page.keyboard.press("Space");
    await page.keyboard.press("m");
    await page.waitForFunction(() => { const v = document.getElementById("video"); return v.paused && v.readyState >= 2; });
    await page.screenshot({ path: join(docs, "review-case-1920x1080.png") });

    // The evidence package: its clip is the original, bit for bit.
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#c-evidence")]);
    const zip = unzip(readFileSync(await download.path()));
    const clip = zip.get("clip.mp4");
    assert.ok(clip, `clip.mp4 in the package: ${[...zip.keys()]}`);
    const hevc = (await api("GET", `/api/v1/violations/${cases.hevc}`)).body.violation;
    assert.equal(createHash("sha256").update(clip).digest("hex"), hevc.clip_sha256, "the package's clip hash is the record's");
    const media = (await api("GET", `/api/v1/violations/${cases.hevc}/media`)).body;
    assert.equal(media.clip.codec, "h265");
    assert.equal(media.view.derived, true);
    assert.notEqual(media.view.sha256, hevc.clip_sha256, "the viewing copy is not the original");

    // The history shows the looks at this case.
    await eventually("the clip view in the custody list", async () => (await api("GET", `/api/v1/violations/${cases.hevc}/history`)).body.custody.map(a => a.action),
      acts => acts.includes("violation.open") && acts.includes("violation.clip"));
    // Expected: the 401 that sent the browser to the login page, and the
    // refused confirmation (409).
    assert.deepEqual(page.errors.filter(e => !/^401 GET \/api\/v1\/session$/.test(e) && !/^409 POST \/api\/v1\/violations\/[^/]+\/review$/.test(e)), [], "errors in the page");

    // The same desk at 200 % on a 4K screen.
    const hi = await login("reviewer", password("reviewer"), { deviceScaleFactor: 2 });
    await eventually("the queue at 4K", () => hi.locator("#queue li.qrow").count(), n => n >= 1);
    await hi.screenshot({ path: join(docs, "review-queue-3840x2160.png") });
    await hi.click(`#queue li.qrow[data-id="${cases.hevc}"]`);
    await eventually("the case at 4K", () => currentCase(hi), id => id === cases.hevc);
    await hi.waitForFunction(() => document.getElementById("video").getAttribute("src"), null, { timeout: SEE_WITHIN });
    await hi.keyboard.press("m");
    await hi.waitForFunction(() => document.getElementById("video").readyState >= 2);
    await hi.screenshot({ path: join(docs, "review-case-3840x2160.png") });
    await hi.context().close();
    await page.context().close();
  });

  test("a viewer who opens /review gets no case data", async () => {
    const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
    const page = await context.newPage();
    const seen = [];
    page.on("response", r => seen.push({ url: r.url(), status: r.status() }));
    await page.goto(base + "/review");
    await page.waitForURL(/\/login\?next=/);
    await page.fill("#user", "wall");
    await page.fill("#password", password("wall"));
    await page.click("#login-submit");
    await page.waitForURL(base + "/review");
    await page.locator("#forbidden").waitFor();
    assert.equal(seen.findLast(r => r.url === base + "/review")?.status, 403);
    assert.match(await text(page, "h1"), /Không có quyền truy cập/);
    // The session read is done (the logout button needs its token):
    // nothing else was asked for.
    await page.waitForLoadState("networkidle");
    const data = seen.filter(r => /\/api\/v1\/(review|violations|cases)/.test(r.url) || r.url.includes("/ws"));
    assert.deepEqual(data, [], "requests for case data from the forbidden page");
    assert.equal(await page.locator("#queue, #case, video, .qrow").count(), 0);
    const html = await page.content();
    for (const id of Object.values(cases)) assert.ok(!html.includes(id), `case ${id} in the page`);
    assert.ok(!/51F|62A|59-X1/.test(html), "a plate in the page");
    // And the API refuses the viewer anyway.
    const r = await page.evaluate(async () => (await fetch("/api/v1/review/queue")).status);
    assert.equal(r, 403);
    await context.close();
  });

  test("an admin reads the reviewers' statistics", async () => {
    const page = await login("admin", password("admin"), { path: "/review/stats" });
    const row = page.locator('#stats-table tr.total[data-actor="user:reviewer"]');
    await row.waitFor({ timeout: SEE_WITHIN });
    const cells = await row.locator("td").allTextContents();
    assert.deepEqual(cells.slice(0, 5), ["reviewer", "Tổng", "2", "1", "1"]);
    assert.equal(cells[5], "50 %");
    assert.match(cells[6], /giây/);
    assert.ok(await page.locator("#stats-table tr.day").count() >= 1);
    // The wall's violations tile carries the deadline figure.
    await page.goto(base + "/");
    await page.locator("#violations-due").waitFor({ state: "visible", timeout: SEE_WITHIN });
    const ov = (await api("GET", "/api/v1/overview")).body;
    const want = (ov.overview || ov).violations_due_tomorrow;
    assert.equal(typeof want, "number");
    await eventually("the due-tomorrow figure on the wall", () => text(page, "#n-due-tomorrow"), s => s === String(want));
    await page.context().close();
  });
});
