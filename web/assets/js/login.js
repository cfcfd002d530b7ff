// The login page: POST /login with the user, password and the kiosk
// flag; the server sets the session cookie and the page goes where it was
// sent from (?next=, same-origin paths only).
import { applyLang, t, toggleLang } from "./common.js";

function nextPath() {
  const n = new URLSearchParams(location.search).get("next") || "/";
  // Only a path on this server: never "//host" or "https://...".
  return /^\/(?![/\\])/.test(n) ? n : "/";
}

function show(msg) {
  const e = document.getElementById("login-error");
  e.textContent = msg;
  e.hidden = !msg;
}

async function submit(ev) {
  ev.preventDefault();
  const btn = document.getElementById("login-submit");
  btn.disabled = true;
  show("");
  try {
    const res = await fetch("/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({
        user: document.getElementById("user").value.trim(),
        password: document.getElementById("password").value,
        remember: document.getElementById("remember").checked,
      }),
    });
    if (res.ok) {
      location.replace(nextPath());
      return;
    }
    if (res.status === 429) {
      const s = parseInt(res.headers.get("Retry-After") || "60", 10);
      show(t("login.limited", { s: Number.isFinite(s) ? s : 60 }));
    } else if (res.status === 401 || res.status === 403) {
      show(t("login.refused"));
    } else {
      let msg = `HTTP ${res.status}`;
      try { msg = (await res.json()).error?.message || msg; } catch { /* not JSON */ }
      show(t("login.error", { e: msg }));
    }
    document.getElementById("password").select();
  } catch (e) {
    show(t("login.error", { e: e.message }));
  } finally {
    btn.disabled = false;
  }
}

document.getElementById("login-form").addEventListener("submit", submit);
document.getElementById("lang").addEventListener("click", toggleLang);
applyLang();
