/* Parallel coordinates drawn as SVG by our own code (#11). plotly's parcoords compiles WebGL
 * shaders with new Function, which the site's Content-Security-Policy (script-src 'self', no
 * 'unsafe-eval') forbids, so it never drew. Here: one vertical axis per dimension (numbers on a
 * linear scale with ticks, text as evenly spaced categories), one polyline per run coloured by
 * the metric (best = darkest, whatever the metric's direction), a colour bar, hover and
 * keyboard focus naming a run and its values, and brushing: drag along an axis to keep a range.
 *
 * The spec (built by tracker/site/charts_compare.py, or by compare.js in the browser):
 *   {title, metric, direction: "min"|"max"|"", dimensions: [{label, values, ticktext?}],
 *    lines: [{id, name, href}]}
 * A dimension with ticktext holds category indices; the metric is the last dimension.
 *
 * window.tracker.parcoords.draw(container, spec, {noun, brush, onBrush}) draws into container;
 * a <figure class="parcoords"> holding <script type="application/json" class="parcoords-data">
 * is drawn on load, its brush kept in the URL hash (#brush=key:lo:hi,...) and, when the figure
 * has data-rows="<selector>", rows whose data-run is outside the brush are hidden.
 * Plain ES2017; data only ever reaches the DOM as textContent or attribute values.
 */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  // viridis from its dark end to 0.9 (its last tenth is too pale to see on white)
  var VIRIDIS = ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884", "#44bf70",
    "#7ad151", "#bddf26"];
  var NEUTRAL_LINE = "#0b5cad";
  var MARGIN = { top: 46, right: 72, bottom: 78, left: 72 };
  var PLOT_HEIGHT = 260;
  var MIN_GAP = 120;
  var HIT_WIDTH = 28;
  var HOVER_DISTANCE = 10;
  var EPSILON = 1e-9;
  var counter = 0;

  function svg(tag, attrs, parent) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function formatNumber(value) {
    if (typeof value !== "number" || !isFinite(value)) return String(value);
    if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 1e-3)) return value.toPrecision(4);
    if (Number.isInteger(value)) return String(value);
    return String(Number(value.toPrecision(6)));
  }

  /** A number for the address: short, and the same number when read back. */
  function hashNumber(value) {
    return String(Number(value.toPrecision(6)));
  }

  function interpolate(a, b, t) {
    var pa = parseInt(a.slice(1), 16);
    var pb = parseInt(b.slice(1), 16);
    var channel = function (shift) {
      var ca = (pa >> shift) & 255;
      var cb = (pb >> shift) & 255;
      return Math.round(ca + (cb - ca) * t);
    };
    var rgb = (channel(16) << 16) | (channel(8) << 8) | channel(0);
    return "#" + ("000000" + rgb.toString(16)).slice(-6);
  }

  /** Colour at t in 0 (dark) – 1 (light). */
  function viridis(t) {
    var x = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
    var i = Math.min(Math.floor(x), VIRIDIS.length - 2);
    return interpolate(VIRIDIS[i], VIRIDIS[i + 1], x - i);
  }

  /** About five round values between low and high. */
  function niceTicks(low, high) {
    var span = high - low;
    if (!(span > 0)) return [low];
    var step = Math.pow(10, Math.floor(Math.log10(span / 5)));
    var error = span / 5 / step;
    if (error >= 7.5) step *= 10;
    else if (error >= 3.5) step *= 5;
    else if (error >= 1.5) step *= 2;
    var ticks = [];
    for (var v = Math.ceil(low / step - EPSILON) * step; v <= high + step * EPSILON; v += step) {
      ticks.push(Number(v.toPrecision(12)));
    }
    return ticks;
  }

  /** An axis: where each line crosses it, as a position from 0 (bottom) to 1 (top). */
  function makeAxis(dim, index) {
    var axis = { key: dim.label, label: dim.label, index: index, categories: dim.ticktext || null };
    if (axis.categories) {
      var last = Math.max(axis.categories.length - 1, 0);
      axis.position = function (i) { return last ? i / last : 0.5; };
      axis.ticks = axis.categories.map(function (text, i) { return { at: axis.position(i), text: text }; });
      axis.describe = function (i) { return axis.categories[i]; };
    } else {
      var numbers = dim.values.filter(function (v) { return typeof v === "number" && isFinite(v); });
      var low = numbers.length ? Math.min.apply(null, numbers) : 0;
      var high = numbers.length ? Math.max.apply(null, numbers) : 1;
      if (low === high) {
        low -= 1;
        high += 1;
      }
      axis.low = low;
      axis.high = high;
      axis.position = function (v) { return (v - low) / (high - low); };
      axis.value = function (p) { return low + p * (high - low); };
      axis.ticks = niceTicks(low, high).map(function (v) { return { at: axis.position(v), text: formatNumber(v) }; });
      axis.describe = function (v) { return formatNumber(v); };
    }
    axis.positions = dim.values.map(function (v) { return axis.position(v); });
    return axis;
  }

  /** Brush text (key:lo:hi,...) → [{key, lo, hi}] of decoded strings; malformed entries dropped. */
  function parseBrush(text) {
    var entries = [];
    (text || "").split(",").forEach(function (part) {
      var bits = part.split(":");
      if (bits.length !== 3) return;
      try {
        entries.push({ key: decodeURIComponent(bits[0]), lo: decodeURIComponent(bits[1]), hi: decodeURIComponent(bits[2]) });
      } catch (e) {
        // a malformed escape: ignore this entry
      }
    });
    return entries;
  }

  /** The part of the hash named name ("brush=..." → "..."), or "". */
  function hashPart(name) {
    var found = "";
    window.location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      if (part.indexOf(name + "=") === 0) found = part.slice(name.length + 1);
    });
    return found;
  }

  /** Replace (or drop, when value is "") one name=value part of the hash, keeping the others. */
  function setHashPart(name, value) {
    var parts = window.location.hash.replace(/^#/, "").split("&").filter(function (part) {
      return part && part.indexOf(name + "=") !== 0;
    });
    if (value) parts.push(name + "=" + value);
    var url = window.location.pathname + window.location.search + (parts.length ? "#" + parts.join("&") : "");
    try {
      window.history.replaceState(window.history.state, "", url);
    } catch (e) {
      window.location.hash = parts.join("&");
    }
  }

  /* ---------------------------------------------------------------- the chart */

  function Chart(container, spec, options) {
    this.container = container;
    this.spec = spec;
    this.options = options || {};
    this.noun = this.options.noun || "run";
    this.root = document.body.getAttribute("data-root") || "";
    this.id = "pc" + (counter += 1);
    this.axes = spec.dimensions.map(makeAxis);
    this.lines = spec.lines.slice(0, spec.dimensions.length ? spec.dimensions[0].values.length : 0);
    this.brushes = {};
    this.hot = -1;
    this.metricAxis = spec.metric ? this.axes[this.axes.length - 1] : null;
    this.order = this.rankOrder();
    this.restore(this.options.brush || []);
  }

  /** Line indices best first (by the metric and its direction), for drawing and the keyboard. */
  Chart.prototype.rankOrder = function () {
    var indices = this.lines.map(function (line, i) { return i; });
    var axis = this.metricAxis;
    if (!axis) return indices;
    var sign = this.spec.direction === "max" ? -1 : 1;
    return indices.sort(function (a, b) { return sign * (axis.positions[a] - axis.positions[b]) || a - b; });
  };

  /** 0 for the best line (dark) to 1 for the worst (light); low to high when neutral. */
  Chart.prototype.shade = function (i) {
    var p = this.metricAxis.positions[i];
    return this.spec.direction === "max" ? 1 - p : p;
  };

  Chart.prototype.color = function (i) {
    return this.metricAxis ? viridis(this.shade(i)) : NEUTRAL_LINE;
  };

  Chart.prototype.restore = function (entries) {
    var self = this;
    this.brushes = {};
    entries.forEach(function (entry) {
      var axis = self.axes.filter(function (a) { return a.key === entry.key; })[0];
      if (!axis) return;
      var lo;
      var hi;
      if (axis.categories) {
        var a = axis.categories.indexOf(entry.lo);
        var b = axis.categories.indexOf(entry.hi);
        if (a < 0 || b < 0) return;
        var step = axis.categories.length > 1 ? 0.25 / (axis.categories.length - 1) : 0.25;
        lo = axis.position(Math.min(a, b)) - step;
        hi = axis.position(Math.max(a, b)) + step;
      } else {
        var x = Number(entry.lo);
        var y = Number(entry.hi);
        if (entry.lo === "" || entry.hi === "" || !isFinite(x) || !isFinite(y)) return;
        lo = axis.position(Math.min(x, y));
        hi = axis.position(Math.max(x, y));
      }
      self.brushes[axis.index] = { lo: lo, hi: hi };
    });
  };

  /** The brush as text for the address: numbers on numeric axes, category names on the others. */
  Chart.prototype.brushText = function () {
    var self = this;
    var parts = [];
    this.axes.forEach(function (axis) {
      var brush = self.brushes[axis.index];
      if (!brush) return;
      var lo;
      var hi;
      if (axis.categories) {
        var inside = axis.categories.filter(function (c, i) { return self.inBrush(brush, axis.position(i)); });
        if (!inside.length) return;
        lo = inside[0];
        hi = inside[inside.length - 1];
      } else {
        lo = hashNumber(axis.value(brush.lo));
        hi = hashNumber(axis.value(brush.hi));
      }
      parts.push([axis.key, lo, hi].map(encodeURIComponent).join(":"));
    });
    return parts.join(",");
  };

  /** A dragged brush as the address will hold it, so a reload shows the same selection:
   * categories it covers (none: no brush), numbers rounded to a thousandth of the axis. */
  Chart.prototype.snap = function (axis) {
    var brush = this.brushes[axis.index];
    if (!brush) return;
    delete this.brushes[axis.index];
    var entries = [];
    if (axis.categories) {
      var inside = axis.categories.filter(function (c, i) { return this.inBrush(brush, axis.position(i)); }, this);
      if (inside.length) entries.push({ key: axis.key, lo: inside[0], hi: inside[inside.length - 1] });
    } else {
      var step = Math.pow(10, Math.floor(Math.log10((axis.high - axis.low) / 1000)));
      var round = function (p) { return String(Number((Math.round(axis.value(p) / step) * step).toPrecision(12))); };
      entries.push({ key: axis.key, lo: round(brush.lo), hi: round(brush.hi) });
    }
    var others = this.brushes;
    this.restore(entries);
    Object.keys(others).forEach(function (index) { this.brushes[index] = others[index]; }, this);
  };

  Chart.prototype.inBrush = function (brush, position) {
    return position >= brush.lo - EPSILON && position <= brush.hi + EPSILON;
  };

  Chart.prototype.isSelected = function (i) {
    var self = this;
    return this.axes.every(function (axis) {
      var brush = self.brushes[axis.index];
      return !brush || self.inBrush(brush, axis.positions[i]);
    });
  };

  /** Ids of the lines inside every brush (all of them when nothing is brushed). */
  Chart.prototype.selectedIds = function () {
    return this.lines.filter(function (line, i) { return this.isSelected(i); }, this).map(function (line) { return line.id; });
  };

  Chart.prototype.brushed = function () {
    return Object.keys(this.brushes).length > 0;
  };

  /* ---------------------------------------------------------------- drawing */

  Chart.prototype.x = function (index) {
    return MARGIN.left + index * this.gap;
  };

  Chart.prototype.y = function (position) {
    return MARGIN.top + (1 - position) * PLOT_HEIGHT;
  };

  Chart.prototype.path = function (i) {
    var self = this;
    return this.axes.map(function (axis, a) {
      return (a ? "L" : "M") + self.x(a).toFixed(1) + " " + self.y(axis.positions[i]).toFixed(1);
    }).join(" ");
  };

  Chart.prototype.summary = function () {
    var count = this.lines.length;
    var text = "Parallel coordinates of " + count + " " + this.noun + (count === 1 ? "" : "s") + " over " +
      this.axes.length + " axes: " + this.axes.map(function (a) { return a.label; }).join(", ") + ".";
    if (this.metricAxis) {
      text += " Lines are coloured by " + this.spec.metric +
        (this.spec.direction ? ", darkest = best (" + (this.spec.direction === "min" ? "lowest" : "highest") + ")." : ".");
    }
    return text + " Arrow keys step through the " + this.noun + "s, Enter opens one, Escape clears the brushes.";
  };

  Chart.prototype.draw = function () {
    var self = this;
    this.container.textContent = "";
    this.container.classList.add("pc");
    var head = el("div", "pc-head");
    if (this.spec.title) head.appendChild(el("p", "pc-title", this.spec.title));
    this.status = el("p", "pc-status");
    this.clearButton = el("button", "pc-clear", "Clear brushes");
    this.clearButton.type = "button";
    this.clearButton.addEventListener("click", function () { self.setBrushes({}); });
    head.appendChild(this.status);
    head.appendChild(this.clearButton);
    this.container.appendChild(head);
    this.scroller = el("div", "pc-scroll");
    this.container.appendChild(this.scroller);
    // below the chart, so that a long readout never moves the lines under the pointer
    this.readout = el("p", "pc-readout");
    this.readout.setAttribute("aria-live", "polite");
    this.container.appendChild(this.readout);
    var available = Math.max(this.container.clientWidth || 640, 320);
    var inner = available - MARGIN.left - MARGIN.right;
    this.gap = this.axes.length > 1 ? Math.max(MIN_GAP, inner / (this.axes.length - 1)) : 0;
    var width = Math.max(MARGIN.left + MARGIN.right + this.gap * (this.axes.length - 1), 320);
    var height = MARGIN.top + PLOT_HEIGHT + MARGIN.bottom;
    this.width = width;
    var root = svg("svg", { class: "pc-svg", width: width, height: height, viewBox: "0 0 " + width + " " + height,
      tabindex: 0, role: "img", "aria-label": this.summary() }, this.scroller);
    this.svg = root;
    this.lineGroup = svg("g", { class: "pc-lines" }, root);
    this.paths = [];
    this.order.slice().reverse().forEach(function (i) { // the best is drawn last, on top
      var line = self.lines[i];
      var path = svg("path", { class: "pc-line", d: self.path(i), stroke: self.color(i), "data-run": line.id }, self.lineGroup);
      self.paths[i] = path;
    });
    this.hotPath = svg("path", { class: "pc-hot", d: "" }, root);
    this.axisGroup = svg("g", { class: "pc-axes" }, root);
    this.axes.forEach(function (axis) { self.drawAxis(axis); });
    if (this.metricAxis) this.drawColorBar(height);
    this.wire();
    this.update(false);
  };

  /** Shorten text until it fits width pixels (the full text stays in a <title>). */
  function fit(text, width) {
    var full = text.textContent;
    if (!text.getComputedTextLength || text.getComputedTextLength() <= width) return;
    var keep = full.length;
    while (keep > 1 && text.getComputedTextLength() > width) {
      keep -= 1;
      text.textContent = full.slice(0, keep) + "…";
    }
    svg("title", {}, text).textContent = full;
  }

  Chart.prototype.drawAxis = function (axis) {
    var self = this;
    var x = this.x(axis.index);
    var g = svg("g", { class: "pc-axis", "data-key": axis.key }, this.axisGroup);
    svg("line", { x1: x, x2: x, y1: MARGIN.top, y2: MARGIN.top + PLOT_HEIGHT }, g);
    var title = svg("text", { class: "pc-axis-title", x: x, y: MARGIN.top - 26, "text-anchor": "middle" }, g);
    title.textContent = axis.label;
    var edge = axis.index === 0 ? MARGIN.left : axis.index === this.axes.length - 1 ? MARGIN.right : this.gap / 2;
    fit(title, Math.min(this.gap || MIN_GAP, 2 * edge) - 10);
    var tickWidth = axis.index === 0 ? MARGIN.left - 12 : this.gap / 2 - 14;
    axis.ticks.forEach(function (tick) {
      var y = self.y(tick.at);
      svg("line", { class: "pc-tick", x1: x - 4, x2: x, y1: y, y2: y }, g);
      var label = svg("text", { class: "pc-tick-label", x: x - 7, y: y + 4, "text-anchor": "end" }, g);
      label.textContent = tick.text;
      fit(label, tickWidth);
    });
    axis.brushRect = svg("rect", { class: "pc-brush", x: x - 8, width: 16, y: 0, height: 0, visibility: "hidden" }, g);
    axis.hit = svg("rect", { class: "pc-hit", x: x - HIT_WIDTH / 2, width: HIT_WIDTH, y: MARGIN.top - 8,
      height: PLOT_HEIGHT + 16, "data-key": axis.key }, g);
    svg("title", {}, axis.hit).textContent = "Drag along " + axis.label + " to keep a range; click to clear it";
  };

  Chart.prototype.drawColorBar = function (height) {
    var spec = this.spec;
    var axis = this.metricAxis;
    var g = svg("g", { class: "pc-colorbar" }, this.svg);
    var top = height - MARGIN.bottom + 26;
    var left = MARGIN.left;
    var width = 180;
    var defs = svg("defs", {}, g);
    var gradient = svg("linearGradient", { id: this.id + "-scale", x1: 0, x2: 1, y1: 0, y2: 0 }, defs);
    for (var s = 0; s <= 10; s += 1) { // left = low values, right = high values
      var t = spec.direction === "max" ? 1 - s / 10 : s / 10;
      svg("stop", { offset: s / 10, "stop-color": viridis(t) }, gradient);
    }
    var label = svg("text", { class: "pc-colorbar-title", x: left, y: top - 6 }, g);
    label.textContent = "colour: " + spec.metric + (spec.direction === "min" ? " (lower is better)"
      : spec.direction === "max" ? " (higher is better)" : "");
    svg("rect", { x: left, y: top, width: width, height: 10, fill: "url(#" + this.id + "-scale)" }, g);
    var low = svg("text", { class: "pc-tick-label", x: left, y: top + 24 }, g);
    low.textContent = formatNumber(axis.low);
    var high = svg("text", { class: "pc-tick-label", x: left + width, y: top + 24, "text-anchor": "end" }, g);
    high.textContent = formatNumber(axis.high);
    if (axis.low === axis.high - 2) { // one value: the axis was padded; show the value itself
      low.textContent = formatNumber(axis.low + 1);
      high.textContent = "";
    }
  };

  /* ---------------------------------------------------------------- state */

  Chart.prototype.setBrushes = function (brushes) {
    this.brushes = brushes;
    this.update(true);
  };

  /** Redraw brushes, dim lines outside them, refresh the status; tell the page when asked. */
  Chart.prototype.update = function (notify) {
    var self = this;
    var selected = 0;
    this.lines.forEach(function (line, i) {
      var inside = self.isSelected(i);
      selected += inside ? 1 : 0;
      self.paths[i].classList.toggle("pc-dim", !inside);
    });
    this.axes.forEach(function (axis) {
      var brush = self.brushes[axis.index];
      if (!brush) {
        axis.brushRect.setAttribute("visibility", "hidden");
        return;
      }
      var top = self.y(Math.min(1.02, brush.hi));
      var bottom = self.y(Math.max(-0.02, brush.lo));
      axis.brushRect.setAttribute("y", String(Math.min(top, bottom)));
      axis.brushRect.setAttribute("height", String(Math.max(Math.abs(bottom - top), 2)));
      axis.brushRect.setAttribute("visibility", "visible");
    });
    var total = this.lines.length;
    var nouns = this.noun + (total === 1 ? "" : "s");
    this.status.textContent = this.brushed()
      ? selected + " of " + total + " " + nouns + " in the brushed ranges."
      : total + " " + nouns + ". Drag along an axis to keep a range.";
    if (this.width > this.scroller.clientWidth + 1) {
      this.status.textContent += " Scroll sideways for all " + this.axes.length + " axes.";
    }
    this.clearButton.hidden = !this.brushed();
    this.container.setAttribute("data-selected", String(selected));
    if (notify && this.options.onBrush) this.options.onBrush(this.selectedIds(), this.brushText());
  };

  Chart.prototype.showLine = function (i) {
    this.hot = i;
    if (i < 0) {
      this.hotPath.setAttribute("d", "");
      this.readout.textContent = "";
      return;
    }
    var self = this;
    this.hotPath.setAttribute("d", this.path(i));
    this.hotPath.setAttribute("stroke", this.color(i));
    var values = this.axes.map(function (axis) {
      return axis.label + " " + axis.describe(self.spec.dimensions[axis.index].values[i]);
    });
    this.readout.textContent = this.lines[i].name + ": " + values.join(" · ");
  };

  /** The line nearest the pointer (within HOVER_DISTANCE px), or -1. */
  Chart.prototype.lineAt = function (px, py) {
    if (this.axes.length < 2) return -1;
    var a = Math.max(0, Math.min(this.axes.length - 2, Math.floor((px - MARGIN.left) / this.gap)));
    var t = Math.max(0, Math.min(1, (px - this.x(a)) / this.gap));
    var best = -1;
    var distance = HOVER_DISTANCE;
    for (var i = 0; i < this.lines.length; i += 1) {
      var y = this.y(this.axes[a].positions[i] * (1 - t) + this.axes[a + 1].positions[i] * t);
      var d = Math.abs(y - py) - (this.isSelected(i) ? 0.5 : 0); // prefer lines inside the brush
      if (d < distance) {
        distance = d;
        best = i;
      }
    }
    return best;
  };

  Chart.prototype.point = function (event) {
    var box = this.svg.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  };

  Chart.prototype.open = function (i) {
    var href = this.lines[i] && this.lines[i].href;
    if (typeof href === "string" && href.slice(-5) === ".html") window.location.href = this.root + href;
  };

  Chart.prototype.wire = function () {
    var self = this;
    var drag = null;
    var positionAt = function (y) { return Math.max(0, Math.min(1, 1 - (y - MARGIN.top) / PLOT_HEIGHT)); };
    this.axes.forEach(function (axis) {
      axis.hit.addEventListener("pointerdown", function (event) {
        event.preventDefault();
        axis.hit.setPointerCapture(event.pointerId);
        drag = { axis: axis, start: self.point(event).y, moved: false };
      });
      axis.hit.addEventListener("pointermove", function (event) {
        if (!drag || drag.axis !== axis) return;
        var y = self.point(event).y;
        if (Math.abs(y - drag.start) < 3 && !drag.moved) return;
        drag.moved = true;
        var a = positionAt(drag.start);
        var b = positionAt(y);
        self.brushes[axis.index] = { lo: Math.min(a, b), hi: Math.max(a, b) };
        self.update(false);
      });
      var end = function () {
        if (!drag || drag.axis !== axis) return;
        if (!drag.moved) delete self.brushes[axis.index]; // a click clears the axis
        else self.snap(axis);
        drag = null;
        self.update(true);
      };
      axis.hit.addEventListener("pointerup", end);
      axis.hit.addEventListener("pointercancel", end);
    });
    this.svg.addEventListener("pointermove", function (event) {
      if (drag || event.target.classList.contains("pc-hit")) return;
      var p = self.point(event);
      var i = self.lineAt(p.x, p.y);
      if (i !== self.hot) self.showLine(i);
      self.svg.classList.toggle("pc-pointer", i >= 0);
    });
    this.svg.addEventListener("pointerleave", function () {
      if (!drag && document.activeElement !== self.svg) self.showLine(-1);
    });
    this.svg.addEventListener("click", function (event) {
      // a drag that began on an axis may end on a line: that click opens nothing
      if (self.pressedAxis || event.target.classList.contains("pc-hit")) return;
      var p = self.point(event);
      var i = self.lineAt(p.x, p.y);
      if (i >= 0) self.open(i);
    });
    this.svg.addEventListener("pointerdown", function (event) {
      self.pressedAxis = event.target.classList.contains("pc-hit");
    });
    this.svg.addEventListener("keydown", function (event) { self.key(event); });
    this.svg.addEventListener("blur", function () { self.showLine(-1); });
  };

  /** Arrow keys step through the lines inside the brushes, best first; Enter opens one. */
  Chart.prototype.key = function (event) {
    var self = this;
    var steps = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1, Home: "first", End: "last" };
    if (event.key === "Enter" && this.hot >= 0) {
      this.open(this.hot);
      return;
    }
    if (event.key === "Escape") {
      if (this.brushed()) this.setBrushes({});
      this.showLine(-1);
      return;
    }
    if (!Object.prototype.hasOwnProperty.call(steps, event.key)) return;
    event.preventDefault();
    var order = this.order.filter(function (i) { return self.isSelected(i); });
    if (!order.length) return;
    var at = order.indexOf(this.hot);
    var step = steps[event.key];
    var next = step === "first" ? 0 : step === "last" ? order.length - 1
      : at < 0 ? 0 : (at + step + order.length) % order.length;
    this.showLine(order[next]);
  };

  /* ---------------------------------------------------------------- pages */

  /** Draw spec into container; returns the chart (see the top of this file for options). */
  function draw(container, spec, options) {
    var chart = new Chart(container, spec, options);
    chart.draw();
    var width = container.clientWidth;
    var timer = null;
    var onResize = function () {
      if (!container.isConnected) {
        window.removeEventListener("resize", onResize);
        return;
      }
      if (container.clientWidth === width) return;
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        width = container.clientWidth;
        chart.draw();
      }, 150);
    };
    window.addEventListener("resize", onResize);
    return chart;
  }

  /** Hide the rows (data-run) of the brushed-out lines; lines of no row leave rows alone. */
  function filterRows(selector, chart, ids) {
    var keep = {};
    ids.forEach(function (id) { keep[id] = true; });
    var drawn = {};
    chart.lines.forEach(function (line) { drawn[line.id] = true; });
    var brushed = chart.brushed();
    document.querySelectorAll(selector).forEach(function (row) {
      var id = row.getAttribute("data-run");
      row.hidden = brushed && !keep[id];
      if (brushed && !drawn[id]) row.hidden = true; // e.g. failed trials: no value to brush
    });
  }

  function drawFigures() {
    document.querySelectorAll("figure.parcoords").forEach(function (figure) {
      var source = figure.querySelector("script.parcoords-data");
      if (!source || figure.getAttribute("data-drawn")) return;
      var spec = JSON.parse(source.textContent);
      var target = el("div", "pc-target");
      figure.appendChild(target);
      var rows = figure.getAttribute("data-rows");
      var chart = null;
      var apply = function (ids, text) {
        setHashPart("brush", text);
        if (rows) filterRows(rows, chart, ids);
      };
      chart = draw(target, spec, { noun: figure.getAttribute("data-noun") || "run", brush: parseBrush(hashPart("brush")),
        onBrush: apply });
      if (rows) filterRows(rows, chart, chart.selectedIds());
      window.addEventListener("hashchange", function () {
        chart.restore(parseBrush(hashPart("brush")));
        chart.update(false);
        if (rows) filterRows(rows, chart, chart.selectedIds());
      });
      figure.setAttribute("data-drawn", "svg");
    });
  }

  window.tracker = window.tracker || {};
  window.tracker.parcoords = { draw: draw, parseBrush: parseBrush, hashPart: hashPart, setHashPart: setHashPart };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawFigures);
  else drawFigures();
})();
