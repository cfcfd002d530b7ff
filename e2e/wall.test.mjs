// Real-browser tests of the pages (web/) as `iocd serve` serves them:
// Debian's /usr/bin/chromium driven by playwright-core (which never
// downloads a browser), iocd built from this checkout with its embedded
// MQTT broker and a throwaway InfluxDB 1.8, the device simulator (`iocd sim devices`) publishing the
// province's fleet, and users with passwords made through /api/v1/users.
// Each test does what a person in front of the screen does.
//
// Run with `make e2e` (part of `make test`) or `cd e2e && node --test`.
// Without Chromium, mosquitto_pub or go the tests are skipped, unless CI=true
// or IOCD_REQUIRE_SERVERS=1, where a missing tool fails them.
//
// Screenshots of the wall (1920x1080 and 3840x2160) and the fleet page go
// to e2e/screenshots/ (IOCD_E2E_SCREENSHOTS overrides the directory).
// IOCD_CHROMIUM overrides the browser path (default /usr/bin/chromium).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { setTimeout as delay } from "node:timers/promises";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "..");
const shots = process.env.IOCD_E2E_SCREENSHOTS || join(here, "screenshots");
const chromiumPath = process.env.IOCD_CHROMIUM || "/usr/bin/chromium";
const required = process.env.CI === "true" || process.env.IOCD_REQUIRE_SERVERS === "1";

// How long a person would reasonably wait for the page to show something.
const SEE_WITHIN = 20_000;

function which(name, extra = []) {
  for (const d of [...(process.env.PATH || "").split(delimiter), ...extra]) {
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch { /* not here */ }
  }
  return null;
}

// influxd as scripts/setup.sh installs it: the device page's history
// chart and the wall's chart history read a real InfluxDB.
const tools = process.env.IOCD_TOOLS || join(process.env.HOME || "", ".cache", "iocd-tools");
const influxd = which("influxd", [join(tools, "bin")]);

const missing = [];
try { accessSync(chromiumPath, constants.X_OK); } catch { missing.push(`chromium (${chromiumPath})`); }
if (!influxd) missing.push("influxd");
if (!which("mosquitto_pub", ["/usr/sbin"])) missing.push("mosquitto_pub");
if (!which("go")) missing.push("go");
if (missing.length > 0 && required) {
  // A missing browser must fail CI, never pass it as skipped.
  throw new Error(`e2e: missing ${missing.join(", ")}; run scripts/setup.sh`);
}
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

// eventually polls read() until check(value) holds, and fails naming what
// was wanted and what was last seen.
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

describe("the pages in Chromium", { skip }, () => {
  let tmp, base, mqttPort, admin, browser, pub;
  const procs = [];
  const pw = { admin: "", op: "", wall: "" };

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

  before(async () => {
    const { chromium } = await import("playwright-core");
    tmp = mkdtempSync(join(tmpdir(), "iocd-e2e-"));
    mkdirSync(shots, { recursive: true });
    const bin = join(tmp, "iocd");
    await promisify(execFile)("go", ["build", "-o", bin, "./cmd/iocd"], { cwd: repo });

    // The simulated province (2 devices of each model per site) is the
    // registry's seed, as in the demo.
    const seed = join(tmp, "fleet.json");
    await promisify(execFile)(bin, ["sim", "devices", "-per-site", "2", "-seed-out", seed]);
    // One rule that fires from the first readings, so there is an alert
    // to acknowledge.
    const rules = join(tmp, "rules.yaml");
    writeFileSync(rules, [
      "- id: pm25_high",
      "  name: Bụi mịn PM2.5 cao",
      "  kind: threshold",
      "  field: pm25",
      '  op: ">"',
      "  value: 1",
      "  for: 0s",
      "  severity: major",
      "  selector: {site: tan-an}",
      "  message:",
      '    vi: "PM2.5 tại {{device}} vượt ngưỡng: {{value}}"',
      '    en: "PM2.5 at {{device}} above threshold: {{value}}"',
      "",
    ].join("\n"));
    const cfg = join(tmp, "iocd.yaml");
    writeFileSync(cfg, [
      "ui:",
      "  charts:",
      '    - {site: tan-an, field: level_m, label: "Mực nước Tân An (m)"}',
      '    - {site: ben-luc, field: pm25, label: "PM2.5 Bến Lức"}',
      '    - {site: can-giuoc, field: level_m, label: "Mực nước Cần Giuộc (m)"}',
      '    - {site: duc-hoa, field: pm25, label: "PM2.5 Đức Hòa"}',
      "",
    ].join("\n"));

    // A throwaway InfluxDB 1.8 on loopback ports.
    const [ihttp, irpc] = [await freePort(), await freePort()];
    const idir = join(tmp, "influx");
    mkdirSync(idir);
    writeFileSync(join(idir, "influxdb.conf"), [
      "reporting-disabled = true", `bind-address = "127.0.0.1:${irpc}"`,
      "[meta]", `  dir = "${join(idir, "meta")}"`,
      "[data]", `  dir = "${join(idir, "data")}"`, `  wal-dir = "${join(idir, "wal")}"`, "  query-log-enabled = false",
      "[http]", "  enabled = true", `  bind-address = "127.0.0.1:${ihttp}"`, "  auth-enabled = false", "  log-enabled = false", "  flux-enabled = true",
      "[logging]", '  level = "warn"', "[monitor]", "  store-enabled = false", "",
    ].join("\n"));
    const influx = start("influxd", influxd, ["-config", join(idir, "influxdb.conf")]);
    const influxURL = `http://127.0.0.1:${ihttp}`;
    const ideadline = Date.now() + 60_000;
    for (;;) {
      const exited = await Promise.race([influx.exit, delay(150).then(() => null)]);
      if (exited) throw new Error(`influxd exited (${JSON.stringify(exited)}):\n${readFileSync(influx.logFile, "utf8")}`);
      try { if ((await fetch(influxURL + "/ping")).status === 204) break; } catch { /* not yet */ }
      if (Date.now() > ideadline) throw new Error("influxd not ready within 60 s");
    }
    const created = await fetch(influxURL + "/query", { method: "POST", body: new URLSearchParams({ q: 'CREATE DATABASE "iocd"' }) });
    assert.equal(created.status, 200, "creating the InfluxDB database");

    const httpPort = await freePort();
    mqttPort = await freePort();
    base = `http://127.0.0.1:${httpPort}`;
    admin = "e2e-admin-" + randomBytes(16).toString("hex");
    const iocd = start("iocd", bin, [
      "serve",
      "-config", cfg,
      "-http_addr", `127.0.0.1:${httpPort}`,
      "-mqtt.embedded_addr", `127.0.0.1:${mqttPort}`,
      "-data_dir", join(tmp, "data"),
      "-admin_token", admin,
      "-unknown_devices", "pending",
      "-devices.seed_file", seed,
      "-fleet.min_stale", "5s",
      "-fleet.check_interval", "500ms",
      "-log.level", "warn",
      "-alerts.rules_file", rules,
      "-influx.url", influxURL,
      "-influx.bucket", "iocd",
      "-influx.flush_interval", "200ms",
    ]);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const exited = await Promise.race([iocd.exit, delay(150).then(() => null)]);
      if (exited) throw new Error(`iocd serve exited (${JSON.stringify(exited)}) before it was ready:\n${readFileSync(iocd.logFile, "utf8")}`);
      try { if ((await fetch(base + "/readyz")).status === 200) break; } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`iocd serve not ready within 60 s:\n${readFileSync(iocd.logFile, "utf8")}`);
    }
    // Heartbeats 10x faster than real firmware, so the charts move
    // within seconds; no dropouts, so what the test sees is decided here.
    start("sim", bin, ["sim", "devices", "-url", `tcp://127.0.0.1:${mqttPort}`, "-per-site", "2", "-speed", "10", "-dropout", "0"]);

    for (const [name, role] of [["lan", "admin"], ["minh", "operator"], ["tuong", "viewer"]]) {
      const password = "pw-" + randomBytes(12).toString("hex");
      const r = await api("POST", "/api/v1/users", { name, role, password });
      assert.equal(r.status, 201, `creating user ${name}: ${JSON.stringify(r.body)}`);
      pw[role === "admin" ? "admin" : role === "operator" ? "op" : "wall"] = password;
    }
    pub = which("mosquitto_pub", ["/usr/sbin"]);
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--font-render-hinting=none"],
    });
  }, { timeout: 300_000 });

  after(async () => {
    await browser?.close();
    for (const p of procs.reverse()) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      p.child.kill("SIGTERM");
      const stopped = await Promise.race([p.exit, delay(30_000, null, { ref: false })]);
      if (!stopped) {
        p.child.kill("SIGKILL");
        await p.exit;
        assert.fail(`${p.name} did not stop within 30 s of SIGTERM`);
      }
      if (p.name === "iocd") assert.equal(stopped.code, 0, `iocd serve exit after SIGTERM: ${JSON.stringify(stopped)}:\n${readFileSync(p.logFile, "utf8")}`);
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function publish(topic, payload) {
    await promisify(execFile)(pub, ["-h", "127.0.0.1", "-p", String(mqttPort), "-q", "1", "-t", topic, "-m", JSON.stringify(payload)]);
  }

  // login opens a fresh browser context (no cookies), logs in through
  // the login page and returns the page, on the wall.
  async function login(user, password, { viewport = { width: 1920, height: 1080 }, remember = false, next = "" } = {}) {
    const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    const page = await context.newPage();
    page.errors = [];
    page.on("pageerror", e => page.errors.push(String(e)));
    page.on("console", m => { if (m.type() === "error") page.errors.push(m.text()); });
    await page.goto(base + "/" + next);
    await page.waitForURL(/\/login/);
    await page.fill("#user", user);
    await page.fill("#password", password);
    if (remember) await page.check("#remember");
    await page.click("#login-submit");
    return page;
  }

  const text = (page, sel) => page.locator(sel).textContent();
  const num = async (page, sel) => Number((await text(page, sel)).replace(/\D/g, "") || "NaN");

  test("a wrong password is refused on the login page", async () => {
    const page = await login("minh", "not-the-password");
    await eventually("refusal shown", () => text(page, "#login-error"), s => /Sai tên đăng nhập hoặc mật khẩu/.test(s));
    assert.match(page.url(), /\/login/, "still on the login page");
    await page.screenshot({ path: join(shots, "login-1920x1080.png") });
    const cookies = await page.context().cookies();
    assert.ok(!cookies.some(c => c.name === "iocd_session"), "no session cookie after a refused login");
    await page.context().close();
  });

  test("operator: logs in, the wall fills with live data, acknowledges an alert, switches language, logs out", async () => {
    const page = await login("minh", pw.op);
    await page.waitForURL(base + "/");
    page.errors.length = 0; // the 401 that sent the browser to the login page
    await eventually("feed live", () => page.locator("#conn").getAttribute("data-state"), s => s === "live");
    assert.equal(await text(page, "#who"), "minh · operator");

    // The header says whether the telemetry path keeps up.
    await eventually("ingest lag badge", () => text(page, "#lag"), s => s === "Dữ liệu kịp thời");
    // Tiles: the simulated fleet comes online; readings arrive.
    await eventually("devices online tile > 0", () => num(page, "#n-online"), n => n > 0);
    await eventually("readings per second > 0", () => text(page, "#n-rate"), s => parseFloat(s.replace(",", ".")) > 0);
    await eventually("four sites in the site tile", () => page.locator("#sites tr:not(.head)").count(), n => n === 4);
    // Map: a marker per positioned device, coloured by health.
    const devices = (await api("GET", "/api/v1/devices")).body.devices.filter(d => d.lat || d.lon).length;
    await eventually(`a map marker for each of the ${devices} devices`, () => page.locator("path.leaflet-interactive").count(), n => n === devices);
    await eventually("online markers", () => page.locator('path[data-health="online"]').count(), n => n > 0);
    // Charts: the configured four, and one whose last point moves on.
    assert.equal(await page.locator(".chart").count(), 4);
    const chart = page.locator('.chart[data-site="tan-an"][data-field="level_m"]');
    await eventually("chart drawn", () => chart.locator("canvas").count(), n => n === 1);
    const first = await eventually("chart has points", () => chart.getAttribute("data-last-ts"), s => !!s);
    await eventually("chart moves", () => chart.getAttribute("data-last-ts"), s => Number(s) > Number(first));

    // The alert list: the pm25 rule fires for Tân An's air stations.
    // Picked by its text, not its place: on a host whose clock is not
    // synchronised (this one), every camera's not-evidential alert fires a
    // minute after start and, as major and newer, sorts above it.
    const row = page.locator('#alerts li[data-state="firing"]', { hasText: "PM2.5" }).first();
    await row.waitFor({ timeout: SEE_WITHIN });
    const id = await row.getAttribute("data-id");
    assert.match(await row.textContent(), /PM2\.5 tại Trạm quan trắc không khí Tân An 0\d vượt ngưỡng/);
    await row.locator("button.ack").click();
    await eventually("alert acknowledged on the wall", () => page.locator(`#alerts li[data-id="${id}"]`).getAttribute("data-state"), s => s === "acknowledged");
    const stored = await api("GET", `/api/v1/alerts/${id}`);
    assert.equal(stored.body.alert.state, "acknowledged");
    assert.match(stored.body.alert.acked_by, /^(user:)?minh$/);

    // A cookie-authenticated change without the CSRF token is refused.
    const other = await eventually("another firing alert", () => page.locator('#alerts li[data-state="firing"]').first().getAttribute("data-id"), s => !!s);
    const noCSRF = await page.evaluate(async id => {
      const r = await fetch(`/api/v1/alerts/${id}/ack`, { method: "POST", credentials: "same-origin" });
      return { status: r.status, body: await r.json() };
    }, other);
    assert.equal(noCSRF.status, 403, `POST without X-CSRF-Token: ${JSON.stringify(noCSRF)}`);
    assert.equal(noCSRF.body.error.code, "csrf");
    assert.equal((await api("GET", `/api/v1/alerts/${other}`)).body.alert.state, "firing", "the refused ack changed nothing");

    // Violations reach the ticker and the day's tile, without the plate
    // for an operator.
    const events = [["tan-an-cam-01", "tan-an", "red_light"], ["ben-luc-cam-02", "ben-luc", "speeding"], ["duc-hoa-cam-01", "duc-hoa", "red_light"]];
    for (const [i, [cam, site, type]] of events.entries()) {
      await publish(`ioc/${site}/${cam}/event`, { event_id: `e2e-${i}`, type, ts: Date.now(), plate: `51F${12345 + i}`, plate_confidence: 0.93 });
    }
    await eventually("three violations in the ticker", () => page.locator("#violations li[data-id]").count(), n => n === 3);
    await eventually("violations today tile", () => num(page, "#n-violations"), n => n === 3);
    const ticker = await page.locator("#violations").textContent();
    assert.ok(!/51F|1234[5-7]/.test(ticker), `an operator must not see plates: ${ticker}`);
    assert.match(ticker, /Vượt đèn đỏ · tan-an-cam-01/);

    // English and back, remembered across a reload.
    assert.equal(await text(page, "#kpi-devices h2"), "Thiết bị");
    await page.click("#lang");
    assert.equal(await text(page, "#kpi-devices h2"), "Devices");
    assert.equal(await text(page, "#conn"), "Live");
    await eventually("alert in English", () => page.locator("#alerts li .msg", { hasText: "PM2.5" }).first().textContent(), s => /PM2\.5 at/.test(s));
    await page.screenshot({ path: join(shots, "wall-en-1920x1080.png") });
    await page.reload();
    await eventually("English remembered after a reload", () => text(page, "#kpi-devices h2"), s => s === "Devices");
    await page.click("#lang");
    assert.equal(await text(page, "#kpi-devices h2"), "Thiết bị");

    // No scrolling at 1920x1080, and the same at 3840x2160.
    for (const [w, h, name] of [[1920, 1080, "wall-1920x1080.png"], [3840, 2160, "wall-3840x2160.png"]]) {
      await page.setViewportSize({ width: w, height: h });
      await eventually(`chart resized at ${w}x${h}`, () => chart.locator("canvas").evaluate(c => c.width), cw => cw > w / 8);
      const size = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, sh: document.documentElement.scrollHeight }));
      assert.ok(size.sw <= w && size.sh <= h, `the wall scrolls at ${w}x${h}: content ${size.sw}x${size.sh}`);
      await delay(1500); // let a chart tick and the map settle
      await page.screenshot({ path: join(shots, name) });
    }
    // Expected: the refused POST above (403).
    assert.deepEqual(page.errors.filter(e => !/status of 403/.test(e)), [], "errors in the page's console");

    await page.click("#logout");
    await page.waitForURL(/\/login/);
    await page.goto(base + "/");
    await page.waitForURL(/\/login/);
    await page.context().close();
  });

  test("the staleness banner shows when the feed drops", async () => {
    const page = await login("tuong", pw.wall, { remember: true });
    await page.waitForURL(base + "/");
    await eventually("feed live", () => page.locator("#conn").getAttribute("data-state"), s => s === "live");
    const cookie = (await page.context().cookies()).find(c => c.name === "iocd_session");
    assert.ok(cookie && cookie.expires > Date.now() / 1000 + 86400, `a kiosk session cookie outlives the browser: ${JSON.stringify(cookie)}`);
    assert.ok(await page.locator("#stale-banner").isHidden());
    // Cut the network: the feed drops, the banner says so at once.
    await page.context().setOffline(true);
    await page.locator("#stale-banner").waitFor({ state: "visible", timeout: SEE_WITHIN });
    assert.match(await text(page, "#stale-banner"), /MẤT KẾT NỐI DỮ LIỆU/);
    await page.context().setOffline(false);
    await page.locator("#stale-banner").waitFor({ state: "hidden", timeout: 60_000 });
    // Back: the lists are rebuilt, one line per record, as the API has them.
    const open = (await api("GET", "/api/v1/alerts?state=firing,acknowledged,pending")).body.alerts.map(a => a.id).sort();
    await eventually("the alert list as the API has it, each once", async () => (await page.locator("#alerts li[data-id]").evaluateAll(lis => lis.map(li => li.dataset.id))).sort(),
      ids => JSON.stringify(ids) === JSON.stringify(open));
    const vids = await page.locator("#violations li[data-id]").evaluateAll(lis => lis.map(li => li.dataset.id));
    assert.equal(new Set(vids).size, vids.length, `a violation listed twice: ${vids}`);
    assert.equal(vids.length, 3);
    // A viewer has no acknowledge button.
    assert.equal(await page.locator("#alerts button.ack").count(), 0);
    await page.context().close();
  });

  test("admin: the fleet page lists, filters and approves a pending device", async () => {
    await publish("ioc/ben-luc/ben-luc-new-01/telemetry", { temp_c: 30.5 });
    await eventually("pending device registered", async () => (await api("GET", "/api/v1/devices/ben-luc-new-01")).status, s => s === 200);
    const page = await login("lan", pw.admin, { next: "fleet", viewport: { width: 1920, height: 1080 } });
    await page.waitForURL(base + "/fleet");
    page.errors.length = 0; // the 401 that sent the browser to the login page
    const rows = page.locator("#fleet tbody tr");
    await eventually("every device listed", () => rows.count(), n => n >= 40);
    const pending = page.locator('#fleet tbody tr[data-id="ben-luc-new-01"]');
    await pending.waitFor();
    assert.equal(await pending.getAttribute("data-status"), "pending");

    await page.selectOption("#health", "online");
    await eventually("only online devices", () => page.locator("#fleet tbody tr").evaluateAll(trs => trs.map(tr => tr.dataset.health)),
      hs => hs.length > 0 && hs.every(h => h === "online"));
    assert.match(await page.locator("#csv").getAttribute("href"), /health=online/);
    await page.selectOption("#health", "");
    await page.fill("#q", "new-01");
    await eventually("search finds the new device", () => rows.evaluateAll(trs => trs.map(tr => tr.dataset.id)), ids => ids.length === 1 && ids[0] === "ben-luc-new-01");
    await page.fill("#q", "");
    await eventually("all devices again", () => rows.count(), n => n >= 40);
    await page.screenshot({ path: join(shots, "fleet-1920x1080.png") });

    await pending.locator("button.approve").click();
    await eventually("approved device active", () => pending.getAttribute("data-status"), s => s === "active");
    assert.equal((await api("GET", "/api/v1/devices/ben-luc-new-01")).body.device.status, "active");

    // The device page: its facts and history.
    await page.click('#fleet tbody tr[data-id="tan-an-wl-01"] a');
    await page.waitForURL(base + "/fleet/tan-an-wl-01");
    await eventually("device title", () => text(page, "#dev-title"), s => s.includes("Cảm biến mực nước"));
    await eventually("level_m among the fields", () => page.locator("#field option").allTextContents(), fs => fs.includes("level_m"));
    // The history chart from InfluxDB: the last hour in 30 s steps.
    await page.selectOption("#field", "level_m");
    await page.selectOption("#range", "-1h|30s");
    await eventually("history chart with points", () => page.locator("#history").getAttribute("data-values"), n => Number(n) >= 1);
    assert.ok(await page.locator("#history canvas").isVisible(), "no history chart drawn");
    await eventually("health history lists the device coming online", () => page.locator("#health-history li").allTextContents(), ls => ls.some(l => /Trực tuyến/.test(l)));
    await page.screenshot({ path: join(shots, "device-1920x1080.png") });
    assert.deepEqual(page.errors, [], "errors in the page's console");
    await page.context().close();
  });

  // Last: it locks 127.0.0.1 out of logins for a minute.
  test("the tenth rapid wrong password is rate-limited", async () => {
    const page = await login("lan", "wrong-0");
    await eventually("refusal shown", () => text(page, "#login-error"), s => /Sai tên/.test(s));
    // Nine more, as fast as a script guessing passwords would send them.
    const statuses = await page.evaluate(async () => {
      const out = [];
      for (let i = 1; i <= 9; i++) {
        const r = await fetch("/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: "lan", password: "wrong-" + i }) });
        out.push(r.status);
      }
      return out;
    });
    assert.equal(statuses.at(-1), 429, `the tenth attempt: want 429, got statuses ${statuses}`);
    assert.ok(statuses.slice(0, 3).every(s => s === 401), `the first attempts are plain refusals: ${statuses}`);
    // The page says so, and even the right password waits.
    await page.fill("#password", pw.admin);
    await page.click("#login-submit");
    await eventually("rate-limit message", () => text(page, "#login-error"), s => /Quá nhiều lần thử. Thử lại sau \d+ giây/.test(s));
    assert.match(page.url(), /\/login/);
    await page.context().close();
  });
});
