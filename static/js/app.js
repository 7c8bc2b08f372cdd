/* Every page's script: the service worker and its updates, the outbox's
   status and sending, push re-sync, logout clean-up and the app badge.
   Loaded as a module, so it never delays the first paint. */
import {enhanceCapture} from "./capture.js";
import {forgetThisDevice, resync, wireButtons} from "./push.js";

const outbox = window.touchpointOutbox;
const RETRY_MS = 20000;
const userMeta = document.querySelector('meta[name="touchpoint-user"]');
const userId = userMeta ? Number(userMeta.content) : null;

function showWaiting(results, justSaved) {
  const status = document.getElementById("outbox-status");
  if (!status) return;
  const waiting = results.waiting || 0;
  if (waiting === 0 && !results.loggedOut) {
    status.hidden = true;
    return;
  }
  status.hidden = false;
  status.textContent = results.loggedOut
    ? "Log in to send the " + waiting + " lead" + (waiting === 1 ? "" : "s") + " saved on this phone."
    : (justSaved ? "Saved on this phone — " : "") + "will send when you're online (" + waiting + " waiting)";
}

async function showRefused() {
  const box = document.getElementById("outbox-refused");
  if (!box) return;
  const refused = await outbox.refused();
  box.hidden = refused.length === 0;
  const items = refused.map((entry) => {
    const item = document.createElement("li");
    item.textContent = (entry.lead.business_name || "A lead") + ": " + entry.reason.message + " ";
    const fields = Object.entries(entry.reason.fields || {}).map(([k, v]) => k + " — " + v.join(" "));
    if (fields.length) item.textContent += "(" + fields.join("; ") + ") ";
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.textContent = "Dismiss";
    dismiss.addEventListener("click", async () => { await outbox.dismiss(entry.client_uuid); showRefused(); });
    item.append(dismiss);
    return item;
  });
  box.querySelector("ul").replaceChildren(...items);
}

let retry = null;

async function flushOutbox() {
  if (!userId) return;
  clearTimeout(retry);
  const results = await outbox.flush();
  showWaiting(results, false);
  showRefused();
  // A weak signal often comes back without an "online" event: keep trying.
  if (results.waiting && !results.loggedOut) retry = setTimeout(flushOutbox, RETRY_MS);
}

async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  const registration = await navigator.serviceWorker.register("/sw.js", {scope: "/"});
  const offerUpdate = (worker) => {
    const banner = document.getElementById("update-available");
    if (!banner || !navigator.serviceWorker.controller) return;
    banner.hidden = false;
    banner.querySelector("button").addEventListener("click", () => {
      worker.postMessage({type: "skip-waiting"});
    }, {once: true});
  };
  if (registration.waiting) offerUpdate(registration.waiting);
  registration.addEventListener("updatefound", () => {
    const worker = registration.installing;
    worker.addEventListener("statechange", () => {
      if (worker.state === "installed") offerUpdate(worker);
    });
  });
  let reloading = false;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (!reloading && document.getElementById("update-available")?.hidden === false) {
      reloading = true;
      window.location.reload();
    }
  });
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data && event.data.type === "outbox") {
      showWaiting(event.data.results, false);
      showRefused();
    }
  });
}

function wireLogout() {
  document.querySelectorAll('form[action="/logout"]').forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      await forgetThisDevice();
      const registration = await navigator.serviceWorker?.getRegistration();
      registration?.active?.postMessage({type: "logout"});
      if ("caches" in window) await caches.delete("touchpoint-private");
      outbox.forget();
      form.submit();
    });
  });
}

function updateBadge() {
  const bell = document.querySelector("[data-unread]");
  if (!bell || !("setAppBadge" in navigator)) return;
  const unread = Number(bell.dataset.unread) || 0;
  (unread ? navigator.setAppBadge(unread) : navigator.clearAppBadge()).catch(() => {});
}

const form = document.querySelector("form.capture");
if (form && userId && outbox && "indexedDB" in window) enhanceCapture(form, userId, showWaiting);
window.addEventListener("outbox", (event) => { showWaiting(event.detail, false); showRefused(); });
window.addEventListener("online", flushOutbox);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") flushOutbox();
});
wireButtons();
wireLogout();
updateBadge();
flushOutbox();
registerServiceWorker().catch(() => {}).then(() => {
  if (userId) resync().catch(() => {});
});
