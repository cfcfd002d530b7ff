// Real-browser tests of the dashboard page (dashboard/web/index.html) as
// `iocd serve` serves it: Debian's /usr/bin/chromium driven by
// playwright-core (which never downloads a browser), iocd built from this
// checkout and run as a child process with its embedded MQTT broker, and
// MQTT published with the real mosquitto_pub. Each test asserts what a
// person in front of the wall would see.
//
// Run with `make e2e` (part of `make test`) or `cd e2e && node --test`.
// Without Chromium, mosquitto_pub or go the tests are skipped, unless CI=true
// or IOCD_REQUIRE_SERVERS=1, where a missing tool fails them.
//
// IOCD_E2E_SCREENSHOT=<file.png> saves a screenshot of the populated page;
// IOCD_CHROMIUM overrides the browser path (default /usr/bin/chromium).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { setTimeout as delay } from "node:timers/promises";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const chromiumPath = process.env.IOCD_CHROMIUM || "/usr/bin/chromium";
const required = process.env.CI === "true" || process.env.IOCD_REQUIRE_SERVERS === "1";

// How long a person would reasonably wait for the page to show something.
// Fleet summaries come every 2 s; the rest arrives as it happens.
const SEE_WITHIN = 15_000;

function which(name, extra = []) {
  const dirs = [...(process.env.PATH || "").split(delimiter), ...extra];
  for (const d of dirs) {
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch { /* not here */ }
  }
  return null;
}

function missingTools() {
  const missing = [];
  try { accessSync(chromiumPath, constants.X_OK); } catch { missing.push(`chromium (${chromiumPath})`); }
  if (!which("mosquitto_pub", ["/usr/sbin"])) missing.push("mosquitto_pub");
  if (!which("go")) missing.push("go");
  return missing;
}

const missing = missingTools();
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

const sleep = ms => delay(ms);

// eventually polls read() until check(value) holds, and fails naming what
// was wanted and what was last seen.
async function eventually(what, read, check, timeout = SEE_WITHIN) {
  const deadline = Date.now() + timeout;
  let got;
  for (;;) {
    got = await read();
    if (check(got)) return got;
    if (Date.now() > deadline) {
      assert.fail(`${what}: not seen within ${timeout} ms; last saw ${JSON.stringify(got)}`);
    }
    await sleep(100);
  }
}

describe("dashboard page in Chromium", { skip }, () => {
  let tmp, iocd, iocdExit, iocdLog, base, mqttPort, admin, context, pub;
  const pages = [];

  before(async () => {
    const { chromium } = await import("playwright-core");
    tmp = mkdtempSync(join(tmpdir(), "iocd-e2e-"));
    const bin = join(tmp, "iocd");
    await promisify(execFile)("go", ["build", "-o", bin, "./cmd/iocd"], { cwd: repo });

    const httpPort = await freePort();
    mqttPort = await freePort();
    base = `http://127.0.0.1:${httpPort}`;
    admin = "e2e-admin-" + randomBytes(16).toString("hex");
    iocdLog = join(tmp, "iocd.log");
    const log = openSync(iocdLog, "w");
    // The shipped device_offline rule waits 1 min (a reconnect within it
    // raises nothing); the page test shortens it, as an admin may.
    const rules = join(tmp, "rules.yaml");
    writeFileSync(rules, [
      "- id: device_offline",
      "  name: Thiết bị mất kết nối",
      "  kind: offline",
      "  for: 0s",
      "  severity: major",
      "  message:",
      '    vi: "Thiết bị {{device}} tại {{site}} mất kết nối"',
      '    en: "Device {{device}} at {{site}} is offline"',
      "",
    ].join("\n"));
    iocd = spawn(bin, [
      "serve",
      "-http_addr", `127.0.0.1:${httpPort}`,
      "-mqtt.embedded_addr", `127.0.0.1:${mqttPort}`,
      "-data_dir", join(tmp, "data"),
      "-admin_token", admin,
      "-unknown_devices", "register",
      "-fleet.min_stale", "2s",
      "-fleet.check_interval", "200ms",
      "-log.level", "warn",
      "-alerts.rules_file", rules,
    ], { stdio: ["ignore", log, log] });
    iocdExit = new Promise(resolve => iocd.once("exit", (code, signal) => resolve({ code, signal })));

    const deadline = Date.now() + 30_000;
    for (;;) {
      const exited = await Promise.race([iocdExit, sleep(100).then(() => null)]);
      if (exited) throw new Error(`iocd serve exited (${JSON.stringify(exited)}) before it was ready:\n${readFileSync(iocdLog, "utf8")}`);
      try {
        if ((await fetch(base + "/readyz")).status === 200) break;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`iocd serve not ready within 30 s:\n${readFileSync(iocdLog, "utf8")}`);
    }

    pub = which("mosquitto_pub", ["/usr/sbin"]);
    // A persistent context is the only way to hand Chromium our own fresh
    // profile directory. The page keeps its token in sessionStorage, which
    // is per tab, so the tabs of one context do not share it.
    context = await chromium.launchPersistentContext(join(tmp, "chromium-profile"), {
      executablePath: chromiumPath,
      headless: true,
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
      viewport: { width: 1280, height: 800 },
    });
  }, { timeout: 300_000 });

  after(async () => {
    await context?.close();
    if (iocd && iocd.exitCode === null && iocd.signalCode === null) {
      iocd.kill("SIGTERM");
      // An unref'd timer: a pending 30 s timer would otherwise keep node
      // running for 30 s after iocd has stopped.
      const stopped = await Promise.race([iocdExit, delay(30_000, null, { ref: false })]);
      if (!stopped) {
        iocd.kill("SIGKILL");
        await iocdExit;
        assert.fail("iocd serve did not stop within 30 s of SIGTERM");
      }
      assert.equal(stopped.code, 0, `iocd serve exit after SIGTERM: want 0, got ${JSON.stringify(stopped)}:\n${readFileSync(iocdLog, "utf8")}`);
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  async function publish(topic, payload) {
    await promisify(execFile)(pub, ["-h", "127.0.0.1", "-p", String(mqttPort), "-q", "1", "-t", topic, "-m", JSON.stringify(payload)]);
  }

  async function api(method, path, token, body) {
    const res = await fetch(base + path, {
      method,
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  // open loads the page in a new tab with the given URL fragment and
  // counts the websockets it opens.
  async function open(fragment = "") {
    const page = await context.newPage();
    pages.push(page);
    page.sockets = 0;
    page.on("websocket", () => { page.sockets++; });
    await page.goto(base + "/" + fragment);
    return page;
  }

  const badge = page => page.locator("#conn").textContent();
  const items = (page, list) => page.locator(`#${list} li`).allTextContents();
  const fleetRows = page => page.locator("#fleet tbody tr").evaluateAll(
    trs => trs.map(tr => [...tr.cells].map(td => td.textContent)));

  test("with #token: goes live, drops the token from the address bar, shows fleet, health change and alert", async () => {
    const page = await open("#token=" + admin);
    await eventually("badge live", () => badge(page), t => t === "live");
    assert.equal(page.url(), base + "/", "the token must be removed from the address bar");
    assert.ok(!(await page.locator("#login").isVisible()), "login form shown while connected");
    // The wall says how far behind the telemetry path is (nothing waits here).
    await eventually("ingest lag badge", () => page.locator("#lag").textContent(),
      t => /dữ liệu kịp thời · \d+ chưa xác nhận/.test(t));

    await publish("ioc/tan-an/wl-01/telemetry", { level_m: 1.2 });
    // columns: site, kind, online, stale, offline, unknown
    await eventually("fleet row tan-an/sensor with 1 online", () => fleetRows(page),
      rows => rows.some(r => JSON.stringify(r) === JSON.stringify(["tan-an", "sensor", "1", "0", "0", "0"])));

    await publish("ioc/tan-an/wl-01/status", { state: "offline" });
    await eventually("event: wl-01 went offline", () => items(page, "events"),
      lis => lis.some(t => /wl-01 \(tan-an\) \S+ → offline/.test(t)));
    await eventually("firing device_offline alert for wl-01", () => items(page, "notices"),
      lis => lis.some(t => t.includes("firing") && t.includes("Thiết bị wl-01 tại tan-an mất kết nối")));
    await eventually("fleet row tan-an/sensor with 1 offline", () => fleetRows(page),
      rows => rows.some(r => JSON.stringify(r) === JSON.stringify(["tan-an", "sensor", "0", "0", "1", "0"])));
    await eventually("firing alerts panel lists wl-01 offline", () => items(page, "alerts"),
      lis => lis.length === 1 && lis[0].includes("Thiết bị wl-01 tại tan-an mất kết nối"));

    // A wall screen that reloads must show what is firing now, once.
    await page.reload();
    await eventually("badge live after reload", () => badge(page), t => t === "live");
    await eventually("after reload, the firing alert is listed once", () => items(page, "alerts"),
      lis => lis.length === 1 && lis[0].includes("Thiết bị wl-01 tại tan-an mất kết nối"));

    // Back online: the alert resolves and leaves the panel.
    await publish("ioc/tan-an/wl-01/status", { state: "online" });
    await eventually("firing alerts panel empty once wl-01 is back", () => items(page, "alerts"),
      lis => lis.length === 0);
  });

  test("without a token: login form, disconnected; typing the token connects", async () => {
    const page = await open();
    await page.locator("#login").waitFor({ state: "visible" });
    assert.equal(await badge(page), "disconnected");
    assert.equal(page.sockets, 0, "no websocket should be tried without a token");
    await page.locator("#token").fill(admin);
    await page.locator("#login button").click();
    await eventually("badge live after login", () => badge(page), t => t === "live");
    assert.ok(!(await page.locator("#login").isVisible()), "login form still shown after connecting");
  });

  test("with a wrong token: refused once, login form says so, no reconnect loop; the right token then connects", async () => {
    const page = await open("#token=wrong-token-" + randomBytes(8).toString("hex"));
    await page.locator("#login").waitFor({ state: "visible", timeout: SEE_WITHIN });
    assert.match(await page.locator("#login").textContent(), /token refused/);
    assert.equal(await badge(page), "disconnected");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("iocd-token")), null, "refused token kept in sessionStorage");
    // The page retried after 1 s, 2 s, ... before; a refused token must
    // not be retried at all. 3 s covers the first two retries.
    await sleep(3000);
    assert.equal(page.sockets, 1, "websocket attempts with a refused token");

    // A token a browser cannot even offer as a subprotocol (a space) is
    // refused the same way instead of breaking the page.
    await page.locator("#token").fill("not a token");
    await page.locator("#login button").click();
    await page.locator("#login").waitFor({ state: "visible", timeout: SEE_WITHIN });
    assert.match(await page.locator("#login").textContent(), /token refused/);

    await page.locator("#token").fill(admin);
    await page.locator("#login button").click();
    await eventually("badge live after the right token", () => badge(page), t => t === "live");
    assert.ok(!(await page.locator("#login").isVisible()), "login form still shown after connecting");
  });

  test("violation: a viewer sees no plate, an admin sees it", async () => {
    const created = await api("POST", "/api/v1/tokens", admin, { name: "e2e-viewer", role: "viewer" });
    assert.equal(created.status, 201, `creating a viewer token: ${JSON.stringify(created.body)}`);
    const viewer = created.body.token;
    const cam = await api("POST", "/api/v1/devices", admin, { id: "cam-01", site: "tan-an", kind: "camera", name: "Ngã tư Tân An" });
    assert.equal(cam.status, 201, `registering cam-01: ${JSON.stringify(cam.body)}`);

    const adminPage = await open("#token=" + admin);
    const viewerPage = await open("#token=" + viewer);
    for (const [who, page] of [["admin", adminPage], ["viewer", viewerPage]]) {
      await eventually(`${who} badge live`, () => badge(page), t => t === "live");
    }

    await publish("ioc/tan-an/cam-01/event", { event_id: "e2e-1", type: "red_light", ts: Date.now(), plate: "51f 12345", plate_confidence: 0.93 });
    const shown = async page => (await items(page, "violations")).filter(t => t.includes("cam-01"));
    const adminSees = await eventually("admin: violation on cam-01", () => shown(adminPage), lis => lis.length > 0);
    const viewerSees = await eventually("viewer: violation on cam-01", () => shown(viewerPage), lis => lis.length > 0);
    assert.ok(adminSees.every(t => t.includes("51F-123.45")), `admin must see the plate 51F-123.45; saw ${JSON.stringify(adminSees)}`);
    assert.ok(viewerSees.every(t => !/51F|123\.?45/i.test(t)), `viewer must not see the plate; saw ${JSON.stringify(viewerSees)}`);
    assert.ok(viewerSees.every(t => t.includes("red_light")), `viewer should still see the violation type; saw ${JSON.stringify(viewerSees)}`);

    if (process.env.IOCD_E2E_SCREENSHOT) {
      // The first tab has seen everything so far; let a fleet summary
      // with the camera arrive first.
      await sleep(2500);
      await pages[0].screenshot({ path: process.env.IOCD_E2E_SCREENSHOT, fullPage: true });
    }
  });
});
