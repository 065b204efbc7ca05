/* tracker site script: draws the charts embedded as JSON. Loaded with defer on every page.
 * No WebGL trace types (parcoords, scattergl, ...): they compile code with new Function, which
 * the site's CSP forbids (#11); parallel coordinates are assets/parcoords.js. */
(function () {
  "use strict";

  // The mode bar keeps one button, "Download plot as a PNG" (one Tab stop per chart): no
  // "Share chart…" upload to Plotly Cloud, no zoom tools (double-click resets the axes) (#18).
  var CONFIG = {
    responsive: true, displaylogo: false, showSendToCloud: false, showEditInChartStudio: false,
    showLink: false, modeBarButtons: [["toImage"]]
  };

  /** Two plots side by side (the leaderboard's trend: over time, by commit) one above the
   * other on a narrow screen: side by side at 390 px their titles and legends overlapped. */
  function stacked(layout, width) {
    if (width >= 600 || !layout.grid || layout.grid.columns !== 2 || layout.grid.rows !== 1) {
      return layout;
    }
    var copy = JSON.parse(JSON.stringify(layout));
    copy.grid = { rows: 2, columns: 1, pattern: "independent", roworder: "top to bottom", ygap: 0.4 };
    copy.height = (layout.height || 320) * 2;
    copy.margin = Object.assign({}, layout.margin || {}, { t: 110 });
    return copy;
  }

  function drawCharts() {
    if (typeof window.Plotly === "undefined") return;
    document.querySelectorAll("figure.chart").forEach(function (figure) {
      var source = figure.querySelector("script.chart-data");
      if (!source || figure.dataset.drawn) return;
      var spec = JSON.parse(source.textContent);
      var target = document.createElement("div");
      target.className = "chart-target";
      figure.insertBefore(target, figure.querySelector(".chart-alt")); // the chart, then its data
      window.Plotly.newPlot(target, spec.data, stacked(spec.layout, target.clientWidth), CONFIG);
      figure.dataset.drawn = "1";
      target.on && target.on("plotly_click", function (event) {
        var point = event.points && event.points[0];
        if (point && typeof point.customdata === "string" && point.customdata.slice(-5) === ".html") {
          window.location.href = (document.body.dataset.root || "") + point.customdata;
        }
      });
    });
  }

  /** "3 h ago" after each <time data-ago>: the page stays the same file, the hint is the reader's. */
  function timeAgo(iso, now) {
    var seconds = (now - Date.parse(iso)) / 1000;
    if (!isFinite(seconds) || seconds < 0) return "";
    var steps = [[60, "s", 1], [3600, "min", 60], [86400, "h", 3600], [86400 * 60, "d", 86400]];
    for (var i = 0; i < steps.length; i++) {
      if (seconds < steps[i][0]) return Math.floor(seconds / steps[i][2]) + " " + steps[i][1] + " ago";
    }
    return Math.floor(seconds / (86400 * 30)) + " mo ago";
  }

  function relativeTimes() {
    var now = Date.now();
    document.querySelectorAll("time[data-ago]").forEach(function (el) {
      if (el.dataset.agoDone) return;
      var text = timeAgo(el.getAttribute("datetime"), now);
      if (!text) return;
      var hint = document.createElement("span");
      hint.className = "ago";
      hint.textContent = " (" + text + ")";
      el.after(hint);
      el.dataset.agoDone = "1";
    });
  }

  /** Charts at the width of the printed page, and back after printing (#17). */
  function resizeCharts() {
    if (typeof window.Plotly === "undefined") return;
    document.querySelectorAll("figure.chart .chart-target").forEach(function (target) {
      window.Plotly.Plots.resize(target);
    });
  }

  /** The Menu button's aria-expanded follows its popover nav (opening works without script). */
  function navMenu() {
    var button = document.querySelector(".nav-button[popovertarget]");
    var nav = button && document.getElementById(button.getAttribute("popovertarget"));
    if (!nav || typeof nav.showPopover !== "function") return;
    button.setAttribute("aria-expanded", "false");
    nav.addEventListener("toggle", function (event) {
      button.setAttribute("aria-expanded", event.newState === "open" ? "true" : "false");
    });
  }

  function start() {
    navMenu();
    drawCharts();
    relativeTimes();
    window.addEventListener("beforeprint", resizeCharts);
    window.addEventListener("afterprint", resizeCharts);
  }

  window.tracker = window.tracker || {};
  window.tracker.drawCharts = drawCharts;
  window.tracker.timeAgo = timeAgo;
  window.tracker.resizeCharts = resizeCharts;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
