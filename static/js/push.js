/* Web push in the browser: the Enable alerts button (the permission prompt
   comes only from that tap), keeping this device's subscription known to the
   server at every start, and removing it at logout. */
const outbox = window.touchpointOutbox;

export function supported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

async function serverKey() {
  const response = await fetch("/api/v1/push/key", {credentials: "same-origin"});
  if (!response.ok) throw new Error("Alerts are not set up on this server.");
  const {public_key: key} = await response.json();
  const padded = (key + "===".slice((key.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

async function subscribe(registration) {
  return registration.pushManager.subscribe({userVisibleOnly: true,
                                             applicationServerKey: await serverKey()});
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
    throw new Error((body.error && body.error.message) || "The server refused this device.");
  }
}

/** Ask for permission (from a tap), subscribe, and tell the server. */
export async function enableAlerts() {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    throw new Error("Alerts are blocked for Touchpoint. Allow notifications in the browser's site settings.");
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
      try {
        await enableAlerts();
        if (status) status.textContent = "Alerts are on for this device.";
        window.location.reload();
      } catch (error) {
        if (status) status.textContent = error.message;
      } finally {
        button.disabled = false;
      }
    });
  });
}
