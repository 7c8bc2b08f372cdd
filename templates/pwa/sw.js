/* Touchpoint's service worker: the app shell offline, push alerts, and the
   outbox sent by Background Sync. Served from /sw.js so that it controls /. */
const VERSION = {{ version | tojson }};
const SHELL_CACHE = "touchpoint-shell-" + VERSION;
// Pages of the logged-in user (the capture page), kept for opening offline;
// emptied at logout so no one else's phone-sharing colleague sees them.
const PRIVATE_CACHE = "touchpoint-private";
const PRECACHE = {{ precache | tojson }};
const OFFLINE_URL = "/offline";
const PRIVATE_PAGES = ["/leads/new", "/my-leads"];
// The installed app's start URL: the server sends each role to its home,
// so offline it opens the capture page if this phone has one (a courier's).
const START_PATH = "/";
const CAPTURE_PATH = "/leads/new";
// A photo shared to the app (Web Share Target) waits here for the capture page.
const SHARE_PATH = "/share";
const SHARED_PHOTO = "/shared-photo";

importScripts({{ url_for('static', filename='js/outbox.js') | tojson }});

self.addEventListener("install", (event) => {
  event.waitUntil(precacheShell());
});

self.addEventListener("activate", (event) => {
  event.waitUntil(deleteOldCaches().then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && url.pathname === SHARE_PATH) {
    event.respondWith(receiveShare(request));
    return;
  }
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {
    event.respondWith(networkFirstPage(request, url));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(cacheFirst(request));
  }
  // Everything else (JSON, photos, the manifest) goes to the network only.
});

self.addEventListener("message", (event) => {
  const data = event.data || {};
  // Act on a shown alert as a tap would. (The browser tests use this: headless
  // Chromium has no notification tray to tap.)
  if (data.type === "open-alert") event.waitUntil(openShownAlert(data.tag, data.action));
  if (data.type === "skip-waiting") self.skipWaiting();
  if (data.type === "logout") event.waitUntil(caches.delete(PRIVATE_CACHE));
  if (data.type === "keep-pages") event.waitUntil(keepPrivatePages());
  if (data.type === "flush-outbox") event.waitUntil(self.touchpointOutbox.flush());
});

self.addEventListener("sync", (event) => {
  if (event.tag === "outbox") event.waitUntil(self.touchpointOutbox.flush());
});

self.addEventListener("push", (event) => {
  event.waitUntil(showAlert(event.data));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openAlert(event.notification.data || {}, event.action));
});

self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(resubscribe(event));
});

async function precacheShell() {
  const cache = await caches.open(SHELL_CACHE);
  await cache.addAll(PRECACHE);
}

async function deleteOldCaches() {
  const names = await caches.keys();
  await Promise.all(names
    .filter((name) => name.startsWith("touchpoint-shell-") && name !== SHELL_CACHE)
    .map((name) => caches.delete(name)));
}

async function networkFirstPage(request, url) {
  try {
    const response = await fetch(request);
    // Reached by a redirect too (login, the start URL): keep the page itself.
    const landed = new URL(response.url || request.url).pathname;
    if (PRIVATE_PAGES.includes(landed) && response.ok) {
      const cache = await caches.open(PRIVATE_CACHE);
      await cache.put(landed, await withoutRedirect(response.clone()));
    }
    return response;
  } catch (error) {
    // Only a network error lands here; an HTTP error page is still the answer.
    const cache = await caches.open(PRIVATE_CACHE);
    if (url.pathname === START_PATH && await cache.match(CAPTURE_PATH)) {
      return Response.redirect(CAPTURE_PATH + url.search, 302);
    }
    const cached = PRIVATE_PAGES.includes(url.pathname) && await cache.match(url.pathname);
    return cached || (await caches.match(OFFLINE_URL));
  }
}

async function keepPrivatePages() {
  // The first page after login may have loaded before this worker took over:
  // fetch what is missing, so the app opens offline from the start.
  const cache = await caches.open(PRIVATE_CACHE);
  for (const path of PRIVATE_PAGES) {
    if (await cache.match(path)) continue;
    const response = await fetch(path, {credentials: "same-origin"}).catch(() => null);
    if (response && response.ok && new URL(response.url).pathname === path) {
      await cache.put(path, await withoutRedirect(response));
    }
  }
}

async function withoutRedirect(response) {
  // A response marked "redirected" may not answer a later navigation.
  if (!response.redirected) return response;
  return new Response(await response.blob(),
    {status: response.status, statusText: response.statusText, headers: response.headers});
}

async function receiveShare(request) {
  // Offline or not, the shared image is kept here and the capture page picks
  // it up: the server could not hold it for a form not yet filled in.
  try {
    const data = await request.formData();
    const photo = data.getAll("photo").find((file) => file instanceof File && file.size);
    if (photo) {
      const cache = await caches.open(PRIVATE_CACHE);
      await cache.put(SHARED_PHOTO, new Response(photo,
        {headers: {"Content-Type": photo.type || "application/octet-stream"}}));
    }
  } catch (error) { /* not a form we can read: open an empty lead */ }
  return Response.redirect(CAPTURE_PATH + "?shared=1", 303);
}

async function cacheFirst(request) {
  // Module imports name their file without the version; this worker's shell
  // cache holds exactly this deploy's files, so the path alone is enough.
  const cache = await caches.open(SHELL_CACHE);
  const cached = await cache.match(request) || await cache.match(request, {ignoreSearch: true});
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && new URL(request.url).searchParams.has("v")) {
    await cache.put(request, response.clone());
  }
  return response;
}

function parseAlert(data) {
  try {
    const alert = data ? data.json() : null;
    if (alert && typeof alert.title === "string") return alert;
  } catch (error) { /* an empty or malformed payload still shows an alert */ }
  return null;
}

async function showAlert(data) {
  const alert = parseAlert(data);
  const leadId = alert && Number.isInteger(alert.lead_id) ? alert.lead_id : null;
  const title = alert ? alert.title : "Touchpoint";
  // A push service may hand over the same alert twice (an answer lost on the
  // way back): the copy replaces the first in place, without a second buzz.
  const copy = alert && Number.isInteger(alert.id) ? !(await firstSighting(alert.id)) : false;
  const options = {
    body: alert ? (alert.body || "Open Touchpoint to see the details.")
                : "You have a new alert. Open Touchpoint to see it.",
    tag: leadId ? "lead-" + leadId : "touchpoint",
    icon: {{ url_for('static', filename='icons/icon-192.png') | tojson }},
    badge: {{ url_for('static', filename='icons/icon-192.png') | tojson }},
    data: {kind: alert ? alert.kind : null, leadId: leadId},
    renotify: !copy,
    silent: copy,
  };
  if (alert && alert.kind === "new_lead" && leadId && "actions" in Notification.prototype) {
    options.actions = [{action: "acknowledge", title: "Acknowledge"}];
  }
  await self.registration.showNotification(title, options);
  await updateBadge();
}

// The ids of the alerts this device has shown (the latest SEEN_ALERTS_KEPT).
const SEEN_ALERTS_DB = "touchpoint-seen-alerts";
const SEEN_ALERTS_KEPT = 500;

async function firstSighting(id) {
  try {
    return await rememberAlert(id);
  } catch (error) {
    return true;  // without IndexedDB a copy may buzz twice; never lose the alert
  }
}

function rememberAlert(id) {
  // One readwrite transaction, so two copies arriving at once cannot both be first.
  return new Promise((resolve, reject) => {
    const opening = indexedDB.open(SEEN_ALERTS_DB, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore("seen");
    opening.onerror = () => reject(opening.error);
    opening.onsuccess = () => {
      const db = opening.result;
      const transaction = db.transaction("seen", "readwrite");
      const seen = transaction.objectStore("seen");
      let first = false;
      seen.get(id).onsuccess = (event) => {
        if (event.target.result !== undefined) return;
        first = true;
        seen.put(Date.now(), id);
        seen.count().onsuccess = (counted) => {
          if (counted.target.result > SEEN_ALERTS_KEPT) {
            seen.openCursor().onsuccess = (found) => found.target.result && found.target.result.delete();
          }
        };
      };
      transaction.oncomplete = () => { db.close(); resolve(first); };
      transaction.onabort = () => { db.close(); reject(transaction.error); };
    };
  });
}

async function updateBadge() {
  if (!("setAppBadge" in self.navigator)) return;
  try {
    const response = await fetch("/api/v1/notifications/unread-count", {credentials: "same-origin"});
    if (response.ok) {
      const {unread} = await response.json();
      unread ? await self.navigator.setAppBadge(unread) : await self.navigator.clearAppBadge();
    }
  } catch (error) { /* offline: the badge waits for the next alert */ }
}

async function openAlert(data, action) {
  // The URL is always built here from the lead id, on our own origin.
  const path = data.leadId ? "/leads/" + data.leadId : "/notifications";
  if (action === "acknowledge" && data.leadId) {
    // The same form post as the lead page's button; its page then says who has it.
    await self.touchpointOutbox.post(path + "/acknowledge").catch(() => {});
  }
  const target = new URL(path, self.location.origin).href;
  const windows = await self.clients.matchAll({type: "window", includeUncontrolled: true});
  const open = windows.find((c) => c.url === target) || windows.find((c) => "navigate" in c);
  if (!open) return self.clients.openWindow(target);
  // Focusing needs the tap's user activation; navigating does not.
  await open.focus().catch(() => {});
  return open.url === target ? open : open.navigate(target);
}

async function openShownAlert(tag, action) {
  const [notification] = await self.registration.getNotifications({tag: tag});
  if (!notification) return;
  notification.close();
  await openAlert(notification.data || {}, action);
}

async function resubscribe(event) {
  const key = await fetch("/api/v1/push/key", {credentials: "same-origin"});
  if (!key.ok) return;
  const {public_key} = await key.json();
  const subscription = event.newSubscription || await self.registration.pushManager.subscribe({
    userVisibleOnly: true, applicationServerKey: public_key});
  await self.touchpointOutbox.sendJSON("/api/v1/push/subscriptions", "POST", subscription.toJSON());
}
