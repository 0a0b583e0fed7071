// The night's programme on public pages: what is on now and next on a city's run sheet (from
// the clock, in the city's time), kept current by `run_sheet` pushes and snapshots; and a short
// cheer when a gift is among the night's largest (`largest` on `leaderboard_update`).
// Listens on live.js's connection (root.liveSocket). Text only, never HTML.
(function () {
  "use strict";
  const root = document.querySelector("[data-live-campaign]");
  if (!root) return;
  const slug = root.dataset.liveCampaign;
  const citySlug = root.dataset.citySlug || null;
  const lang = document.documentElement.lang || "en";
  const T = JSON.parse((document.getElementById("night-text") || {}).textContent || "{}");
  const t = (key, values) => (T[key] || key).replace(/\{(\w+)\}/g, (_, k) => (values || {})[k]);
  const reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const q = (el, field) => el.querySelector('[data-field="' + field + '"]');
  let items = JSON.parse((document.getElementById("run-sheet-data") || {}).textContent || "[]");

  // --- run sheet: now and next --------------------------------------------------------------
  // After the last item, it stays "now" this long; then the night is over for the screen.
  const LAST_ITEM_MS = 2 * 3600e3;
  function nowNext(now) {
    let current = null, next = null;
    for (const item of items) {
      if (Date.parse(item.at) <= now) current = item;
      else { next = item; break; }
    }
    if (current && !next && now - Date.parse(current.at) > LAST_ITEM_MS) current = null;
    return { current, next };
  }
  function until(ms) {
    const minutes = Math.max(1, Math.round(ms / 60000));
    const h = Math.floor(minutes / 60), m = minutes % 60;
    return h ? t("in_hours", { h, m }) : t("in_minutes", { m });
  }
  function renderSheet() {
    const now = Date.now(), { current, next } = nowNext(now);
    for (const box of root.querySelectorAll("[data-run-sheet]")) {
      const timeZone = box.dataset.timezone;
      const nowLine = q(box, "rs-now"), nextLine = q(box, "rs-next");
      nowLine.hidden = !current;
      if (current) {
        q(box, "rs-now-title").textContent = current.title;
        q(box, "rs-now-note").textContent = current.note || "";
      }
      nextLine.hidden = !next;
      if (next) {
        const time = q(box, "rs-next-time");
        time.dateTime = next.at;
        time.textContent = new Date(next.at).toLocaleTimeString(lang, { hour: "numeric", minute: "2-digit", timeZone });
        q(box, "rs-next-title").textContent = next.title;
        q(box, "rs-next-in").textContent = until(Date.parse(next.at) - now);
      }
      box.hidden = !current && !next;
    }
    for (const li of root.querySelectorAll(".run-sheet-list [data-item]")) {
      li.classList.toggle("now", !!current && li.dataset.item === String(current.id));
      li.classList.toggle("next", !!next && li.dataset.item === String(next.id));
    }
    root.dataset.runSheetItems = String(items.length);
  }
  function renderList() {
    const list = root.querySelector(".run-sheet-list");
    if (!list) return;
    const timeZone = (root.querySelector("[data-run-sheet]") || {}).dataset.timezone;
    list.replaceChildren(...items.map((item) => {
      const li = document.createElement("li");
      li.dataset.item = String(item.id);
      const time = document.createElement("time");
      time.dateTime = item.at;
      time.textContent = new Date(item.at).toLocaleTimeString(lang, { hour: "numeric", minute: "2-digit", timeZone });
      const title = document.createElement("strong");
      title.textContent = item.title;
      li.append(time, " ", title);
      if (item.note) { const note = document.createElement("span"); note.className = "muted"; note.textContent = item.note; li.append(" ", note); }
      return li;
    }));
  }
  function newSheet(sheet) {
    items = (sheet || []).slice().sort((a, b) => Date.parse(a.at) - Date.parse(b.at) || a.id - b.id);
    renderList();
    renderSheet();
  }

  // --- the night's largest gifts ------------------------------------------------------------
  const formats = new Map();
  function fmt(minor, currency) {
    let f = formats.get(currency);
    if (!f) { f = new Intl.NumberFormat(lang, { style: "currency", currency }); formats.set(currency, f); }
    return f.format(minor / Math.pow(10, f.resolvedOptions().maximumFractionDigits));
  }
  const CHEER_MS = 8000;
  const cheered = new Set();
  let cheerTimer = null, ours = null;
  function cheer(gift) {
    const banner = q(root, "celebrate");
    if (!banner || cheered.has(gift.id)) return;
    if (!banner.hidden && banner.textContent !== ours) {   // a milestone is on: ours comes next
      setTimeout(() => cheer(gift), CHEER_MS + 500);
      return;
    }
    cheered.add(gift.id);
    const amount = fmt(gift.amount_minor, gift.currency);
    ours = gift.donor_name ? t("largest", { amount, name: gift.donor_name })
                           : t("largest_anonymous", { amount });
    banner.textContent = ours;
    banner.hidden = false;
    banner.classList.remove("pop"); void banner.offsetWidth;
    if (!reducedMotion) banner.classList.add("pop");
    clearTimeout(cheerTimer);
    cheerTimer = setTimeout(() => { banner.hidden = true; }, CHEER_MS);
  }

  const socket = root.liveSocket;
  if (socket) {
    socket.on("leaderboard", (snap) => {
      if (snap.campaign === slug && citySlug && snap.city === citySlug && snap.run_sheet) newSheet(snap.run_sheet);
    });
    socket.on("run_sheet", (m) => {
      if (m.campaign === slug && m.city === citySlug) newSheet(m.run_sheet);
    });
    socket.on("leaderboard_update", (u) => {
      if (u.campaign !== slug || !u.largest || !u.largest.length) return;
      if (citySlug && u.city !== citySlug) return;
      const biggest = (u.gifts || []).filter((g) => u.largest.includes(g.id));
      if (biggest.length) cheer(biggest[0]);
    });
  }
  setInterval(renderSheet, 15000);   // now and next move with the clock, not with pushes
  renderSheet();
})();
