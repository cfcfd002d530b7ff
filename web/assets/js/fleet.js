// The fleet page: every device with its health, last seen, firmware and
// latest values, filtered by the API (GET /api/v1/devices?health=&site=
// &kind=&q=), the same filters on the CSV export, and approval of pending
// devices for admins. The list is re-read when the feed says a device
// changed, and every 15 s.
import { api, applyLang, el, Feed, fmtAgo, header, normDevice, onLang, roleAtLeast, session, t } from "./common.js";

const byId = id => document.getElementById(id);
let sess, devices = [], sitesSeen = new Set(), timer = null;

function query() {
  const p = new URLSearchParams();
  for (const k of ["health", "site", "kind", "q"]) {
    const v = byId(k).value.trim();
    if (v) p.set(k, v);
  }
  return p.toString();
}

function syncURL() {
  const q = query();
  history.replaceState(null, "", "/fleet" + (q ? "?" + q : ""));
  byId("csv").href = "/api/v1/devices.csv" + (q ? "?" + q : "");
}

function fmtValues(vals) {
  if (!vals) return "";
  return Object.entries(vals).sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${typeof v === "number" ? Math.round(v * 100) / 100 : v}`).join("  ");
}

function render() {
  const admin = roleAtLeast(sess.role, "admin");
  byId("count").textContent = t("fleet.count", { n: devices.length });
  byId("fleet").tBodies[0].replaceChildren(...devices.map(d => el("tr", { class: d.health, dataset: { id: d.id, health: d.health, status: d.status || "" } },
    el("td", {}, el("span", { class: "dot " + d.health }), " ", t("health." + d.health),
      d.reason ? el("div", { class: "reason", text: d.reason }) : null),
    el("td", {}, el("a", { href: "/fleet/" + encodeURIComponent(d.id), text: d.id }),
      d.status === "pending" ? el("div", { class: "pending", text: t("pending") }) : null),
    el("td", { text: d.name || "" }),
    el("td", { text: d.site || "" }),
    el("td", { text: t("kind." + d.kind) === "kind." + d.kind ? d.kind : t("kind." + d.kind) }),
    el("td", { title: d.last_seen || "", text: d.last_seen ? fmtAgo(d.last_seen) : t("never") }),
    el("td", { text: d.firmware || "" }),
    el("td", { class: "values", text: fmtValues(d.values) }),
    el("td", {}, d.status === "pending" && admin
      ? el("button", { type: "button", class: "approve", onclick: () => approve(d.id), text: t("approve") })
      : null),
  )));
}

async function load() {
  syncURL();
  try {
    const r = await api("GET", "/api/v1/devices" + (query() ? "?" + query() : ""));
    devices = (r.devices || []).map(normDevice).sort((a, b) => String(a.id).localeCompare(String(b.id)));
    byId("fleet-error").hidden = true;
    for (const d of devices) if (d.site && !sitesSeen.has(d.site)) {
      sitesSeen.add(d.site);
      byId("site").append(el("option", { value: d.site, text: d.site }));
    }
    render();
  } catch (e) {
    byId("fleet-error").textContent = t("error", { e: e.message });
    byId("fleet-error").hidden = false;
  }
}

async function approve(id) {
  try {
    await api("POST", `/api/v1/devices/${encodeURIComponent(id)}/approve`, {});
  } catch (e) {
    byId("fleet-error").textContent = t("error", { e: e.message });
    byId("fleet-error").hidden = false;
  }
  load();
}

function soon() {
  clearTimeout(timer);
  timer = setTimeout(load, 300);
}

async function main() {
  applyLang();
  sess = await session();
  header(sess);
  const params = new URLSearchParams(location.search);
  for (const k of ["health", "kind", "q"]) if (params.get(k)) byId(k).value = params.get(k);
  if (params.get("site")) {
    sitesSeen.add(params.get("site"));
    byId("site").append(el("option", { value: params.get("site"), text: params.get("site") }));
    byId("site").value = params.get("site");
  }
  byId("filters").addEventListener("submit", e => { e.preventDefault(); load(); });
  byId("q").addEventListener("input", soon);
  for (const k of ["health", "site", "kind"]) byId(k).addEventListener("change", load);
  onLang(render);
  await load();
  new Feed(["fleet"], { onFrame: f => { if (f.type === "device") soon(); } }).start();
  setInterval(load, 15_000);
}

main().catch(e => console.error(e));
