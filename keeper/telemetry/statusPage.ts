/**
 * The status page the telemetry server serves at `/`: one HTML document and one script (`/status.js`), no
 * framework and nothing fetched from elsewhere. The script reads `/api/status` (every vault's summary), opens
 * `/api/events` (server-sent events: one update per block) and, for the vault in the URL's hash, `/api/vault/<address>`
 * (its history). It draws with SVG: a list of vaults with sparklines of their delta, and a vault's detail — net
 * delta against its band and hard limit with the hedges marked (gas and slippage in their tooltips), the price,
 * cumulative cost, readiness and its reasons, pending transactions, the perp's margin and, in shadow mode, what
 * the keeper would have done beside what happened on-chain. Text from the keeper is only ever set as text.
 */

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>delta-keeper status</title>
<link rel="icon" href="data:,">
<style>
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #57606a; --line: #d0d7de; --band: #ddf4ff; --delta: #0969da; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1f2328; background: #fff; }
header { padding: 10px 16px; border-bottom: 1px solid var(--line); display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
header h1 { font-size: 16px; margin: 0; }
main { padding: 12px 16px; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; font-weight: 600; }
.pill.ok { background: var(--ok); } .pill.bad { background: var(--bad); } .pill.warn { background: var(--warn); }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.row { cursor: pointer; } tr.row:hover { background: #f6f8fa; }
ul.reasons { margin: 4px 0; padding-left: 18px; color: var(--bad); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 8px 16px; margin: 8px 0 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.card span { overflow-wrap: anywhere; }
.card b { display: block; font-size: 12px; color: var(--muted); font-weight: 500; }
svg text { font: 11px system-ui, sans-serif; fill: var(--muted); }
input[type=search] { padding: 4px 8px; width: 280px; }
a { color: var(--delta); }
</style>
</head>
<body>
<header>
  <h1>delta-keeper</h1>
  <span id="keeper-state" data-testid="keeper-state" class="pill warn">connecting</span>
  <span id="head" class="muted"></span>
  <span id="mode" class="muted"></span>
  <span id="policy" class="muted"></span>
  <span id="live" class="muted"></span>
</header>
<main>
  <ul id="keeper-reasons" class="reasons"></ul>
  <section id="list-view">
    <p><input id="filter" type="search" placeholder="filter vaults by address or reason"> <span id="count" class="muted"></span></p>
    <table>
      <thead><tr><th>vault</th><th>delta (recent)</th><th class="num">delta</th><th class="num">band</th><th class="num">limit</th><th>ready</th><th class="num">pending</th><th class="num">hedges</th><th class="num">cost</th><th>decision</th></tr></thead>
      <tbody id="vault-rows"></tbody>
    </table>
  </section>
  <section id="detail-view" hidden>
    <p><a href="#">← all vaults</a> <b id="d-vault"></b> <span id="d-ready" data-testid="vault-readiness" class="pill warn"></span></p>
    <ul id="d-reasons" class="reasons"></ul>
    <div class="grid" id="d-cards"></div>
    <svg id="delta-chart" data-testid="delta-chart" width="100%" height="280" viewBox="0 0 1000 280" preserveAspectRatio="none"></svg>
    <svg id="price-chart" width="100%" height="140" viewBox="0 0 1000 140" preserveAspectRatio="none"></svg>
    <h3>Hedges</h3>
    <table><thead><tr><th class="num">block</th><th>result</th><th>venue</th><th>side</th><th class="num">size</th><th class="num">gas</th><th class="num">gas cost</th><th class="num">slippage</th><th>tx</th></tr></thead><tbody id="d-hedges"></tbody></table>
    <h3>Pending transactions</h3>
    <table><thead><tr><th>hash</th><th class="num">nonce</th><th class="num">sent at block</th></tr></thead><tbody id="d-pending"></tbody></table>
    <section id="d-shadow-section" hidden>
      <h3>Shadow mode: the keeper's decisions beside the chain</h3>
      <table><thead><tr><th class="num">block</th><th>what</th><th>detail</th></tr></thead><tbody id="d-shadow"></tbody></table>
    </section>
  </section>
</main>
<script src="/status.js"></script>
</body>
</html>
`;

export const STATUS_PAGE_JS = String.raw`"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const NS = "http://www.w3.org/2000/svg";
  const state = { status: null, detail: null, rows: new Map(), spark: new Map(), history: 3600 };
  const fmt = (x, d = 3) => (x === null || x === undefined || !Number.isFinite(x) ? "–" : Number(x).toFixed(d));
  const short = (a) => a.slice(0, 6) + "…" + a.slice(-4);
  const el = (tag, attrs = {}, text) => {
    const e = tag.startsWith("svg:") ? document.createElementNS(NS, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  };
  const pill = (node, ok, okText, badText) => {
    node.className = "pill " + (ok ? "ok" : "bad");
    node.textContent = ok ? okText : badText;
    node.dataset.ready = ok ? "true" : "false";
  };
  const reasonsList = (node, reasons) => {
    node.replaceChildren(...reasons.map((r) => el("li", {}, r)));
  };

  function sparkline(values, band, limit) {
    const w = 160, h = 28;
    const svg = el("svg:svg", { width: w, height: h, viewBox: "0 0 " + w + " " + h });
    if (values.length === 0) return svg;
    const m = Math.max(1e-9, ...values.map(Math.abs), band ?? 0, limit ?? 0);
    const y = (v) => h / 2 - (v / m) * (h / 2 - 2);
    if (band !== null && band !== undefined) svg.append(el("svg:rect", { x: 0, y: y(band), width: w, height: Math.max(0, y(-band) - y(band)), fill: "#ddf4ff" }));
    if (limit !== null && limit !== undefined) for (const s of [1, -1]) svg.append(el("svg:line", { x1: 0, x2: w, y1: y(s * limit), y2: y(s * limit), stroke: "#cf222e", "stroke-dasharray": "3 2" }));
    const step = values.length > 1 ? w / (values.length - 1) : 0;
    svg.append(el("svg:polyline", { points: values.map((v, i) => (i * step).toFixed(1) + "," + y(v).toFixed(1)).join(" "), fill: "none", stroke: "#0969da", "stroke-width": 1.2 }));
    return svg;
  }

  function renderHeader(s) {
    $("head").textContent = s.head === null ? "no block yet" : "block " + s.head;
    $("mode").textContent = "mode: " + s.mode;
    $("policy").textContent = "policy: " + JSON.stringify(s.policy);
    $("live").textContent = s.live ? "" : "loop stalled";
    pill($("keeper-state"), s.ready, "ready", "not ready");
    reasonsList($("keeper-reasons"), s.reasons);
  }

  function renderRow(v) {
    let row = state.rows.get(v.vault);
    if (!row) {
      row = el("tr", { class: "row", "data-vault": v.vault });
      row.addEventListener("click", () => { location.hash = "#/vault/" + v.vault; });
      state.rows.set(v.vault, row);
      $("vault-rows").append(row);
    }
    const ready = el("span", { "data-testid": "readiness-" + v.vault.toLowerCase() });
    pill(ready, v.readiness.ready, "ready", "not ready");
    if (!v.readiness.ready) ready.title = v.readiness.reasons.join("\n");
    const cells = [
      el("td", { title: v.vault }, short(v.vault)),
      el("td"),
      el("td", { class: "num" }, fmt(v.delta)),
      el("td", { class: "num" }, v.band === null ? "–" : "±" + fmt(v.band)),
      el("td", { class: "num" }, v.hardLimit === null ? "–" : "±" + fmt(v.hardLimit)),
      el("td"),
      el("td", { class: "num" }, v.pending),
      el("td", { class: "num" }, v.hedges),
      el("td", { class: "num", title: "gas " + fmt(v.gasQuote, 2) + " + slippage " + fmt(v.slippageQuote, 2) }, fmt(v.gasQuote + v.slippageQuote, 2)),
      el("td", { class: "muted" }, v.decision.kind + ": " + v.decision.reason),
    ];
    cells[1].append(sparkline(v.spark, v.band, v.hardLimit));
    cells[5].append(ready);
    row.replaceChildren(...cells);
    row.dataset.search = (v.vault + " " + v.readiness.reasons.join(" ")).toLowerCase();
  }

  function applyFilter() {
    const q = $("filter").value.trim().toLowerCase();
    let shown = 0;
    for (const row of state.rows.values()) {
      const hit = q === "" || row.dataset.search.includes(q);
      row.hidden = !hit;
      if (hit) shown++;
    }
    $("count").textContent = shown + " of " + state.rows.size + " vaults";
  }

  function scale(lo, hi, a, b) {
    const span = hi - lo || 1;
    return (v) => a + ((v - lo) / span) * (b - a);
  }

  function drawDetail() {
    const d = state.detail;
    if (!d) return;
    $("d-vault").textContent = d.vault;
    pill($("d-ready"), d.readiness.ready, "ready", "not ready");
    reasonsList($("d-reasons"), d.readiness.reasons);
    const cards = [
      ["price", fmt(d.spot, 2)], ["net delta", fmt(d.delta, 4)], ["band", d.band === null ? "–" : "±" + fmt(d.band, 4)],
      ["hard limit", d.hardLimit === null ? "none" : "±" + fmt(d.hardLimit, 4)], ["venue", d.venue], ["decision", d.decision.kind + ": " + d.decision.reason],
      ["hedges", d.hedges], ["cumulative gas", fmt(d.gasQuote, 4)], ["cumulative slippage", fmt(d.slippageQuote, 4)],
      ["policy", JSON.stringify(state.status ? state.status.policy : {})],
    ];
    if (d.perp) cards.push(["perp position", fmt(d.perp.size, 4)], ["perp margin", (d.perp.marginRatioBps === null ? "no position" : fmt(d.perp.marginRatioBps, 0) + " bps") + " (min " + d.perp.minMarginBps + ")" + (d.perp.liquidatable ? " LIQUIDATABLE" : "")]);
    $("d-cards").replaceChildren(...cards.map(([k, v]) => { const c = el("div", { class: "card" }); c.append(el("b", {}, k), el("span", {}, v)); return c; }));

    const h = d.history;
    const n = h.block.length;
    const chart = $("delta-chart");
    chart.replaceChildren();
    if (n > 0) {
      const x = scale(h.block[0], h.block[n - 1], 50, 990);
      let m = 1e-9;
      for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(h.delta[i]), h.band[i] ?? 0);
      if (d.hardLimit !== null) m = Math.max(m, d.hardLimit);
      m *= 1.1;
      const y = scale(-m, m, 270, 10);
      let upper = "", lower = "";
      for (let i = 0; i < n; i++) if (h.band[i] !== null) { upper += x(h.block[i]).toFixed(1) + "," + y(h.band[i]).toFixed(1) + " "; lower = x(h.block[i]).toFixed(1) + "," + y(-h.band[i]).toFixed(1) + " " + lower; }
      if (upper) chart.append(el("svg:polygon", { points: upper + lower, fill: "#ddf4ff", "data-testid": "band" }));
      chart.append(el("svg:line", { x1: 50, x2: 990, y1: y(0), y2: y(0), stroke: "#d0d7de" }));
      if (d.hardLimit !== null) for (const s of [1, -1]) chart.append(el("svg:line", { x1: 50, x2: 990, y1: y(s * d.hardLimit), y2: y(s * d.hardLimit), stroke: "#cf222e", "stroke-dasharray": "6 4", "data-testid": "hard-limit" }));
      chart.append(el("svg:polyline", { points: h.delta.map((v, i) => x(h.block[i]).toFixed(1) + "," + y(v).toFixed(1)).join(" "), fill: "none", stroke: "#0969da", "stroke-width": 1.5, "vector-effect": "non-scaling-stroke" }));
      chart.append(el("svg:text", { x: 50, y: 278 }, "block " + h.block[0]), el("svg:text", { x: 990, y: 278, "text-anchor": "end" }, "block " + h.block[n - 1]));
      chart.append(el("svg:text", { x: 4, y: 14 }, "+" + fmt(m, 2)), el("svg:text", { x: 4, y: 274 }, "−" + fmt(m, 2)), el("svg:text", { x: 4, y: y(0) + 4 }, "0"));
      for (const mark of d.hedgeMarks) {
        const colour = mark.result === "mined" ? "#1a7f37" : mark.result === "reverted" ? "#cf222e" : "#8c959f";
        const i = h.block.findIndex((b) => b >= mark.block);
        const cy = i >= 0 ? y(h.delta[i]) : y(0);
        const c = el("svg:circle", { cx: x(Math.min(mark.block, h.block[n - 1])), cy, r: 5, fill: colour, stroke: "#fff", "data-testid": "hedge-mark", "data-block": mark.block });
        const what = mark.margin !== undefined ? "margin " + fmt(mark.margin, 2) : (mark.side ?? "") + " " + fmt(mark.size, 4) + " on " + (mark.venue ?? "?");
        c.append(el("svg:title", {}, "block " + mark.block + ": " + mark.result + " " + what + ", gas " + mark.gasUsed + " (" + fmt(mark.gasQuote, 4) + "), slippage " + fmt(mark.slippageBps, 1) + " bps (" + fmt(mark.slippageQuote, 4) + ")"));
        chart.append(c);
      }
      const price = $("price-chart");
      price.replaceChildren();
      const lo = Math.min(...h.spot), hi = Math.max(...h.spot);
      const py = scale(lo, hi || lo + 1, 130, 10);
      price.append(el("svg:polyline", { points: h.spot.map((v, i) => x(h.block[i]).toFixed(1) + "," + py(v).toFixed(1)).join(" "), fill: "none", stroke: "#57606a", "stroke-width": 1.2, "vector-effect": "non-scaling-stroke" }));
      price.append(el("svg:text", { x: 4, y: 14 }, fmt(hi, 2)), el("svg:text", { x: 4, y: 134 }, fmt(lo, 2)));
    }
    $("d-hedges").replaceChildren(...d.hedgeMarks.slice().reverse().slice(0, 50).map((m) => {
      const tr = el("tr");
      tr.append(el("td", { class: "num" }, m.block), el("td", {}, m.result), el("td", {}, m.venue ?? "–"), el("td", {}, m.margin !== undefined ? "margin" : m.side ?? "–"),
        el("td", { class: "num" }, m.margin !== undefined ? fmt(m.margin, 2) : fmt(m.size, 4)), el("td", { class: "num" }, m.gasUsed), el("td", { class: "num" }, fmt(m.gasQuote, 4)),
        el("td", { class: "num" }, fmt(m.slippageQuote, 4) + " (" + fmt(m.slippageBps, 1) + " bps)"), el("td", { title: m.hash }, short(m.hash)));
      return tr;
    }));
    $("d-pending").replaceChildren(...d.pendingTx.map((p) => { const tr = el("tr"); tr.append(el("td", {}, p.hash), el("td", { class: "num" }, p.nonce), el("td", { class: "num" }, p.sentAtBlock)); return tr; }));
    $("d-shadow-section").hidden = d.shadow.length === 0;
    $("d-shadow").replaceChildren(...d.shadow.slice().reverse().slice(0, 50).map((s) => { const tr = el("tr"); tr.append(el("td", { class: "num" }, s.block), el("td", {}, s.kind), el("td", {}, s.detail)); return tr; }));
  }

  async function loadDetail(vault) {
    const res = await fetch("/api/vault/" + encodeURIComponent(vault), { cache: "no-store" });
    state.detail = res.ok ? await res.json() : null;
    drawDetail();
  }

  function route() {
    const m = /^#\/vault\/(0x[0-9a-fA-F]{40})$/.exec(location.hash);
    $("list-view").hidden = !!m;
    $("detail-view").hidden = !m;
    state.detail = null;
    if (m) loadDetail(m[1]);
  }

  function onUpdate(u) {
    if (state.status) {
      Object.assign(state.status, { head: u.head, live: u.live, ready: u.ready, reasons: u.reasons });
      renderHeader(state.status);
    }
    for (const v of u.vaults) {
      // The sparkline: the page's own, extended by each block's point (events do not carry it).
      const spark = state.spark.get(v.vault) ?? [];
      spark.push(v.point.delta);
      if (spark.length > 60) spark.splice(0, spark.length - 60);
      state.spark.set(v.vault, spark);
      renderRow({ ...v, spark });
      const d = state.detail;
      if (d && d.vault.toLowerCase() === v.vault.toLowerCase()) {
        const { point, newHedges, newShadow, spark: _s, ...summary } = v;
        Object.assign(d, summary);
        d.history.block.push(point.block); d.history.spot.push(point.spot); d.history.delta.push(point.delta); d.history.band.push(point.band);
        const extra = d.history.block.length - state.history;
        if (extra > 0) for (const k of ["block", "spot", "delta", "band"]) d.history[k].splice(0, extra);
        d.hedgeMarks.push(...newHedges);
        d.shadow.push(...newShadow);
        // The pending list changed (a hedge sent or settled): take it from the server; otherwise redraw what we have.
        if (summary.pending !== d.pendingTx.length) loadDetail(d.vault).catch(() => null);
        else drawDetail();
      }
    }
    applyFilter();
    document.body.dataset.head = String(u.head);
  }

  /** Every vault's summary, and the open vault's history, as the keeper has them now. */
  async function refresh() {
    const res = await fetch("/api/status", { cache: "no-store" });
    const status = await res.json();
    state.status = status;
    renderHeader(status);
    for (const v of status.vaults) {
      state.spark.set(v.vault, v.spark.slice());
      renderRow(v);
    }
    applyFilter();
    if (status.head !== null) document.body.dataset.head = String(status.head);
    if (state.detail) await loadDetail(state.detail.vault);
  }

  async function start() {
    await refresh();
    state.history = state.status.historyBlocks;
    $("filter").addEventListener("input", applyFilter);
    window.addEventListener("hashchange", route);
    route();
    const events = new EventSource("/api/events");
    events.addEventListener("block", (e) => onUpdate(JSON.parse(e.data)));
    // Blocks observed while the stream was (re)connecting are not replayed: take the state afresh once it is open.
    events.onopen = () => {
      document.body.dataset.stream = "open";
      refresh().catch(() => null);
    };
    events.onerror = () => {
      document.body.dataset.stream = "closed";
      $("keeper-state").className = "pill warn";
      $("keeper-state").textContent = "reconnecting";
    };
  }
  start().catch((err) => { $("keeper-state").textContent = "cannot load status: " + err; });
})();
`;
