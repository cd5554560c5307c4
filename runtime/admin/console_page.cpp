#include "runtime/admin/console_page.hpp"

namespace journeyd {
namespace {

// Everything the script shows comes from customers and events, so it writes text with
// textContent and builds elements itself, never innerHTML: a profile attribute holding
// markup stays text. The token lives in sessionStorage (gone with the tab) and a token in
// the URL fragment is removed from the address bar once read.
constexpr std::string_view kPage = R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>journeyd console</title>
<style>
:root { --bg: #f5f6f8; --card: #fff; --ink: #1d2330; --muted: #6b7383; --line: #e3e6ec;
        --accent: #2f6fdb; --send: #2e9d5b; --defer: #d99a1e; --suppress: #c8453b; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; align-items: baseline; gap: 1em; padding: 14px 24px;
         background: #1d2330; color: #fff; }
header h1 { margin: 0; font-size: 18px; font-weight: 600; }
header .node { color: #aab3c5; }
header .status { margin-left: auto; color: #aab3c5; font-size: 12px; }
header button { background: none; border: 1px solid #4a5366; color: #cfd5e1; border-radius: 4px;
                padding: 2px 8px; cursor: pointer; }
main { padding: 20px 24px; display: grid; gap: 16px;
       grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
          padding: 14px 16px; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
     margin: 0 0 10px; font-weight: 600; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); gap: 12px; }
.figure .value { font-size: 24px; font-weight: 600; }
.figure .name { color: var(--muted); font-size: 12px; }
svg text { font-size: 12px; fill: var(--ink); }
svg text.count { fill: var(--muted); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px 4px 0; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
pre { background: var(--bg); border-radius: 4px; padding: 8px; margin: 0; overflow: auto;
      font-size: 12px; max-height: 260px; }
form { display: flex; gap: 8px; }
input { flex: 1; padding: 6px 8px; border: 1px solid var(--line); border-radius: 4px; font: inherit; }
button.primary { background: var(--accent); color: #fff; border: 0; border-radius: 4px;
                 padding: 6px 14px; font: inherit; cursor: pointer; }
.stage { display: inline-block; background: var(--accent); color: #fff; border-radius: 12px;
         padding: 1px 10px; font-weight: 600; }
.outcome-send { color: var(--send); font-weight: 600; }
.outcome-defer { color: var(--defer); font-weight: 600; }
.outcome-suppress { color: var(--suppress); font-weight: 600; }
.muted { color: var(--muted); }
.error { color: var(--suppress); }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 16px; }
#token-form { max-width: 520px; margin: 40px auto; }
[hidden] { display: none !important; }
</style>
</head>
<body>
<header>
  <h1>journeyd</h1><span class="node" id="node"></span>
  <span class="status" id="status">connecting…</span>
  <button id="forget-token" title="Forget the admin token of this tab">sign out</button>
</header>

<section id="token-form" hidden>
  <h2>Admin token</h2>
  <p id="token-reason" class="muted"></p>
  <form id="token-entry">
    <input id="token-input" type="password" autocomplete="off" placeholder="[admin] token">
    <button class="primary" type="submit">Use token</button>
  </form>
  <p class="muted">Kept in this tab's session storage only; sent as <code>Authorization: Bearer</code>.</p>
</section>

<main id="dashboard">
  <section class="wide">
    <h2>Throughput</h2>
    <div class="figures">
      <div class="figure"><div class="value" id="events-per-s">–</div><div class="name">events / s</div></div>
      <div class="figure"><div class="value" id="events-total">–</div><div class="name">events accepted</div></div>
      <div class="figure"><div class="value" id="customers-live">–</div><div class="name">customers live</div></div>
      <div class="figure"><div class="value" id="customers-stored">–</div><div class="name">customers stored</div></div>
      <div class="figure"><div class="value" id="connections">–</div><div class="name">ingest connections</div></div>
      <div class="figure"><div class="value" id="outbox">–</div><div class="name">outbox</div></div>
    </div>
    <svg id="rate-chart" width="100%" height="60" viewBox="0 0 600 60" preserveAspectRatio="none"
         aria-label="events per second, last two minutes"></svg>
    <div class="muted" id="rate-peak"></div>
  </section>
  <section>
    <h2>Customers per stage</h2>
    <svg id="stage-chart" width="100%" aria-label="customers per stage"></svg>
  </section>
  <section>
    <h2>Decisions by outcome</h2>
    <svg id="decision-chart" width="100%" aria-label="decisions by outcome"></svg>
    <h2 style="margin-top:14px">Limit hits</h2>
    <table><tbody id="limit-hits"></tbody></table>
  </section>
  <section class="wide" id="cluster" hidden>
    <h2>Cluster members</h2>
    <table><thead><tr><th>member</th><th>state</th><th>address</th><th>since</th>
      <th>forwarded</th><th>refused</th><th>reason</th></tr></thead>
    <tbody id="cluster-members"></tbody></table>
  </section>
  <section class="wide">
    <h2>Customer</h2>
    <form id="lookup">
      <input id="customer-input" placeholder="customer id" autocomplete="off">
      <button class="primary" type="submit">Look up</button>
    </form>
    <p id="lookup-error" class="error"></p>
    <div id="customer" hidden>
      <p><strong id="customer-id"></strong> is <span class="stage" id="customer-stage"></span>
         since <span id="customer-since"></span>
         · <span id="customer-events"></span> events seen<span id="customer-owner"></span></p>
      <div class="columns">
        <div><h2>Profile</h2><pre id="customer-profile"></pre></div>
        <div><h2>Pending timers</h2>
          <table><thead><tr><th>timer</th><th>due</th></tr></thead>
          <tbody id="customer-timers"></tbody></table>
          <h2 style="margin-top:14px">Contacts</h2>
          <table><thead><tr><th>program</th><th>channel</th><th>at</th></tr></thead>
          <tbody id="customer-contacts"></tbody></table>
        </div>
      </div>
      <h2 style="margin-top:14px">Decisions (newest first)</h2>
      <table><thead><tr><th>at</th><th>program</th><th>channel</th><th>priority</th>
        <th>outcome</th><th>reason</th><th>detail</th></tr></thead>
      <tbody id="customer-decisions"></tbody></table>
    </div>
  </section>
</main>

<script>
"use strict";
const $ = id => document.getElementById(id);
const TOKEN_KEY = "journeyd.admin-token";
const POLL_MS = 2000;
const STAGE_COLORS = ["#2f6fdb", "#7a5bd6", "#2e9d5b", "#d99a1e", "#c8453b", "#1d9fb3", "#8a8f99"];
const OUTCOME_COLORS = {send: "#2e9d5b", defer: "#d99a1e", suppress: "#c8453b"};
const rates = [];
let shownCustomer = "";

class AuthRequired extends Error {}

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

async function api(path) {
  const headers = token() ? {Authorization: "Bearer " + token()} : {};
  const response = await fetch(path, {headers, cache: "no-store"});
  if (response.status === 401) {
    askForToken(token() ? "The token was refused; enter the current one."
                        : "This journeyd requires its admin token.");
    throw new AuthRequired();
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || response.status + " " + response.statusText);
  return body;
}

function askForToken(reason) {
  $("token-reason").textContent = reason;
  $("token-form").hidden = false;
  $("dashboard").hidden = true;
  $("status").textContent = "waiting for the admin token";
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function svgEl(tag, attributes, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function row(cells, classes = []) {
  const tr = el("tr");
  cells.forEach((cell, i) => tr.append(el("td", cell, classes[i])));
  return tr;
}

function number(n) { return Number(n).toLocaleString("en-US", {maximumFractionDigits: 1}); }

function when(ms) {
  if (!ms) return "–";
  const seconds = Math.round((ms - Date.now()) / 1000), size = Math.abs(seconds);
  const [amount, unit] = size < 90 ? [size, "s"] : size < 5400 ? [size / 60, "m"]
                       : size < 129600 ? [size / 3600, "h"] : [size / 86400, "d"];
  const relative = Math.round(amount) + unit;
  const stamp = new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  return stamp + (seconds >= 0 ? " (in " + relative + ")" : " (" + relative + " ago)");
}

// Horizontal bars, one per [label, value], scaled to the largest value; drawn at the
// element's own width so the text keeps its size.
function drawBars(svg, rows, colorOf) {
  const width = svg.clientWidth || 480, rowHeight = 28, labelWidth = 110;
  const room = width - labelWidth - 70;
  const largest = Math.max(1, ...rows.map(([, value]) => value));
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${rows.length * rowHeight}`);
  svg.setAttribute("height", rows.length * rowHeight);
  rows.forEach(([label, value], i) => {
    const y = i * rowHeight, length = value > 0 ? Math.max(2, room * value / largest) : 0;
    svg.append(svgEl("text", {x: labelWidth - 10, y: y + 18, "text-anchor": "end"}, label));
    svg.append(svgEl("rect", {x: labelWidth, y: y + 6, width: length, height: rowHeight - 12,
                              rx: 3, fill: colorOf(label, i), "data-label": label,
                              "data-value": value}));
    svg.append(svgEl("text", {x: labelWidth + length + 8, y: y + 18, class: "count"},
                     number(value)));
  });
}

// The last two minutes of events/s (one sample a poll), newest at the right.
function drawRate(svg) {
  const width = 600, height = 60, slots = 60;
  const largest = Math.max(1, ...rates);
  const points = rates.map((rate, i) =>
      `${(width * (slots - rates.length + i) / (slots - 1)).toFixed(1)},` +
      `${(height - 4 - (height - 8) * rate / largest).toFixed(1)}`);
  svg.replaceChildren(
      svgEl("line", {x1: 0, x2: width, y1: height - 4, y2: height - 4, stroke: "#e3e6ec"}),
      svgEl("polyline", {points: points.join(" "), fill: "none", stroke: "#2f6fdb",
                         "stroke-width": 2, "vector-effect": "non-scaling-stroke"}));
  $("rate-peak").textContent = "peak " + number(Math.max(0, ...rates)) + " events/s, last 2 min";
}

function showStats(stats) {
  $("node").textContent = "node " + stats.node;
  $("events-per-s").textContent = number(stats.events_per_s);
  $("events-total").textContent = number(stats.events_total);
  $("customers-live").textContent = number(stats.customers_live);
  $("customers-stored").textContent = number(stats.customers_stored);
  $("connections").textContent = number(stats.ingest_connections ?? 0);
  $("outbox").textContent = number(stats.outbox ?? 0);
  rates.push(stats.events_per_s);
  if (rates.length > 60) rates.shift();
  drawRate($("rate-chart"));
  drawBars($("stage-chart"), Object.entries(stats.stages),
           (stage, i) => STAGE_COLORS[i % STAGE_COLORS.length]);
  drawBars($("decision-chart"), Object.entries(stats.decisions),
           outcome => OUTCOME_COLORS[outcome] || "#8a8f99");
  $("limit-hits").replaceChildren(...Object.entries(stats.limit_hits || {})
      .map(([limit, hits]) => row([limit, number(hits)], ["", hits > 0 ? "error" : "muted"])));
}

// This node's view of the members; the section stays hidden on a single node.
function showCluster(cluster) {
  $("cluster").hidden = !cluster.clustered;
  $("cluster-members").replaceChildren(...cluster.members.map(m => row(
      [m.name, m.state, m.address, when(m.since), number(m.forwarded ?? 0),
       number(m.refused ?? 0), m.reason || ""],
      ["", m.state === "down" ? "error" : m.state === "connecting" ? "muted" : ""])));
}

function showCustomer(customer, decisions) {
  $("customer-id").textContent = customer.id;
  $("customer-stage").textContent = customer.stage;
  $("customer-since").textContent = when(customer.stage_since);
  $("customer-events").textContent = number(customer.events_seen);
  $("customer-owner").textContent = customer.owner ? " · owned by " + customer.owner : "";
  $("customer-profile").textContent = JSON.stringify(customer.profile, null, 2);
  const none = columns => { const r = row(["none"], ["muted"]); r.firstChild.colSpan = columns; return r; };
  $("customer-timers").replaceChildren(...(customer.timers.length
      ? customer.timers.map(t => row([t.name, when(t.due)])) : [none(2)]));
  $("customer-contacts").replaceChildren(...(customer.contacts.length
      ? customer.contacts.map(c => row([c.program, c.channel, when(c.at)])) : [none(3)]));
  $("customer-decisions").replaceChildren(...(decisions.length ? decisions.map(d => row(
      [when(d.at), d.program, d.channel, d.priority, d.outcome, d.reason,
       (d.detail || "") + (d.outcome === "defer" ? " until " + when(d.until) : "")],
      ["", "", "", "", "outcome-" + d.outcome])) : [none(7)]));
  $("customer").hidden = false;
}

async function lookup(id) {
  shownCustomer = id;
  $("lookup-error").textContent = "";
  history.replaceState(null, "", id ? "#customer=" + encodeURIComponent(id) : "#");
  if (!id) { $("customer").hidden = true; return; }
  const path = "/customers/" + encodeURIComponent(id);
  try {
    const [customer, decisions] = await Promise.all([api(path), api(path + "/decisions")]);
    if (id === shownCustomer) showCustomer(customer, decisions);
  } catch (error) {
    if (error instanceof AuthRequired) return;
    $("customer").hidden = true;
    $("lookup-error").textContent = error.message;
  }
}

async function refresh() {
  try {
    const [stats, cluster] = await Promise.all([api("/stats"), api("/cluster")]);
    showStats(stats);
    showCluster(cluster);
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
    if (shownCustomer && !$("customer").hidden) lookup(shownCustomer);
  } catch (error) {
    if (!(error instanceof AuthRequired)) $("status").textContent = "no answer: " + error.message;
  }
}

function start() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
  const customer = fragment.get("customer") || "";
  history.replaceState(null, "", customer ? "#customer=" + encodeURIComponent(customer) : "#");
  $("token-entry").addEventListener("submit", event => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value);
    $("token-input").value = "";
    $("token-form").hidden = true;
    $("dashboard").hidden = false;
    refresh();
    if (shownCustomer) lookup(shownCustomer);
  });
  $("forget-token").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  });
  $("lookup").addEventListener("submit", event => {
    event.preventDefault();
    lookup($("customer-input").value.trim());
  });
  $("customer-input").value = customer;
  refresh();
  if (customer) lookup(customer);
  setInterval(refresh, POLL_MS);
}

start();
</script>
</body>
</html>
)page";

}  // namespace

std::string_view console_page() {
    return kPage;
}

}  // namespace journeyd
