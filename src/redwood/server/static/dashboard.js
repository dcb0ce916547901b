// Redwood dashboard: progressive enhancement over server-rendered pages. No framework, no
// build step, no inline script (the pages' CSP forbids it). User data is only ever written
// with textContent, never as HTML.
"use strict";

const REFRESH_MS = 3000;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function pad(n) { return String(n).padStart(2, "0"); }

function localTime(seconds) {
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function duration(seconds) {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  let minutes = Math.floor(seconds / 60);
  const secs = Math.floor(seconds % 60);
  if (minutes < 60) return `${minutes} m ${pad(secs)} s`;
  let hours = Math.floor(minutes / 60);
  minutes %= 60;
  if (hours < 48) return `${hours} h ${pad(minutes)} m`;
  const days = Math.floor(hours / 24);
  hours %= 24;
  return `${days} d ${hours} h`;
}

function timeNode(seconds) {
  if (seconds === null || seconds === undefined) return el("span", {class: "muted"}, "—");
  const node = el("time", {"data-ts": String(seconds)}, localTime(seconds));
  node.title = new Date(seconds * 1000).toISOString();
  return node;
}

function localizeTimes(root) {
  for (const node of root.querySelectorAll("time[data-ts]")) {
    const seconds = Number(node.dataset.ts);
    node.title = node.textContent;
    node.textContent = localTime(seconds);
  }
}

function statusBadge(status) {
  return el("span", {class: `badge status-${status.toLowerCase()}`}, status);
}

function blockedBadge(kind) {
  if (!kind) return el("span", {class: "muted"}, "—");
  return el("span", {class: `badge blocked blocked-${kind}`}, kind.replace("_", " "));
}

async function api(method, path, body) {
  const init = {method, headers: {"Accept": "application/json"}, credentials: "same-origin"};
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body || {});
  }
  const response = await fetch(path, init);
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) {
    const message = data && data.error ? `${data.error.message} (${data.error.code})`
      : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return data;
}

function setLive(ok) {
  const live = document.getElementById("live");
  if (!live) return;
  live.classList.toggle("stale", !ok);
  live.textContent = ok ? "live" : "offline";
}

function every(ms, task) {
  let running = false;
  const tick = async () => {
    if (running || document.hidden) return;
    running = true;
    try { await task(); setLive(true); } catch (_) { setLive(false); } finally { running = false; }
  };
  setInterval(tick, ms);
}

// --- the executions list ------------------------------------------------------------------

function executionRow(e) {
  const link = el("a", {class: "mono", href: `/executions/${encodeURIComponent(e.id)}`}, e.id);
  return el("tr", {},
    el("td", {}, link), el("td", {}, e.function), el("td", {}, statusBadge(e.status)),
    el("td", {}, blockedBadge(e.blocked_on)), el("td", {}, timeNode(e.created_at)),
    el("td", {class: "num"}, duration(e.duration)));
}

function initList() {
  const form = document.getElementById("filters");
  for (const input of form.querySelectorAll("input[data-epoch-for]")) {
    const hidden = form.querySelector(`input[name="${input.dataset.epochFor}"]`);
    const seconds = Number(hidden.value);
    if (hidden.value && !Number.isNaN(seconds)) {
      const d = new Date(seconds * 1000);
      input.value = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
        `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
    }
    input.addEventListener("change", () => {
      hidden.value = input.value ? String(new Date(input.value).getTime() / 1000) : "";
    });
  }
  form.addEventListener("submit", () => {
    // Empty fields stay out of the URL.
    for (const input of form.querySelectorAll("[name]")) {
      if (!input.value) input.disabled = true;
    }
  });
  for (const select of form.querySelectorAll("select")) {
    select.addEventListener("change", () => form.requestSubmit());
  }
  const table = document.getElementById("executions");
  const query = table.dataset.query ? `?${table.dataset.query}` : "";
  every(REFRESH_MS, async () => {
    const [page, counts] = await Promise.all([
      api("GET", `/api/executions${query}`), api("GET", `/api/counts${query}`)]);
    const rows = document.getElementById("rows");
    if (page.executions.length) {
      rows.replaceChildren(...page.executions.map(executionRow));
    } else {
      rows.replaceChildren(el("tr", {class: "empty"},
        el("td", {colspan: "6"}, "No executions match these filters.")));
    }
    for (const node of document.querySelectorAll("[data-count]")) {
      const key = node.dataset.count;
      node.textContent = String(key === "total" ? counts.total : counts.counts[key] || 0);
    }
  });
}

// --- one execution --------------------------------------------------------------------------

function dialogOpen() {
  return document.querySelector("dialog[open]") !== null;
}

function parsePayload(text) {
  if (!text.trim()) return null;
  try { return JSON.parse(text); } catch (error) {
    throw new Error(`The payload is not valid JSON: ${error.message}`);
  }
}

function openDialog(button) {
  const dialog = document.getElementById(button.dataset.open);
  const form = dialog.querySelector("form");
  form.reset();
  dialog.querySelector(".dialog-error").textContent = "";
  if (button.dataset.event !== undefined) form.elements.name.value = button.dataset.event;
  if (button.dataset.callback) {
    form.elements.callback_id.value = button.dataset.callback;
    form.elements.mode.value = button.dataset.mode;
    dialog.querySelector("[data-field=callback]").textContent = button.dataset.callback;
    for (const part of dialog.querySelectorAll("[data-mode-only]")) {
      part.hidden = part.dataset.modeOnly !== button.dataset.mode;
    }
    const confirm = dialog.querySelector("button[value=confirm]");
    confirm.textContent = button.dataset.mode === "fail" ? "Fail callback" : "Complete callback";
    confirm.className = button.dataset.mode === "fail" ? "danger" : "primary";
  }
  dialog.showModal();
}

async function submitAction(form, executionId) {
  const id = encodeURIComponent(executionId);
  const action = form.dataset.action;
  if (action === "cancel") {
    const execution = await api("POST", `/api/executions/${id}/cancel`, {});
    const badge = document.getElementById("execution-status");
    badge.replaceChildren(statusBadge(execution.status));
    return;
  }
  if (action === "event") {
    const name = form.elements.name.value.trim();
    if (!name) throw new Error("Give the event a name.");
    const payload = parsePayload(form.elements.payload.value);
    await api("POST", `/api/executions/${id}/events/${encodeURIComponent(name)}`, {payload});
    return;
  }
  const callback = encodeURIComponent(form.elements.callback_id.value);
  if (form.elements.mode.value === "fail") {
    const message = form.elements.message.value.trim();
    if (!message) throw new Error("Give an error message.");
    await api("POST", `/api/callbacks/${callback}/fail`,
      {message, error_type: form.elements.error_type.value.trim() || "CallbackError"});
  } else {
    await api("POST", `/api/callbacks/${callback}/succeed`,
      {payload: parsePayload(form.elements.payload.value)});
  }
}

function historyRow(e) {
  const bad = e.type.endsWith("Failed") || e.type.endsWith("TimedOut");
  const op = e.operation_id
    ? el("span", {}, el("a", {class: "mono", href: `#op-${e.operation_id}`}, `#${e.operation_id}`),
      ` ${e.name || ""}`)
    : (e.name || "");
  let details = "";
  if (e.details && Object.keys(e.details).length) {
    details = el("details", {}, el("summary", {}, "details"),
      el("pre", {class: "json"}, JSON.stringify(e.details, null, 2)));
  }
  return el("tr", {class: bad ? "bad-row" : ""},
    el("td", {class: "num muted"}, e.id), el("td", {}, timeNode(e.timestamp)),
    el("td", {}, el("strong", {}, e.type), e.subtype ? el("span", {class: "muted"}, ` ${e.subtype}`) : null),
    el("td", {}, op), el("td", {}, details));
}

function prettyOnOpen(root) {
  // Results come as stored (compact) JSON; indent one only when somebody opens it.
  root.addEventListener("toggle", (event) => {
    const details = event.target;
    if (!details.classList || !details.classList.contains("raw-json") || !details.open) return;
    const pre = details.querySelector("pre");
    if (pre.dataset.pretty) return;
    try { pre.textContent = JSON.stringify(JSON.parse(pre.textContent), null, 2); } catch (_) {}
    pre.dataset.pretty = "1";
  }, true);
}

function initExecution() {
  const executionId = document.body.dataset.execution;
  prettyOnOpen(document);
  for (const button of document.querySelectorAll("[data-open]")) {
    button.addEventListener("click", () => openDialog(button));
  }
  for (const dialog of document.querySelectorAll("dialog")) {
    const form = dialog.querySelector("form");
    form.addEventListener("submit", async (event) => {
      if (event.submitter && event.submitter.value !== "confirm") return;
      event.preventDefault();
      const error = dialog.querySelector(".dialog-error");
      const buttons = form.querySelectorAll("button");
      buttons.forEach((b) => { b.disabled = true; });
      try {
        await submitAction(form, executionId);
        dialog.close();
        window.location.reload();
      } catch (failure) {
        error.textContent = failure.message;
      } finally {
        buttons.forEach((b) => { b.disabled = false; });
      }
    });
  }
  const more = document.getElementById("more-history");
  if (more) {
    more.addEventListener("click", async () => {
      const id = encodeURIComponent(executionId);
      const page = await api("GET",
        `/api/executions/${id}/history?after=${more.dataset.after}&filter=${more.dataset.filter}`);
      document.getElementById("history-rows").append(...page.events.map(historyRow));
      if (page.next_after === null) more.remove(); else more.dataset.after = page.next_after;
    });
  }
  const signature = document.body.dataset.signature;
  every(REFRESH_MS, async () => {
    const e = await api("GET", `/api/executions/${encodeURIComponent(executionId)}`);
    const now = `${e.status}/${e.invocations}/${e.blocked_on || ""}`;
    if (now !== signature && !dialogOpen()) window.location.reload();
  });
}

// --- sign in --------------------------------------------------------------------------------

function initLogin() {
  const form = document.getElementById("login-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", "/login", {token: form.elements.token.value});
      const target = form.dataset.next || "/";
      window.location.assign(target.startsWith("/") && !target.startsWith("//") ? target : "/");
    } catch (failure) {
      form.querySelector(".dialog-error").textContent = failure.message;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  localizeTimes(document);
  const page = document.body.dataset.page;
  if (page === "list") initList();
  else if (page === "execution") initExecution();
  else if (page === "login") initLogin();
});
