// The workbench's own script: sign-in, inline edits through the JSON API, the approve dialog,
// forecast overrides and the charts (Chart.js). No inline script anywhere (the CSP forbids it).
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  return { status: response.status, data };
}

const fmt = (n, digits = 0) =>
  n === null || n === undefined ? "–" : Number(n).toLocaleString("en", { maximumFractionDigits: digits });

// ------------------------------------------------------------------ sign in / out

function setupLogin() {
  const form = document.getElementById("login-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = new FormData(form);
    const { status, data } = await api("POST", "/api/session", {
      username: fields.get("username"), password: fields.get("password"),
    });
    if (status === 200) {
      let next = form.dataset.next || "/";
      if (!next.startsWith("/") || next.startsWith("//")) next = "/";
      // a dealer lands on its own portal, not on the planners' overview
      if (data.role === "dealer" && !next.startsWith("/portal")) next = "/portal";
      window.location.assign(next);
    } else {
      document.getElementById("login-error").textContent = (data && data.detail) || "Sign-in failed";
    }
  });
}

function setupSignOut() {
  const button = document.getElementById("sign-out");
  if (!button) return;
  button.addEventListener("click", async () => {
    await api("DELETE", "/api/session");
    window.location.assign("/login");
  });
}

// ------------------------------------------------------------------ grid edits

function qtyProblem(row, text) {
  if (text === "") return null; // empty: keep the suggestion
  const qty = Number(text);
  const pack = Number(row.dataset.pack) || 1;
  const least = Number(row.dataset.moqUnits) || 0;
  if (!Number.isFinite(qty) || qty < 0) return `not a quantity: ${row.dataset.rule}`;
  if (Math.abs(qty / pack - Math.round(qty / pack)) > 1e-9) return `not a multiple of pack ${pack}: ${row.dataset.rule}`;
  if (qty > 0 && qty < least) return `below the minimum order ${least}: ${row.dataset.rule}`;
  return null;
}

function showStatus(row, text, kind) {
  const status = row.querySelector(".status");
  if (!status) return;
  status.textContent = text;
  status.className = `status ${kind || ""}`;
}

function fieldValue(input) {
  if (input.type === "checkbox") return input.checked;
  if (input.name === "qty") return input.value === "" ? null : Number(input.value);
  if (input.name === "snooze_until") return input.value === "" ? null : input.value;
  return input.value;
}

function applyLine(row, line) {
  row.dataset.version = line.version;
  for (const input of row.querySelectorAll("input.edit")) {
    const value = line[input.name];
    if (input.type === "checkbox") input.checked = Boolean(value);
    else if (input.name === "qty") input.value = value === null ? "" : String(value);
    else input.value = value === null || value === undefined ? "" : String(value);
  }
  row.classList.toggle("is-held", Boolean(line.hold));
  row.classList.toggle("is-changed", line.qty !== null && line.qty !== line.suggested_qty);
}

async function saveField(row, input) {
  const table = row.closest("table");
  const rule = row.querySelector(".rule");
  if (input.name === "qty") {
    const problem = qtyProblem(row, input.value);
    if (problem) { rule.textContent = problem; rule.hidden = false; return; }
  }
  const url = `/api/runs/${table.dataset.asOf}/lines/${encodeURIComponent(row.dataset.dealer)}/${encodeURIComponent(row.dataset.sku)}`;
  const body = { version: Number(row.dataset.version), [input.name]: fieldValue(input) };
  showStatus(row, "saving…");
  const { status, data } = await api("PATCH", url, body);
  if (status === 200) {
    applyLine(row, data);
    if (rule) rule.hidden = true;
    showStatus(row, "saved", "ok");
  } else if (status === 409) {
    applyLine(row, data.current);
    showStatus(row, `conflict: ${data.detail}`, "conflict");
  } else if (status === 422) {
    const detail = typeof data.detail === "string" ? data.detail : "invalid value";
    if (rule) { rule.textContent = data.rule ? `${detail} (allowed: ${data.rule})` : detail; rule.hidden = false; }
    showStatus(row, "not saved", "error");
  } else {
    showStatus(row, `not saved (${status}${data && data.detail ? ": " + data.detail : ""})`, "error");
  }
}

function setupGrid() {
  const grid = document.getElementById("grid");
  if (!grid) return;
  grid.addEventListener("input", (event) => {
    const input = event.target;
    if (input.name !== "qty") return;
    const row = input.closest("tr");
    const rule = row.querySelector(".rule");
    const problem = qtyProblem(row, input.value);
    rule.textContent = problem || "";
    rule.hidden = !problem;
  });
  grid.addEventListener("change", (event) => {
    const input = event.target;
    if (!input.classList.contains("edit")) return;
    saveField(input.closest("tr"), input);
  });
  grid.addEventListener("click", (event) => {
    const row = event.target.closest("tr.line");
    if (!row) return;
    for (const other of grid.querySelectorAll("tr.selected")) other.classList.remove("selected");
    row.classList.add("selected");
  });
}

// ------------------------------------------------------------------ approve

function setupApprove() {
  const open = document.getElementById("approve-open");
  const dialog = document.getElementById("approve-dialog");
  if (!open || !dialog) return;
  const asOf = open.dataset.asOf;
  open.addEventListener("click", async () => {
    document.getElementById("approve-error").textContent = "";
    const summary = document.getElementById("approve-summary");
    summary.textContent = "Counting…";
    dialog.showModal();
    const { status, data } = await api("GET", `/api/runs/${asOf}/approval-preview`);
    if (status !== 200) { summary.textContent = (data && data.detail) || `error ${status}`; return; }
    summary.innerHTML = "";
    const list = document.createElement("ul");
    const items = [
      `${fmt(data.lines_to_ship)} lines to ship to ${fmt(data.dealers)} dealers`,
      `${fmt(data.units)} units (suggested ${fmt(data.suggested_units)}), value ${fmt(data.value, 2)}`,
      `${fmt(data.changed)} quantities changed, ${fmt(data.held)} lines held or snoozed`,
    ];
    if (data.already_approved) items.push("This run was approved before: approving again replaces its orders.");
    for (const text of items) { const li = document.createElement("li"); li.textContent = text; list.appendChild(li); }
    summary.appendChild(list);
  });
  document.getElementById("approve-cancel").addEventListener("click", () => dialog.close());
  document.getElementById("approve-confirm").addEventListener("click", async () => {
    const { status, data } = await api("POST", `/api/runs/${asOf}/approve`);
    if (status === 200) {
      dialog.close();
      const note = document.createElement("p");
      note.className = "notice";
      note.id = "approved-notice";
      note.textContent = `Approved ${data.approval_id}: ${fmt(data.lines)} lines, ${fmt(data.changed)} changed, ${fmt(data.held)} held; ${data.order_files.length} order files written.`;
      document.querySelector("section.head").after(note);
      if (window.htmx) window.htmx.trigger("#filters", "submit");
    } else {
      document.getElementById("approve-error").textContent = (data && data.detail) || `error ${status}`;
    }
  });
}

// ------------------------------------------------------------------ drill-down

function setupDetail() {
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id !== "detail") return;
    event.detail.target.scrollIntoView({ block: "nearest" });
    drawLineChart();
    const form = document.getElementById("override-form");
    if (form) form.addEventListener("submit", saveOverride);
  });
}

async function saveOverride(event) {
  event.preventDefault();
  const form = event.target;
  const fields = new FormData(form);
  const url = `/api/forecast-overrides/${encodeURIComponent(form.dataset.dealer)}/${encodeURIComponent(form.dataset.sku)}`;
  const { status, data } = await api("PUT", url, {
    units_per_week: Number(fields.get("units_per_week")),
    valid_from: fields.get("valid_from"), valid_to: fields.get("valid_to"), note: fields.get("note"),
  });
  const out = form.querySelector(".status");
  if (status === 200) out.textContent = `saved: ${fmt(data.units_per_week, 1)}/week until ${data.valid_to}`;
  else out.textContent = `not saved: ${Array.isArray(data?.detail) ? data.detail.map((d) => d.msg).join("; ") : data?.detail || status}`;
}

// ------------------------------------------------------------------ charts

const COLORS = { bar: "#3b6ea8", target: "#d9822b", danger: "#c23b22", muted: "#9aa5b1", ok: "#2f8f5b" };

function drawLineChart() {
  const source = document.getElementById("line-chart-data");
  const canvas = document.getElementById("chart-line");
  if (!source || !canvas || !window.Chart) return;
  const data = JSON.parse(source.textContent);
  const labels = [...data.history.map((p) => p.week), ...data.forecast.map((p) => p.week)];
  const pad = (values, before) => [...Array(before).fill(null), ...values];
  new window.Chart(canvas, {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: "sold", data: data.history.map((p) => p.qty), borderColor: COLORS.bar, pointRadius: 0, borderWidth: 1.5 },
        { label: "sold while out of stock (at least)", data: data.history.map((p) => (p.censored ? p.qty : null)),
          borderColor: COLORS.danger, backgroundColor: COLORS.danger, showLine: false, pointStyle: "triangle", pointRadius: 4 },
        { label: "forecast", data: pad(data.forecast.map((p) => p.yhat), data.history.length), borderColor: COLORS.target, pointRadius: 0 },
        { label: "95% interval", data: pad(data.forecast.map((p) => p.hi), data.history.length), borderColor: COLORS.muted, borderDash: [4, 4], pointRadius: 0 },
      ],
    },
    options: { animation: false, responsive: true, scales: { x: { ticks: { maxTicksLimit: 8 } } }, plugins: { legend: { labels: { boxWidth: 12 } } } },
  });
}

async function drawOverview() {
  const tiles = document.getElementById("tiles");
  if (!tiles || !window.Chart) return;
  const { status, data } = await api("GET", tiles.dataset.overview);
  if (status !== 200) { tiles.textContent = "Could not load the overview."; return; }
  const tile = (label, value) => {
    const div = document.createElement("div");
    div.className = "tile";
    const strong = document.createElement("strong");
    strong.textContent = value;
    const span = document.createElement("span");
    span.textContent = label;
    div.append(strong, span);
    tiles.appendChild(div);
  };
  tile("lines to ship", fmt(data.totals.lines_to_ship));
  tile("value suggested", fmt(data.totals.value));
  tile("alerts", fmt(data.totals.alerts));
  tile("dealers", fmt(data.health_total));

  // The figures are planner.report.chart_figures, the same as report.html's charts.
  const health = data.health;
  const statusColor = { short: COLORS.danger, over: COLORS.target, ok: COLORS.bar };
  new window.Chart(document.getElementById("chart-cover"), {
    data: {
      labels: health.map((d) => d.dealer_id),
      datasets: [
        { type: "bar", label: "days of cover", data: health.map((d) => d.cover_days),
          backgroundColor: health.map((d) => statusColor[d.status] || COLORS.bar) },
        { type: "line", label: "target (order-up-to)", data: health.map((d) => d.target_days), borderColor: COLORS.target, showLine: false, pointStyle: "line", pointRadius: 10, borderWidth: 3 },
        { type: "line", label: "safety stock", data: health.map((d) => d.safety_days), borderColor: COLORS.danger, showLine: false, pointStyle: "line", pointRadius: 10, borderWidth: 3 },
      ],
    },
    options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { title: { display: true, text: "days of demand" } } } },
  });
  new window.Chart(document.getElementById("chart-exceptions"), {
    data: {
      labels: data.exceptions.map((e) => e.alert_type),
      datasets: [
        { type: "bar", label: "alerts", data: data.exceptions.map((e) => e.count), backgroundColor: COLORS.danger, yAxisID: "y" },
        { type: "bar", label: "value at stake", data: data.exceptions.map((e) => e.value), backgroundColor: COLORS.muted, yAxisID: "y1" },
      ],
    },
    options: { animation: false, indexAxis: "x", responsive: true, maintainAspectRatio: false,
      scales: { y: { position: "left", title: { display: true, text: "count" } }, y1: { position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "value" } } } },
  });
  new window.Chart(document.getElementById("chart-trend"), {
    data: {
      labels: data.trend.map((t) => t.as_of),
      datasets: [
        { type: "line", label: "in stock (lines with demand)", data: data.trend.map((t) => t.in_stock), borderColor: COLORS.ok },
        { type: "line", label: "forecast accuracy (1 − WAPE)", data: data.trend.map((t) => t.forecast_accuracy), borderColor: COLORS.target },
      ],
    },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
      scales: { y: { min: 0, max: 1, title: { display: true, text: "share" } } } },
  });
  document.body.dataset.chartsReady = "1";
}

// ------------------------------------------------------------------ dealer portal

async function drawPortalCover() {
  const canvas = document.getElementById("chart-portal-cover");
  if (!canvas || !window.Chart) return;
  const { status, data } = await api("GET", canvas.dataset.source);
  if (status !== 200) { canvas.replaceWith(document.createTextNode("Could not load the stock cover.")); return; }
  const skus = data.skus.filter((s) => s.days_cover !== null);
  new window.Chart(canvas, {
    data: {
      labels: skus.map((s) => s.sku),
      datasets: [
        { type: "bar", label: "days of cover", data: skus.map((s) => s.days_cover),
          backgroundColor: skus.map((s) => (s.target_cover !== null && s.days_cover < s.target_cover ? COLORS.danger : COLORS.bar)) },
        { type: "line", label: "target (order-up-to)", data: skus.map((s) => s.target_cover), borderColor: COLORS.target,
          showLine: false, pointStyle: "line", pointRadius: 10, borderWidth: 3 },
      ],
    },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
      scales: { y: { title: { display: true, text: "days of demand" } } } },
  });
  document.body.dataset.portalReady = "1";
}

document.addEventListener("DOMContentLoaded", () => {
  setupLogin();
  setupSignOut();
  setupGrid();
  setupApprove();
  setupDetail();
  drawOverview();
  drawPortalCover();
});
