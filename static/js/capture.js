/* The New lead form, enhanced: the lead is checked on the phone with the
   server's own rules (rendered into the page as #capture-rules), then goes
   through the outbox, so with no signal it waits on the phone and is sent
   exactly once when the signal returns. Photos are scaled down here first;
   location is asked for only on a tap. A lead the server refused comes back
   into this form (?fix=<client_uuid>), a photo shared to the app arrives
   here (?shared=1). Without JavaScript the form still posts as a plain page. */
const outbox = window.touchpointOutbox;
const MAX_SIDE = 1600;
const JPEG_QUALITY = 0.8;
// The server keeps when the courier tapped Send (app/capture.py, CaptureTimeField).
const SEND_CAPTURED_AT = true;
const SHARED_PHOTO = "/shared-photo";  // where the service worker keeps a shared image
const TEXT_FIELDS = ["business_name", "category", "competitor", "temperature", "contact_name",
                     "contact_phone", "contact_email", "address", "postcode", "note"];

export function enhanceCapture(form, userId, ui) {
  const rules = JSON.parse(document.getElementById("capture-rules").textContent);
  form.elements.client_uuid.value = newUuid();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form, rules, userId, ui);
  });
  keepEnterFromSending(form);
  keepTheFormOnScreenWithTheKeyboard(form);
  enhancePhoto(form);
  enhanceLocation(form);
  const params = new URLSearchParams(window.location.search);
  // A shared photo is looked for on every open, not only at ?shared=1: a
  // share that had to pass through the login page lands here without it.
  if (params.has("fix")) reopenRefused(form, params.get("fix"));
  else pickUpSharedPhoto(form);
}

async function submit(form, rules, userId, ui) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  clearErrors(form);
  try {
    const values = valuesOf(form);
    const errors = check(values, rules);
    if (Object.keys(errors).length) {
      showErrors(form, errors);
      return;
    }
    const lead = leadFrom(values);
    // A refused lead being fixed keeps the time the courier first saw it.
    if (SEND_CAPTURED_AT) lead.captured_at = form.dataset.capturedAt || new Date().toISOString();
    const file = form.elements.photo.files[0];
    const photo = file ? await downscale(file) : null;
    form.dataset.sending = lead.client_uuid;
    await outbox.add({client_uuid: lead.client_uuid, userId: userId, lead: lead, photo: photo});
    // Saved as waiting first, so a crash here loses nothing.
    if (form.dataset.fixing) await outbox.dismiss(form.dataset.fixing);
    delete form.dataset.fixing;
    delete form.dataset.capturedAt;
    let results = await outbox.flush();
    // A flush already under way when this lead was added did not see it.
    if (!outcome(results, lead.client_uuid) && !results.offline) results = await outbox.flush();
    const sent = results.sent.find((s) => s.client_uuid === lead.client_uuid);
    if (sent) {
      window.location.assign("/leads/" + sent.leadId + "/sent");
      return;
    }
    const refused = (await outbox.refused()).find((r) => r.client_uuid === lead.client_uuid);
    if (refused) {
      // Still in the form: the courier fixes it here, no need to list it.
      await outbox.dismiss(lead.client_uuid);
      ui.showRefused();
      showRefusal(form, refused.reason);
      return;
    }
    form.reset();
    form.dispatchEvent(new Event("change"));
    form.elements.client_uuid.value = newUuid();
    window.scrollTo({top: 0});  // ready for the next lead, with the waiting count in view
    ui.showWaiting(results, true);
    requestBackgroundSync();
  } finally {
    button.disabled = false;
    delete form.dataset.sending;
  }
}

function outcome(results, uuid) {
  return results.sent.some((s) => s.client_uuid === uuid) || (results.refusedIds || []).includes(uuid);
}

function valuesOf(form) {
  const data = new FormData(form);
  const values = {client_uuid: form.elements.client_uuid.value};
  for (const name of TEXT_FIELDS.concat(["lat", "lng"])) {
    values[name] = data.has(name) ? String(data.get(name)).trim() : "";
  }
  if (values.category !== "competitor") values.competitor = "";  // the server drops it too
  values.expects_call = data.has("expects_call");
  return values;
}

/** The server's messages for each field that breaks its rules (app/capture.py, client_rules). */
export function check(values, rules) {
  const errors = {};
  for (const [name, rule] of Object.entries(rules)) {
    const value = values[name] || "";
    const messages = [];
    if (value === "") {
      if (rule.required) messages.push(rule.required);
    } else {
      if (rule.max && [...value].length > rule.max[0]) messages.push(rule.max[1]);
      if (rule.forbid && new RegExp(rule.forbid[0]).test(value)) messages.push(rule.forbid[1]);
      if (rule.pattern && !new RegExp(rule.pattern[0]).test(value)) messages.push(rule.pattern[1]);
      if (rule.number) {
        const number = Number(value);
        if (!Number.isFinite(number)) messages.push(rule.number);
        else if (rule.range && (number < rule.range[0] || number > rule.range[1])) messages.push(rule.range[2]);
      }
    }
    if (messages.length) errors[name] = messages;
  }
  for (const [name, rule] of Object.entries(rules)) {
    const other = rule.pair && rule.pair[0];
    if (other && !errors[name] && !errors[other] && !values[name] !== !values[other]) {
      errors[name] = [rule.pair[1]];
    }
  }
  return errors;
}

function leadFrom(values) {
  const lead = {client_uuid: values.client_uuid, expects_call: values.expects_call};
  for (const name of TEXT_FIELDS) lead[name] = values[name];
  for (const name of ["lat", "lng"]) lead[name] = values[name] === "" ? null : Number(values[name]);
  return lead;
}

function fill(form, lead) {
  for (const name of TEXT_FIELDS) {
    const control = form.elements[name];
    if (!control || lead[name] == null) continue;
    if (control instanceof RadioNodeList) {
      for (const radio of control) radio.checked = radio.value === lead[name];
    } else {
      control.value = lead[name];
    }
  }
  form.elements.expects_call.checked = !!lead.expects_call;
  for (const name of ["lat", "lng"]) form.elements[name].value = lead[name] == null ? "" : lead[name];
  form.dispatchEvent(new Event("change"));
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

function keepEnterFromSending(form) {
  // The phone's Enter/Next key on the name would send a half-filled lead:
  // it moves on to the category instead.
  form.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.key !== "Enter" || target.tagName !== "INPUT" || ["radio", "checkbox", "file"].includes(target.type)) return;
    event.preventDefault();
    if (target.name === "business_name") {
      const category = form.elements.category;
      (Array.from(category).find((radio) => radio.checked) || category[0]).focus();
    }
  });
}

function keepTheFormOnScreenWithTheKeyboard(form) {
  // With the keyboard up, a small phone cannot show the header, the name, the
  // categories and Send at once: the form's top goes to the screen's top (the
  // header is one tap away above), so the courier need not scroll for them.
  const name = form.elements.business_name;
  const categories = form.querySelector(".chips");
  const bar = form.querySelector(".send-bar");
  const fit = () => {
    if (document.activeElement !== name) return;
    if (categories.getBoundingClientRect().bottom > bar.getBoundingClientRect().top) {
      form.scrollIntoView({block: "start"});
    }
  };
  window.addEventListener("resize", fit);
  name.addEventListener("focus", fit);
  fit();
}

function enhancePhoto(form) {
  const input = form.elements.photo;
  const box = input.closest(".photo-field");
  const chosen = box.querySelector("[data-photo-chosen]");
  const thumbnail = box.querySelector("[data-photo-thumbnail]");
  box.classList.add("take-photo");
  box.querySelector("label").textContent = "Take photo";
  let url = null;
  const update = () => {
    if (url) URL.revokeObjectURL(url);
    const file = input.files[0];
    url = file ? URL.createObjectURL(file) : null;
    chosen.hidden = !file;
    box.querySelector("label").textContent = file ? "Take another photo" : "Take photo";
    if (url) thumbnail.src = url;
    else thumbnail.removeAttribute("src");
  };
  input.addEventListener("change", update);
  form.addEventListener("reset", () => setTimeout(update));
  box.querySelector("[data-photo-remove]").addEventListener("click", () => {
    input.value = "";
    update();
    box.querySelector("label").focus();
  });
}

function attachPhoto(form, blob) {
  const transfer = new DataTransfer();
  transfer.items.add(new File([blob], blob.name || "photo.jpg", {type: blob.type || "image/jpeg"}));
  const input = form.elements.photo;
  input.files = transfer.files;
  input.dispatchEvent(new Event("change", {bubbles: true}));
  input.closest("details").open = true;
}

function enhanceLocation(form) {
  const button = form.querySelector("[data-add-location]");
  const raw = form.querySelector("[data-raw-location]");
  if (!("geolocation" in navigator)) return;
  button.hidden = false;
  // Raw coordinates are for a page without JavaScript; keep them if they need fixing.
  if (!raw.querySelector(".has-error") && !form.elements.lat.value) raw.hidden = true;
  button.addEventListener("click", () => addLocation(form, button));
}

function addLocation(form, button) {
  const note = form.querySelector("[data-location-note]");
  button.disabled = true;
  note.textContent = "Finding you…";
  navigator.geolocation.getCurrentPosition((position) => {
    form.elements.lat.value = position.coords.latitude.toFixed(6);
    form.elements.lng.value = position.coords.longitude.toFixed(6);
    note.textContent = "Location added (±" + Math.round(position.coords.accuracy) + " m).";
    button.textContent = "Update my location";
    button.disabled = false;
  }, () => {
    note.textContent = "Location not shared — that's fine, the lead works without it.";
    button.disabled = false;
  }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
}

async function reopenRefused(form, uuid) {
  const entry = (await outbox.refused()).find((r) => r.client_uuid === uuid);
  if (!entry) return;
  fill(form, entry.lead);
  // A refused lead was never stored, so its client_uuid is still free: keeping
  // it means a resend whose answer is lost is still deduplicated. Only an id
  // the server says is taken gets a new one.
  form.elements.client_uuid.value = entry.reason.code === "client_uuid_taken" ? newUuid() : uuid;
  form.dataset.fixing = uuid;
  if (entry.lead.captured_at) form.dataset.capturedAt = entry.lead.captured_at;
  if (entry.photo) attachPhoto(form, entry.photo);
  showRefusal(form, entry.reason);
}

async function pickUpSharedPhoto(form) {
  if (!("caches" in window)) return;
  const cache = await caches.open("touchpoint-private");
  const shared = await cache.match(SHARED_PHOTO);
  if (!shared) return;
  attachPhoto(form, await shared.blob());
  await cache.delete(SHARED_PHOTO);
}

function clearErrors(form) {
  form.querySelectorAll("[data-js-error], .error[id$='-error']").forEach((element) => element.remove());
  form.querySelectorAll(".has-error").forEach((element) => element.classList.remove("has-error"));
  form.querySelectorAll("[aria-invalid]").forEach((element) => element.removeAttribute("aria-invalid"));
  form.querySelectorAll("[aria-describedby]").forEach((element) => {
    const kept = element.getAttribute("aria-describedby").split(" ").filter((id) => !id.endsWith("-error"));
    if (kept.length) element.setAttribute("aria-describedby", kept.join(" "));
    else element.removeAttribute("aria-describedby");
  });
}

/** Each field's messages next to it, as the page without JavaScript shows them; focus on the first. */
function showErrors(form, errors) {
  const marked = Object.entries(errors).map(([name, messages]) => markField(form, name, messages));
  const first = Array.from(form.elements).find((element) => marked.includes(element));
  if (first) first.focus();
  return marked.filter(Boolean).length;
}

function markField(form, name, messages) {
  const control = form.elements[name];
  if (!control) return null;
  const inputs = control instanceof RadioNodeList ? Array.from(control) : [control];
  const box = inputs[0].closest(".chips, .field");
  const error = document.createElement("p");
  error.className = "error";
  error.id = name + "-error";
  error.dataset.jsError = "";
  error.textContent = messages.join(" ");
  box.classList.add("has-error");
  if (control instanceof RadioNodeList) {
    box.querySelector("legend").after(error);
    box.setAttribute("aria-describedby", error.id);
  } else {
    control.after(error);
  }
  for (const input of inputs) {
    input.setAttribute("aria-invalid", "true");
    const described = (input.getAttribute("aria-describedby") || "") + " " + error.id;
    input.setAttribute("aria-describedby", described.trim());
  }
  for (let hidden = box; (hidden = hidden.closest("[hidden]")); ) hidden.hidden = false;
  const details = box.closest("details");
  if (details) details.open = true;
  return inputs[0];
}

/** The server's refusal: its messages at their fields, anything else said once above. */
function showRefusal(form, reason) {
  const atFields = Object.fromEntries(Object.entries(reason.fields || {})
    .filter(([name]) => form.elements[name] && name !== "client_uuid"));
  const others = Object.keys(reason.fields || {}).length > Object.keys(atFields).length;
  const note = document.createElement("p");
  note.className = "error alert";
  note.setAttribute("role", "alert");
  note.dataset.jsError = "";
  note.textContent = "The server could not take this lead" +
    (Object.keys(atFields).length ? ": fix the marked fields and send it again." : ". " + reason.message) +
    (others ? " " + reason.message : "");
  form.prepend(note);
  showErrors(form, atFields);
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
