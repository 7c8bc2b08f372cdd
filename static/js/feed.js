/* The manager's feed, live. Every 15 s while the tab is visible it asks
   /api/v1/feed/changes whether the page it shows has changed (the server
   answers 304 after one small query when nothing has); when it has, it
   fetches the page again and swaps in the new list. Ages and deadlines count
   on between polls. Without this script the page is the same, reloaded by hand. */
const POLL_MS = 15000;

let feed = document.getElementById("feed");
const news = document.getElementById("feed-news");
let skew = 0;
let timer = null;
let stopped = false;

// The same words as app/feed.py's span().
function span(ms) {
  let minutes = Math.floor(ms / 60000);
  if (minutes < 1) return "<1 min";
  if (minutes < 60) return minutes + " min";
  let hours = Math.floor(minutes / 60);
  minutes %= 60;
  if (hours < 24) return hours + " h " + minutes + " min";
  const days = Math.floor(hours / 24);
  hours %= 24;
  return days + " d " + hours + " h";
}

function setSkew() {
  // The server's clock decides what is overdue, not this device's.
  skew = Date.parse(feed.dataset.now) - Date.now();
}

function tick() {
  const now = Date.now() + skew;
  feed.querySelectorAll("[data-since]").forEach((element) => {
    element.textContent = span(now - Date.parse(element.dataset.since)) + " ago";
  });
  feed.querySelectorAll("[data-due]").forEach((element) => {
    const left = Date.parse(element.dataset.due) - now;
    element.textContent = left > 0 ? span(left) + " left" : "overdue by " + span(-left);
    element.classList.toggle("late", left <= 0);
  });
}

async function poll() {
  if (stopped) return;
  let response;
  try {
    response = await fetch(feed.dataset.changes, {
      headers: {"If-None-Match": '"' + feed.dataset.version + '"', "Accept": "application/json"},
      cache: "no-store", credentials: "same-origin"});
  } catch (error) {
    return;  // offline: the next poll tries again
  }
  if (response.status === 304) return;
  if (response.status >= 400 && response.status < 500) {
    stopped = true;  // logged out, or no longer a manager: a reload will say why
    pause();
    return;
  }
  if (!response.ok) return;
  const {version} = await response.json();
  if (version !== feed.dataset.version) await refresh();
}

async function refresh() {
  const response = await fetch(window.location.href, {cache: "no-store", credentials: "same-origin"});
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = page.getElementById("feed");
  if (!fresh) return;
  const shown = new Set([...feed.querySelectorAll("[data-id]")].map((card) => card.dataset.id));
  const added = [...fresh.querySelectorAll("[data-id]")].filter((card) => !shown.has(card.dataset.id));
  added.forEach((card) => card.classList.add("fresh"));
  feed.replaceWith(fresh);
  feed = fresh;
  setSkew();
  news.textContent = added.length === 1 ? "1 new lead."
    : added.length ? added.length + " new leads." : "The feed was updated.";
}

function resume() {
  if (stopped || timer) return;
  timer = setInterval(() => { tick(); poll(); }, POLL_MS);
}

function pause() {
  clearInterval(timer);
  timer = null;
}

if (feed && feed.dataset.changes) {
  setSkew();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      tick();
      poll();
      resume();
    } else {
      pause();
    }
  });
  if (document.visibilityState === "visible") resume();
}
