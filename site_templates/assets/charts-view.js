/* Experiment chart view (#11): every run's history per metric, limited to the top N runs by
 * the primary metric, or grouped by a param or tag (one line per group = the mean at each step,
 * a min–max band, the group's run count), and the latest value of every metric per group as a
 * box plot with its points. Reads the experiment's data script (window.TRACKER_DATA[id]); the
 * choice is kept in the address: #top=20&group=param:max_depth. DOM text via textContent. */
(function () {
  "use strict";

  // One mode bar button (download PNG), never a cloud link; as in site.js (#18).
  var PLOT_CONFIG = {
    responsive: true, displaylogo: false, showSendToCloud: false, showEditInChartStudio: false,
    showLink: false, modeBarButtons: [["toImage"]]
  };
  var MAX_TABLE_ROWS = 500;
  var MISSING = "(none)";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

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

  /** Mean, min and max at each step over the runs that logged that step. */
  function stats(runs, key) {
    var byStep = {};
    runs.forEach(function (run) {
      var series = run.h && run.h[key];
      if (!series) return;
      series[0].forEach(function (step, i) {
        var v = series[1][i];
        if (typeof v !== "number") return;
        (byStep[step] = byStep[step] || []).push(v);
      });
    });
    var steps = Object.keys(byStep).map(Number).sort(function (a, b) { return a - b; });
    return {
      x: steps,
      mean: steps.map(function (s) { return byStep[s].reduce(function (t, v) { return t + v; }, 0) / byStep[s].length; }),
      min: steps.map(function (s) { return Math.min.apply(null, byStep[s]); }),
      max: steps.map(function (s) { return Math.max.apply(null, byStep[s]); })
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
    var self = this;
    window.location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var eq = part.indexOf("=");
      var name = part.slice(0, eq);
      var value = "";
      try { value = decodeURIComponent(part.slice(eq + 1)); } catch (e) { value = ""; }
      if (name === "top" && /^\d+$/.test(value)) self.top = Number(value);
      if (name === "group") self.group = /^(param|tag):./.test(value) ? value : "";
    });
  };

  View.prototype.writeHash = function () {
    var hash = "top=" + this.top + (this.group ? "&group=" + encodeURIComponent(this.group) : "");
    try {
      window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search + "#" + hash);
    } catch (e) {
      window.location.hash = hash;
    }
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

  View.prototype.historyTraces = function (key, runs, groups) {
    var self = this;
    var traces = [];
    if (!groups) {
      runs.forEach(function (run) {
        var series = run.h && run.h[key];
        if (!series) return;
        traces.push({ type: "scatter", mode: "lines", name: run.n, x: series[0], y: series[1],
          line: { color: self.colorOf(run.i), width: 1.5 }, customdata: series[0].map(function () { return run.u; }),
          hovertemplate: run.n + " · step %{x}: %{y}<extra></extra>" });
      });
      return traces;
    }
    groups.forEach(function (pair, index) {
      var s = stats(pair[1], key);
      if (!s.x.length) return;
      var color = self.views.PALETTE[index % self.views.PALETTE.length];
      var count = pair[1].filter(function (run) { return run.h && run.h[key]; }).length;
      var name = pair[0] + " (" + count + " run" + (count === 1 ? "" : "s") + ")";
      traces.push({ type: "scatter", mode: "lines", name: name + " max", x: s.x, y: s.max,
        line: { width: 0, color: color }, hoverinfo: "skip", showlegend: false, meta: "max" });
      traces.push({ type: "scatter", mode: "lines", name: name + " min", x: s.x, y: s.min, fill: "tonexty",
        fillcolor: rgba(color, 0.18), line: { width: 0, color: color }, hoverinfo: "skip", showlegend: false, meta: "min" });
      traces.push({ type: "scatter", mode: "lines", name: name, x: s.x, y: s.mean, meta: "mean",
        line: { color: color, width: 2 }, hovertemplate: name + " · step %{x}: mean %{y}<extra></extra>" });
    });
    return traces;
  };

  View.prototype.plot = function (container, key, traces, layout) {
    var figure = el("figure", "chart metric-chart");
    figure.setAttribute("data-metric", key);
    figure.setAttribute("aria-label", layout.title.text); // not role="img": it holds a button
    var target = el("div", "chart-target");
    figure.appendChild(target);
    figure.appendChild(this.dataTable(layout.title.text, traces));
    container.appendChild(figure);
    window.Plotly.newPlot(target, traces, layout, PLOT_CONFIG);
  };

  /** The chart's text alternative: a closed <details> with its points (bands left out, #18). */
  View.prototype.dataTable = function (caption, traces) {
    var details = el("details", "chart-alt");
    details.appendChild(el("summary", "", "Data of this chart"));
    var wrap = el("div", "table-wrap");
    wrap.tabIndex = 0;
    wrap.setAttribute("role", "region");
    wrap.setAttribute("aria-label", "Data of " + caption);
    var table = el("table", "grid chart-table");
    table.appendChild(el("caption", "", caption));
    var head = table.createTHead().insertRow();
    ["series", "x", "y"].forEach(function (c) {
      var th = el("th", "", c);
      th.scope = "col";
      head.appendChild(th);
    });
    var body = table.createTBody();
    var count = 0;
    traces.forEach(function (t) {
      if (t.meta === "min" || t.meta === "max" || !t.x || !t.y) return;
      for (var i = 0; i < t.x.length && count < MAX_TABLE_ROWS; i++, count++) {
        var tr = body.insertRow();
        [t.name, t.x[i], t.y[i]].forEach(function (v) { tr.appendChild(el("td", "", v)); });
      }
    });
    wrap.appendChild(table);
    details.appendChild(wrap);
    return details;
  };

  View.prototype.clear = function (container) {
    container.querySelectorAll(".js-plotly-plot").forEach(function (gd) { window.Plotly.purge(gd); });
    container.textContent = "";
  };

  View.prototype.render = function () {
    var self = this;
    var runs = this.top ? this.ranked.slice(0, this.top) : this.ranked.slice();
    var groups = this.groups(runs);
    var histories = this.app.querySelector(".charts-histories");
    var scalars = this.app.querySelector(".charts-scalars");
    this.clear(histories);
    this.clear(scalars);
    this.legend(groups ? groups.map(function (pair, i) {
      return [pair[0] + " (" + pair[1].length + ")", self.views.PALETTE[i % self.views.PALETTE.length]];
    }) : runs.map(function (run) { return [run.n, self.colorOf(run.i)]; }));
    var dirs = this.data.dir || {};
    var keys = (this.data.mkeys || []).slice().sort(function (a, b) {
      return (b === self.data.primary) - (a === self.data.primary) || (a < b ? -1 : a > b ? 1 : 0);
    });
    keys.forEach(function (key) {
      var hint = dirs[key] === "max" ? " (higher is better)" : dirs[key] === "min" ? " (lower is better)" : "";
      var traces = self.historyTraces(key, runs, groups);
      if (traces.length) {
        self.plot(histories, key, traces, { title: { text: key + hint, font: { size: 14 } }, height: 300,
          showlegend: false, hovermode: "closest", margin: { l: 56, r: 16, t: 40, b: 44 },
          xaxis: { title: { text: "step" }, automargin: true }, yaxis: { title: { text: key }, automargin: true } });
      }
      var boxes = (groups || [["all runs", runs]]).map(function (pair, i) {
        var kept = pair[1].filter(function (run) { return run.m && typeof run.m[key] === "number"; });
        return { type: "box", name: pair[0], y: kept.map(function (run) { return run.m[key]; }),
          text: kept.map(function (run) { return run.n; }), boxpoints: "all", jitter: 0.3, pointpos: 0,
          marker: { color: groups ? self.views.PALETTE[i % self.views.PALETTE.length] : "#1f77b4", size: 6 },
          hovertemplate: "%{text}: %{y}<extra></extra>" };
      }).filter(function (box) { return box.y.length; });
      if (boxes.length) {
        self.plot(scalars, key, boxes, { title: { text: key + hint, font: { size: 14 } }, height: 280, showlegend: false,
          margin: { l: 56, r: 16, t: 40, b: 60 }, xaxis: { type: "category", automargin: true },
          yaxis: { title: { text: key }, automargin: true } });
      }
    });
    this.app.querySelector(".charts-message").textContent = runs.length + " of " + this.data.runs.length +
      " runs" + (this.data.primary ? " (best by " + this.data.primary + ")" : "") +
      (groups ? " in " + groups.length + " group" + (groups.length === 1 ? "" : "s") : "") + ".";
  };

  function start() {
    var app = document.querySelector(".charts-app");
    if (!app) return;
    var id = app.getAttribute("data-experiment");
    var store = window.TRACKER_DATA || {};
    var data = Object.prototype.hasOwnProperty.call(store, id) ? store[id] : null;
    var message = app.querySelector(".charts-message");
    if (!data || !data.runs || !window.tracker || !window.tracker.compareViews) {
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
    view.writeHash();
    view.render();
    window.tracker.chartsView = view;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
