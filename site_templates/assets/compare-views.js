/* Compare page views (#11), used by assets/compare.js: colours keyed by run id, differences
 * against a baseline run, metric histories with the run page's controls (x axis, EMA
 * smoothing, log scale) and the bar chart of the primary metric. Plain ES2017, no DOM writes
 * of untrusted text except through textContent. */
(function () {
  "use strict";

  // 20 distinguishable colours (Tableau 20 reordered: the darker of each pair first).
  var PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#aec7e8", "#ff9896", "#98df8a", "#c5b0d5", "#ffbb78",
    "#9edae5", "#c49c94", "#f7b6d2", "#393b79", "#637939"];
  var HOUR_S = 3600;
  var X_TITLES = { step: "step", wall: "wall time (UTC)", relative: "hours since start" };

  /** A run's colour: by its place in the experiment's (fixed) run list, so the same run has the
   * same colour whatever else is selected and in whatever order. */
  function colorIndex(data) {
    var index = {};
    data.runs.forEach(function (run, i) { index[run.i] = i; });
    return function (id) {
      return PALETTE[(index[id] === undefined ? 0 : index[id]) % PALETTE.length];
    };
  }

  // TensorBoard's debiased exponential moving average (the twin of ema() in run.js and
  // tracker/site/timeseries.py); nulls pass through.
  function ema(values, weight) {
    var out = new Array(values.length);
    var last = 0;
    var count = 0;
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (v === null || !isFinite(v)) {
        out[i] = v;
        continue;
      }
      last = last * weight + (1 - weight) * v;
      count += 1;
      out[i] = weight > 0 ? last / (1 - Math.pow(weight, count)) : v;
    }
    return out;
  }

  function format(value) {
    if (value === 0) return "0";
    var a = Math.abs(value);
    if (a >= 1e6 || a < 1e-3) return value.toPrecision(3);
    return String(Number(value.toPrecision(4)));
  }

  /** The difference of ``value`` from ``base``: {text, cls} with cls "better", "worse" or ""
   * (neutral metric, param, or no difference); null when either is not a number. */
  function delta(value, base, dir) {
    if (typeof value !== "number" || typeof base !== "number" || !isFinite(value) || !isFinite(base)) return null;
    var diff = value - base;
    var sign = diff > 0 ? "+" : diff < 0 ? "−" : "±";
    var text = sign + format(Math.abs(diff));
    if (base !== 0) text += " (" + sign + format(Math.abs(diff / base) * 100) + "%)";
    var cls = "";
    if (diff !== 0 && (dir === "min" || dir === "max")) cls = (diff < 0) === (dir === "min") ? "better" : "worse";
    return { text: text, cls: cls };
  }

  /** [lo, hi] for a value axis: from 0 when 0 is near the data, else around the data (so 5.56
   * and 5.27 do not look equal); the twin of charts.value_range in tracker/site/charts.py. */
  function valueRange(values) {
    var xs = values.filter(function (v) { return typeof v === "number" && isFinite(v); });
    if (!xs.length) return null;
    var lo = Math.min.apply(null, xs);
    var hi = Math.max.apply(null, xs);
    var span = hi - lo;
    if (span === 0) return hi >= 0 ? [0, hi * 1.1 || 1] : [lo * 1.1, 0];
    if (lo >= 0 && lo <= span * 2) return [0, hi + span * 0.08];
    if (hi <= 0 && -hi <= span * 2) return [lo - span * 0.08, 0];
    var pad = span * 0.25;
    return [lo - pad, hi + pad];
  }

  /** The history controls' state from the page (x axis, smoothing, log scale); the controls
   * are a fieldset of x-axis radios, a .smoothing range with its <output> and a .log-scale box. */
  function readControls(controls) {
    var state = { xaxis: "step", weight: 0, log: false };
    if (!controls) return state;
    var checked = controls.querySelector("input[type=radio]:checked");
    var slider = controls.querySelector(".smoothing input");
    state.xaxis = checked && X_TITLES[checked.value] ? checked.value : "step";
    state.weight = Math.min(0.99, Math.max(0, parseFloat(slider && slider.value) || 0));
    state.log = !!(controls.querySelector(".log-scale") || {}).checked;
    var output = controls.querySelector(".smoothing output");
    if (output) output.textContent = state.weight.toFixed(2);
    return state;
  }

  /** The controls' state as address pairs (defaults left out): x=wall&smooth=0.6&log=1. */
  function controlsHash(state) {
    return [["x", state.xaxis === "step" ? "" : state.xaxis],
      ["smooth", state.weight > 0 ? state.weight.toFixed(2) : ""], ["log", state.log ? "1" : ""]];
  }

  /** Set the controls from the address ({x, smooth, log} as readHash gives them); values that
   * are not allowed are ignored. */
  function applyControls(controls, hash) {
    if (!controls) return;
    if (X_TITLES[hash.x]) {
      var radio = controls.querySelector("input[type=radio][value=" + hash.x + "]");
      if (radio) radio.checked = true;
    }
    var weight = parseFloat(hash.smooth);
    var slider = controls.querySelector(".smoothing input");
    if (slider && /^\d*\.?\d+$/.test(hash.smooth || "") && weight >= 0 && weight <= 0.99) slider.value = String(weight);
    var log = controls.querySelector(".log-scale");
    if (log && hash.log !== undefined) log.checked = hash.log === "1";
    readControls(controls);
  }

  /** Hours since start, wall-time ISO strings or steps for one series ([steps, values, s]). */
  function xOf(run, series, mode) {
    if (mode === "step" || !series[2]) return series[0];
    return series[2].map(function (s) {
      return mode === "wall" ? new Date(Math.round((run.t || 0) + s * 1000)).toISOString() : s / HOUR_S;
    });
  }

  /** Traces of one metric for the runs (one colour per run; smoothing fades the raw line). */
  function historyTraces(key, runs, color, state) {
    var traces = [];
    runs.forEach(function (run) {
      var series = run.h && run.h[key];
      if (!series) return;
      var x = xOf(run, series, state.xaxis);
      var smooth = state.weight > 0;
      traces.push({
        type: "scatter", mode: series[0].length > 60 ? "lines" : "lines+markers", name: run.n,
        x: x, y: smooth ? ema(series[1], state.weight) : series[1], line: { color: color(run.i), width: 2 },
        marker: { size: 4 }, customdata: series[0].map(function () { return run.u; }),
        hovertemplate: window.tracker.chartKit.plotlyText(run.n) + " · %{x}: %{y}<extra></extra>",
        legendgroup: run.i, showlegend: false
      });
      if (smooth) {
        traces.push({
          type: "scatter", mode: "lines", name: run.n + " (raw)", x: x, y: series[1],
          line: { color: color(run.i), width: 1 }, opacity: 0.25, hoverinfo: "skip",
          legendgroup: run.i, showlegend: false
        });
      }
    });
    return traces;
  }

  /** Per group of runs (run.g indexes ``groups``: [{n: label, c: colour, d: dash}]): the mean
   * by step as a line and the min–max range as a band, each run smoothed first (the twin of
   * _band_traces in tracker/site/report_blocks.py). By step only: runs' times do not line up. */
  function bandTraces(key, runs, groups, state) {
    var byGroup = groups.map(function () { return {}; });
    runs.forEach(function (run) {
      var series = run.h && run.h[key];
      if (!series || !byGroup[run.g]) return;
      var values = state.weight > 0 ? ema(series[1], state.weight) : series[1];
      series[0].forEach(function (step, i) {
        if (values[i] === null || !isFinite(values[i])) return;
        (byGroup[run.g][step] = byGroup[run.g][step] || []).push(values[i]);
      });
    });
    var traces = [];
    groups.forEach(function (group, g) {
      var points = byGroup[g];
      var steps = Object.keys(points).map(Number).sort(function (a, b) { return a - b; });
      if (!steps.length) return;
      var low = steps.map(function (s) { return Math.min.apply(null, points[s]); });
      var high = steps.map(function (s) { return Math.max.apply(null, points[s]); });
      var mean = steps.map(function (s) {
        return points[s].reduce(function (a, b) { return a + b; }, 0) / points[s].length;
      });
      var rgb = [1, 3, 5].map(function (i) { return parseInt(group.c.slice(i, i + 2), 16); }).join(",");
      traces.push({ type: "scatter", mode: "lines", name: group.n + " min", x: steps, y: low,
        line: { width: 0, color: group.c }, hoverinfo: "skip", showlegend: false });
      traces.push({ type: "scatter", mode: "lines", name: group.n + " max", x: steps, y: high,
        fill: "tonexty", fillcolor: "rgba(" + rgb + ",0.18)", line: { width: 0, color: group.c },
        hoverinfo: "skip", showlegend: false });
      traces.push({ type: "scatter", mode: steps.length > 30 ? "lines" : "lines+markers",
        name: group.n + " (mean)", x: steps, y: mean, line: { color: group.c, width: 2, dash: group.d },
        marker: { size: 5 }, showlegend: false,
        hovertemplate: window.tracker.chartKit.plotlyText(group.n) + " mean · %{x}: %{y}<extra></extra>" });
    });
    return traces;
  }

  function historyLayout(title, key, state) {
    return {
      title: { text: title, font: { size: 14 } }, height: 300, showlegend: false,
      margin: { l: 56, r: 16, t: 40, b: 44 }, hovermode: "closest",
      xaxis: { title: { text: X_TITLES[state.xaxis] }, type: state.xaxis === "wall" ? "date" : "linear", automargin: true },
      yaxis: { title: { text: key }, type: state.log ? "log" : "linear", automargin: true }
    };
  }

  /** A horizontal bar per run of the primary metric, best first, run colours, value labels. */
  function barFigure(metric, dir, runs, color) {
    var kept = runs.filter(function (r) { return r.m && typeof r.m[metric] === "number"; });
    kept.sort(function (a, b) { return dir === "max" ? b.m[metric] - a.m[metric] : a.m[metric] - b.m[metric]; });
    var values = kept.map(function (r) { return r.m[metric]; });
    var range = valueRange(values);
    return {
      runs: kept,
      data: [{
        type: "bar", orientation: "h", y: kept.map(function (r) { return window.tracker.chartKit.plotlyText(r.n); }), x: values,
        marker: { color: kept.map(function (r) { return color(r.i); }) },
        text: values.map(format), textposition: "outside", cliponaxis: false,
        customdata: kept.map(function (r) { return r.u; }), hovertemplate: "%{y}: %{x}<extra></extra>"
      }],
      layout: {
        height: Math.max(160, 60 + kept.length * 28), showlegend: false,
        margin: { l: 10, r: 50, t: 10, b: 40 },
        xaxis: { title: { text: metric + (dir === "min" ? " (lower is better)" : dir === "max" ? " (higher is better)" : "") },
          range: range, automargin: true, zeroline: range && range[0] === 0 },
        yaxis: { autorange: "reversed", automargin: true, type: "category" }
      }
    };
  }

  var MISSING = "(none)";

  function asNumber(value) {
    if (value === null || value === undefined || value === "") return null;
    var number = Number(value);
    return isFinite(number) ? number : null;
  }

  /** Distinct values: numbers by value, then text, then the missing marker. */
  function categoryOrder(values) {
    var seen = {};
    var distinct = [];
    values.forEach(function (v) {
      if (!Object.prototype.hasOwnProperty.call(seen, v)) {
        seen[v] = true;
        distinct.push(v);
      }
    });
    return distinct.sort(function (a, b) {
      var rank = function (v) { return v === MISSING ? 2 : asNumber(v) === null ? 1 : 0; };
      var ra = rank(a);
      var rb = rank(b);
      if (ra !== rb) return ra - rb;
      if (ra === 0) return asNumber(a) - asNumber(b);
      return a < b ? -1 : a > b ? 1 : 0;
    });
  }

  /** A parallel-coordinates dimension: numbers as they are, anything else as category indices
   * (the same encoding as tracker/site/charts_compare.py). */
  function dimension(label, values) {
    var numbers = values.map(asNumber);
    if (values.length && numbers.every(function (n) { return n !== null; })) {
      return { label: label, values: numbers };
    }
    var texts = values.map(function (v) { return v === null || v === undefined || v === "" ? MISSING : String(v); });
    var categories = categoryOrder(texts);
    var index = {};
    categories.forEach(function (c, i) { index[c] = i; });
    return {
      label: label,
      values: texts.map(function (t) { return index[t]; }),
      tickvals: categories.map(function (c, i) { return i; }),
      ticktext: categories,
      range: [0, Math.max(categories.length - 1, 1)]
    };
  }

  /** Methods of compare.js's Compare page kept here (compare.js stays under 600 lines). */
  function install(proto, el, PLOT_CONFIG) {
    var VIEWS = window.tracker.compareViews;
    /** Redraw the drawn histories in place with the controls' state (Plotly.react: purging a
     * chart while plotly.js still lays it out throws). */
    proto.updateHistories = function () {
      var self = this;
      if (typeof window.Plotly === "undefined" || !VIEWS) return;
      var state = VIEWS.readControls(this.app.querySelector(".compare-controls"));
      var runs = this.runs();
      this.app.querySelectorAll(".metric-charts figure[data-metric]").forEach(function (figure) {
        var key = figure.getAttribute("data-metric");
        var target = figure.querySelector(".chart-target");
        var old = target.layout && target.layout.title ? target.layout.title.text : key;
        figure.setAttribute("aria-label", key + " by " + state.xaxis + ", one line per run");
        window.Plotly.react(target, VIEWS.historyTraces(key, runs, self.colorOf, state),
          VIEWS.historyLayout(old, key, state), PLOT_CONFIG);
      });
    };

    proto.renderLegend = function (runs) {
      var self = this;
      var legend = this.app.querySelector(".compare-legend");
      if (!legend) return;
      legend.textContent = "";
      runs.forEach(function (run) {
        var item = el("li");
        item.setAttribute("data-run", run.i);
        var swatch = el("span", "swatch");
        swatch.style.backgroundColor = self.color(run);
        item.appendChild(swatch);
        item.appendChild(el("span", "", run.n));
        legend.appendChild(item);
      });
    };

    /** Two params against a chosen metric over every run of the experiment: a contour or a
     * heatmap of the mean per cell (assets/param-grid.js); the selected runs are ringed, the
     * choice is kept in the address (&pair=x,y,metric). */
    proto.renderPair = function () {
      var self = this;
      var root = this.app.querySelector(".pair-section");
      if (!root || !window.tracker.paramGrid) return;
      if (!this.pairView) {
        this.pairChoice = window.tracker.chartKit.readHash().pair || "";
        this.pairView = window.tracker.paramGrid.mount(root, this.data, {
          runs: function () { return self.data.runs; },
          chosen: function () { return self.selection; },
          choice: this.pairChoice,
          onChange: function (choice) {
            self.pairChoice = choice;
            self.writeHash();
          },
          plot: function (target, data, layout) { return self.plot(target, data, layout); },
          clear: function (container) { self.clear(container); }
        });
      }
      this.pairView.render();
    };

    /** Bar chart of the primary metric per selected run (compare-views.js barFigure). */
    proto.renderBars = function () {
      var container = this.app.querySelector(".bar-chart");
      if (!container) return;
      this.clear(container);
      var primary = this.data.primary;
      if (!primary || !VIEWS) {
        container.appendChild(el("p", "empty", "This experiment has no primary metric."));
        return;
      }
      var figure = VIEWS.barFigure(primary, (this.data.dir || {})[primary] || "", this.runs(), this.colorOf);
      if (!figure.runs.length) {
        container.appendChild(el("p", "empty", "None of the selected runs has " + primary + "."));
        return;
      }
      var target = el("div", "chart-target");
      container.appendChild(target);
      this.plot(target, figure.data, figure.layout);
    };
  }

  /** An experiment's data (window.TRACKER_DATA[id]) with its `runs`, to done(data), or
   * done(null) when it is missing. A big experiment's data names its run chunks (#14): they are
   * loaded (scripts next to the data script) and their records put back in `order`. */
  function loadExperimentData(id, done) {
    var store = window.TRACKER_DATA || {};
    var data = Object.prototype.hasOwnProperty.call(store, id) ? store[id] : null;
    if (!data || data.runs || !data.chunks || !data.order) return done(data);
    var script = null;
    var scripts = document.querySelectorAll("script[src]");
    for (var s = 0; s < scripts.length; s++) {
      if (/\.data\.js$/.test(scripts[s].getAttribute("src"))) script = scripts[s];
    }
    if (!script) return done(null);
    var left = data.chunks.length;
    var failed = false;
    var finish = function () {
      var all = window.TRACKER_DATA_CHUNKS || {};
      var byId = {};
      for (var c = 0; c < data.chunks.length; c++) {
        var chunk = all[id + ":" + c + "/" + data.chunks.length];
        if (!chunk) return done(null);
        for (var r = 0; r < chunk.length; r++) byId[chunk[r].i] = chunk[r];
      }
      data.runs = [];
      for (var o = 0; o < data.order.length; o++) {
        if (byId[data.order[o]]) data.runs.push(byId[data.order[o]]);
      }
      done(data);
    };
    data.chunks.forEach(function (name) {
      var tag = document.createElement("script");
      tag.src = new URL(name, script.src).href;
      tag.onload = tag.onerror = function (event) {
        if (event.type === "error") failed = true;
        left -= 1;
        if (left === 0) {
          if (failed) done(null);
          else finish();
        }
      };
      document.head.appendChild(tag);
    });
  }

  window.tracker = window.tracker || {};
  window.tracker.loadExperimentData = loadExperimentData;
  window.tracker.compareViews = {
    install: install, dimension: dimension,
    PALETTE: PALETTE, colorIndex: colorIndex, ema: ema, delta: delta, valueRange: valueRange,
    readControls: readControls, controlsHash: controlsHash, applyControls: applyControls, xOf: xOf,
    X_TITLES: X_TITLES, historyTraces: historyTraces, bandTraces: bandTraces, historyLayout: historyLayout,
    barFigure: barFigure
  };
})();
