/* tracker run page: metric-history charts with an x-axis choice (step, wall time, hours since
   start), TensorBoard-style EMA smoothing and a log-scale toggle.

   Each chart's points are embedded as JSON (tracker/site/charts.py metric_history_figure: one
   raw trace plus the time offsets); the layout every chart shares lives here, so pages carry only
   data. Charts are drawn when they scroll into view. Loaded with defer after plotly.js. */
(function () {
  "use strict";

  var COLOR = "#1f77b4";
  // One mode bar button (download PNG), never a cloud link; as in site.js (#18).
  var CONFIG = {
    responsive: true, displaylogo: false, showSendToCloud: false, showEditInChartStudio: false,
    showLink: false, modeBarButtons: [["toImage"]]
  };
  var X_TITLES = { step: "step", wall: "wall time (UTC)", relative: "hours since start" };
  var HOUR_MS = 3600000;

  var state = { xaxis: "step", weight: 0, log: false };
  var charts = [];
  var pending = false;

  // TensorBoard's debiased exponential moving average; the twin of ema() in
  // tracker/site/timeseries.py. Non-finite values (null in JSON) pass through unchanged.
  function ema(values, weight) {
    var out = new Array(values.length);
    var first = values.length ? values[0] : null;
    var constant = values.every(function (v) {
      return v === first;
    });
    var last = 0;
    var count = 0;
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (constant || typeof v !== "number" || !isFinite(v)) {
        out[i] = v;
        continue;
      }
      last = last * weight + (1 - weight) * v;
      count += 1;
      out[i] = last / (1 - Math.pow(weight, count));
    }
    return out;
  }

  // The x-axis mode of one chart: a series logged without steps has only time to spread out.
  function modeOf(spec) {
    return state.xaxis === "step" && spec.time && spec.time.stepless ? "relative" : state.xaxis;
  }

  function xValues(spec, mode) {
    var time = spec.time;
    if (mode === "step" || !time) return spec.data[0].x;
    return time.offsets.map(function (offset) {
      return mode === "wall" ? time.start + offset : offset / HOUR_MS;
    });
  }

  function traces(spec) {
    var raw = spec.data[0];
    var x = xValues(spec, modeOf(spec));
    var smoothing = state.weight > 0;
    var line = { color: COLOR, width: 1.5 };
    var marker = { color: COLOR, size: 5 };
    return [
      {
        type: "scatter", mode: raw.mode, name: smoothing ? raw.name + " (raw)" : raw.name,
        x: x, y: raw.y, line: line, marker: marker, opacity: smoothing ? 0.25 : 1,
        hoverinfo: smoothing ? "skip" : "x+y",
      },
      {
        type: "scatter", mode: "lines", name: raw.name + " (smoothed)", x: x,
        y: smoothing ? ema(raw.y, state.weight) : raw.y, line: { color: COLOR, width: 2 },
        visible: smoothing, hoverinfo: "x+y",
      },
    ];
  }

  function layout(spec) {
    var yaxis = spec.layout.yaxis || {};
    var mode = modeOf(spec);
    return {
      height: 300,
      margin: { l: 56, r: 16, t: 12, b: 44 },
      showlegend: false,
      hovermode: "closest",
      font: { size: 12 },
      xaxis: {
        title: { text: X_TITLES[mode] }, type: mode === "wall" ? "date" : "linear",
        automargin: true, zeroline: false,
      },
      yaxis: {
        title: yaxis.title || { text: "" }, type: state.log ? "log" : "linear",
        automargin: true, zeroline: false,
      },
    };
  }

  function draw(chart) {
    window.Plotly.react(chart.target, traces(chart.spec), layout(chart.spec), CONFIG);
    chart.drawn = true;
  }

  function redraw() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      charts.forEach(function (chart) {
        if (chart.drawn) draw(chart);
      });
    });
  }

  function readControls(controls) {
    var checked = controls.querySelector("input[name=xaxis]:checked");
    var slider = controls.querySelector(".smoothing input");
    state.xaxis = checked && X_TITLES[checked.value] ? checked.value : "step";
    state.weight = Math.min(0.99, Math.max(0, parseFloat(slider.value) || 0));
    state.log = controls.querySelector(".log-scale").checked;
    controls.querySelector(".smoothing output").textContent = state.weight.toFixed(2);
  }

  function wireControls() {
    var controls = document.querySelector(".chart-controls");
    if (!controls) return;
    controls.hidden = false;
    readControls(controls);
    controls.addEventListener("input", function () {
      readControls(controls);
      redraw();
    });
    controls.addEventListener("change", function () {
      readControls(controls);
      redraw();
    });
  }

  function observe() {
    if (!("IntersectionObserver" in window)) {
      charts.forEach(draw);
      return;
    }
    var observer = new IntersectionObserver(
      function (entries) {
        entries.forEach(function (entry) {
          if (!entry.isIntersecting) return;
          observer.unobserve(entry.target);
          charts.forEach(function (chart) {
            if (chart.target === entry.target && !chart.drawn) draw(chart);
          });
        });
      },
      { rootMargin: "300px" }
    );
    charts.forEach(function (chart) {
      observer.observe(chart.target);
    });
  }

  function init() {
    if (typeof window.Plotly === "undefined") return;
    document.querySelectorAll("figure.run-chart").forEach(function (figure) {
      var source = figure.querySelector("script.run-chart-data");
      if (!source || figure.dataset.drawn) return;
      var target = document.createElement("div");
      target.className = "chart-target";
      figure.appendChild(target);
      figure.dataset.drawn = "1";
      charts.push({ spec: JSON.parse(source.textContent), target: target, drawn: false });
    });
    wireControls();
    observe();
  }

  function drawAll() {
    charts.forEach(function (chart) {
      if (!chart.drawn) draw(chart);
    });
  }

  // Feature importance (#11): one bar table per type; the select shows one of them.
  function wireImportance() {
    document.querySelectorAll("figure.importance").forEach(function (figure) {
      var select = figure.querySelector("select.importance-type");
      var tables = figure.querySelectorAll("table.importance-bars");
      if (!select || tables.length < 2) return;
      function show() {
        tables.forEach(function (table) {
          table.hidden = table.dataset.kind !== select.value;
        });
      }
      select.closest("label").hidden = false;
      select.addEventListener("change", show);
      show();
    });
  }

  // Long text previews (#11) live in the run's previews.js (window.TRACKER_PREVIEWS[path] =
  // [text, rest]), loaded with a <script> (file:// pages cannot fetch) when one is opened.
  function wireLazyPreviews() {
    var section = document.querySelector("section[data-previews]");
    if (!section) return;
    var loading = null;
    function load() {
      if (!loading) {
        loading = new Promise(function (resolve) {
          var script = document.createElement("script");
          script.src = section.getAttribute("data-previews");
          script.onload = resolve;
          script.onerror = resolve;
          document.head.appendChild(script);
        });
      }
      return loading;
    }
    function fill(details) {
      if (!details.open || details.dataset.filled) return;
      load().then(function () {
        var texts = (window.TRACKER_PREVIEWS || {})[details.getAttribute("data-lazy")];
        if (!texts) return;
        details.querySelector("code.lazy-text").textContent = texts[0];
        var rest = details.querySelector("code.lazy-rest");
        if (rest) rest.textContent = texts[1];
        var note = details.querySelector(".lazy-note");
        if (note) note.hidden = true;
        details.dataset.filled = "1";
      });
    }
    section.querySelectorAll("details[data-lazy]").forEach(function (details) {
      details.addEventListener("toggle", function () { fill(details); });
      fill(details);
    });
  }

  function start() {
    wireLazyPreviews();
    wireImportance();
    init();
  }

  window.tracker = window.tracker || {};
  window.tracker.runPage = { ema: ema, state: state, charts: charts, drawAll: drawAll };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
