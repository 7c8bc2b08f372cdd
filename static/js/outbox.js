/* The outbox: leads typed on this phone wait here (IndexedDB) until they reach
   the server, exactly once. A classic script, shared by the pages and the
   service worker (importScripts), which both call flush(). Every lead carries
   the client_uuid the server deduplicates on, so a send whose answer was lost
   is simply sent again. */
(function (scope) {
  "use strict";
  const DB_NAME = "touchpoint";
  const WAITING = "outbox";
  const REFUSED = "refused";
  let csrf = null;

  function openDatabase() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(WAITING, {keyPath: "client_uuid"});
        request.result.createObjectStore(REFUSED, {keyPath: "client_uuid"});
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function withStore(name, mode, work) {
    const db = await openDatabase();
    try {
      return await new Promise((resolve, reject) => {
        const transaction = db.transaction(name, mode);
        const result = work(transaction.objectStore(name));
        transaction.oncomplete = () => resolve(result && "result" in result ? result.result : result);
        transaction.onerror = () => reject(transaction.error);
        transaction.onabort = () => reject(transaction.error);
      });
    } finally {
      db.close();
    }
  }

  const put = (name, entry) => withStore(name, "readwrite", (store) => store.put(entry));
  const remove = (name, key) => withStore(name, "readwrite", (store) => store.delete(key));
  const list = (name) => withStore(name, "readonly", (store) => store.getAll());

  /** Save a lead ({client_uuid, userId, lead, photo Blob or null}) to send later. */
  function add(entry) {
    return put(WAITING, Object.assign({savedAt: Date.now(), leadId: null}, entry));
  }

  class NetworkTrouble extends Error {}

  async function session(refresh) {
    if (!csrf || refresh) {
      const response = await request("/api/v1/session", {});
      if (response.status === 401) return null;
      csrf = await response.json();
    }
    return csrf;
  }

  async function request(url, options) {
    try {
      return await fetch(url, Object.assign({credentials: "same-origin"}, options));
    } catch (error) {
      throw new NetworkTrouble(String(error));
    }
  }

  /** A state-changing call with the CSRF header; a stale token is renewed once. */
  async function sendJSON(url, method, body) {
    return send(url, method, JSON.stringify(body), "application/json");
  }

  async function send(url, method, body, type) {
    for (const refresh of [false, true]) {
      const current = await session(refresh);
      if (!current) return new Response(null, {status: 401});
      const response = await request(url, {method: method, body: body,
        headers: {"Content-Type": type, "X-CSRFToken": current.csrf_token}});
      if (response.status !== 400 || refresh) return response;
      const error = await response.clone().json().catch(() => ({}));
      if (!(error.error && error.error.code === "csrf_failed")) return response;
    }
  }

  function refusedBecause(response, body) {
    const error = (body && body.error) || {};
    return {status: response.status, code: error.code || "refused",
            message: error.message || "The server refused this lead.", fields: error.fields || {}};
  }

  function transient(status) {
    return status === 408 || status === 429 || status >= 500;
  }

  /** Send one waiting lead; resolves to "sent", "refused", "later" or "logged-out". */
  async function sendOne(entry) {
    if (!entry.leadId) {
      const response = await sendJSON("/api/v1/leads", "POST", entry.lead);
      if (response.status === 401) return "logged-out";
      if (transient(response.status)) return "later";
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        await put(REFUSED, Object.assign({}, entry, {reason: refusedBecause(response, body)}));
        await remove(WAITING, entry.client_uuid);
        return "refused";
      }
      entry.leadId = body.id;
      await put(WAITING, entry);
    }
    if (entry.photo) {
      const response = await send("/api/v1/leads/" + entry.leadId + "/photo", "PUT",
                                  entry.photo, entry.photo.type || "image/jpeg");
      if (response.status === 401) return "logged-out";
      if (transient(response.status)) return "later";
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        await put(REFUSED, Object.assign({}, entry, {reason: refusedBecause(response, body)}));
      }
    }
    await remove(WAITING, entry.client_uuid);
    return "sent";
  }

  async function flushNow() {
    const results = {sent: [], refused: 0, refusedIds: [], waiting: 0, loggedOut: false,
                     offline: false};
    let current;
    try {
      current = await session(false);
    } catch (error) {
      if (!(error instanceof NetworkTrouble)) throw error;
      results.offline = true;
    }
    if (!current) {
      results.loggedOut = current === null;
      results.waiting = (await list(WAITING)).length;
      return results;
    }
    const waiting = (await list(WAITING)).sort((a, b) => a.savedAt - b.savedAt);
    for (const entry of waiting) {
      if (entry.userId !== current.user.id) continue;  // another person's phone session
      let outcome;
      try {
        outcome = await sendOne(entry);
      } catch (error) {
        if (!(error instanceof NetworkTrouble)) throw error;
        outcome = "later";
        results.offline = true;
      }
      if (outcome === "sent") {
        results.sent.push({client_uuid: entry.client_uuid, leadId: entry.leadId,
                           businessName: entry.lead.business_name});
      }
      if (outcome === "refused") {
        results.refused += 1;
        results.refusedIds.push(entry.client_uuid);
      }
      if (outcome === "logged-out") { results.loggedOut = true; break; }
      if (outcome === "later") break;
    }
    results.waiting = (await list(WAITING)).length;
    return results;
  }

  let flushing = null;

  /** Send everything waiting, one sender at a time across pages and the worker. */
  function flush() {
    if (!flushing) {
      const run = () => flushNow();
      const locked = scope.navigator && scope.navigator.locks
        ? scope.navigator.locks.request("touchpoint-outbox", run) : run();
      flushing = locked.then((results) => { announce(results); return results; })
        .finally(() => { flushing = null; });
    }
    return flushing;
  }

  async function announce(results) {
    if (!scope.clients) {  // a page: tell its own listeners
      scope.dispatchEvent(new CustomEvent("outbox", {detail: results}));
      return;
    }
    const windows = await scope.clients.matchAll({type: "window"});
    windows.forEach((client) => client.postMessage({type: "outbox", results: results}));
  }

  scope.touchpointOutbox = {
    add: add,
    flush: flush,
    sendJSON: sendJSON,
    post: (url) => send(url, "POST", "", "application/x-www-form-urlencoded"),
    waiting: () => list(WAITING),
    refused: () => list(REFUSED),
    dismiss: (uuid) => remove(REFUSED, uuid),
    forget: () => { csrf = null; },
  };
})(self);
