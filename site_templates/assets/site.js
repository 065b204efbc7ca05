/* tracker site script: draws the charts embedded as JSON. Loaded with defer on every page. */
(function () {
  "use strict";

  // WebGL charts (parallel coordinates) can fail on a browser's first WebGL use, and Plotly
  // then shows a grey "WebGL is not supported" box: draw again after a short wait.
  function plotWithRetry(target, spec, delays) {
    var config = { responsive: true, displaylogo: false };
    window.Plotly.newPlot(target, spec.data, spec.layout, config);
    if (delays.length && target.querySelector(".no-webgl")) {
      window.setTimeout(function () {
        window.Plotly.purge(target);
        plotWithRetry(target, spec, delays.slice(1));
      }, delays[0]);
    }
  }

  function drawCharts() {
    if (typeof window.Plotly === "undefined") return;
    document.querySelectorAll("figure.chart").forEach(function (figure) {
      var source = figure.querySelector("script.chart-data");
      if (!source || figure.dataset.drawn) return;
      var spec = JSON.parse(source.textContent);
      var target = document.createElement("div");
      target.className = "chart-target";
      figure.appendChild(target);
      plotWithRetry(target, spec, [400, 800]);
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
