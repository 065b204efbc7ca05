/* Metric histories of report blocks (#17): each ```history and ```compare block is an
 * independent instance of the compare page's history charts (compare-views.js historyTraces,
 * bandTraces and historyLayout) with its own controls (x axis, EMA smoothing, log scale). An
 * instance reads its series from its own <script type="application/json" class="history-data">
 * (report_blocks.history_view), starts from the block's YAML options and keeps its state in
 * the page: nothing goes into the address, so N blocks never share or fight over it. */
(function () {
  "use strict";

  var KIT = window.tracker && window.tracker.chartKit;
  var VIEWS = window.tracker && window.tracker.compareViews;

  /** One block's charts: ``root`` is its .history-view element. */
  function HistoryView(root) {
    this.root = root;
    this.config = JSON.parse(root.querySelector("script.history-data").textContent);
    this.controls = root.querySelector(".history-controls");
    this.charts = root.querySelector(".history-charts");
    this.targets = {};
    var config = this.config;
    var byId = {};
    config.runs.forEach(function (run) { byId[run.i] = run.c; });
    this.colorOf = function (id) { return byId[id] || VIEWS.PALETTE[0]; };
  }

  /** The controls' state: x axis ("step", "wall", "relative"), weight (0–0.99) and log. */
  HistoryView.prototype.state = function () {
    return VIEWS.readControls(this.controls);
  };

  /** Set the controls to ``options`` ({x, smoothing, log}, as the block's YAML gave them). */
  HistoryView.prototype.set = function (options) {
    VIEWS.applyControls(this.controls, {
      x: options.x, smooth: String(options.smoothing || 0), log: options.log ? "1" : "0"
    });
  };

  HistoryView.prototype.title = function (key, state) {
    var config = this.config;
    if (config.title) return config.metrics.length > 1 ? config.title + " · " + key : config.title;
    return key + " by " + (state.xaxis === "wall" ? "time (UTC)" : VIEWS.X_TITLES[state.xaxis]);
  };

  /** The traces of ``key``: a line per run (its colour, dash and marker from the block) or a
   * mean line and band per group. */
  HistoryView.prototype.traces = function (key, state) {
    var config = this.config;
    if (config.group) return VIEWS.bandTraces(key, config.runs, config.groups || [], state);
    var byId = {};
    config.runs.forEach(function (run) { byId[run.i] = run; });
    var traces = VIEWS.historyTraces(key, config.runs, this.colorOf, state);
    traces.forEach(function (trace) {
      var run = byId[trace.legendgroup];
      if (trace.opacity || !run) return; // the raw line under a smoothed one
      trace.line.dash = run.d;
      trace.marker = { size: 6, symbol: run.y, color: run.c };
    });
    return traces;
  };

  /** Draw (first time) or redraw in place (Plotly.react) every metric of the block. */
  HistoryView.prototype.draw = function () {
    var self = this;
    var state = this.state();
    this.config.metrics.forEach(function (key) {
      var traces = self.traces(key, state);
      var figure = self.targets[key];
      if (!figure) {
        if (!traces.length) return;
        figure = KIT.el("figure", "chart history-chart");
        figure.setAttribute("data-metric", key);
        var target = KIT.el("div", "chart-target");
        figure.appendChild(target);
        self.charts.appendChild(figure);
        self.targets[key] = figure;
      }
      var shown = traces.filter(function (t) { return !t.opacity && t.hoverinfo !== "skip"; });
      var label = self.title(key, state) + ", one line per " + (self.config.group ? "group" : "run");
      figure.setAttribute("aria-label", label); // not role="img": the chart holds a button (#18)
      var old = figure.querySelector(".chart-alt");
      if (old) figure.removeChild(old);
      figure.appendChild(KIT.dataTable(label, [self.config.group ? "group" : "run", VIEWS.X_TITLES[state.xaxis], key],
        KIT.traceRows(shown.map(function (t) { return { name: t.name, x: t.x, y: t.y }; }))));
      var layout = VIEWS.historyLayout(KIT.plotlyText(self.title(key, state)), KIT.plotlyText(key), state);
      window.Plotly.react(figure.querySelector(".chart-target"), traces, layout, KIT.PLOT_CONFIG);
      figure.dataset.drawn = "1"; // what the PDF printer (report_pdf.py) waits for
    });
  };

  HistoryView.prototype.init = function () {
    var self = this;
    this.set(this.config);
    if (typeof window.Plotly === "undefined") {
      this.charts.appendChild(KIT.el("p", "empty", "Charts need plotly.js, which did not load."));
      return;
    }
    this.controls.hidden = false;
    var redraw = function () { self.draw(); };
    this.controls.addEventListener("input", redraw);
    this.controls.addEventListener("change", redraw);
    this.draw();
  };

  function start() {
    if (!KIT || !VIEWS) return;
    var views = [];
    document.querySelectorAll(".history-view").forEach(function (root) {
      var view = new HistoryView(root);
      view.init();
      views.push(view);
    });
    window.tracker.historyViews = views;
  }

  window.tracker = window.tracker || {};
  window.tracker.HistoryView = HistoryView;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
