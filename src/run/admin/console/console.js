// The scim-gateway console: reads the admin API (/admin/v1/...) and shows
// it. Every number shown from /admin/v1/stats carries its place in that
// answer (data-stat: the JSON path) and its exact value (data-value: JSON),
// so a test can hold the page to the API. Text is set with textContent
// only: nothing from the API is ever parsed as HTML.
"use strict";

const API = "/admin/v1";
const TOKEN_KEY = "scim-gateway-admin-token";

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function get(path) {
  const headers = {};
  const t = token();
  if (t) headers["Authorization"] = "Bearer " + t;
  const r = await fetch(API + path, { headers, cache: "no-store" });
  if (r.status === 401) {
    document.getElementById("token-form").hidden = false;
    throw new Error("the admin API needs a token");
  }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function at(obj, path) {
  return path.reduce((o, k) => (o === undefined || o === null ? undefined : o[k]), obj);
}

function fmt(v, kind) {
  if (v === null || v === undefined) return "\u2013";
  switch (kind) {
    case "pct": return (v * 100).toFixed(2) + " %";
    case "ms": return v.toFixed(2);
    case "s": return v.toFixed(1);
    default: return String(v);
  }
}

// A cell showing stats[path], tagged for the test.
function statCell(stats, path, kind, cls) {
  const v = at(stats, path);
  const value = v === undefined ? null : v;
  const td = el("td", fmt(value, kind), "num" + (cls ? " " + cls : ""));
  td.dataset.stat = JSON.stringify(path);
  td.dataset.value = JSON.stringify(value);
  return td;
}

function fill(tableId, rows, columns) {
  const body = document.querySelector("#" + tableId + " tbody");
  body.replaceChildren();
  if (rows.length === 0) {
    const tr = el("tr");
    const td = el("td", "none", "empty");
    td.colSpan = columns;
    tr.append(td);
    body.append(tr);
  }
  for (const r of rows) body.append(r);
}

function tenantRows(stats) {
  return Object.keys(stats.tenants).sort().map((id) => {
    const t = stats.tenants[id];
    const p = (k) => ["tenants", id].concat(k);
    const tr = el("tr");
    tr.append(el("td", id, "text"));
    tr.append(statCell(stats, p(["requests"])));
    const rate = t.success_rate;
    tr.append(statCell(stats, p(["success_rate"]), "pct", rate !== null && rate < 0.999 ? "bad" : "ok"));
    tr.append(statCell(stats, p(["latency", "p50_ms"]), "ms"));
    tr.append(statCell(stats, p(["latency", "p95_ms"]), "ms"));
    tr.append(statCell(stats, p(["latency", "p99_ms"]), "ms"));
    const codes = el("td", null, "text");
    const keys = Object.keys(t.errors_by_status).sort();
    if (keys.length === 0) codes.textContent = "\u2013";
    keys.forEach((code, i) => {
      const span = el("span", code + "\u00d7" + t.errors_by_status[code], "num");
      span.dataset.stat = JSON.stringify(p(["errors_by_status", code]));
      span.dataset.value = JSON.stringify(t.errors_by_status[code]);
      if (i > 0) codes.append(" ");
      codes.append(span);
    });
    tr.append(codes);
    tr.append(statCell(stats, p(["status_429"]), null, t.status_429 > 0 ? "warn" : ""));
    tr.append(statCell(stats, p(["limited"])));
    tr.append(statCell(stats, p(["auth_failures"]), null, t.auth_failures > 0 ? "warn" : ""));
    tr.append(statCell(stats, p(["cache_hit_ratio"]), "pct"));
    tr.append(statCell(stats, p(["deprovision", "count"])));
    tr.append(statCell(stats, p(["deprovision", "p99_ms"]), "ms"));
    return tr;
  });
}

function upstreamRows(answer) {
  const stats = answer.stats;
  const names = Object.keys(answer.upstream_states).sort();
  return names.map((name) => {
    const s = answer.upstream_states[name];
    const p = (k) => ["upstreams", name].concat(k);
    const tr = el("tr");
    tr.append(el("td", name, "text"));
    const breaker = el("td", s.breaker, s.breaker === "closed" ? "ok" : "bad");
    breaker.dataset.breaker = name;
    tr.append(breaker);
    const healthy = el("td", s.endpoints_healthy + " / " + s.endpoints,
      s.endpoints_healthy === s.endpoints ? "num ok" : "num bad");
    tr.append(healthy);
    tr.append(statCell(stats, p(["latency", "count"])));
    tr.append(statCell(stats, p(["latency", "p50_ms"]), "ms"));
    tr.append(statCell(stats, p(["latency", "p95_ms"]), "ms"));
    tr.append(statCell(stats, p(["latency", "p99_ms"]), "ms"));
    tr.append(statCell(stats, p(["retries"])));
    tr.append(statCell(stats, p(["throttled"])));
    tr.append(statCell(stats, p(["errors"])));
    return tr;
  });
}

function sinkRows(stats) {
  return Object.keys(stats.sinks).sort().map((sink) => {
    const p = (k) => ["sinks", sink].concat(k);
    const tr = el("tr");
    tr.append(el("td", sink, "text"));
    tr.append(statCell(stats, p(["delivered"])));
    tr.append(statCell(stats, p(["dead_lettered"])));
    tr.append(statCell(stats, p(["oldest_undelivered_seconds"]), "s"));
    return tr;
  });
}

function dialectRows(stats) {
  const rows = [];
  for (const id of Object.keys(stats.tenants).sort()) {
    const rules = stats.tenants[id].dialect_rules;
    for (const rule of Object.keys(rules).sort()) {
      const tr = el("tr");
      tr.append(el("td", id, "text"));
      tr.append(el("td", rule, "text"));
      tr.append(statCell(stats, ["tenants", id, "dialect_rules", rule]));
      rows.push(tr);
    }
  }
  return rows;
}

function errorRows(answer) {
  return answer.errors.slice(0, 50).map((e) => {
    const tr = el("tr");
    tr.append(el("td", new Date(e.time_ms).toISOString().replace("T", " ").slice(0, 23), "text"));
    tr.append(el("td", e.status, e.status >= 500 ? "num bad" : "num"));
    tr.append(el("td", e.scimType || "\u2013", "text"));
    tr.append(el("td", e.reason || "\u2013", "text"));
    tr.append(el("td", e.tenant || "\u2013", "text"));
    tr.append(el("td", e.route, "text"));
    tr.append(el("td", e.request_id, "text"));
    return tr;
  });
}

function summary(config, stats) {
  const s = document.getElementById("summary");
  s.replaceChildren();
  const part = (label, value) => {
    s.append(label + " ");
    s.append(el("b", value));
    s.append("  \u00b7  ");
  };
  part("config", config.hash ? config.hash.slice(7, 19) : "\u2013");
  part("loaded", config.loaded_at_ms ? new Date(config.loaded_at_ms).toISOString().slice(0, 19) + "Z" : "\u2013");
  part("reloads", config.reloads.ok + " ok, " + config.reloads.failed + " refused");
  if (config.last_reload_error) part("last reload refused", config.last_reload_error.problems.join("; "));
  part("tenants", String(stats.configured_tenants.length));
  s.append("updated " + new Date(stats.at_ms).toISOString().slice(11, 19) + "Z");
}

async function refresh() {
  try {
    const [stats, config, errors] = await Promise.all([get("/stats"), get("/config"), get("/errors")]);
    summary(config, stats);
    fill("tenants", tenantRows(stats.stats), 13);
    fill("upstreams", upstreamRows(stats), 10);
    const depth = document.getElementById("outbox-depth");
    const d = stats.stats.outbox_depth;
    depth.textContent = fmt(d);
    depth.dataset.stat = JSON.stringify(["outbox_depth"]);
    depth.dataset.value = JSON.stringify(d === undefined ? null : d);
    fill("sinks", sinkRows(stats.stats), 4);
    fill("dialect", dialectRows(stats.stats), 3);
    fill("errors", errorRows(errors), 7);
    document.getElementById("config-summary").textContent = "config " + (config.hash || "");
    document.getElementById("config").textContent = JSON.stringify(config.config, null, 2);
    document.body.dataset.statsAt = String(stats.at_ms);
    document.body.dataset.ready = "1";
  } catch (e) {
    document.getElementById("summary").textContent = String(e.message || e);
  }
}

document.getElementById("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value);
  document.getElementById("token-form").hidden = true;
  refresh();
});

refresh();
setInterval(refresh, 10000);
