/* Experiment chart view (#11): every run's history per metric, limited to the top N runs by
 * the primary metric, or grouped by a param or tag (one line per group = the mean at each step,
 * a min–max band, the group's run count), and the latest value of every metric per group as a
 * box plot with its points; the run page's history controls (x axis step / wall time / hours
 * since start, EMA smoothing, log scale, compare-views.js) and two params against a metric
 * (param-grid.js). Reads the experiment's data script (window.TRACKER_DATA[id]); the choices
 * are kept in the address: #top=20&group=param:max_depth&x=relative&smooth=0.6&log=1&pair=a,b,m.
 * DOM text via textContent. */
(function () {
  "use strict";

  var KIT = window.tracker.chartKit; // assets/chart-kit.js
  var PLOT_CONFIG = KIT.PLOT_CONFIG;
  var el = KIT.el;
  var MISSING = "(none)";

  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  /** Runs best first by the primary metric (runs without it last, in leaderboard order). */
  function ranked(data) {
    var key = data.primary;
    var dir = (data.dir || {})[key];
    var order = data.runs.map(function (run, i) { return [run, i]; });
    order.sort(function (a, b) {
      var va = a[0].m ? a[0].m[key] : null;
      var vb = b[0].m ? b[0].m[key] : null;
      var ha = typeof va === "number";
      var hb = typeof vb === "number";
      if (ha !== hb) return ha ? -1 : 1;
      if (ha && va !== vb) return dir === "max" ? vb - va : va - vb;
      return a[1] - b[1];
    });
    return order.map(function (pair) { return pair[0]; });
  }

  /** Mean, min and max at each step over the runs that logged that step; x is the step, or
   * the mean time of the step over those runs (hours since start, or wall time). */
  function stats(runs, key, mode) {
    var byStep = {};
    runs.forEach(function (run) {
      var series = run.h && run.h[key];
      if (!series) return;
      series[0].forEach(function (step, i) {
        var v = series[1][i];
        if (typeof v !== "number") return;
        var at = byStep[step] = byStep[step] || { y: [], t: [] };
        at.y.push(v);
        if (series[2]) at.t.push(mode === "wall" ? (run.t || 0) + series[2][i] * 1000 : series[2][i] / 3600);
      });
    });
    var steps = Object.keys(byStep).map(Number).sort(function (a, b) { return a - b; });
    var mean = function (xs) { return xs.reduce(function (t, v) { return t + v; }, 0) / xs.length; };
    return {
      x: steps.map(function (s) {
        var t = byStep[s].t;
        if (mode === "step" || t.length !== byStep[s].y.length) return s;
        return mode === "wall" ? new Date(mean(t)).toISOString() : mean(t);
      }),
      mean: steps.map(function (s) { return mean(byStep[s].y); }),
      min: steps.map(function (s) { return Math.min.apply(null, byStep[s].y); }),
      max: steps.map(function (s) { return Math.max.apply(null, byStep[s].y); })
    };
  }

  function View(app, data) {
    this.app = app;
    this.data = data;
    this.views = window.tracker.compareViews;
    this.colorOf = this.views.colorIndex(data);
    this.ranked = ranked(data);
    this.top = 20;
    this.group = "";
  }

  View.prototype.groupValue = function (run) {
    var kind = this.group.slice(0, this.group.indexOf(":"));
    var key = this.group.slice(this.group.indexOf(":") + 1);
    var source = kind === "tag" ? run.tg : run.pa;
    var value = source ? source[key] : undefined;
    return value === undefined || value === null || value === "" ? MISSING : String(value);
  };

  /** [[group value, runs]] sorted by value (numbers by value), or null without grouping. */
  View.prototype.groups = function (runs) {
    if (!this.group) return null;
    var map = {};
    runs.forEach(function (run) {
      var g = this.groupValue(run);
      (map[g] = map[g] || []).push(run);
    }, this);
    return Object.keys(map).sort(function (a, b) {
      var na = Number(a);
      var nb = Number(b);
      if (a === MISSING || b === MISSING) return a === MISSING ? 1 : -1;
      if (isFinite(na) && isFinite(nb)) return na - nb;
      return a < b ? -1 : a > b ? 1 : 0;
    }).map(function (g) { return [g, map[g]]; });
  };

  View.prototype.readHash = function () {
    var hash = KIT.readHash();
    if (/^\d+$/.test(hash.top || "")) this.top = Number(hash.top);
    this.group = /^(param|tag):./.test(hash.group || "") ? hash.group : "";
    this.pairChoice = hash.pair || "";
    this.views.applyControls(this.app.querySelector(".history-controls"), hash);
  };

  View.prototype.writeHash = function () {
    var state = this.views.readControls(this.app.querySelector(".history-controls"));
    KIT.writeHash([["top", String(this.top)], ["group", this.group]].concat(
      this.views.controlsHash(state), [["pair", this.pairChoice]]));
  };

  View.prototype.fillControls = function () {
    var self = this;
    var top = this.app.querySelector(".charts-top");
    var group = this.app.querySelector(".charts-group");
    var tagKeys = {};
    this.data.runs.forEach(function (run) { Object.keys(run.tg || {}).forEach(function (k) { tagKeys[k] = true; }); });
    [["param", this.data.pkeys || []], ["tag", Object.keys(tagKeys).sort()]].forEach(function (pair) {
      pair[1].forEach(function (key) {
        var option = el("option", "", pair[0] + " " + key);
        option.value = pair[0] + ":" + key;
        group.appendChild(option);
      });
    });
    if (!Array.prototype.some.call(top.options, function (o) { return Number(o.value) === self.top; })) {
      var custom = el("option", "", "top " + self.top);
      custom.value = String(self.top);
      top.appendChild(custom);
    }
    top.value = String(this.top);
    group.value = Array.prototype.some.call(group.options, function (o) { return o.value === self.group; }) ? this.group : "";
    this.group = group.value;
    var changed = function () {
      self.top = Number(top.value);
      self.group = group.value;
      self.writeHash();
      self.render();
    };
    top.addEventListener("change", changed);
    group.addEventListener("change", changed);
    this.app.querySelector(".charts-controls").hidden = false;
    var history = this.app.querySelector(".history-controls");
    history.hidden = false;
    history.addEventListener("input", function () {
      self.writeHash();
      self.renderHistories();
    });
  };

  View.prototype.legend = function (items) {
    var legend = this.app.querySelector(".charts-legend");
    legend.textContent = "";
    items.forEach(function (item) {
      var li = el("li");
      var swatch = el("span", "swatch");
      swatch.style.backgroundColor = item[1];
      li.appendChild(swatch);
      li.appendChild(el("span", "", item[0]));
      legend.appendChild(li);
    });
  };

  /** One line per run (compare-views.js, a faded raw line under each smoothed one), or per
   * group the mean with its min–max band, smoothed alike. */
  View.prototype.historyTraces = function (key, runs, groups, state) {
    var self = this;
    if (!groups) return this.views.historyTraces(key, runs, this.colorOf, state);
    var traces = [];
    var smooth = function (ys) { return state.weight > 0 ? self.views.ema(ys, state.weight) : ys; };
    groups.forEach(function (pair, index) {
      var s = stats(pair[1], key, state.xaxis);
      if (!s.x.length) return;
      var color = self.views.PALETTE[index % self.views.PALETTE.length];
      var count = pair[1].filter(function (run) { return run.h && run.h[key]; }).length;
      var name = pair[0] + " (" + count + " run" + (count === 1 ? "" : "s") + ")";
      traces.push({ type: "scatter", mode: "lines", name: name + " max", x: s.x, y: smooth(s.max),
        line: { width: 0, color: color }, hoverinfo: "skip", showlegend: false, meta: "max" });
      traces.push({ type: "scatter", mode: "lines", name: name + " min", x: s.x, y: smooth(s.min), fill: "tonexty",
        fillcolor: rgba(color, 0.18), line: { width: 0, color: color }, hoverinfo: "skip", showlegend: false, meta: "min" });
      traces.push({ type: "scatter", mode: "lines", name: name, x: s.x, y: smooth(s.mean), meta: "mean",
        line: { color: color, width: 2 }, hovertemplate: "%{x}: mean %{y}<extra></extra>" });
    });
    return traces;
  };

  View.prototype.plot = function (container, key, traces, layout, columns) {
    var figure = el("figure", "chart metric-chart");
    figure.setAttribute("data-metric", key);
    figure.setAttribute("aria-label", layout.title.text); // not role="img": it holds a button
    var target = el("div", "chart-target");
    figure.appendChild(target);
    // The chart's text alternative (#18): its points, bands and faded raw lines left out.
    figure.appendChild(KIT.dataTable(layout.title.text, columns, KIT.traceRows(traces.filter(function (t) {
      return t.meta !== "min" && t.meta !== "max" && !t.opacity;
    }).map(function (t) { // a box's rows: run, group, value
      return t.type === "box" ? { name: t.group, text: t.runs, x: t.y.map(function () { return t.group; }), y: t.y } : t;
    }))));
    container.appendChild(figure);
    window.Plotly.newPlot(target, traces, layout, PLOT_CONFIG);
  };

  View.prototype.clear = function (container) {
    container.querySelectorAll(".js-plotly-plot").forEach(function (gd) { window.Plotly.purge(gd); });
    container.textContent = "";
  };

  View.prototype.metricKeys = function () {
    var primary = this.data.primary;
    return (this.data.mkeys || []).slice().sort(function (a, b) {
      return (b === primary) - (a === primary) || (a < b ? -1 : a > b ? 1 : 0);
    });
  };

  View.prototype.title = function (key) {
    var dir = (this.data.dir || {})[key];
    return key + (dir === "max" ? " (higher is better)" : dir === "min" ? " (lower is better)" : "");
  };

  /** Draw the histories with the controls' state; charts already drawn are redrawn in place
   * (Plotly.react: purging a chart while plotly.js still lays it out throws). */
  View.prototype.renderHistories = function () {
    var self = this;
    var state = this.views.readControls(this.app.querySelector(".history-controls"));
    var histories = this.app.querySelector(".charts-histories");
    var columns = ["series", this.views.X_TITLES[state.xaxis], ""];
    this.metricKeys().forEach(function (key) {
      var traces = self.historyTraces(key, self.runs, self.groupList, state);
      if (!traces.length) return;
      var layout = self.views.historyLayout(self.title(key), key, state);
      columns[2] = key;
      var figure = histories.querySelector("figure[data-metric=\"" + CSS.escape(key) + "\"]");
      if (!figure) {
        self.plot(histories, key, traces, layout, columns);
        return;
      }
      figure.replaceChild(KIT.dataTable(layout.title.text, columns, KIT.traceRows(traces.filter(function (t) {
        return t.meta !== "min" && t.meta !== "max" && !t.opacity;
      }))), figure.querySelector(".chart-alt"));
      window.Plotly.react(figure.querySelector(".chart-target"), traces, layout, PLOT_CONFIG);
    });
  };

  View.prototype.render = function () {
    var self = this;
    var runs = this.runs = this.top ? this.ranked.slice(0, this.top) : this.ranked.slice();
    var groups = this.groupList = this.groups(runs);
    var scalars = this.app.querySelector(".charts-scalars");
    this.clear(this.app.querySelector(".charts-histories"));
    this.clear(scalars);
    this.legend(groups ? groups.map(function (pair, i) {
      return [pair[0] + " (" + pair[1].length + ")", self.views.PALETTE[i % self.views.PALETTE.length]];
    }) : runs.map(function (run) { return [run.n, self.colorOf(run.i)]; }));
    this.renderHistories();
    this.metricKeys().forEach(function (key) {
      var boxes = (groups || [["all runs", runs]]).map(function (pair, i) {
        var kept = pair[1].filter(function (run) { return run.m && typeof run.m[key] === "number"; });
        return { type: "box", name: KIT.plotlyText(pair[0]), group: pair[0], y: kept.map(function (run) { return run.m[key]; }),
          runs: kept.map(function (run) { return run.n; }),
          text: kept.map(function (run) { return KIT.plotlyText(run.n); }), boxpoints: "all", jitter: 0.3, pointpos: 0,
          marker: { color: groups ? self.views.PALETTE[i % self.views.PALETTE.length] : "#1f77b4", size: 6 },
          hovertemplate: "%{text}: %{y}<extra></extra>" };
      }).filter(function (box) { return box.y.length; });
      if (boxes.length) {
        self.plot(scalars, key, boxes, { title: { text: self.title(key), font: { size: 14 } }, height: 280, showlegend: false,
          margin: { l: 56, r: 16, t: 40, b: 60 }, xaxis: { type: "category", automargin: true },
          yaxis: { title: { text: key }, automargin: true } }, ["run", "group", key]);
      }
    });
    if (this.pairView) this.pairView.render();
    this.app.querySelector(".charts-message").textContent = runs.length + " of " + this.data.runs.length +
      " runs" + (this.data.primary ? " (best by " + this.data.primary + ")" : "") +
      (groups ? " in " + groups.length + " group" + (groups.length === 1 ? "" : "s") : "") + ".";
  };

  /** Two params against a metric over the runs shown (param-grid.js). */
  View.prototype.mountPair = function () {
    var self = this;
    var root = this.app.querySelector(".pair-section");
    if (!root || !window.tracker.paramGrid) return;
    this.pairView = window.tracker.paramGrid.mount(root, this.data, {
      runs: function () { return self.runs; },
      choice: this.pairChoice,
      onChange: function (choice) {
        self.pairChoice = choice;
        self.writeHash();
      },
      plot: function (target, traces, layout) { return window.Plotly.newPlot(target, traces, layout, PLOT_CONFIG); },
      clear: function (container) { self.clear(container); }
    });
  };

  function start() {
    var app = document.querySelector(".charts-app");
    if (!app) return;
    var id = app.getAttribute("data-experiment");
    var message = app.querySelector(".charts-message");
    if (!window.tracker || !window.tracker.compareViews) {
      message.textContent = "The data of this experiment did not load: rebuild the site.";
      return;
    }
    window.tracker.loadExperimentData(id, function (data) { show(app, data, message); });
  }

  function show(app, data, message) {
    if (!data || !data.runs) {
      message.textContent = "The data of this experiment did not load: rebuild the site.";
      return;
    }
    if (typeof window.Plotly === "undefined") {
      message.textContent = "Charts need plotly.js, which did not load.";
      return;
    }
    var view = new View(app, data);
    view.readHash();
    view.fillControls();
    view.mountPair();
    view.writeHash();
    view.render();
    window.tracker.chartsView = view;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
