// Live board client: one snapshot on `watch`, then `leaderboard_update`s in `seq` order.
// A gap in `seq` means something was missed: ask for a fresh snapshot.
(function () {
  "use strict";
  const root = document.querySelector("[data-live-campaign]");
  if (!root) return;
  const slug = root.dataset.liveCampaign;
  const view = root.dataset.view;
  const citySlug = root.dataset.citySlug;
  const lang = document.documentElement.lang || "en";
  const initial = JSON.parse(document.getElementById("board-data").textContent);

  const state = { seq: initial.seq, currency: initial.currency, total: initial.total_raised_minor,
                  provisional: initial.total_provisional_minor || 0,
                  rows: new Map(initial.cities.map((r) => [r.slug, r])),
                  history: JSON.parse((document.getElementById("history-data") || {}).textContent || "[]") };
  const formats = new Map();

  function fmt(minor, currency) {
    let f = formats.get(currency);
    if (!f) { f = new Intl.NumberFormat(lang, { style: "currency", currency }); formats.set(currency, f); }
    const digits = f.resolvedOptions().maximumFractionDigits;
    return f.format(minor / Math.pow(10, digits));
  }
  const pct = (r, places) => (r.share_bp / 100).toFixed(places) + "%";
  const q = (el, field) => el.querySelector('[data-field="' + field + '"]');
  function setText(el, field, text) { const n = q(el, field); if (n && n.textContent !== text) n.textContent = text; }

  function flash(el) { el.classList.remove("flash-row"); void el.offsetWidth; el.classList.add("flash-row"); }

  function newRow(r) {
    const tr = document.createElement("tr");
    tr.dataset.city = r.slug;
    tr.innerHTML = '<td data-field="rank"></td><td><a></a></td>' +
      '<td class="num"><span data-field="raised"></span> <span class="small provisional" data-field="provisional"></span></td>' +
      '<td class="num" data-field="reporting"></td><td class="num" data-field="target"></td>' +
      '<td class="num" data-field="togo"></td><td class="bar-col"><div class="bar"><div></div></div>' +
      '<span class="small" data-field="share"></span></td><td class="num" data-field="donations"></td>';
    const link = tr.querySelector("a");
    link.href = "/c/" + encodeURIComponent(slug) + "/" + encodeURIComponent(r.slug);
    link.textContent = r.name;
    return tr;
  }

  function renderBoard(changed) {
    setText(root, "total", fmt(state.total, state.currency));
    setText(root, "confirmed-total", fmt(state.total - state.provisional, state.currency));
    setText(root, "provisional-total", fmt(state.provisional, state.currency));
    const body = q(root, "rows");
    const provisionalText = body.dataset.provisionalTemplate || "{amount}";
    const rows = [...state.rows.values()].sort((a, b) => a.rank - b.rank || a.name.localeCompare(b.name));
    for (const r of rows) {
      let tr = body.querySelector('tr[data-city="' + CSS.escape(r.slug) + '"]');
      if (!tr) tr = newRow(r);  // a city approved while the board is open
      setText(tr, "rank", String(r.rank));
      setText(tr, "raised", fmt(r.raised_minor, r.currency));
      setText(tr, "provisional", r.provisional_minor ? provisionalText.replace("{amount}", fmt(r.provisional_minor, r.currency)) : "");
      setText(tr, "reporting", fmt(r.raised_reporting_minor, state.currency));
      setText(tr, "target", fmt(r.target_minor, r.currency));
      setText(tr, "togo", fmt(r.to_go_minor, r.currency));
      setText(tr, "share", pct(r, 1));
      setText(tr, "donations", String(r.donations));
      tr.querySelector(".bar > div").style.width = Math.min(100, r.share_bp / 100) + "%";
      body.appendChild(tr);  // re-append in rank order
      if (changed.has(r.slug)) flash(tr);
    }
    drawChart();
  }

  function renderScreen(changed) {
    setText(root, "total", fmt(state.total, state.currency));
    const list = q(root, "rows");
    const rows = [...state.rows.values()].sort((a, b) => a.rank - b.rank).slice(0, 10);
    list.replaceChildren(...rows.map((r) => {
      const li = document.createElement("li");
      li.dataset.city = r.slug;
      li.innerHTML = '<span class="rank" data-field="rank"></span><span class="name"></span>' +
        '<span class="bar"><span></span></span><span class="pct" data-field="share"></span>' +
        '<span class="amt" data-field="raised"></span>';
      q(li, "rank").textContent = r.rank;
      li.querySelector(".name").textContent = r.name;
      li.querySelector(".bar > span").style.width = Math.min(100, r.share_bp / 100) + "%";
      q(li, "share").textContent = pct(r, 0);
      q(li, "raised").textContent = fmt(r.raised_minor, r.currency);
      if (changed.has(r.slug)) flash(li);
      return li;
    }));
  }

  function renderCity(changed) {
    const r = state.rows.get(citySlug);
    if (!r) return;
    const box = root.querySelector(".city-stats");
    setText(box, "raised", fmt(r.raised_minor, r.currency));
    setText(box, "confirmed", fmt(r.raised_minor - (r.provisional_minor || 0), r.currency));
    setText(box, "provisional", fmt(r.provisional_minor || 0, r.currency));
    setText(box, "target", fmt(r.target_minor, r.currency));
    setText(box, "togo", fmt(r.to_go_minor, r.currency));
    setText(box, "rank", String(r.rank));
    setText(box, "donations", String(r.donations));
    const bar = q(root, "bar"); if (bar) bar.style.width = Math.min(100, r.share_bp / 100) + "%";
    if (changed.has(citySlug)) flash(box);
  }

  function drawChart() {
    const canvas = q(root, "chart");
    if (!canvas || state.history.length < 2) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = canvas.clientWidth * dpr; canvas.height = canvas.clientHeight * dpr;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const w = canvas.clientWidth, h = canvas.clientHeight;
    const pts = state.history, t0 = pts[0][0], t1 = pts[pts.length - 1][0] || t0 + 1;
    const v0 = Math.min(...pts.map((p) => p[1])), v1 = Math.max(...pts.map((p) => p[1]));
    ctx.clearRect(0, 0, w, h);
    ctx.strokeStyle = "#0a7d5a"; ctx.lineWidth = 2; ctx.beginPath();
    pts.forEach(([t, v], i) => {
      const x = ((t - t0) / Math.max(1, t1 - t0)) * (w - 4) + 2;
      const y = h - 4 - ((v - v0) / Math.max(1, v1 - v0)) * (h - 8);
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.stroke();
    ctx.fillStyle = "#5d6b78"; ctx.font = "12px system-ui, sans-serif";
    ctx.fillText(fmt(v1, state.currency), 6, 14);
    ctx.fillText(new Date(t0).toLocaleString(lang, { dateStyle: "short", timeStyle: "short" }), 6, h - 6);
  }

  function render(changed) {
    state.history.push([Date.now(), state.total]);
    if (state.history.length > 600) state.history.shift();
    if (view === "board") renderBoard(changed);
    else if (view === "screen") renderScreen(changed);
    else if (view === "city") renderCity(changed);
    root.dataset.seq = String(state.seq);
  }

  function connection(ok) {
    const dot = q(root, "connection"); if (dot) dot.classList.toggle("on", ok);
    const label = q(root, "connection-text");
    if (label) setText(root, "connection-text", ok ? (label.dataset.live || "live") : (label.dataset.reconnecting || "reconnecting…"));
  }

  const socket = io("/live");
  socket.on("connect", () => { connection(true); socket.emit("watch", { campaign: slug }); });
  socket.on("disconnect", () => connection(false));
  socket.on("leaderboard", (snap) => {
    if (snap.campaign !== slug) return;
    state.seq = snap.seq; state.total = snap.total_raised_minor;
    state.provisional = snap.total_provisional_minor || 0;
    const changed = new Set();
    for (const r of snap.cities) {
      const old = state.rows.get(r.slug);
      if (!old || old.raised_minor !== r.raised_minor) changed.add(r.slug);
    }
    state.rows = new Map(snap.cities.map((r) => [r.slug, r]));
    render(changed);
  });
  socket.on("leaderboard_update", (u) => {
    if (u.campaign !== slug || u.seq <= state.seq) return;
    if (u.seq !== state.seq + 1) { socket.emit("watch", { campaign: slug }); return; }
    state.seq = u.seq; state.total = u.total_raised_minor;
    state.provisional = u.total_provisional_minor || 0;
    const changed = new Set();
    for (const r of u.cities) { state.rows.set(r.slug, r); changed.add(r.slug); }
    render(changed);
  });
  render(new Set());
})();
