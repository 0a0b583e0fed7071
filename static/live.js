// Live board client: one snapshot on `watch`, then `leaderboard_update`s in `seq` order.
// A campaign watcher that sees a gap in `seq` asks for a fresh snapshot. A city watcher (city
// page, city screen, widget) gets only the updates touching its city: `seq` then skips, and
// `prev_seq` says which update came before for this city; newer than ours means one was missed.
// Everything a donor typed goes into the page as text (textContent), never as HTML.
(function () {
  "use strict";
  const root = document.querySelector("[data-live-campaign]");
  if (!root) return;
  const slug = root.dataset.liveCampaign;
  const view = root.dataset.view;
  const citySlug = root.dataset.citySlug;
  const watchCity = ["city", "city-screen", "widget", "desk"].includes(view) ? citySlug : null;
  const lang = document.documentElement.lang || "en";
  const initial = JSON.parse(document.getElementById("board-data").textContent);
  // The page sends its rows once, as values under one list of column names (web/boardjson.py).
  initial.cities = (initial.city_rows || []).map((values) =>
    Object.fromEntries(initial.city_columns.map((c, i) => [c, values[i]])));
  const F = initial.formats || { money: {}, decimal: ".", group: ",", percent: ["", "%"] };
  const T = JSON.parse((document.getElementById("live-text") || {}).textContent || "{}");
  const t = (key, values) => (T[key] || key).replace(/\{(\w+)\}/g, (_, k) => (values || {})[k]);
  const reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  const WALL_MAX = 50;

  const state = { seq: initial.seq, currency: initial.currency, total: initial.total_raised_minor,
                  provisional: initial.total_provisional_minor || 0,
                  rows: new Map(initial.cities.map((r) => [r.slug, r])),
                  gifts: initial.gifts || [], matches: initial.matches || [], live: false,
                  history: JSON.parse((document.getElementById("history-data") || {}).textContent || "[]") };
  const formats = new Map();

  // Amounts as the server writes them (Babel), from the page's own formats: the browser's Intl
  // spaces and pads some currencies differently ("HUF 1,234.00" for the server's "HUF1,234").
  // Whole numbers only, so no amount is ever a float.
  function grouped(digits) { return digits.replace(/\B(?=(\d{3})+(?!\d))/g, F.group); }
  function fmt(minor, currency) {
    const money = F.money[currency];
    if (!money) return intl(minor, currency);
    const [before, after, fewest, most] = money;
    const digits = String(Math.abs(minor)).padStart(most + 1, "0");
    let fraction = digits.slice(digits.length - most);
    while (fraction.length > fewest && fraction.endsWith("0")) fraction = fraction.slice(0, -1);
    return (minor < 0 ? "-" : "") + before + grouped(digits.slice(0, digits.length - most)) +
      (fraction ? F.decimal + fraction : "") + after;
  }
  function intl(minor, currency) {   // a currency the page did not know (a city added since)
    let f = formats.get(currency);
    if (!f) { f = new Intl.NumberFormat(lang, { style: "currency", currency }); formats.set(currency, f); }
    const digits = f.resolvedOptions().maximumFractionDigits;
    return f.format(minor / Math.pow(10, digits));
  }
  // Share of target as the server's `percent` filter writes share_bp / 100: rounded half to
  // even, no grouping, the language's percent sign ("4.0%", "4,0 %").
  function pct(r, places) {
    const unit = places ? 10 : 100, whole = Math.floor(r.share_bp / unit), left = r.share_bp - whole * unit;
    const n = left * 2 > unit || (left * 2 === unit && whole % 2) ? whole + 1 : whole;
    const text = places ? Math.floor(n / 10) + F.decimal + (n % 10) : String(n);
    return F.percent[0] + text + F.percent[1];
  }
  const q = (el, field) => el.querySelector('[data-field="' + field + '"]');
  const qa = (field) => root.querySelectorAll('[data-field="' + field + '"]');
  function setText(el, field, text) { const n = q(el, field); if (n && n.textContent !== text) n.textContent = text; }
  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = text;
    return n;
  }
  // Restarts the flash animation; one forced layout for all the nodes (one each took seconds
  // when a gift moved most rows of a 1,000-city board).
  function flash(nodes) {
    if (reducedMotion || !nodes.length) return;
    for (const node of nodes) node.classList.remove("flash-row");
    void root.offsetWidth;
    for (const node of nodes) node.classList.add("flash-row");
  }
  const ranked = () => [...state.rows.values()].sort((a, b) => a.rank - b.rank || a.name.localeCompare(b.name));

  // --- the rolling night: upcoming / live / ended, from the clock ---------------------------
  function phase(r, now) {
    if (!r.starts_at) return null;
    const start = Date.parse(r.starts_at), end = Date.parse(r.ends_at);
    if (now < start) return "upcoming";
    return now < end ? "live" : "ended";
  }
  function until(ms) {
    const minutes = Math.max(1, Math.round(ms / 60000));
    const h = Math.floor(minutes / 60), m = minutes % 60;
    if (h >= 24) return t("in_days", { d: Math.round(h / 24) });
    return h ? t("in_hours", { h, m }) : t("in_minutes", { m });
  }
  function phaseText(r, now) {
    const p = phase(r, now);
    if (p === "upcoming") return until(Date.parse(r.starts_at) - now);
    if (p === "live") return t("live_now");
    if (p === "ended") return t("ended");
    return "";
  }
  const shortTime = (iso, timeZone) => new Date(iso).toLocaleTimeString(lang, timeZone ?
    { hour: "numeric", minute: "2-digit", timeZone } : { hour: "numeric", minute: "2-digit" });

  function renderNight(now) {
    const band = q(root, "night");
    if (!band) return;
    const rows = ranked().filter((r) => r.starts_at);
    const live = rows.filter((r) => phase(r, now) === "live");
    const next = rows.filter((r) => phase(r, now) === "upcoming")
      .sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at)).slice(0, 4);
    const ended = rows.filter((r) => phase(r, now) === "ended");
    const liveList = q(band, "live-now"), nextList = q(band, "next"), endedText = q(band, "ended");
    liveList.replaceChildren(...(live.length ? live.map((r) => el("li", "chip live", r.name))
                                             : [el("li", "muted", t("none_live"))]));
    nextList.replaceChildren(...next.map((r) => el("li", "chip", t("city_in", { city: r.name, when: until(Date.parse(r.starts_at) - now) }))));
    endedText.textContent = ended.length ? t("ended_count", { n: ended.length }) : "";
    renderClock(now);
  }

  // The night clock: 24 hours from 6 hours ago, each city's window on a lane, a now-marker.
  const CLOCK_BEFORE = 6 * 3600e3, CLOCK_SPAN = 24 * 3600e3, CLOCK_LANES = 12;
  function renderClock(now) {
    const band = q(root, "clock");
    if (!band) return;
    const from = now - CLOCK_BEFORE, to = from + CLOCK_SPAN;
    const rows = [...state.rows.values()].filter((r) => r.starts_at && Date.parse(r.ends_at) > from && Date.parse(r.starts_at) < to)
      .sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at));
    band.hidden = rows.length === 0;
    const x = (ms) => Math.max(0, Math.min(100, (ms - from) / CLOCK_SPAN * 100));
    const laneEnds = [], nodes = [];
    for (const r of rows) {
      const start = Date.parse(r.starts_at), end = Date.parse(r.ends_at);
      let lane = laneEnds.findIndex((e) => e <= start);
      if (lane < 0) lane = laneEnds.length < CLOCK_LANES ? laneEnds.length : CLOCK_LANES - 1;
      laneEnds[lane] = Math.max(laneEnds[lane] || 0, end);
      const bar = el("span", "clock-bar " + (phase(r, now) || ""), r.name);
      bar.style.left = x(start) + "%"; bar.style.width = (x(end) - x(start)) + "%";
      bar.style.top = (lane * 1.5) + "rem";
      bar.title = r.name + " · " + shortTime(r.starts_at) + "–" + shortTime(r.ends_at);
      nodes.push(bar);
    }
    for (let h = Math.ceil(from / 3600e3 / 3) * 3; h * 3600e3 < to; h += 3) {
      const tick = el("span", "clock-tick", shortTime(new Date(h * 3600e3).toISOString()));
      tick.style.left = x(h * 3600e3) + "%";
      nodes.push(tick);
    }
    const marker = el("span", "clock-now");
    marker.style.left = x(now) + "%";
    nodes.push(marker);
    band.style.height = (Math.max(1, laneEnds.length) * 1.5 + 1.6) + "rem";
    band.replaceChildren(...nodes);
  }

  // --- the gift wall ----------------------------------------------------------------------
  function cityName(s) { const r = state.rows.get(s); return r ? r.name : s; }
  function giftNode(g, compact) {
    const li = el("li", "gift");
    li.dataset.gift = String(g.id);
    li.appendChild(el("span", "gift-amt", fmt(g.amount_minor, g.currency)));
    li.appendChild(el("span", "gift-name", g.donor_name || t("anonymous")));
    if (!watchCity) li.appendChild(el("span", "gift-city", cityName(g.city)));
    if (g.matched) li.appendChild(el("span", "badge", t("matched")));
    if (!compact) {
      const time = el("time", "gift-time", shortTime(g.at));
      time.dateTime = g.at;
      li.appendChild(time);
    }
    if (g.message) li.appendChild(el("q", "gift-msg", g.message));
    return li;
  }
  function renderGifts(fresh) {
    for (const list of qa("gifts")) {
      const limit = parseInt(list.dataset.limit || "20", 10);
      const shown = state.gifts.slice(0, limit);
      list.replaceChildren(...shown.map((g) => {
        const node = giftNode(g, list.dataset.compact !== undefined);
        if (fresh.has(g.id)) { node.classList.add("new"); flash([node]); }
        return node;
      }));
      const empty = list.parentElement.querySelector(".gifts-empty");
      if (empty) empty.hidden = shown.length > 0;
    }
  }
  function addGifts(gifts) {
    const known = new Set(state.gifts.map((g) => g.id)), fresh = new Set();
    for (const g of gifts || []) {
      if (watchCity && g.city !== watchCity) continue;
      if (!known.has(g.id)) { fresh.add(g.id); state.gifts.push(g); }
    }
    state.gifts.sort((a, b) => b.id - a.id);
    state.gifts.length = Math.min(state.gifts.length, WALL_MAX);
    return fresh;
  }

  // --- match gifts: a banner per running match, shown and hidden by the clock --------------
  function matchRunning(m, now) {
    return Date.parse(m.starts_at) <= now && now < Date.parse(m.ends_at) && m.left_minor > 0 &&
      (!watchCity || !m.cities || m.cities.includes(watchCity));
  }
  function matchNode(m) {
    const where = m.cities ? m.cities.map(cityName).join(", ") : null;
    const key = (m.ratio === 1 ? "match_double" : "match_ratio") + (where ? "_where" : "");
    const first = m.cities && state.rows.get(m.cities[0]);
    const p = el("p", "match-banner");
    p.dataset.match = String(m.id);
    p.appendChild(el("strong", null, t(key, { where, sponsor: m.sponsor, ratio: m.ratio })));
    p.appendChild(document.createTextNode(" " + t("match_until", { time: shortTime(m.ends_at, first ? first.timezone : undefined) }) +
      " — " + t("match_left", { left: fmt(m.left_minor, m.currency), pot: fmt(m.pot_minor, m.currency) })));
    return p;
  }
  let matchTimer = null;
  function renderMatches() {
    const box = q(root, "matches");
    if (!box) return;
    const now = Date.now();
    const shown = state.matches.filter((m) => matchRunning(m, now));
    box.replaceChildren(...shown.map(matchNode));
    box.hidden = shown.length === 0;
    // Wake at the next start or end, so a banner comes and goes on time without a push.
    const next = state.matches.flatMap((m) => [Date.parse(m.starts_at), Date.parse(m.ends_at)])
      .filter((at) => at > now).sort((a, b) => a - b)[0];
    clearTimeout(matchTimer);
    if (next !== undefined) matchTimer = setTimeout(renderMatches, Math.min(next - now + 250, 3600e3));
  }

  // --- views ------------------------------------------------------------------------------
  // A row as the server renders it (templates/public/board.html), mobile labels included: the
  // page renders the first rows and this builds the rest, and cities approved since.
  function newRow(r, body) {
    const tr = document.createElement("tr");
    tr.dataset.city = r.slug;
    tr.innerHTML = '<td data-field="rank"></td><td class="city-cell"><a></a> <span class="phase small" data-field="phase"></span></td>' +
      '<td class="num"><span data-field="raised"></span> <span class="small provisional" data-field="provisional"></span></td>' +
      '<td class="num" data-field="reporting"></td><td class="num" data-field="target"></td>' +
      '<td class="num" data-field="togo"></td><td class="bar-col"><div class="bar"><div></div></div>' +
      '<span class="small" data-field="share"></span></td><td class="num" data-field="donations"></td>';
    tr.querySelectorAll("td").forEach((td, i) => { if (labels[i] !== undefined) td.dataset.label = labels[i]; });
    const link = tr.querySelector("a");
    link.href = (body.dataset.cityHref || "/c/" + encodeURIComponent(slug) + "/CITY-SLUG")
      .replace("CITY-SLUG", encodeURIComponent(r.slug));
    link.textContent = r.name;
    return tr;
  }
  const labels = [...root.querySelectorAll("thead th")].map((th) => th.textContent);
  let regionNames = null;
  function countryName(code) {
    try { regionNames = regionNames || new Intl.DisplayNames([lang], { type: "region" }); return regionNames.of(code) || code; }
    catch (e) { return code || ""; }
  }

  function applyFilter() {
    const search = q(root, "search"), which = q(root, "filter");
    if (!search || !which) return;
    const words = search.value.trim().toLowerCase(), now = Date.now();
    let shown = 0;
    for (const tr of q(root, "rows").querySelectorAll("tr[data-city]")) {
      const r = state.rows.get(tr.dataset.city);
      if (!tr.dataset.search) tr.dataset.search = (r.name + " " + r.country + " " + countryName(r.country)).toLowerCase();
      const ok = (!words || tr.dataset.search.includes(words)) && (which.value === "all" || phase(r, now) === which.value);
      tr.hidden = !ok;
      if (ok) shown++;
    }
    setText(root, "filter-count", t("showing", { n: shown, total: state.rows.size }));
  }

  function renderBoard(changed) {
    setText(root, "total", fmt(state.total, state.currency));
    setText(root, "confirmed-total", fmt(state.total - state.provisional, state.currency));
    setText(root, "provisional-total", fmt(state.provisional, state.currency));
    const body = q(root, "rows");
    const provisionalText = body.dataset.provisionalTemplate || "{amount}";
    const now = Date.now();
    const shown = new Map([...body.querySelectorAll("tr[data-city]")].map((tr) => [tr.dataset.city, tr]));
    let at = 0;
    const flashing = [];
    for (const r of ranked()) {
      const tr = shown.get(r.slug) || newRow(r, body);
      setText(tr, "rank", String(r.rank));
      setText(tr, "raised", fmt(r.raised_minor, r.currency));
      setText(tr, "provisional", r.provisional_minor ? provisionalText.replace("{amount}", fmt(r.provisional_minor, r.currency)) : "");
      setText(tr, "reporting", fmt(r.raised_reporting_minor, state.currency));
      setText(tr, "target", fmt(r.target_minor, r.currency));
      setText(tr, "togo", fmt(r.to_go_minor, r.currency));
      setText(tr, "share", pct(r, 1));
      setText(tr, "donations", String(r.donations));
      const p = phase(r, now), label = q(tr, "phase");
      if (label) { label.textContent = phaseText(r, now); label.dataset.phase = p || ""; }
      tr.querySelector(".bar > div").style.width = Math.min(100, r.share_bp / 100) + "%";
      if (body.children[at] !== tr) body.insertBefore(tr, body.children[at] || null);  // rank order
      at++;
      if (changed.has(r.slug)) flashing.push(tr);
    }
    flash(flashing);
    const more = q(root, "more");
    if (more) more.hidden = true;   // every row is here now
    renderNight(now);
    applyFilter();
    drawChart();
  }

  // The campaign screen pages through the ranking: the top 10, then the cities live now,
  // then the rest, ten at a time.
  const PAGE = 10, PAGE_SECONDS = 12;
  let screenPage = 0;
  function screenPages() {
    const rows = ranked(), now = Date.now(), pages = [{ label: t("top_ten"), rows: rows.slice(0, PAGE) }];
    const live = rows.slice(PAGE).filter((r) => phase(r, now) === "live");
    for (let i = 0; i < live.length; i += PAGE) pages.push({ label: t("live_now"), rows: live.slice(i, i + PAGE) });
    const rest = rows.slice(PAGE).filter((r) => phase(r, now) !== "live");
    for (let i = 0; i < rest.length; i += PAGE) {
      const chunk = rest.slice(i, i + PAGE);
      pages.push({ label: t("ranks", { from: chunk[0].rank, to: chunk[chunk.length - 1].rank }), rows: chunk });
    }
    return pages;
  }
  function screenRow(r, now) {
    const li = el("li");
    li.dataset.city = r.slug;
    li.appendChild(el("span", "rank", String(r.rank))).dataset.field = "rank";
    const name = el("span", "name", r.name);
    const p = phase(r, now);
    if (p === "live") { const mark = el("span", "phase", t("live_now")); mark.title = t("live_now"); name.appendChild(mark); }
    li.appendChild(name);
    const bar = el("span", "bar"), fill = el("span");
    fill.style.width = Math.min(100, r.share_bp / 100) + "%";
    bar.appendChild(fill); li.appendChild(bar);
    li.appendChild(el("span", "pct", pct(r, 0))).dataset.field = "share";
    li.appendChild(el("span", "amt", fmt(r.raised_minor, r.currency))).dataset.field = "raised";
    return li;
  }
  function renderScreen(changed) {
    setText(root, "total", fmt(state.total, state.currency));
    const pages = screenPages();
    screenPage = screenPage % pages.length;
    const page = pages[screenPage], now = Date.now();
    setText(root, "page-label", page.label + (pages.length > 1 ? " · " + (screenPage + 1) + "/" + pages.length : ""));
    const rows = page.rows.map((r) => screenRow(r, now));
    q(root, "rows").replaceChildren(...rows);
    flash(rows.filter((li) => changed.has(li.dataset.city)));
    renderNight(now);
  }

  function renderCityBox(changed) {
    const r = state.rows.get(citySlug);
    if (!r) return;
    for (const box of root.querySelectorAll(".city-stats, [data-city-box]")) {
      setText(box, "raised", fmt(r.raised_minor, r.currency));
      setText(box, "confirmed", fmt(r.raised_minor - (r.provisional_minor || 0), r.currency));
      setText(box, "provisional", fmt(r.provisional_minor || 0, r.currency));
      setText(box, "target", fmt(r.target_minor, r.currency));
      setText(box, "togo", fmt(r.to_go_minor, r.currency));
      setText(box, "rank", String(r.rank));
      setText(box, "donations", String(r.donations));
      setText(box, "share", pct(r, 0));
      if (changed.has(citySlug)) flash([box]);
    }
    for (const bar of qa("bar")) bar.style.width = Math.min(100, r.share_bp / 100) + "%";
    const now = Date.now();
    setText(root, "phase", phaseText(r, now));
    const mine = q(root, "start-mine");
    if (mine && r.starts_at) mine.textContent = t("your_time", { time: shortTime(r.starts_at) });
  }

  // The cities just above and below, as the latest update ranked them.
  let nearby = [];
  function renderNeighbours() {
    const list = q(root, "neighbours");
    if (!list) return;
    const me = state.rows.get(citySlug);
    if (!me) return;
    let rows = nearby.map((s) => state.rows.get(s)).filter(Boolean);
    if (!rows.length) {
      const all = ranked(), at = all.findIndex((r) => r.slug === citySlug);
      rows = all.slice(Math.max(0, at - 1), at).concat(all.slice(at + 1, at + 2));
    }
    const order = rows.concat([me]).sort((a, b) => a.rank - b.rank || (a.slug === citySlug ? 1 : -1));
    list.replaceChildren(...order.map((r) => {
      const li = el("li", r.slug === citySlug ? "me" : "");
      li.appendChild(el("span", "rank", "#" + r.rank));
      li.appendChild(el("span", "name", r.name));
      li.appendChild(el("span", "pct", pct(r, 0)));
      return li;
    }));
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
    pts.forEach(([x0, v], i) => {
      const x = ((x0 - t0) / Math.max(1, t1 - t0)) * (w - 4) + 2;
      const y = h - 4 - ((v - v0) / Math.max(1, v1 - v0)) * (h - 8);
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.stroke();
    ctx.fillStyle = "#5d6b78"; ctx.font = "12px system-ui, sans-serif";
    ctx.fillText(fmt(v1, state.currency), 6, 14);
    ctx.fillText(new Date(t0).toLocaleString(lang, { dateStyle: "short", timeStyle: "short" }), 6, h - 6);
  }

  // Screens cheer when a city passes a quarter of its target (only as it happens, not on load).
  const MILESTONES = [2500, 5000, 7500, 10000];
  let cheerTimer = null;
  function milestone(before, after) {
    const banner = q(root, "celebrate");
    if (!banner || (watchCity && after.slug !== watchCity)) return;
    const passed = MILESTONES.filter((m) => before.share_bp < m && after.share_bp >= m).pop();
    if (!passed) return;
    banner.textContent = t("milestone", { city: after.name, pct: passed / 100 });
    banner.hidden = false;
    banner.classList.remove("pop"); void banner.offsetWidth;
    if (!reducedMotion) banner.classList.add("pop");
    clearTimeout(cheerTimer);
    cheerTimer = setTimeout(() => { banner.hidden = true; }, 8000);
  }

  // Screen readers hear the total now and then, never a stream of numbers.
  const ANNOUNCE_EVERY = 10000;
  let announced = 0, announceTimer = null;
  function announce() {
    const region = q(root, "announce");
    if (!region) return;
    const wait = announced + ANNOUNCE_EVERY - Date.now();
    if (wait > 0) { if (!announceTimer) announceTimer = setTimeout(() => { announceTimer = null; announce(); }, wait); return; }
    announced = Date.now();
    const r = watchCity && state.rows.get(watchCity);
    region.textContent = r ? t("announce_city", { city: r.name, amount: fmt(r.raised_minor, r.currency) })
                           : t("announce_total", { amount: fmt(state.total, state.currency) });
  }

  function render(changed, fresh) {
    state.history.push([Date.now(), state.total]);
    if (state.history.length > 600) state.history.shift();
    if (view === "board") renderBoard(changed);
    else if (view === "screen") renderScreen(changed);
    else { renderCityBox(changed); renderNeighbours(); }
    renderGifts(fresh || new Set());
    renderMatches();
    root.dataset.seq = String(state.seq);
    if (changed.size) announce();
  }

  // Truthful connection state: "live" only between a snapshot and the next disconnect.
  function connection(ok) {
    state.live = ok;
    root.dataset.connection = ok ? "live" : "reconnecting";
    for (const dot of qa("connection")) dot.classList.toggle("on", ok);
    for (const label of qa("connection-text")) {
      const text = ok ? (T.live || "live") : (T.reconnecting || "reconnecting…");
      if (label.textContent !== text) label.textContent = text;
    }
  }

  const socket = io("/live");
  root.liveSocket = socket;   // night.js (run sheet, largest gifts) listens on the same connection
  function watch() { socket.emit("watch", watchCity ? { campaign: slug, city: watchCity } : { campaign: slug }); }
  socket.on("connect", watch);
  socket.on("disconnect", () => connection(false));
  socket.on("connect_error", () => connection(false));
  socket.io.on("reconnect_attempt", () => connection(false));
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
    state.matches = snap.matches || [];
    nearby = [];
    const before = new Set(state.gifts.map((g) => g.id));
    state.gifts = [];
    const fresh = addGifts(snap.gifts);
    for (const id of before) fresh.delete(id);
    connection(true);
    render(changed, fresh);
  });
  // A campaign update carries only the rows whose own figures changed; a city that one of
  // them overtook drops a place without being sent. So ranks are worked out here, as the
  // server does (ledger/leaderboard.rank_rows): share of target, then money raised, then name;
  // equal shares share a rank. Shares compare exactly, as cross products (BigInt).
  function rerank() {
    const ahead = (a, b) => BigInt(a.raised_minor) * BigInt(b.target_minor) -
                            BigInt(b.raised_minor) * BigInt(a.target_minor);
    const rows = [...state.rows.values()].sort((a, b) => {
      const d = ahead(b, a);
      if (d !== 0n) return d > 0n ? 1 : -1;
      return (b.raised_reporting_minor - a.raised_reporting_minor) ||
             (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    });
    let rank = 0;
    rows.forEach((r, i) => {
      if (i === 0 || ahead(rows[i - 1], r) !== 0n) rank = i + 1;
      if (r.rank !== rank) state.rows.set(r.slug, { ...r, rank });
    });
  }

  socket.on("leaderboard_update", (u) => {
    if (u.campaign !== slug || u.seq <= state.seq) return;
    if (watchCity) {
      if (u.city !== watchCity) return;
      if (u.prev_seq > state.seq) { watch(); return; }
      nearby = u.cities.map((r) => r.slug).filter((s) => s !== watchCity);
    } else if (u.seq !== state.seq + 1) { watch(); return; }
    state.seq = u.seq; state.total = u.total_raised_minor;
    state.provisional = u.total_provisional_minor || 0;
    if (u.matches) state.matches = u.matches;
    const changed = new Set();
    for (const r of u.cities) {
      const old = state.rows.get(r.slug);
      if (old) milestone(old, r);
      state.rows.set(r.slug, r);
      if (!old || old.raised_minor !== r.raised_minor) changed.add(r.slug);   // flashes
    }
    if (!watchCity) rerank();
    render(changed, addGifts(u.gifts));
  });
  socket.on("gift_hidden", (h) => {
    if (h.campaign !== slug) return;
    state.gifts = state.gifts.filter((g) => g.id !== h.id);
    for (const node of root.querySelectorAll('[data-gift="' + CSS.escape(String(h.id)) + '"]')) node.remove();
  });

  // Controls: board filters, the screen's page turner, full screen and wake lock.
  const search = q(root, "search"), which = q(root, "filter");
  if (search) search.addEventListener("input", applyFilter);
  const filters = q(root, "filters");
  if (filters) filters.addEventListener("submit", (e) => { e.preventDefault(); applyFilter(); });
  if (which) which.addEventListener("change", applyFilter);
  setInterval(() => {   // phases and countdowns move with the clock, not with pushes
    if (view === "board") { renderNight(Date.now()); applyFilter(); for (const tr of q(root, "rows").querySelectorAll("tr[data-city]")) { const r = state.rows.get(tr.dataset.city); const n = q(tr, "phase"); if (r && n) { n.textContent = phaseText(r, Date.now()); n.dataset.phase = phase(r, Date.now()) || ""; } } }
    else if (view !== "screen") renderCityBox(new Set());
  }, 30000);
  if (view === "screen") setInterval(() => { screenPage++; renderScreen(new Set()); }, PAGE_SECONDS * 1000);
  const full = q(root, "fullscreen");
  if (full && document.fullscreenEnabled) {
    full.hidden = false;
    full.addEventListener("click", () => {
      if (document.fullscreenElement) document.exitFullscreen(); else document.documentElement.requestFullscreen();
    });
  }
  if (view === "screen" || view === "city-screen") {
    let lock = null;
    const keepAwake = async () => {
      if (!("wakeLock" in navigator) || document.visibilityState !== "visible" || lock) return;
      try { lock = await navigator.wakeLock.request("screen"); lock.addEventListener("release", () => { lock = null; }); }
      catch (e) { lock = null; }   // refused (battery saver, no user gesture yet): try again later
    };
    document.addEventListener("visibilitychange", keepAwake);
    document.addEventListener("click", keepAwake);
    keepAwake();
  }
  render(new Set(), new Set());
})();
