// Cash night on a phone: every entry goes into a queue in localStorage first, with its own
// idempotency key, and is sent from there. If the connection drops the entry waits and is
// sent when it is back; the server records each key once, so a resend never counts twice.
(function () {
  "use strict";
  const app = document.getElementById("cash-app");
  if (!app) return;
  const form = document.getElementById("cash-form");
  const status = document.getElementById("cash-status");
  const waiting = document.getElementById("cash-waiting");
  const storeKey = app.dataset.queue;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  let sending = false;

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // crypto.randomUUID needs a secure context; a venue's LAN over plain http may not be one.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  const load = () => JSON.parse(localStorage.getItem(storeKey) || "[]");
  const save = (queue) => localStorage.setItem(storeKey, JSON.stringify(queue));

  function say(text, kind) {
    status.hidden = false; status.textContent = text;
    status.className = kind === "error" ? "flash error" : "flash";
  }

  function showQueue() {
    const queue = load();
    waiting.hidden = queue.length === 0;
    waiting.querySelector("ul").replaceChildren(...queue.map((e) => {
      const li = document.createElement("li");
      li.textContent = e.amount + " " + e.currency + " · " + e.counted_by + " / " + e.witness;
      return li;
    }));
  }

  function drop(key) { save(load().filter((e) => e.key !== key)); }

  async function flush() {
    if (sending) return;
    sending = true;
    try {
      for (const entry of load()) {
        let response;
        try {
          response = await fetch(app.dataset.url, {
            method: "POST", credentials: "same-origin", redirect: "manual",
            headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
            body: JSON.stringify(entry) });
        } catch (err) { say(app.dataset.msgQueued); return; }          // offline: keep it
        if (response.ok) { drop(entry.key); say(app.dataset.msgSent); continue; }
        if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
          say(app.dataset.msgSignin, "error"); return;                  // keep it for later
        }
        if (response.status >= 500 || response.status === 429) { say(app.dataset.msgQueued); return; }
        // Refused for its content (4xx): it will never succeed; show why and let it go.
        const body = await response.json().catch(() => ({}));
        drop(entry.key);
        say((body.error || response.statusText) + " (" + entry.amount + " " + entry.currency + ")", "error");
      }
    } finally { sending = false; showQueue(); }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const entry = { key: uuid(), amount: String(data.get("amount")).trim().replace(",", "."),
                    currency: data.get("currency"), kind: data.get("kind"),
                    counted_by: String(data.get("counted_by")).trim(),
                    witness: String(data.get("witness")).trim(), note: String(data.get("note") || "").trim() };
    const queue = load(); queue.push(entry); save(queue);
    localStorage.setItem("twestival.cash.counted_by", entry.counted_by);
    form.amount.value = ""; form.note.value = "";
    showQueue();
    if (!navigator.onLine) say(app.dataset.msgQueued);
    flush();
  });

  form.counted_by.value = localStorage.getItem("twestival.cash.counted_by") || "";
  window.addEventListener("online", flush);
  setInterval(flush, 15000);
  showQueue();
  flush();
})();
