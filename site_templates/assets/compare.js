/* Compare page: reads the selected run ids from the URL hash (#runs=id1,id2; default: the
 * leaderboard's best) and the experiment's data script (window.TRACKER_DATA[<experiment id>]),
 * then draws metric histories, a params diff table, a metrics table, parallel coordinates
 * (SVG, assets/parcoords.js; the brush is kept in the hash: #runs=...&brush=key:lo:hi) and a
 * param-vs-metric scatter. Plain ES2017; the DOM is built with createElement/textContent only.
 */
(function () {
  "use strict";

  var VIEWS = (window.tracker && window.tracker.compareViews) || null; // assets/compare-views.js
  var KIT = window.tracker.chartKit; // assets/chart-kit.js
  var MAX_DIMENSIONS = 12;
  // Runs differ by line dash and marker symbol too, not by colour alone (#18).
  var DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"];
  var SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "cross", "star", "triangle-down"];
  var PLOT_CONFIG = KIT.PLOT_CONFIG;
  var el = KIT.el;
  var formatNumber = KIT.formatNumber;
  var asNumber = KIT.asNumber;
  var dataTable = KIT.dataTable;
  var traceRows = KIT.traceRows;

  // Parallel-coordinates dimensions (compare-views.js dimension).
  var dimension = VIEWS ? VIEWS.dimension : function (label, values) { return { label: label, values: values }; };

  function layout(title, xTitle, yTitle, extra) {
    var base = {
      title: { text: title, font: { size: 14 } },
      xaxis: { title: { text: xTitle }, automargin: true },
      yaxis: { title: { text: yTitle }, automargin: true },
      margin: { l: 50, r: 20, t: 40, b: 40 },
      height: 320,
      legend: { orientation: "h", y: -0.25 },
      hovermode: "closest"
    };
    Object.keys(extra || {}).forEach(function (k) { base[k] = extra[k]; });
    return base;
  }

  /* ---------------------------------------------------------------- the page */

  function Compare(app, data) {
    this.app = app;
    this.data = data;
    this.byId = {};
    for (var i = 0; i < data.runs.length; i++) this.byId[data.runs[i].i] = data.runs[i];
    this.root = document.body.getAttribute("data-root") || "";
    this.colorOf = VIEWS ? VIEWS.colorIndex(data) : function () { return "#1f77b4"; };
    this.base = "";
    this.selection = [];
    this.message = app.querySelector(".compare-message");
  }

  Compare.prototype.say = function (text) {
    if (this.message) this.message.textContent = text || "";
  };

  Compare.prototype.defaultSelection = function () {
    var top = (this.data.top || []).filter(function (id) { return this.byId[id]; }, this);
    if (!top.length) top = this.data.runs.slice(0, 5).map(function (r) { return r.i; });
    return top;
  };

  /** Run ids from the hash (#runs=a,b); unknown ids are reported and dropped. */
  Compare.prototype.readHash = function () {
    var hash = window.location.hash.replace(/^#/, "");
    var ids = null;
    this.brush = "";
    this.base = "";
    hash.split("&").forEach(function (part) {
      if (part.indexOf("brush=") === 0) this.brush = part.slice(6);
      if (part.indexOf("base=") === 0) {
        try { this.base = decodeURIComponent(part.slice(5)); } catch (e) { this.base = ""; }
        if (!this.byId[this.base]) this.base = "";
      }
      if (part.indexOf("runs=") === 0) {
        ids = part.slice(5).split(",").filter(Boolean).map(function (id) {
          try { return decodeURIComponent(id); } catch (e) { return id; }
        });
      }
    }, this);
    if (ids === null || !ids.length) {
      this.say("");
      return this.defaultSelection();
    }
    var known = [];
    var unknown = 0;
    ids.forEach(function (id) {
      if (!this.byId[id]) unknown += 1;
      else if (known.indexOf(id) < 0) known.push(id);
    }, this);
    this.say(unknown ? unknown + " run id" + (unknown === 1 ? " in the address is" : "s in the address are") + " not in this experiment." : "");
    return known.length ? known : this.defaultSelection();
  };

  /** The address: #runs=a,b&base=id&brush=...&x=wall&smooth=0.6&log=1&pair=x,y,metric. */
  Compare.prototype.writeHash = function () {
    var controls = VIEWS ? VIEWS.controlsHash(VIEWS.readControls(this.app.querySelector(".compare-controls"))) : [];
    KIT.writeHash([["runs", this.selection.map(encodeURIComponent).join(",")], ["base", this.base],
      ["brush", this.brush]].concat(controls, [["pair", this.pairChoice || ""]]), { runs: true, brush: true });
  };

  Compare.prototype.setSelection = function (ids) {
    this.selection = ids;
    this.writeHash();
    this.render();
  };

  Compare.prototype.runs = function () {
    return this.selection.map(function (id) { return this.byId[id]; }, this);
  };

  /** A run's colour, keyed by its id (the same in every chart and selection). */
  Compare.prototype.color = function (run) {
    return this.colorOf(run.i);
  };

  /** The baseline run: the one in the address (&base=id), else the data's default (the run
   * tagged baseline, else the best by the primary metric). */
  Compare.prototype.baseline = function () {
    var id = this.base || this.data.base;
    return this.byId[id] || this.runs()[0] || null;
  };

  Compare.prototype.runLink = function (run) {
    var a = el("a", "", run.n);
    a.href = this.root + run.u;
    return a;
  };

  /* ---------------------------------------------------------------- selection UI */

  Compare.prototype.renderRunList = function () {
    var self = this;
    var list = this.app.querySelector(".compare-runs");
    list.textContent = "";
    this.runs().forEach(function (run, index) {
      var item = el("li");
      var swatch = el("span", "swatch");
      swatch.style.backgroundColor = self.color(run);
      item.appendChild(swatch);
      item.appendChild(self.runLink(run));
      var remove = el("button", "compare-remove", "×");
      remove.type = "button";
      remove.setAttribute("aria-label", "Remove " + run.n);
      remove.addEventListener("click", function () {
        self.refocus = index; // keep focus in the list, not at the top of the page (#18)
        self.say("Removed " + run.n + ".");
        self.setSelection(self.selection.filter(function (id) { return id !== run.i; }));
      });
      item.appendChild(remove);
      list.appendChild(item);
    });
    var picker = this.app.querySelector(".compare-picker");
    if (!picker) return;
    picker.textContent = "";
    var primary = this.data.primary;
    this.data.runs.forEach(function (run) {
      if (self.selection.indexOf(run.i) >= 0) return;
      var value = primary && run.m ? run.m[primary] : null;
      var text = run.n + (value !== null && value !== undefined ? " (" + primary + " " + formatNumber(value) + ")" : "");
      var option = el("option", "", text);
      option.value = run.i;
      picker.appendChild(option);
    });
    this.app.querySelector(".compare-add").hidden = false;
    var basePick = this.app.querySelector(".compare-baseline");
    var base = this.baseline();
    if (basePick) {
      basePick.textContent = "";
      this.data.runs.forEach(function (run) {
        var option = el("option", "", run.n + (run.i === self.data.base ? " (default)" : ""));
        option.value = run.i;
        basePick.appendChild(option);
      });
      if (base) basePick.value = base.i;
      basePick.closest("label").hidden = false;
    }
    if (this.refocus !== undefined) {
      var buttons = list.querySelectorAll(".compare-remove");
      var next = buttons[Math.min(this.refocus, buttons.length - 1)] || picker;
      this.refocus = undefined;
      next.focus();
    }
  };

  Compare.prototype.wireSelection = function () {
    var self = this;
    var add = this.app.querySelector(".compare-add-button");
    var picker = this.app.querySelector(".compare-picker");
    if (add && picker) {
      add.addEventListener("click", function () {
        if (picker.value && self.selection.indexOf(picker.value) < 0) {
          self.setSelection(self.selection.concat([picker.value]));
        }
      });
    }
    var reset = this.app.querySelector(".compare-reset");
    if (reset) reset.addEventListener("click", function () { self.setSelection(self.defaultSelection()); });
    var basePick = this.app.querySelector(".compare-baseline");
    if (basePick) {
      basePick.addEventListener("change", function () {
        self.base = basePick.value === self.data.base ? "" : basePick.value;
        self.writeHash();
        self.render();
      });
    }
    var controls = this.app.querySelector(".compare-controls");
    if (controls) {
      controls.hidden = false;
      VIEWS.applyControls(controls, KIT.readHash());
      var redraw = function () {
        self.updateHistories();
        self.writeHash();
      };
      controls.addEventListener("input", redraw);
      controls.addEventListener("change", redraw);
    }
    var only = this.app.querySelector(".only-diff");
    if (only) {
      only.addEventListener("change", function () {
        self.app.querySelectorAll("table.diff").forEach(function (t) { t.classList.toggle("only-diff", only.checked); });
      });
    }
  };

  /* ---------------------------------------------------------------- charts */

  /** Draw with plotly.js: its promise, or null when plotly.js did not load. */
  Compare.prototype.plot = function (target, traces, chartLayout) {
    if (typeof window.Plotly === "undefined") return null;
    var self = this;
    var drawn = window.Plotly.newPlot(target, traces, chartLayout, PLOT_CONFIG);
    if (target.on) {
      target.on("plotly_click", function (event) {
        var point = event.points && event.points[0];
        var url = point && point.customdata;
        if (typeof url === "string" && self.byId && url.slice(-5) === ".html") window.location.href = self.root + url;
      });
    }
    return drawn;
  };

  Compare.prototype.clear = function (container) {
    if (typeof window.Plotly !== "undefined") {
      container.querySelectorAll(".js-plotly-plot").forEach(function (gd) { window.Plotly.purge(gd); });
    }
    container.textContent = "";
  };

  Compare.prototype.metricKeys = function () {
    var keys = (this.data.mkeys || []).slice();
    var primary = this.data.primary;
    if (primary && keys.indexOf(primary) > 0) {
      keys.splice(keys.indexOf(primary), 1);
      keys.unshift(primary);
    }
    return keys;
  };

  Compare.prototype.renderHistories = function () {
    var self = this;
    var container = this.app.querySelector(".metric-charts");
    this.clear(container);
    var runs = this.runs();
    var drawn = 0;
    var state = VIEWS ? VIEWS.readControls(this.app.querySelector(".compare-controls")) : null;
    this.renderLegend(runs);
    this.metricKeys().forEach(function (key) {
      var traces = VIEWS ? VIEWS.historyTraces(key, runs, self.colorOf, state) : [];
      if (!traces.length) return;
      var figure = el("figure", "chart metric-chart");
      figure.setAttribute("data-metric", key);
      var label = key + " by " + state.xaxis + ", one line per run";
      figure.setAttribute("aria-label", label); // not role="img": the chart holds a button (#18)
      traces.forEach(function (t, i) { // runs differ by dash and marker too, not colour alone
        if (t.opacity) return;
        t.line.dash = DASHES[i % DASHES.length];
        t.marker = { size: 6, symbol: SYMBOLS[i % SYMBOLS.length] };
      });
      var target = el("div", "chart-target");
      figure.appendChild(target);
      figure.appendChild(dataTable(label + ": " + traces.filter(function (t) { return !t.opacity; })
        .map(function (t) { return t.name; }).join(", "), ["run", state.xaxis, key],
        traceRows(traces.filter(function (t) { return !t.opacity; })
          .map(function (t) { return { name: t.name, x: t.x, y: t.y }; }))));
      container.appendChild(figure);
      var dirs = self.data.dir || {};
      var direction = dirs[key] === "max" ? " (higher is better)" : dirs[key] === "min" ? " (lower is better)" : "";
      if (self.plot(target, traces, VIEWS.historyLayout(key + direction, key, state)) !== null) drawn += 1;
    });
    if (!drawn) {
      container.appendChild(el("p", "empty", typeof window.Plotly === "undefined"
        ? "Charts need plotly.js, which did not load."
        : "No metric of the selected runs has more than one step; see the latest values below."));
    }
  };

  /** Params that differ among the selected runs (all when none differ), for the axes. */
  Compare.prototype.varyingParams = function (runs) {
    var keys = this.unionKeys(runs, "pa");
    var moving = keys.filter(function (key) {
      var first = runs[0].pa ? runs[0].pa[key] : undefined;
      return runs.some(function (run) { return (run.pa ? run.pa[key] : undefined) !== first; });
    });
    return (moving.length ? moving : keys).slice(0, MAX_DIMENSIONS);
  };

  /** Parallel coordinates drawn as SVG by assets/parcoords.js (plotly's parcoords needs eval,
   * which the site's CSP forbids, #11): one line per selected run with the primary metric,
   * coloured by it; the brush is kept in the hash (&brush=key:lo:hi,...). */
  Compare.prototype.renderParcoords = function () {
    var self = this;
    var container = this.app.querySelector(".parcoords-chart");
    container.removeAttribute("data-drawn");
    container.textContent = "";
    this.parcoords = null;
    var primary = this.data.primary;
    var runs = this.runs().filter(function (run) {
      return !primary || (run.m && typeof run.m[primary] === "number");
    });
    if (!runs.length) {
      container.appendChild(el("p", "empty", "None of the selected runs has " + (primary || "a metric") + "."));
      return;
    }
    if (!window.tracker || !window.tracker.parcoords) {
      container.appendChild(el("p", "empty", "The parallel coordinates need assets/parcoords.js, which did not load."));
      return;
    }
    var dims = this.varyingParams(runs).map(function (key) {
      return dimension(key, runs.map(function (run) { return run.pa ? run.pa[key] : null; }));
    });
    if (primary) dims.push({ label: primary, values: runs.map(function (run) { return run.m[primary]; }) });
    if (!dims.length) {
      container.appendChild(el("p", "empty", "The selected runs have no params to compare."));
      return;
    }
    var spec = {
      title: "Params → " + (primary || "runs") + " (" + runs.length + " run" + (runs.length === 1 ? "" : "s") + ")",
      metric: primary || "",
      direction: (this.data.dir || {})[primary] || "",
      dimensions: dims,
      lines: runs.map(function (run) { return { id: run.i, name: run.n, href: run.u }; })
    };
    var target = el("div", "pc-target");
    container.appendChild(target);
    this.parcoords = window.tracker.parcoords.draw(target, spec, {
      noun: "run",
      brush: window.tracker.parcoords.parseBrush(this.brush),
      onBrush: function (ids, text) {
        self.brush = text;
        self.writeHash();
      }
    });
    container.setAttribute("data-drawn", "svg");
  };

  Compare.prototype.fillSelect = function (select, keys, preferred) {
    var current = select.value;
    select.textContent = "";
    keys.forEach(function (key) {
      var option = el("option", "", key);
      option.value = key;
      select.appendChild(option);
    });
    if (keys.indexOf(current) >= 0) select.value = current;
    else if (preferred && keys.indexOf(preferred) >= 0) select.value = preferred;
  };

  Compare.prototype.renderScatter = function () {
    var paramSelect = this.app.querySelector(".scatter-param");
    var metricSelect = this.app.querySelector(".scatter-metric");
    var container = this.app.querySelector(".scatter-chart");
    this.clear(container);
    var runs = this.runs();
    var pkeys = this.data.pkeys || [];
    if (!pkeys.length || !(this.data.mkeys || []).length) {
      container.appendChild(el("p", "empty", "This experiment needs both params and metrics for a scatter plot."));
      return;
    }
    this.fillSelect(paramSelect, pkeys, this.scatterParam(runs, pkeys));
    this.fillSelect(metricSelect, this.metricKeys(), this.data.primary);
    this.app.querySelector(".scatter-controls").hidden = false;
    this.drawScatter(paramSelect.value, metricSelect.value);
  };

  /** The default x axis: the param most selected runs have, preferring one that varies. */
  Compare.prototype.scatterParam = function (runs, pkeys) {
    var best = pkeys[0];
    var bestScore = -1;
    pkeys.forEach(function (key) {
      var values = runs.filter(function (r) { return r.pa && r.pa[key] !== undefined; }).map(function (r) { return r.pa[key]; });
      var varies = values.some(function (v) { return v !== values[0]; });
      var score = values.length * 2 + (varies ? 1 : 0);
      if (score > bestScore) {
        best = key;
        bestScore = score;
      }
    });
    return best;
  };

  Compare.prototype.drawScatter = function (param, metric) {
    var self = this;
    var container = this.app.querySelector(".scatter-chart");
    this.clear(container);
    var points = function (runs) {
      var kept = runs.filter(function (run) {
        return run.pa && run.pa[param] !== undefined && run.m && typeof run.m[metric] === "number";
      });
      return kept;
    };
    var all = points(this.data.runs);
    var numeric = all.every(function (run) { return asNumber(run.pa[param]) !== null; });
    var x = function (run) { return numeric ? asNumber(run.pa[param]) : String(run.pa[param]); };
    var chosen = points(this.runs());
    var colors = chosen.map(function (run) { return self.color(run); });
    var traces = [
      { type: "scatter", mode: "markers", name: "all runs", x: all.map(x), y: all.map(function (r) { return r.m[metric]; }),
        text: all.map(function (r) { return KIT.plotlyText(r.n); }), customdata: all.map(function (r) { return r.u; }),
        marker: { color: "#6e7781", size: 6 }, hovertemplate: "%{text}: %{x} → %{y}<extra></extra>" },
      { type: "scatter", mode: "markers+text", name: "selected", x: chosen.map(x), y: chosen.map(function (r) { return r.m[metric]; }),
        text: chosen.map(function (r) { return KIT.plotlyText(r.n); }), customdata: chosen.map(function (r) { return r.u; }),
        textposition: "top center", textfont: { size: 12, color: "#1b1f24" }, // direct labels (#18)
        marker: { color: colors, size: 11, line: { color: "#ffffff", width: 1 },
          symbol: chosen.map(function (run, i) { return SYMBOLS[i % SYMBOLS.length]; }) },
        hovertemplate: "%{text}: %{x} → %{y}<extra></extra>" }
    ];
    if (!all.length) {
      container.appendChild(el("p", "empty", "No run has both " + param + " and " + metric + "."));
      return;
    }
    var target = el("div", "chart-target");
    container.appendChild(target);
    container.appendChild(dataTable(metric + " against " + param + ", every run (selected runs are labelled)",
      ["run", param, metric], traceRows([{ name: "", text: all.map(function (r) { return r.n; }), x: traces[0].x, y: traces[0].y }])));
    var extra = numeric ? {} : { xaxis: { title: { text: param }, type: "category", automargin: true } };
    this.plot(target, traces, layout(metric + " vs " + param, param, metric, extra));
  };

  /* ---------------------------------------------------------------- tables */

  Compare.prototype.unionKeys = function (runs, field) {
    var seen = {};
    runs.forEach(function (run) {
      Object.keys(run[field] || {}).forEach(function (key) { seen[key] = true; });
    });
    return Object.keys(seen).sort();
  };

  Compare.prototype.tableHead = function (table, first, runs) {
    var self = this;
    var head = table.createTHead();
    var row = head.insertRow();
    var corner = el("th", "", first);
    corner.scope = "col";
    row.appendChild(corner);
    var base = this.baseline();
    runs.forEach(function (run) {
      var th = el("th");
      th.scope = "col";
      var swatch = el("span", "swatch");
      swatch.style.display = "inline-block";
      swatch.style.width = ".7em";
      swatch.style.height = ".7em";
      swatch.style.marginRight = ".3em";
      swatch.style.backgroundColor = self.color(run);
      th.appendChild(swatch);
      th.appendChild(self.runLink(run));
      if (base && run.i === base.i) {
        th.classList.add("baseline");
        th.appendChild(el("span", "baseline-mark", " baseline"));
      }
      row.appendChild(th);
    });
  };

  /** One row per key; rows whose values differ get class "differs", the others "same". */
  Compare.prototype.diffTable = function (table, field, first, runs, best) {
    table.textContent = "";
    var base = this.baseline();
    var dirs = field === "m" ? this.data.dir || {} : {};
    var keys = this.unionKeys(runs, field);
    if (!keys.length) return 0;
    table.appendChild(el("caption", "visually-hidden", (field === "pa" ? "Params" : "Latest metrics") + " of the selected runs, one column per run"));
    this.tableHead(table, first, runs);
    var body = table.createTBody();
    var differing = 0;
    keys.forEach(function (key) {
      var values = runs.map(function (run) { return run[field] && key in run[field] ? run[field][key] : undefined; });
      var differs = values.some(function (v) { return v !== values[0]; });
      differing += differs ? 1 : 0;
      var tr = body.insertRow();
      tr.className = differs ? "differs" : "same";
      tr.setAttribute("data-key", key);
      var th = el("th", "", key);
      th.scope = "row";
      tr.appendChild(th);
      var bestValue = best ? best(key, values) : undefined;
      var baseValue = base && base[field] ? base[field][key] : undefined;
      values.forEach(function (value, index) {
        var numeric = typeof value === "number" || asNumber(value) !== null;
        var td = el("td", numeric ? "num" : "");
        if (value === undefined || value === null) {
          td.appendChild(el("span", "muted", "—"));
        } else {
          td.textContent = typeof value === "number" ? formatNumber(value) : String(value);
          if (bestValue !== undefined && value === bestValue) td.classList.add("best");
        }
        if (base && runs[index].i !== base.i && VIEWS) {
          var change = VIEWS.delta(asNumber(value), asNumber(baseValue), dirs[key] || "");
          if (change && change.text.charAt(0) !== "±") {
            td.appendChild(el("span", "delta" + (change.cls ? " " + change.cls : ""), change.text));
          } else if (!change && value !== baseValue && baseValue !== undefined && value !== undefined) {
            td.appendChild(el("span", "delta changed", "≠ baseline"));
          }
        }
        tr.appendChild(td);
      });
    });
    return differing;
  };

  /** The tables' columns: the baseline first (even when it is not selected), then the others. */
  Compare.prototype.tableRuns = function () {
    var base = this.baseline();
    var runs = this.runs().filter(function (run) { return !base || run.i !== base.i; });
    return base ? [base].concat(runs) : runs;
  };

  Compare.prototype.renderTables = function () {
    var runs = this.tableRuns();
    var dir = this.data.dir || {};
    var params = this.app.querySelector(".params-diff");
    var count = this.diffTable(params, "pa", "param", runs, null);
    var toggle = this.app.querySelector(".only-diff-toggle");
    if (toggle) toggle.hidden = !params.rows.length;
    var only = this.app.querySelector(".only-diff");
    if (only) params.classList.toggle("only-diff", only.checked);
    if (!params.rows.length) params.appendChild(el("caption", "empty", "The selected runs have no params."));
    else params.setAttribute("data-differing", String(count));
    var metrics = this.app.querySelector(".metrics-diff");
    this.diffTable(metrics, "m", "metric", runs, function (key, values) {
      var numbers = values.filter(function (v) { return typeof v === "number"; });
      if (numbers.length < 2 || !dir[key]) return undefined; // neutral metrics have no best
      return dir[key] === "max" ? Math.max.apply(null, numbers) : Math.min.apply(null, numbers);
    });
    if (only) metrics.classList.toggle("only-diff", only.checked);
    if (!metrics.rows.length) metrics.appendChild(el("caption", "empty", "The selected runs have no metrics."));
  };

  if (VIEWS) VIEWS.install(Compare.prototype, el, PLOT_CONFIG);

  /* ---------------------------------------------------------------- wiring */

  Compare.prototype.render = function () {
    this.renderRunList();
    if (!this.selection.length) {
      this.say("No runs selected: add one above, or pick runs on the leaderboard.");
    }
    this.renderTables();
    this.renderHistories();
    this.renderBars();
    this.renderParcoords();
    this.renderScatter();
    if (this.renderPair) this.renderPair();
  };

  Compare.prototype.init = function () {
    var self = this;
    this.wireSelection();
    var param = this.app.querySelector(".scatter-param");
    var metric = this.app.querySelector(".scatter-metric");
    var redraw = function () { self.drawScatter(param.value, metric.value); };
    if (param) param.addEventListener("change", redraw);
    if (metric) metric.addEventListener("change", redraw);
    this.selection = this.readHash();
    this.render();
    window.addEventListener("hashchange", function () {
      self.selection = self.readHash();
      self.render();
    });
  };

  function start() {
    var app = document.querySelector(".compare-app");
    if (!app) return;
    var id = app.getAttribute("data-experiment");
    if (!window.tracker || !window.tracker.loadExperimentData) return; // compare-views.js missing
    window.tracker.loadExperimentData(id, function (data) {
      if (!data || !data.runs) {
        var message = app.querySelector(".compare-message");
        if (message) message.textContent = "The data of this experiment did not load (its .data.js file is missing): rebuild the site.";
        return;
      }
      var page = new Compare(app, data);
      page.init();
      window.tracker = window.tracker || {};
      window.tracker.compare = page;
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
