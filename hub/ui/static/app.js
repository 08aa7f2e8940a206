// The page at /ui: the pool, the latest calls, and a trace waterfall per call.
// Data comes from the hub's admin JSON (/ui/api/pool, /ui/api/calls, /admin/traces/{id}) with the
// admin credential from the sign-in form, kept in sessionStorage and sent as "Authorization: Bearer"
// (never in a URL). Everything shown is set as text (textContent), never parsed as HTML.
"use strict";

(() => {
  const TOKEN_KEY = "hub.ui.token";
  const CALLS = 50;
  const byId = (id) => document.getElementById(id);

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  async function getJson(path) {
    const headers = { Accept: "application/json" };
    const credential = token();
    if (credential) headers.Authorization = "Bearer " + credential;
    let response;
    try {
      response = await fetch(path, { headers, cache: "no-store", credentials: "omit" });
    } catch (error) {
      throw new HttpError(0, "the hub did not answer (" + error.message + ")");
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      const message = body && body.error && body.error.message ? body.error.message : response.statusText;
      throw new HttpError(response.status, message);
    }
    return body;
  }

  // ---- page states: signed out, not allowed, data ----

  function say(text) {
    const message = byId("message");
    message.textContent = text || "";
    message.hidden = !text;
  }

  function showSignIn(text) {
    byId("data").hidden = true;
    byId("sign-out").hidden = true;
    byId("sign-in").hidden = false;
    byId("status").textContent = "signed out";
    say(text);
    byId("key").focus();
  }

  function failed(error) {
    if (error.status === 401) {
      const had = token() !== null;
      sessionStorage.removeItem(TOKEN_KEY);
      showSignIn(had ? "That key or token was not accepted: " + error.message : "");
    } else if (error.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      showSignIn("Not allowed: this credential is valid but not an admin's. " + error.message);
    } else {
      byId("status").textContent = "error";
      say("Could not load the hub's data: " + error.message);
    }
  }

  async function load() {
    byId("status").textContent = "loading…";
    try {
      const [pool, calls] = await Promise.all([
        getJson("/ui/api/pool"),
        getJson("/ui/api/calls?limit=" + CALLS),
      ]);
      renderPool(pool.models || []);
      renderCalls(calls);
      say("");
      byId("sign-in").hidden = true;
      byId("data").hidden = false;
      byId("sign-out").hidden = token() === null;
      byId("status").textContent = "updated " + new Date().toLocaleTimeString();
    } catch (error) {
      failed(error);
    }
  }

  // ---- the pool ----

  function health(replica) {
    if (replica.ejected) return ["ejected " + replica.ejected_for_s + " s", "bad"];
    if (!replica.healthy) return ["unhealthy", "bad"];
    return ["healthy", "good"];
  }

  function renderPool(models) {
    const body = byId("pool").tBodies[0];
    clear(body);
    for (const model of models) {
      const replicas = model.replicas && model.replicas.length ? model.replicas : [null];
      replicas.forEach((replica, index) => {
        const row = el("tr");
        if (index === 0) {
          for (const value of [model.name, model.task, model.backend, model.routing]) {
            const cell = el("td", value);
            cell.rowSpan = replicas.length;
            row.append(cell);
          }
        }
        if (replica === null) {
          row.append(el("td", "no replicas", "muted"), el("td"), el("td"), el("td"), el("td"));
        } else {
          const [text, kind] = health(replica);
          row.append(el("td", replica.name), el("td", text, kind));
          row.append(el("td", replica.outstanding, "num"), el("td", replica.consecutive_failures, "num"));
          row.append(el("td", replica.ejections, "num"));
        }
        body.append(row);
      });
    }
  }

  // ---- recent calls ----

  function cost(value) {
    if (!value) return "$0";
    return "$" + (value < 0.01 ? value.toPrecision(3) : value.toFixed(4));
  }

  function renderCalls(answer) {
    const body = byId("calls").tBodies[0];
    clear(body);
    const calls = answer.calls || [];
    const note = byId("calls-note");
    note.textContent = !answer.recording
      ? "The usage ledger is off (usage.enabled: false): calls are not recorded."
      : calls.length === 0
        ? "No calls yet."
        : "";
    note.hidden = note.textContent === "";
    for (const call of calls) {
      const row = el("tr");
      const status = [call.status, call.status_code, call.error_code].filter((v) => v !== null).join(" ");
      const tokens = call.prompt_tokens + " / " + call.completion_tokens + (call.estimated ? " ~" : "");
      row.append(
        el("td", String(call.at).replace("T", " ").slice(0, 19)),
        el("td", call.model),
        el("td", call.subject),
        el("td", call.team === null ? "—" : call.team),
        el("td", call.frontdoor),
        el("td", status, call.status === "ok" ? "good" : "bad"),
        el("td", Math.round(call.latency_ms) + " ms", "num"),
        el("td", tokens, "num"),
        el("td", cost(call.cost), "num"),
      );
      const traceCell = el("td");
      if (call.trace_id) {
        const open = el("button", "waterfall", "link");
        open.type = "button";
        open.dataset.traceId = call.trace_id;
        open.addEventListener("click", () => openTrace(call.trace_id, row));
        traceCell.append(open);
        row.classList.add("traced");
      } else {
        traceCell.append(el("span", "—", "muted"));
      }
      row.append(traceCell);
      body.append(row);
    }
  }

  // ---- the trace waterfall ----

  function nanos(value) {
    try {
      return typeof value === "number" ? BigInt(Math.round(value)) : BigInt(String(value));
    } catch {
      return 0n;
    }
  }

  const ms = (delta) => Number(delta) / 1e6;

  function formatMs(value) {
    return (value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : Math.round(value)) + " ms";
  }

  // Depth-first from the roots (spans whose parent is absent from the trace), children by start time.
  function ordered(spans) {
    const ids = new Set(spans.map((s) => s.span_id));
    const children = new Map();
    const roots = [];
    for (const span of spans) {
      const parent = span.parent_span_id;
      if (parent && ids.has(parent) && parent !== span.span_id) {
        if (!children.has(parent)) children.set(parent, []);
        children.get(parent).push(span);
      } else {
        roots.push(span);
      }
    }
    const byStart = (a, b) => {
      const d = nanos(a.start_unix_nano) - nanos(b.start_unix_nano);
      return d < 0n ? -1 : d > 0n ? 1 : 0;
    };
    const out = [];
    const seen = new Set();
    const visit = (span, depth) => {
      if (seen.has(span)) return;
      seen.add(span);
      out.push({ span, depth });
      for (const child of (children.get(span.span_id) || []).sort(byStart)) visit(child, depth + 1);
    };
    roots.sort(byStart).forEach((root) => visit(root, 0));
    spans.filter((s) => !seen.has(s)).forEach((s) => visit(s, 0)); // a broken parent chain
    return out;
  }

  function renderWaterfall(spans) {
    const fall = byId("waterfall");
    clear(fall);
    byId("span-detail").hidden = true;
    if (!spans.length) {
      byId("trace-note").textContent = "This trace has no spans.";
      return;
    }
    const starts = spans.map((s) => nanos(s.start_unix_nano));
    const ends = spans.map((s) => nanos(s.end_unix_nano));
    const t0 = starts.reduce((a, b) => (b < a ? b : a));
    const t1 = ends.reduce((a, b) => (b > a ? b : a));
    const total = Math.max(ms(t1 - t0), 0.001);
    byId("trace-note").textContent = spans.length + " spans, " + formatMs(total) + ". Click a span for its details.";

    const scale = el("div", null, "span-row scale");
    scale.append(el("div", "span", "span-name"), el("div", "0 ms … " + formatMs(total), "span-track"));
    scale.append(el("div", "duration", "span-duration"));
    fall.append(scale);

    for (const { span, depth } of ordered(spans)) {
      const start = ms(nanos(span.start_unix_nano) - t0);
      const duration = Math.max(ms(nanos(span.end_unix_nano) - nanos(span.start_unix_nano)), 0);
      const row = el("div", null, "span-row");
      row.tabIndex = 0;
      row.setAttribute("role", "treeitem");
      row.dataset.depth = String(depth);
      row.dataset.spanId = span.span_id;
      if (span.status && span.status.code === "error") row.classList.add("error");
      const name = el("div", span.name, "span-name");
      name.style.paddingLeft = 4 + depth * 16 + "px";
      name.title = span.name;
      const track = el("div", null, "span-track");
      const bar = el("div", null, "span-bar");
      bar.style.left = (start / total) * 100 + "%";
      bar.style.width = Math.max((duration / total) * 100, 0.3) + "%";
      track.append(bar);
      row.append(name, track, el("div", formatMs(duration), "span-duration"));
      const select = () => {
        for (const other of fall.querySelectorAll(".span-row.selected")) other.classList.remove("selected");
        row.classList.add("selected");
        showSpan(span, start, duration, t0);
      };
      row.addEventListener("click", select);
      row.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          select();
        }
      });
      fall.append(row);
    }
  }

  function value(v) {
    return typeof v === "string" ? v : JSON.stringify(v);
  }

  function attributeTable(attributes) {
    const table = el("table", null, "attributes");
    const keys = Object.keys(attributes || {}).sort();
    for (const key of keys) {
      const row = el("tr");
      row.append(el("th", key), el("td", value(attributes[key])));
      table.append(row);
    }
    if (!keys.length) {
      const row = el("tr");
      row.append(el("td", "none", "muted"));
      table.append(row);
    }
    return table;
  }

  function showSpan(span, start, duration, t0) {
    const detail = byId("span-detail");
    clear(detail);
    detail.append(el("h3", span.name));
    const facts = el("dl");
    const status = span.status || {};
    const rows = [
      ["span id", span.span_id],
      ["parent", span.parent_span_id || "—"],
      ["kind", span.kind],
      ["status", [status.code, status.description].filter(Boolean).join(": ") || "unset"],
      ["starts at", "+" + formatMs(start)],
      ["duration", formatMs(duration)],
    ];
    for (const [term, text] of rows) facts.append(el("dt", term), el("dd", text));
    detail.append(facts, el("h4", "Attributes"), attributeTable(span.attributes));
    detail.append(el("h4", "Events"));
    const events = span.events || [];
    if (!events.length) detail.append(el("p", "none", "muted"));
    const list = el("ol", null, "events");
    for (const event of events) {
      const item = el("li");
      item.append(el("strong", event.name), el("span", " +" + formatMs(ms(nanos(event.time_unix_nano) - t0))));
      item.append(attributeTable(event.attributes));
      list.append(item);
    }
    if (events.length) detail.append(list);
    const links = span.links || [];
    if (links.length) detail.append(el("p", links.length + " link(s) to other traces", "muted"));
    detail.hidden = false;
  }

  async function openTrace(traceId, row) {
    for (const other of byId("calls").querySelectorAll("tr.selected")) other.classList.remove("selected");
    row.classList.add("selected");
    const section = byId("trace");
    section.hidden = false;
    byId("trace-id").textContent = traceId;
    byId("trace-note").textContent = "loading…";
    clear(byId("waterfall"));
    byId("span-detail").hidden = true;
    try {
      const trace = await getJson("/admin/traces/" + encodeURIComponent(traceId));
      renderWaterfall(trace.spans || []);
    } catch (error) {
      byId("trace-note").textContent =
        error.status === 404
          ? "No trace is recorded for this call (tracing is off here, or the trace has been dropped)."
          : error.status === 401 || error.status === 403
            ? "Not allowed to read traces: " + error.message
            : "Could not load the trace: " + error.message;
    }
    section.scrollIntoView({ block: "start" });
  }

  // ---- wiring ----

  document.addEventListener("DOMContentLoaded", () => {
    byId("sign-in").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = byId("key").value.trim();
      byId("key").value = "";
      if (!key) return;
      sessionStorage.setItem(TOKEN_KEY, key);
      load();
    });
    byId("sign-out").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      load();
    });
    byId("refresh").addEventListener("click", load);
    load();
  });
})();
