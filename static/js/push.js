/* Web push in the browser: the Enable alerts button (the permission prompt
   comes only from that tap), keeping this device's subscription known to the
   server at every start, and removing it at logout. */
const outbox = window.touchpointOutbox;

/** A failure already said in our own words (the server's refusal, a blocked permission). */
class AlertsError extends Error {}

const BLOCKED = "Notifications are blocked for Touchpoint in this browser. To allow them, " +
  "tap the icon left of the address (a padlock or an i), open Permissions or Site settings, set " +
  "Notifications to Allow, then come back here and tap Enable alerts again.";

/** What went wrong, in words a courier can act on; never the browser's own message. */
export function explain(error) {
  if (error instanceof AlertsError) return error.message;
  if (!navigator.onLine || error instanceof TypeError || error?.name === "NetworkError") {
    return "No connection right now. Tap Enable alerts again when you have signal or Wi-Fi.";
  }
  if (error?.name === "NotAllowedError" && Notification.permission !== "granted") return BLOCKED;
  if (error?.name === "NotSupportedError") {
    return "This browser can't get alerts. Use Chrome, Firefox, Edge or Safari; on iPhone, " +
      "add Touchpoint to the Home Screen first and open it from there.";
  }
  // AbortError, TimeoutError, and NotAllowedError with permission given: the browser's
  // push service would not register this device (unreachable, or off in this browser).
  return "This browser couldn't reach its alert service. Check you are online and tap " +
    "Enable alerts again in a minute. If it keeps failing, try another browser on this " +
    "device (a private window can't get alerts), or tell your manager.";
}

export function supported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

async function serverKey() {
  const response = await fetch("/api/v1/push/key", {credentials: "same-origin"});
  if (!response.ok) throw new AlertsError("Alerts are not set up on this server yet. Please tell your manager.");
  const {public_key: key} = await response.json();
  const padded = (key + "===".slice((key.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

// A browser that cannot reach its push service may never answer subscribe();
// registering normally takes a second or two.
const SUBSCRIBE_WAIT_MS = 10000;

async function subscribe(registration) {
  const key = await serverKey();
  let timer;
  const noAnswer = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new DOMException("No answer", "TimeoutError")),
                       SUBSCRIBE_WAIT_MS);
  });
  try {
    return await Promise.race([
      registration.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: key}),
      noAnswer]);
  } finally {
    clearTimeout(timer);
  }
}

async function register(subscription, resync) {
  const url = "/api/v1/push/subscriptions" + (resync ? "?resync=1" : "");
  const response = await outbox.sendJSON(url, "POST", subscription.toJSON());
  if (resync && response.status === 404) {
    await subscription.unsubscribe();  // removed on the Devices page: really off
    return;
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new AlertsError((body.error && body.error.message) ||
                          "Touchpoint couldn't save this device. Try again in a minute.");
  }
}

/** Ask for permission (from a tap), subscribe, and tell the server. */
export async function enableAlerts() {
  const permission = await Notification.requestPermission();
  if (permission === "denied") throw new AlertsError(BLOCKED);
  if (permission !== "granted") {
    throw new AlertsError("Touchpoint needs your permission to alert you. Tap Enable alerts " +
                          "again and choose Allow.");
  }
  const registration = await navigator.serviceWorker.ready;
  const subscription = (await registration.pushManager.getSubscription()) || await subscribe(registration);
  await register(subscription);
}

/** At every start: give the server this device's current keys, unless the
    device was removed on the Devices page meanwhile (then alerts go off here). */
export async function resync() {
  if (!supported() || Notification.permission !== "granted") return;
  const registration = await navigator.serviceWorker.ready;
  const subscription = await registration.pushManager.getSubscription();
  if (subscription) await register(subscription, true);
}

/** At logout: this device stops getting this user's alerts. */
export async function forgetThisDevice() {
  if (!supported()) return;
  const registration = await navigator.serviceWorker.getRegistration();
  const subscription = registration && await registration.pushManager.getSubscription();
  if (!subscription) return;
  await outbox.sendJSON("/api/v1/push/subscriptions", "DELETE", {endpoint: subscription.endpoint})
    .catch(() => {});
  await subscription.unsubscribe().catch(() => {});
}

export function wireButtons() {
  document.querySelectorAll("[data-enable-alerts]").forEach((button) => {
    const status = document.getElementById(button.getAttribute("aria-controls"));
    if (!supported()) {
      if (status) status.textContent = "This browser can't show alerts. On iPhone, add Touchpoint to the Home Screen first.";
      return;
    }
    button.hidden = false;
    button.addEventListener("click", async () => {
      button.disabled = true;
      if (status) {
        status.classList.remove("notice");
        status.textContent = "Turning alerts on…";
      }
      try {
        await enableAlerts();
        if (status) status.textContent = "Alerts are on for this device.";
        window.location.reload();
      } catch (error) {
        if (status) {
          status.textContent = explain(error);
          status.classList.add("notice");
        }
      } finally {
        button.disabled = false;
      }
    });
  });
}
