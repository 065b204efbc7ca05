/* Helpers shared by the compare page, the experiment chart view and the two-params view (#11):
 * DOM nodes built with textContent only, plotly's configuration (one toolbar button, #18), the
 * number format, a chart's data table (its text alternative) and the address hash as
 * name=value pairs. Loaded before compare-views.js, param-grid.js, compare.js, charts-view.js. */
(function () {
  "use strict";

  // One mode bar button (download PNG), never a cloud link; as in site.js (#18).
  var PLOT_CONFIG = {
    responsive: true, displaylogo: false, showSendToCloud: false, showEditInChartStudio: false,
    showLink: false, modeBarButtons: [["toImage"]]
  };
  var MAX_TABLE_ROWS = 500;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function formatNumber(value) {
    if (value === null || value === undefined) return "";
    if (typeof value !== "number") return String(value);
    if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-3)) return value.toPrecision(4);
    if (Number.isInteger(value)) return String(value);
    return String(Number(value.toPrecision(6)));
  }

  function asNumber(value) {
    if (value === null || value === undefined || value === "") return null;
    var number = Number(value);
    return isFinite(number) ? number : null;
  }

  /** Text plotly shows literally: it reads a little HTML in labels, hover text and names, and
   * %{...} in hover templates. */
  function plotlyText(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/%/g, "&#37;");
  }

  /** A chart's text alternative (#18): a closed <details> with a table of ``rows`` (arrays in
   * the order of ``columns``), at most MAX_TABLE_ROWS of them (the caption says when cut). */
  function dataTable(caption, columns, rows) {
    var details = el("details", "chart-alt");
    details.appendChild(el("summary", "", "Data of this chart"));
    var wrap = el("div", "table-wrap");
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", "Data of " + caption);
    var table = el("table", "grid chart-table");
    var cut = rows.length > MAX_TABLE_ROWS;
    table.appendChild(el("caption", "", caption + (cut ? " (first " + MAX_TABLE_ROWS + " of " + rows.length + " rows)" : "")));
    var head = table.createTHead().insertRow();
    columns.forEach(function (c) {
      var th = el("th", "", c);
      th.scope = "col";
      head.appendChild(th);
    });
    var body = table.createTBody();
    rows.slice(0, MAX_TABLE_ROWS).forEach(function (row) {
      var tr = body.insertRow();
      row.forEach(function (cell) { tr.appendChild(el("td", "", formatNumber(cell))); });
    });
    wrap.appendChild(table);
    details.appendChild(wrap);
    return details;
  }

  /** Rows (series, x, y) of line or scatter traces for dataTable: a point's text names its
   * series when it has one (scatter of runs), else the trace's name. */
  function traceRows(traces) {
    var rows = [];
    traces.forEach(function (trace) {
      if (!trace.x || !trace.y) return;
      for (var i = 0; i < trace.x.length; i++) {
        rows.push([trace.text && trace.text[i] !== undefined ? trace.text[i] : trace.name, trace.x[i], trace.y[i]]);
      }
    });
    return rows;
  }

  /** The address hash as {name: decoded value} (#a=1&b=x%2Cy); undecodable values are "". */
  function readHash() {
    var out = {};
    window.location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      if (!part) return;
      var eq = part.indexOf("=");
      var name = eq < 0 ? part : part.slice(0, eq);
      var value = "";
      try { value = decodeURIComponent(eq < 0 ? "" : part.slice(eq + 1)); } catch (e) { value = ""; }
      out[name] = value;
    });
    return out;
  }

  /** Replace the hash (no history entry) with ``pairs``: [[name, value]], empty values left out;
   * ``raw`` names keep their value as it is (already encoded, e.g. run id lists). */
  function writeHash(pairs, raw) {
    var hash = pairs.filter(function (p) { return p[1] !== "" && p[1] !== null && p[1] !== undefined; })
      .map(function (p) { return p[0] + "=" + (raw && raw[p[0]] ? String(p[1]) : encodeURIComponent(String(p[1]))); })
      .join("&");
    try {
      window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search + "#" + hash);
    } catch (e) {
      window.location.hash = hash;
    }
  }

  window.tracker = window.tracker || {};
  window.tracker.chartKit = {
    PLOT_CONFIG: PLOT_CONFIG, MAX_TABLE_ROWS: MAX_TABLE_ROWS, el: el, formatNumber: formatNumber,
    asNumber: asNumber, plotlyText: plotlyText, dataTable: dataTable, traceRows: traceRows, readHash: readHash, writeHash: writeHash
  };
})();
