/* The New lead form, enhanced: every lead goes through the outbox, so with no
   signal it waits on the phone and is sent exactly once when the signal
   returns. Photos are scaled down here first; location is asked for only on
   a tap. Without JavaScript the form still posts as a plain page. */
const outbox = window.touchpointOutbox;
const MAX_SIDE = 1600;
const JPEG_QUALITY = 0.8;

export function enhanceCapture(form, userId, showWaiting) {
  form.elements.client_uuid.value = newUuid();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, userId, showWaiting);
  });
  const locate = form.querySelector("[data-add-location]");
  if (locate && "geolocation" in navigator) {
    locate.hidden = false;
    locate.addEventListener("click", () => addLocation(form, locate));
  }
}

async function submit(form, userId, showWaiting) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  clearErrors(form);
  try {
    const lead = leadFrom(form);
    const file = form.elements.photo && form.elements.photo.files[0];
    const photo = file ? await downscale(file) : null;
    await outbox.add({client_uuid: lead.client_uuid, userId: userId, lead: lead, photo: photo});
    const results = await outbox.flush();
    const sent = results.sent.find((s) => s.client_uuid === lead.client_uuid);
    if (sent) {
      window.location.assign("/leads/" + sent.leadId + "/sent");
      return;
    }
    const refused = (await outbox.refused()).find((r) => r.client_uuid === lead.client_uuid);
    if (refused) {
      await outbox.dismiss(lead.client_uuid);
      showErrors(form, refused.reason);
      return;
    }
    form.reset();
    form.elements.client_uuid.value = newUuid();
    showWaiting(results, true);
    requestBackgroundSync();
  } finally {
    button.disabled = false;
  }
}

function leadFrom(form) {
  const data = new FormData(form);
  const lead = {};
  for (const name of ["client_uuid", "business_name", "category", "competitor", "temperature",
                      "contact_name", "contact_phone", "contact_email", "address", "postcode",
                      "note"]) {
    if (data.has(name)) lead[name] = String(data.get(name));
  }
  lead.expects_call = data.has("expects_call");
  for (const name of ["lat", "lng"]) {
    const text = String(data.get(name) || "").trim();
    lead[name] = text === "" ? null : (Number.isFinite(Number(text)) ? Number(text) : text);
  }
  return lead;
}

/** A photo scaled to at most 1600 px on its long side, as JPEG around 0.8. */
export async function downscale(file) {
  try {
    const bitmap = await createImageBitmap(file, {imageOrientation: "from-image"});
    const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const width = Math.round(bitmap.width * scale);
    const height = Math.round(bitmap.height * scale);
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    canvas.getContext("2d").drawImage(bitmap, 0, 0, width, height);
    bitmap.close();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
    return blob && blob.size < file.size ? blob : file;
  } catch (error) {
    return file;  // not an image we can read: the server will say what is wrong
  }
}

function addLocation(form, button) {
  const note = form.querySelector("[data-location-note]");
  button.disabled = true;
  note.textContent = "Finding you…";
  navigator.geolocation.getCurrentPosition((position) => {
    form.elements.lat.value = position.coords.latitude.toFixed(6);
    form.elements.lng.value = position.coords.longitude.toFixed(6);
    note.textContent = "Location added.";
    button.disabled = false;
  }, () => {
    note.textContent = "Location not shared — that's fine, the lead works without it.";
    button.disabled = false;
  }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
}

function clearErrors(form) {
  form.querySelectorAll("[data-js-error]").forEach((element) => element.remove());
}

function showErrors(form, reason) {
  const summary = document.createElement("p");
  summary.className = "error";
  summary.setAttribute("role", "alert");
  summary.dataset.jsError = "";
  summary.textContent = reason.message + " Everything you typed is still here.";
  form.prepend(summary);
  for (const [name, messages] of Object.entries(reason.fields || {})) {
    const field = form.elements[name];
    const anchor = field && (field.length && !field.tagName ? field[0].closest("fieldset") : field);
    if (!anchor) continue;
    const error = document.createElement("p");
    error.className = "error";
    error.dataset.jsError = "";
    error.textContent = messages.join(" ");
    anchor.after(error);
    const details = anchor.closest("details");
    if (details) details.open = true;
  }
}

async function requestBackgroundSync() {
  const registration = await navigator.serviceWorker?.ready;
  if (registration && "sync" in registration) {
    await registration.sync.register("outbox").catch(() => {});
  }
}

function newUuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
}
