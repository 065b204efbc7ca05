/* Two params against a metric (#11), on the compare page and the experiment chart view: the
 * user picks param x, param y and a metric. Numeric params on a full grid (every combination of
 * their values has a run, as in a grid search) give a plotly contour with the runs on top; any
 * other case a heatmap of the metric's mean per cell with the run count in the hover: numeric
 * params with many values are binned (log-width bins when they span two decades or more), text
 * params keep one row or column per value. Cells without runs stay blank: nothing is
 * interpolated there, and the caption says how many there are. Best is darkest everywhere
 * (Viridis, reversed for higher-is-better metrics), as in the parallel coordinates.
 * Needs chart-kit.js; draws no untrusted text except through textContent or escaped for plotly. */
(function () {
  "use strict";

  var KIT = window.tracker.chartKit;
  var el = KIT.el;
  var MAX_LEVELS = 10; // more distinct numbers than this: bins
  var BINS = 6;
  var MISSING = "(none)";

  var plotlyText = KIT.plotlyText;

  /** A bin edge in 3 significant digits, no exponent below 1e-6: 0.000464, 12.5, 1.2e+7. */
  function short(value) {
    return String(Number(value.toPrecision(3)));
  }

  function hint(dir) {
    return dir === "min" ? " (lower is better)" : dir === "max" ? " (higher is better)" : "";
  }

  /** Distinct values in order: numbers by value, then text, then the missing marker. */
  function categoryOrder(values) {
    var seen = {};
    var distinct = values.filter(function (v) {
      if (Object.prototype.hasOwnProperty.call(seen, v)) return false;
      seen[v] = true;
      return true;
    });
    var rank = function (v) { return v === MISSING ? 2 : KIT.asNumber(v) === null ? 1 : 0; };
    return distinct.sort(function (a, b) {
      var ra = rank(a);
      var rb = rank(b);
      if (ra !== rb) return ra - rb;
      if (ra === 0) return KIT.asNumber(a) - KIT.asNumber(b);
      return a < b ? -1 : a > b ? 1 : 0;
    });
  }

  /** How one param splits the runs into cells: {key, kind: "levels" (one cell per number),
   * "bins" (numbers in BINS ranges) or "category" (one cell per text), labels, cell: index per
   * run, values: the numbers (levels only), log: a log axis suits the numbers}. */
  function axisOf(runs, key) {
    var raw = runs.map(function (r) { return r.pa[key]; });
    var numbers = raw.map(KIT.asNumber);
    if (!numbers.every(function (n) { return n !== null; })) {
      var texts = raw.map(function (v) { return v === null || v === undefined || v === "" ? MISSING : String(v); });
      var labels = categoryOrder(texts);
      return { key: key, kind: "category", labels: labels, cell: texts.map(function (t) { return labels.indexOf(t); }) };
    }
    var distinct = categoryOrder(numbers.map(String)).map(Number);
    var lo = distinct[0];
    var hi = distinct[distinct.length - 1];
    var log = lo > 0 && hi / lo >= 100;
    if (distinct.length <= MAX_LEVELS) {
      return { key: key, kind: "levels", labels: distinct.map(KIT.formatNumber), values: distinct, log: log,
        cell: numbers.map(function (n) { return distinct.indexOf(n); }) };
    }
    var scale = log ? Math.log : function (v) { return v; };
    var unscale = log ? Math.exp : function (v) { return v; };
    var a = scale(lo);
    var width = (scale(hi) - a) / BINS;
    var edges = [];
    for (var i = 0; i <= BINS; i++) edges.push(i === BINS ? hi : i === 0 ? lo : Number(unscale(a + width * i).toPrecision(3)));
    var binLabels = [];
    for (var j = 0; j < BINS; j++) {
      binLabels.push(short(edges[j]) + "–" + short(edges[j + 1]));
    }
    return { key: key, kind: "bins", labels: binLabels, log: log, edges: edges,
      cell: numbers.map(function (n) {
        for (var k = BINS - 1; k > 0; k--) if (n >= edges[k]) return k;
        return 0;
      }) };
  }

  /** The runs of ``runs`` that have both params and a number for ``metric``, split into cells:
   * {x, y (axisOf), z: [row y][column x] mean or null, counts, runs: the runs kept, empty: how
   * many cells have no run, contour: numeric levels on a full grid}. */
  function grid(runs, xKey, yKey, metric) {
    var kept = runs.filter(function (r) {
      return r.pa && r.pa[xKey] !== undefined && r.pa[yKey] !== undefined && r.m && typeof r.m[metric] === "number";
    });
    if (!kept.length) return null;
    var x = axisOf(kept, xKey);
    var y = axisOf(kept, yKey);
    var sums = y.labels.map(function () { return x.labels.map(function () { return 0; }); });
    var counts = y.labels.map(function () { return x.labels.map(function () { return 0; }); });
    kept.forEach(function (run, i) {
      sums[y.cell[i]][x.cell[i]] += run.m[metric];
      counts[y.cell[i]][x.cell[i]] += 1;
    });
    var empty = 0;
    var z = sums.map(function (row, r) {
      return row.map(function (sum, c) {
        if (!counts[r][c]) {
          empty += 1;
          return null;
        }
        return Number((sum / counts[r][c]).toPrecision(6));
      });
    });
    var contour = x.kind === "levels" && y.kind === "levels" && x.values.length >= 3 && y.values.length >= 3 && !empty;
    return { x: x, y: y, z: z, counts: counts, runs: kept, empty: empty, contour: contour };
  }

  /** The plotly figure of a grid: {data, layout, caption}. */
  function figure(g, metric, dir, chosen) {
    var colorbar = { title: { text: plotlyText(metric + hint(dir)), side: "right" } };
    var scale = { colorscale: "Viridis", reversescale: dir === "max", colorbar: colorbar };
    var xTitle = plotlyText(g.x.key);
    var yTitle = plotlyText(g.y.key);
    var layout = {
      title: { text: plotlyText(metric + " by " + g.x.key + " × " + g.y.key), font: { size: 14 } },
      height: 380, margin: { l: 64, r: 16, t: 40, b: 56 }, hovermode: "closest", plot_bgcolor: "#ffffff",
      xaxis: { title: { text: xTitle }, automargin: true }, yaxis: { title: { text: yTitle }, automargin: true }
    };
    var cells = g.x.labels.length * g.y.labels.length;
    var counted = g.runs.length + " run" + (g.runs.length === 1 ? "" : "s");
    var data;
    var caption;
    if (g.contour) {
      data = [Object.assign({
        type: "contour", x: g.x.values, y: g.y.values, z: g.z, customdata: g.counts, meta: "cells",
        contours: { coloring: "heatmap", showlabels: true, labelfont: { color: "#ffffff", size: 11 } },
        line: { width: 0.5, color: "rgba(255,255,255,0.6)" },
        hovertemplate: xTitle + " %{x}<br>" + yTitle + " %{y}<br>mean " + plotlyText(metric) + " %{z}<br>%{customdata} run(s)<extra></extra>"
      }, scale), {
        type: "scatter", mode: "markers", name: "runs", meta: "runs", showlegend: false,
        x: g.runs.map(function (r) { return KIT.asNumber(r.pa[g.x.key]); }),
        y: g.runs.map(function (r) { return KIT.asNumber(r.pa[g.y.key]); }),
        text: g.runs.map(function (r) { return plotlyText(r.n); }), customdata: g.runs.map(function (r) { return r.u; }),
        marker: { size: 7, color: "rgba(255,255,255,0.85)",
          line: { color: "#1b1f24", width: g.runs.map(function (r) { return chosen.indexOf(r.i) >= 0 ? 2.5 : 0.8; }) } },
        hovertemplate: "%{text}: " + plotlyText(metric) + " at %{x}, %{y}<extra></extra>"
      }];
      layout.xaxis.type = g.x.log ? "log" : "linear";
      layout.yaxis.type = g.y.log ? "log" : "linear";
      caption = "Contour of the mean " + metric + " over the " + g.x.labels.length + " × " + g.y.labels.length +
        " grid of values (" + counted + ", every combination has a run); between grid points the colours and lines are " +
        "interpolated. Dots are runs, the selected ones ringed. Best is darkest.";
    } else {
      data = [Object.assign({
        type: "heatmap", x: g.x.labels.map(plotlyText), y: g.y.labels.map(plotlyText), z: g.z, customdata: g.counts,
        meta: "cells", xgap: 2, ygap: 2, hoverongaps: false, texttemplate: "%{z:.4g}",
        hovertemplate: xTitle + " %{x}<br>" + yTitle + " %{y}<br>mean " + plotlyText(metric) + " %{z}<br>%{customdata} run(s)<extra></extra>"
      }, scale)];
      layout.xaxis.type = "category";
      layout.yaxis.type = "category";
      var how = function (axis) {
        return axis.kind === "bins" ? axis.key + " in " + BINS + (axis.log ? " log-width" : " equal-width") + " bins" : "";
      };
      var binned = [how(g.x), how(g.y)].filter(Boolean).join(", ");
      caption = "Mean " + metric + " per cell (" + counted + " in " + (cells - g.empty) + " of " + cells + " cells" +
        (binned ? "; " + binned : "") + "); hover for the run count. " +
        (g.empty ? g.empty + " cell" + (g.empty === 1 ? " has" : "s have") + " no run and " + (g.empty === 1 ? "is" : "are") +
          " left blank: nothing is interpolated. " : "") + "Best is darkest.";
    }
    return { data: data, layout: layout, caption: caption };
  }

  /** Rows of the grid for the data table: x, y, mean, runs (cells with runs only). */
  function rows(g) {
    var out = [];
    g.y.labels.forEach(function (yl, r) {
      g.x.labels.forEach(function (xl, c) {
        if (g.counts[r][c]) out.push([xl, yl, g.z[r][c], g.counts[r][c]]);
      });
    });
    return out;
  }

  function fill(select, keys, value) {
    select.textContent = "";
    keys.forEach(function (key) {
      var option = el("option", "", key);
      option.value = key;
      select.appendChild(option);
    });
    if (keys.indexOf(value) >= 0) select.value = value;
  }

  /** The default axes: the params most runs with the metric have, preferring ones that vary. */
  function defaults(runs, pkeys, metric) {
    var scored = runs.filter(function (r) { return r.m && typeof r.m[metric] === "number"; });
    return pkeys.map(function (key) {
      var values = scored.filter(function (r) { return r.pa && r.pa[key] !== undefined; }).map(function (r) { return String(r.pa[key]); });
      var varies = values.some(function (v) { return v !== values[0]; });
      return [key, values.length * 2 + (varies ? scored.length * 2 + 1 : 0)];
    }).sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); }).map(function (p) { return p[0]; });
  }

  /** Wire the view in ``root`` (holding .pair-controls with selects .pair-x, .pair-y,
   * .pair-metric, and .pair-chart). options: runs() the runs to place, chosen() the ids to ring,
   * choice "x,y,metric" from the address, onChange(choice), plot(target, data, layout),
   * clear(container). Returns {render} (call it again when the runs change). */
  function mount(root, data, options) {
    var xs = root.querySelector(".pair-x");
    var ys = root.querySelector(".pair-y");
    var ms = root.querySelector(".pair-metric");
    var container = root.querySelector(".pair-chart");
    var pkeys = data.pkeys || [];
    var mkeys = (data.mkeys || []).slice();
    var wired = false;

    function render() {
      options.clear(container);
      if (pkeys.length < 2 || !mkeys.length) {
        container.appendChild(el("p", "empty", "This needs two params and a metric."));
        return;
      }
      if (!wired) {
        wired = true;
        var parts = (options.choice || "").split(",");
        var metric = mkeys.indexOf(parts[2]) >= 0 ? parts[2] : data.primary && mkeys.indexOf(data.primary) >= 0 ? data.primary : mkeys[0];
        var order = defaults(data.runs, pkeys, metric);
        var first = pkeys.indexOf(parts[0]) >= 0 ? parts[0] : order[0];
        var second = pkeys.indexOf(parts[1]) >= 0 && parts[1] !== first ? parts[1] : order.filter(function (k) { return k !== first; })[0];
        fill(xs, pkeys, first);
        fill(ys, pkeys, second);
        fill(ms, mkeys, metric);
        var changed = function () {
          render();
          if (options.onChange) options.onChange([xs.value, ys.value, ms.value].join(","));
        };
        [xs, ys, ms].forEach(function (s) { s.addEventListener("change", changed); });
        root.querySelector(".pair-controls").hidden = false;
      }
      var metricKey = ms.value;
      var dir = (data.dir || {})[metricKey] || "";
      if (xs.value === ys.value) {
        container.appendChild(el("p", "empty", "Pick two different params."));
        return;
      }
      var g = grid(options.runs(), xs.value, ys.value, metricKey);
      if (!g) {
        container.appendChild(el("p", "empty", "No run has " + xs.value + ", " + ys.value + " and " + metricKey + "."));
        return;
      }
      var fig = figure(g, metricKey, dir, options.chosen ? options.chosen() : []);
      var target = el("div", "chart-target");
      container.setAttribute("data-kind", g.contour ? "contour" : "heatmap");
      container.appendChild(target);
      container.appendChild(el("p", "pair-caption muted", fig.caption));
      container.appendChild(KIT.dataTable("Mean " + metricKey + " per " + xs.value + " × " + ys.value + " cell",
        [xs.value, ys.value, "mean " + metricKey, "runs"], rows(g)));
      options.plot(target, fig.data, fig.layout);
    }

    return { render: render };
  }

  window.tracker.paramGrid = { axisOf: axisOf, grid: grid, figure: figure, rows: rows, mount: mount, plotlyText: plotlyText };
})();
