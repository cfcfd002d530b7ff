// The review desk's statistics for the unit's commander (admin): per
// reviewer, cases decided, accept rate and median time per case, in
// total and by day (GET /api/v1/review/stats).
import { api, el, fmtNum, t } from "./common.js";

const byId = id => document.getElementById(id);

// duration writes seconds as "1 phút 05 giây" / "1 min 05 s".
export function duration(s) {
  if (!Number.isFinite(s) || s <= 0) return "–";
  s = Math.round(s);
  const m = Math.floor(s / 60), r = s % 60;
  const vi = document.documentElement.lang === "vi";
  if (m === 0) return vi ? `${r} giây` : `${r} s`;
  return vi ? `${m} phút ${String(r).padStart(2, "0")} giây` : `${m} min ${String(r).padStart(2, "0")} s`;
}

const pct = x => (Number.isFinite(x) ? fmtNum(x * 100, 0) + " %" : "–");

export async function loadStats(range) {
  const p = new URLSearchParams();
  if (range.from) p.set("from", String(range.from));
  if (range.to) p.set("to", String(range.to));
  const err = byId("desk-error");
  try {
    const r = await api("GET", "/api/v1/review/stats" + (p.size ? "?" + p : ""));
    err.hidden = true;
    render(r.reviewers || []);
  } catch (e) {
    err.textContent = t("error", { e: e.message });
    err.hidden = false;
  }
}

function render(reviewers) {
  const rows = [];
  for (const r of reviewers) {
    const who = r.name || String(r.actor || "").replace(/^user:/, "");
    rows.push(el("tr", { class: "total", dataset: { actor: r.actor } },
      el("td", { text: who }), el("td", { text: t("stats.total") }),
      el("td", { class: "n", text: fmtNum(r.decided) }), el("td", { class: "n", text: fmtNum(r.confirmed) }),
      el("td", { class: "n", text: fmtNum(r.rejected) }), el("td", { class: "n", text: pct(r.accept_rate) }),
      el("td", { class: "n", text: duration(r.median_seconds) })));
    for (const d of r.days || []) {
      rows.push(el("tr", { class: "day", dataset: { actor: r.actor, day: d.day } },
        el("td"), el("td", { text: d.day }),
        el("td", { class: "n", text: fmtNum(d.decided) }), el("td", { class: "n", text: fmtNum(d.confirmed) }),
        el("td", { class: "n", text: fmtNum(d.rejected) }), el("td", { class: "n", text: pct(d.accept_rate) }),
        el("td", { class: "n", text: duration(d.median_seconds) })));
    }
  }
  byId("stats-table").tBodies[0].replaceChildren(...rows);
  byId("stats-none").hidden = rows.length > 0;
}
