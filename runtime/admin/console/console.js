// The operator console's script. Everything it shows comes from customers and events, so it
// writes text with textContent and builds elements itself, never innerHTML: a profile
// attribute holding markup stays text. The token lives in sessionStorage (gone with the tab)
// and a token in the URL fragment is removed from the address bar once read.
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

// Members per segment; the section stays hidden when the journey defines none.
function showSegments(segments) {
  $("segments").hidden = segments.length === 0;
  drawBars($("segment-chart"), segments.map(s => [s.name, s.members]),
           (name, i) => STAGE_COLORS[i % STAGE_COLORS.length]);
}

// The stages as boxes in the journey's order with their customers, and every transition as an
// arc whose width grows with its count: forward moves above the boxes, moves back below.
function drawJourney(svg, flow) {
  const stages = flow.stages, width = svg.clientWidth || 900;
  const slot = width / Math.max(1, stages.length), boxWidth = Math.min(150, slot - 24);
  const center = i => Math.round(slot * i + slot / 2);
  const index = new Map(stages.map((s, i) => [s.name, i]));
  const arcs = flow.transitions.filter(t => index.has(t.from) && index.has(t.to))
      .map(t => ({...t, span: index.get(t.to) - index.get(t.from)}));
  const lift = span => 28 + 26 * Math.abs(span);  // longer jumps arc higher, over shorter ones
  const room = arcs => Math.max(16, ...arcs.map(a => 0.75 * lift(a.span) + 24));
  const boxTop = room(arcs.filter(a => a.span > 0)), boxHeight = 64;
  const height = boxTop + boxHeight + room(arcs.filter(a => a.span < 0));
  const largest = Math.max(1, ...arcs.map(t => t.count));
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("height", height);
  for (const t of arcs) {
    const from = index.get(t.from), to = index.get(t.to), forward = t.span > 0;
    // Leave and arrive on different sides of the box centres so the two directions never overlap.
    const x1 = center(from) + (forward ? 12 : -12), x2 = center(to) + (forward ? -12 : 12);
    const y = forward ? boxTop : boxTop + boxHeight, bend = (forward ? -1 : 1) * lift(t.span);
    const stroke = 1.5 + 12 * t.count / largest, kind = "flow-arrow" + (forward ? "" : " back");
    svg.append(svgEl("path", {d: `M ${x1} ${y} C ${x1} ${y + bend}, ${x2} ${y + bend}, ${x2} ${y}`,
                              class: kind, "stroke-width": stroke.toFixed(1), "data-from": t.from,
                              "data-to": t.to, "data-count": t.count}));
    const tip = forward ? -9 : 9;
    svg.append(svgEl("path", {d: `M ${x2 - 6} ${y + tip} L ${x2} ${y} L ${x2 + 6} ${y + tip}`,
                              class: kind, "stroke-width": 2}));
    // The label just outside the arc's apex (0.75 of the bend for this curve).
    const apex = y + 0.75 * bend + (forward ? -(stroke / 2 + 4) : stroke / 2 + 12);
    svg.append(svgEl("text", {x: (x1 + x2) / 2, y: apex.toFixed(1), "text-anchor": "middle",
                              class: "count"}, number(t.count)));
  }
  stages.forEach((s, i) => {
    svg.append(svgEl("rect", {x: center(i) - boxWidth / 2, y: boxTop, width: boxWidth,
                              height: boxHeight, rx: 8, class: "flow-stage", "data-stage": s.name,
                              "data-customers": s.customers}));
    svg.append(svgEl("text", {x: center(i), y: boxTop + 20, "text-anchor": "middle",
                              class: "flow-name"}, s.name));
    svg.append(svgEl("text", {x: center(i), y: boxTop + 38, "text-anchor": "middle"},
                     number(s.customers) + " now"));
    const median = s.median_time_in_stage_ms === null ? "" :
        " · median stay " + duration(s.median_time_in_stage_ms);
    svg.append(svgEl("text", {x: center(i), y: boxTop + 55, "text-anchor": "middle",
                              class: "count"}, number(s.entered) + " in" + median));
  });
}

function duration(ms) {
  const units = [[86400000, "d"], [3600000, "h"], [60000, "m"], [1000, "s"]];
  for (const [size, unit] of units) if (ms >= size) return number(ms / size) + unit;
  return Math.round(ms) + "ms";
}

function showJourney(flow) {
  drawJourney($("journey-chart"), flow);
  $("journey-note").textContent = "Moves counted since the store was created; arc width by " +
      "count; medians of the time in stage within 10%" + (flow.partial ?
      "; not counted: the customers of " + flow.partial.join(", ") : "");
}

// Each declared pair's event types, ranked by the lower bound of the odds ratio of advancing.
function showDrivers(pairs, tables) {
  $("drivers").hidden = pairs.length === 0;
  const cells = c => number(c.advanced) + " / " + number(c.episodes);
  $("driver-tables").replaceChildren(...pairs.map((pair, i) => {
    const block = el("div", undefined, "driver");
    block.append(el("h3", `${pair.from} → ${pair.to} within ${pair.window}`));
    const table = el("table");
    const head = el("tr");
    for (const name of ["event", "exposed advanced", "unexposed advanced", "odds ratio (95%)"])
      head.append(el("th", name));
    table.append(el("thead"), el("tbody"));
    table.tHead.append(head);
    const rows = tables[i].slice(0, 8).map(d => row(
        [d.event, cells(d.exposed), cells(d.unexposed),
         number(d.odds_ratio) + " (" + number(d.ci95[0]) + "–" + number(d.ci95[1]) + ")"],
        ["", "", "", d.ci95[0] > 1 ? "driver-up" : d.ci95[1] < 1 ? "error" : ""]));
    if (rows.length === 0) rows.push(row(["no closed episodes yet"], ["muted"]));
    table.tBodies[0].append(...rows);
    block.append(table);
    return block;
  }));
}

// The catalogue with its learned propensities; hidden when the journey has no actions.
function showActions(actions) {
  $("actions").hidden = actions.length === 0;
  $("action-rows").replaceChildren(...actions.map(a => {
    const r = row([a.action, a.channel, number(a.value * a.weight), number(a.sent),
                   number(a.successes), number(a.failures), number(a.open),
                   share(a.propensity.mean) + " (" + share(a.propensity.ci95[0]) + "–" +
                       share(a.propensity.ci95[1]) + ")",
                   a.control ? arm(a.control) : "–", uplift(a.uplift)]);
    markUplift(r, a.uplift);
    return r;
  }));
}

// Shared by the actions' and the programs' control groups.
const share = p => (100 * p).toFixed(1) + "%";
const signedPoints = p => (p >= 0 ? "+" : "") + (100 * p).toFixed(1);
const arm = a => number(a.converted) + " / " + number(a.n) +
    (a.n > 0 ? " (" + share(a.converted / a.n) + ")" : "") +
    (a.open > 0 ? ", " + number(a.open) + " open" : "");
const uplift = lift => lift ? signedPoints(lift.absolute) + " pts (" + signedPoints(lift.ci95[0]) +
    " to " + signedPoints(lift.ci95[1]) + ")" : "–";
// An interval clear of 0 is coloured by its sign.
function markUplift(r, lift) {
  if (lift && (lift.ci95[0] > 0 || lift.ci95[1] < 0))
    r.lastChild.className = lift.ci95[0] > 0 ? "lift-up" : "lift-down";
}

// Each program's decisions and, for a goal, both arms' conversion and the uplift between them.
function showPrograms(programs) {
  $("programs").hidden = programs.length === 0;
  $("program-rows").replaceChildren(...programs.map(p => {
    const suppressed = Object.entries(p.suppressed).map(([reason, n]) => reason + " " + number(n));
    const r = row([p.program, number(p.requests), number(p.sent), number(p.deferred),
                   suppressed.join(", ") || "–", share(p.holdout), p.goal ? p.goal.event : "–",
                   p.goal ? arm(p.goal.treated) : "–", p.goal ? arm(p.goal.control) : "–",
                   uplift(p.uplift)]);
    markUplift(r, p.uplift);
    return r;
  }));
}

// This node's view of the members; the section stays hidden on a single node.
function showCluster(cluster) {
  $("cluster").hidden = !cluster.clustered;
  $("cluster-members").replaceChildren(...cluster.members.map(m => row(
      [m.name, m.state, m.address, when(m.since), number(m.forwarded ?? 0),
       number(m.refused ?? 0), m.reason || ""],
      ["", m.state === "down" ? "error" : m.state === "connecting" ? "muted" : ""])));
}

function showCustomer(customer, decisions, actions) {
  $("customer-id").textContent = customer.id +
      (customer.requested_as ? " (looked up as " + customer.requested_as + ")" : "");
  $("customer-aliases").textContent = (customer.aliases || []).join(", ") || "no other id";
  $("customer-stage").textContent = customer.stage;
  $("customer-since").textContent = when(customer.stage_since);
  $("customer-events").textContent = number(customer.events_seen);
  $("customer-segments").textContent = (customer.segments || []).join(", ") || "none";
  $("customer-owner").textContent = customer.owner ? " · owned by " + customer.owner : "";
  const holdout = customer.holdout || {global: false, programs: []};
  $("customer-holdout").textContent =
      [...(holdout.global ? ["global"] : []), ...holdout.programs,
       ...(holdout.actions || []).map(a => "action " + a)].join(", ") || "none";
  $("customer-profile").textContent = JSON.stringify(customer.profile, null, 2);
  const none = columns => { const r = row(["none"], ["muted"]); r.firstChild.colSpan = columns; return r; };
  $("customer-timers").replaceChildren(...(customer.timers.length
      ? customer.timers.map(t => row([t.name, when(t.due)])) : [none(2)]));
  $("customer-contacts").replaceChildren(...(customer.contacts.length
      ? customer.contacts.map(c => row([c.program, c.action || "", c.channel, when(c.at)]))
      : [none(4)]));
  showRhythm(customer);
  $("customer-action-block").hidden = actions.length === 0;
  $("customer-actions").replaceChildren(...actions.map(a => row(
      [a.action, a.eligible ? "yes" : "no: " + a.reason, (100 * a.propensity).toFixed(1) + "%",
       a.score.toFixed(2)], ["", a.eligible ? "" : "muted"])));
  $("customer-decisions").replaceChildren(...(decisions.length ? decisions.map(d => row(
      [when(d.at), d.program, d.action || "", d.channel, d.priority, d.outcome, d.reason,
       (d.detail || "") + (d.outcome === "defer" ? " until " + when(d.until) : "") +
           (d.skipped || []).map(k => " · skipped " + k.action + ": " + k.reason).join("")],
      ["", "", "", "", "", "outcome-" + d.outcome])) : [none(8)]));
  $("customer").hidden = false;
}

// The customer's engagement by local hour as 24 bars, the best hour marked; only with [rhythm].
function showRhythm(customer) {
  const rhythm = customer.rhythm;
  $("customer-rhythm-block").hidden = !rhythm;
  if (!rhythm) return;
  const tz = (customer.profile && customer.profile.tz) || "UTC";
  $("customer-rhythm-summary").textContent =
      (rhythm.best_hour === null
           ? "too little history for a best hour of their own"
           : "best hour " + String(rhythm.best_hour).padStart(2, "0") + ":00") +
      " · " + number(rhythm.events) + " engagement events, decayed · local time in " + tz;
  const peak = Math.max(...rhythm.hours, 1e-9);
  const bars = [];
  rhythm.hours.forEach((weight, hour) => {
    const height = weight > 0 ? Math.max(2, 70 * weight / peak) : 0;
    bars.push(svgEl("rect", {x: hour * 20 + 2, y: 76 - height, width: 16, height: height,
                             class: "rhythm-bar" + (hour === rhythm.best_hour ? " best" : "")},
                    undefined));
    bars[bars.length - 1].append(svgEl("title", {}, hour + ":00 · " + number(weight)));
    if (hour % 3 === 0) bars.push(svgEl("text", {x: hour * 20 + 10, y: 92, "text-anchor": "middle",
                                                 class: "count"}, String(hour)));
  });
  $("customer-rhythm").replaceChildren(...bars);
}

async function lookup(id) {
  shownCustomer = id;
  $("lookup-error").textContent = "";
  history.replaceState(null, "", id ? "#customer=" + encodeURIComponent(id) : "#");
  if (!id) { $("customer").hidden = true; return; }
  const path = "/customers/" + encodeURIComponent(id);
  try {
    const [customer, decisions, actions] = await Promise.all(
        [api(path), api(path + "/decisions"), api(path + "/actions")]);
    if (id === shownCustomer) showCustomer(customer, decisions, actions);
  } catch (error) {
    if (error instanceof AuthRequired) return;
    $("customer").hidden = true;
    $("lookup-error").textContent = error.message;
  }
}

async function refresh() {
  try {
    const [stats, cluster, segments, actions, programs, flow] = await Promise.all(
        [api("/stats"), api("/cluster"), api("/segments"), api("/actions"), api("/programs"),
         api("/journey")]);
    const drivers = await Promise.all(flow.drivers.map(d => api(
        "/journey/drivers?" + new URLSearchParams({from: d.from, to: d.to, window: d.window}))));
    showStats(stats);
    showCluster(cluster);
    showSegments(segments);
    showActions(actions);
    showPrograms(programs);
    showJourney(flow);
    showDrivers(flow.drivers, drivers);
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
