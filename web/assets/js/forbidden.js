// The page a signed-in user without the role gets instead of a gated
// page (the review desk): it says so, and reads nothing but the session
// (for the logout's CSRF token).
import "./review-i18n.js";
import { applyLang, logout, session, toggleLang } from "./common.js";

applyLang();
document.getElementById("lang").addEventListener("click", toggleLang);
document.getElementById("logout").addEventListener("click", logout);
session().catch(e => console.error(e));
