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

  function drawCharts() {
    if (typeof window.Plotly === "undefined") return;
    document.querySelectorAll("figure.chart").forEach(function (figure) {
      var source = figure.querySelector("script.chart-data");
      if (!source || figure.dataset.drawn) return;
      var spec = JSON.parse(source.textContent);
      var target = document.createElement("div");
      target.className = "chart-target";
      figure.insertBefore(target, figure.querySelector(".chart-alt")); // the chart, then its data
      window.Plotly.newPlot(target, spec.data, spec.layout, CONFIG);
      figure.dataset.drawn = "1";
      target.on && target.on("plotly_click", function (event) {
        var point = event.points && event.points[0];
        if (point && typeof point.customdata === "string" && point.customdata.slice(-5) === ".html") {
          window.location.href = (document.body.dataset.root || "") + point.customdata;
        }
      });
    });
  }

  window.tracker = window.tracker || {};
  window.tracker.drawCharts = drawCharts;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawCharts);
  } else {
    drawCharts();
  }
})();
