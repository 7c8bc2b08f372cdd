/* Every page's script: the service worker and its updates, the outbox's
   status and sending, push re-sync, logout clean-up and the app badge.
   Loaded as a module, so it never delays the first paint. */
import {enhanceCapture} from "./capture.js";
import {forgetThisDevice, resync, wireButtons} from "./push.js";

const outbox = window.touchpointOutbox;
const RETRY_MS = 20000;
const TOAST_MS = 10000;
const userMeta = document.querySelector('meta[name="touchpoint-user"]');
const userId = userMeta ? Number(userMeta.content) : null;

const toastBox = userId ? makeToast() : null;
let toastTimer = null;

function makeToast() {
  // Present (and empty) from the start, so screen readers hear what it says.
  const box = document.createElement("p");
  box.className = "toast";
  box.setAttribute("role", "status");
  box.addEventListener("click", () => {
    box.textContent = "";
    if (box.onTap) box.onTap();
  });
  document.body.append(box);
  return box;
}

/** A short word near the bottom of the screen, where the thumb is; a tap
    clears it, or does what it offers (onTap). */
function toast(text, onTap) {
  if (!toastBox) return;
  clearTimeout(toastTimer);
  toastBox.textContent = text;
  toastBox.onTap = onTap || null;
  toastTimer = setTimeout(() => { toastBox.textContent = ""; }, TOAST_MS);
}

function plural(count, word) {
  return count + " " + word + (count === 1 ? "" : "s");
}

function showWaiting(results, justSaved) {
  const status = document.getElementById("outbox-status");
  const waiting = results.waiting || 0;
  if (justSaved) {
    toast("Saved on this phone (" + waiting + " waiting). It sends by itself when there's signal.");
  }
  if (!status) return;
  if (waiting === 0 && !results.loggedOut) {
    status.hidden = true;
    return;
  }
  status.hidden = false;
  status.textContent = results.loggedOut
    ? "Log in to send the " + plural(waiting, "lead") + " saved on this phone."
    : (justSaved ? "Saved on this phone — " : "") + "will send when you're online (" + waiting + " waiting)";
}

function showSent(results) {
  const sending = document.querySelector("form.capture")?.dataset.sending;
  const sent = results.sent.filter((s) => s.client_uuid !== sending);
  const refused = (results.refusedIds || []).filter((uuid) => uuid !== sending).length;
  if (!sent.length && !refused) return;
  const parts = [];
  if (sent.length) {
    parts.push((sent.length === 1 ? "Lead sent: " : plural(sent.length, "lead") + " sent: ") +
               sent.map((s) => s.businessName).join(", ") + ".");
  }
  const list = document.getElementById("outbox-refused");
  if (refused) {
    parts.push(plural(refused, "lead") + " could not be sent — tap here to fix " +
               (refused === 1 ? "it." : "them."));
  }
  if (results.waiting) parts.push(results.waiting + " still waiting.");
  toast(parts.join(" "), refused ? () => {
    if (!list) return window.location.assign("/leads/new");
    list.scrollIntoView({block: "start"});
    list.querySelector("a")?.focus();
  } : null);
}

function fieldLabels() {
  const rules = document.getElementById("capture-rules");
  return rules ? JSON.parse(rules.textContent) : {};
}

async function showRefused() {
  const box = document.getElementById("outbox-refused");
  if (!box) return;
  const fixing = new URLSearchParams(window.location.search).get("fix");
  const refused = (await outbox.refused()).filter((entry) => entry.client_uuid !== fixing);
  const rules = fieldLabels();
  box.hidden = refused.length === 0;
  const items = refused.map((entry) => {
    const name = entry.lead.business_name || "A lead with no name";
    const item = document.createElement("li");
    const open = document.createElement("a");
    open.className = "refused-open";
    open.href = "/leads/new?fix=" + encodeURIComponent(entry.client_uuid);
    const title = document.createElement("strong");
    title.textContent = name;
    const why = document.createElement("span");
    // Field labels, never the internal names the API's errors are keyed by.
    const fields = Object.entries(entry.reason.fields || {})
      .map(([key, messages]) => (rules[key] ? rules[key].label + ": " : "") + messages.join(" "));
    why.textContent = fields.length ? fields.join(" ") : entry.reason.message;
    open.append(title, why);
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.textContent = "Delete";
    dismiss.setAttribute("aria-label", "Delete the lead for " + name);
    dismiss.addEventListener("click", async () => {
      if (!window.confirm("Delete the lead for " + name + "? It was never sent, and it will be gone from this phone.")) return;
      await outbox.dismiss(entry.client_uuid);
      showRefused();
    });
    item.append(open, dismiss);
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
      showSent(event.data.results);
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
if (form && userId && outbox && "indexedDB" in window) {
  enhanceCapture(form, userId, {showWaiting: showWaiting, showRefused: showRefused});
}
window.addEventListener("outbox", (event) => {
  showWaiting(event.detail, false);
  showSent(event.detail);
  showRefused();
});
window.addEventListener("online", flushOutbox);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") flushOutbox();
});
wireButtons();
wireLogout();
updateBadge();
flushOutbox();
registerServiceWorker().catch(() => {}).then(async () => {
  if (!userId) return;
  resync().catch(() => {});
  // A courier's pages are kept on the phone so that the app opens offline.
  if (document.querySelector('.bar a[href="/leads/new"]')) {
    const registration = await navigator.serviceWorker?.ready;
    registration?.active?.postMessage({type: "keep-pages"});
  }
});
