// The wallboard page: renders the snapshots pushed on /wallboard/events (SSE) and ticks the
// waits and times in state every second from the server's timestamps. No framework, no
// network beyond this server; every value is put in the page as text, never as HTML.
"use strict";

const TEXT = {
  en: {
    title: "Contact center", wall: "Wall", logout: "Sign out", queues: "Queues",
    queue: "Queue", waiting: "Waiting", longest: "Longest wait", ready: "Ready / at work",
    sl_today: "Service level today", sl_interval: "This interval", abandon: "Abandoned",
    asa: "ASA", plan: "Plan", operators: "Operators", campaigns: "Campaigns",
    campaign: "Campaign", lines: "Lines", called: "Called", reached: "Reached",
    opcampaigns: "Operator campaigns", mode: "Mode", dial_level: "Dial level", dialed: "Dialed",
    answered: "Answered", connected: "Connected", abandon_24h: "Abandoned 24 h",
    abandon_today: "Abandoned today", cap: "cap",
    modes: { preview: "preview", progressive: "progressive", predictive: "predictive" },
    achievements: "Today's achievements", calls: "calls", aht: "AHT", sl: "SL", qa: "QA",
    kpi_missing: "Today's figures are not available yet.", none: "none",
    of: "of", live: "live", lost: "connection lost, reconnecting",
    states: { ready: "ready", offered: "ringing", talking: "talking", wrap_up: "wrap-up",
      break: "break", absent: "absent", missed: "missed", logged_out: "logged out" },
  },
  ru: {
    title: "Контакт-центр", wall: "Табло", logout: "Выйти", queues: "Очереди",
    queue: "Очередь", waiting: "Ждут", longest: "Дольше всех", ready: "Свободны / на смене",
    sl_today: "Уровень сервиса за день", sl_interval: "За интервал", abandon: "Брошено",
    asa: "Ср. ожидание ответа", plan: "План", operators: "Операторы", campaigns: "Обзвоны",
    campaign: "Обзвон", lines: "Линии", called: "Обзвонено", reached: "Дозвон",
    opcampaigns: "Исходящие кампании операторов", mode: "Режим", dial_level: "Уровень набора",
    dialed: "Набрано", answered: "Ответили", connected: "Соединено", abandon_24h: "Брошено за 24 ч",
    abandon_today: "Брошено за день", cap: "предел",
    modes: { preview: "предпросмотр", progressive: "прогрессивный", predictive: "предиктивный" },
    achievements: "Достижения за день", calls: "звонков", aht: "Ср. время", sl: "УС", qa: "Оценка",
    kpi_missing: "Показатели за день пока недоступны.", none: "нет",
    of: "из", live: "на связи", lost: "нет связи, переподключение",
    states: { ready: "свободен", offered: "звонит", talking: "разговор", wrap_up: "обработка",
      break: "перерыв", absent: "отсутствует", missed: "пропустил", logged_out: "не в системе" },
  },
};

const lang = TEXT[document.documentElement.lang] ? document.documentElement.lang : "en";
const T = TEXT[lang];
let offset = 0; // server time − local time, ms
let live = null;
let stats = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`;
}

function pct(x) { return x === null || x === undefined ? "—" : `${Math.round(x * 100)}%`; }
function secs(x) { return x === null || x === undefined ? "—" : clock(x * 1000); }
function now() { return Date.now() + offset; }

function since(ms, cls) {
  return el("span", { class: cls || "since", "data-since": ms }, clock(now() - ms));
}

function bar(p) {
  if (!p) return "—";
  const fill = el("i");
  fill.style.width = `${Math.min(100, Math.round(p.ratio * 100))}%`;
  return el("span", { class: "plan" }, el("span", { class: "bar" }, fill), ` ${p.done} / ${p.goal}`);
}

function renderQueues() {
  const body = document.querySelector("#queues tbody");
  if (!live) return;
  const byName = new Map(((stats && stats.queues) || []).map((q) => [q.name, q]));
  body.replaceChildren(...live.queues.map((q) => {
    const s = byName.get(q.name);
    const callers = el("span", { class: "callers" },
      ...q.waiting.map((c) => el("span", { class: "caller", "data-call": c.id }, since(c.since_ms), " ")));
    return el("tr", { "data-queue": q.name },
      el("td", { class: "name" }, q.name),
      el("td", { class: "waiting", "data-n": q.waiting.length }, q.waiting.length, callers),
      el("td", { class: "longest" }, q.longest_since_ms ? since(q.longest_since_ms) : "—"),
      el("td", { class: "ready" }, `${q.ready} / ${q.staffed}`),
      el("td", { class: "sl-today" }, s ? pct(s.today.service_level) : "—"),
      el("td", { class: "sl-interval" }, s ? pct(s.interval.service_level) : "—"),
      el("td", { class: "abandon" }, s ? pct(s.today.abandon_rate) : "—"),
      el("td", { class: "asa" }, s ? secs(s.today.asa_s) : "—"),
      el("td", { class: "plan" }, s ? bar(s.plan) : "—"));
  }));
}

function renderOperators() {
  if (!live) return;
  const byLogin = new Map(((stats && stats.operators) || []).map((o) => [o.login, o]));
  document.getElementById("operators").replaceChildren(...live.operators.map((o) => {
    const s = byLogin.get(o.login);
    const figures = s ? `${s.answered} ${T.calls} · ${T.aht} ${secs(s.aht_s)}` : "";
    return el("div", { class: "op", "data-login": o.login, "data-state": o.state },
      el("span", { class: "name" }, o.name),
      since(o.since_ms),
      el("span", { class: "state" }, T.states[o.state] || o.state, o.queue ? ` · ${o.queue}` : ""),
      el("span", { class: "figures" }, figures));
  }));
}

function renderStats() {
  if (!stats) return;
  document.getElementById("kpi-note").hidden = stats.kpi;
  document.querySelector("#campaigns tbody").replaceChildren(...stats.campaigns.map((c) =>
    el("tr", { "data-campaign": c.id },
      el("td", {}, c.name),
      el("td", {}, `${c.lines_in_use} / ${c.lines}`),
      el("td", {}, `${c.called} ${T.of} ${c.total}`),
      el("td", {}, pct(c.reached)))));
  const ops = stats.op_campaigns || [];
  document.getElementById("opcampaigns-section").hidden = ops.length === 0;
  document.querySelector("#opcampaigns tbody").replaceChildren(...ops.map((c) => {
    // over the cap (or at it) is the supervisor's alarm: marked, not only coloured
    const over = (p) => p !== null && p !== undefined && p >= c.abandon_cap_pct;
    const abandon = (p, cls) => el("td", { class: over(p) ? `${cls} over` : cls },
      p === null || p === undefined ? "—" : `${p.toFixed(1)}%`, ` / ${c.abandon_cap_pct}% ${T.cap}`,
      over(p) ? " ⚠" : "");
    return el("tr", { "data-opcampaign": c.id },
      el("td", { class: "name" }, c.name),
      el("td", { class: "mode" }, T.modes[c.mode] || c.mode),
      el("td", { class: "dial-level" }, c.dial_level === null || c.dial_level === undefined ? "—" : c.dial_level.toFixed(2)),
      el("td", { class: "lines" }, `${c.lines_in_use} / ${c.lines}`),
      el("td", { class: "dialed" }, c.dialed),
      el("td", { class: "answered" }, c.answered),
      el("td", { class: "connected" }, c.connected),
      abandon(c.abandon_pct_24h, "abandon-24h"),
      abandon(c.abandon_pct_today, "abandon-today"),
      el("td", { class: "operators" }, c.operators));
  }));
  document.getElementById("achievements").replaceChildren(...stats.operators.map((o) =>
    el("li", { "data-login": o.login },
      el("b", {}, o.name), ` — ${o.answered} ${T.calls}`,
      o.service_level !== null ? ` · ${T.sl} ${pct(o.service_level)}` : "",
      o.qa_score !== null && o.qa_score !== undefined ? ` · ${T.qa} ${o.qa_score.toFixed(1)}` : "",
      " ", bar(o.plan))));
}

function tick() {
  const t = now();
  for (const e of document.querySelectorAll("[data-since]")) {
    e.textContent = clock(t - Number(e.getAttribute("data-since")));
  }
  document.getElementById("clock").textContent = new Date(t).toLocaleTimeString(lang);
}

function setStatus(state) {
  const s = document.getElementById("status");
  s.setAttribute("data-state", state);
  s.textContent = state === "live" ? T.live : state === "lost" ? T.lost : "";
}

function connect() {
  const es = new EventSource("/wallboard/events");
  es.addEventListener("open", () => setStatus("live"));
  es.addEventListener("live", (ev) => {
    live = JSON.parse(ev.data);
    offset = live.at_ms - Date.now();
    renderQueues();
    renderOperators();
    document.body.setAttribute("data-live-at", live.at_ms);
  });
  es.addEventListener("stats", (ev) => {
    stats = JSON.parse(ev.data);
    renderStats();
    renderQueues();
    renderOperators();
  });
  es.addEventListener("error", () => {
    setStatus("lost");
    // A refused stream (the session ended) is not retried by the browser: back to login.
    if (es.readyState === EventSource.CLOSED) setTimeout(() => location.reload(), 3000);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = T[e.getAttribute("data-t")];
  document.title = T.title;
  setInterval(tick, 1000);
  tick();
  connect();
});
