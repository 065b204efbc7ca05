/* Leaderboard table: sort, filter, column chooser, parent/child collapsing, row selection for
 * the compare page, and the view state in the URL hash (#sort=metrics.rmse:asc&filter=...&cols=...).
 * The server-rendered table is complete without this script; everything here reads its data-*
 * attributes. Plain ES2017, no innerHTML: data only ever reaches the DOM as textContent.
 *
 * Performance (10,000 rows): sort keys and row texts are read once into arrays (in idle time
 * after load, or on first use); sorting and filtering work on those arrays, and the table body
 * then holds only the first PAGE_SIZE rows of the result ("Show more" / "Show all" add the
 * rest), swapped in with one DocumentFragment while the body is detached. Laying out a table
 * costs ~15 µs per cell in Chromium, so keeping all 10,000 rows in the DOM would cost seconds
 * per sort however fast the script is.
 *
 * A long board (more rows than the first screen) names its row chunks in data-row-chunks: the
 * rank order and every row as data. They are loaded first; the board then works on all rows,
 * and a row's <tr> is built only when it is first shown (the page's own rows are reused).
 */
(function () {
  "use strict";

  var KIND_LABELS = { attr: "Attributes", metric: "Metrics", param: "Params" };
  var PAGE_SIZE = 200;
  var FILTER_GLOBAL = "TRACKER_FILTER_DATA";
  var ROWS_GLOBAL = "TRACKER_LEADERBOARD_ROWS";
  /* A filter with none of these characters and no IS is plain words, matched against every
   * cell's text; anything else is a search_runs filter (run-filter.js). */
  var GRAMMAR_CHARS = /[=!<>()'"`,]|(^|\s)is(\s|$)/i;

  /* ---------------------------------------------------------------- filter parsing */

  /** Free-text words of a filter, or null when it is a search_runs filter. */
  function freeTextTerms(text) {
    if (GRAMMAR_CHARS.test(text)) return null;
    return text.toLowerCase().split(/\s+/).filter(function (word) {
      return word !== "" && word !== "and";
    });
  }

  /** A parsed filter: {kind: "none"|"text"|"grammar"|"error", terms, tree, error}. */
  function parseFilter(text) {
    if (!text || !text.trim()) return { kind: "none", terms: [], tree: null, error: "" };
    var terms = freeTextTerms(text);
    if (terms) return { kind: "text", terms: terms, tree: null, error: "" };
    var compiled = window.tracker.runFilter.compile(text);
    if (compiled.error) return { kind: "error", terms: [], tree: null, error: compiled.error };
    var refs = window.tracker.runFilter.references(compiled.tree);
    if (refs.attributes.artifact_uri) {
      return {
        kind: "error", terms: [], tree: null,
        error: "artifact_uri is not published on the site (it is a path on the machine that " +
          "trained); filter on it with tracker.search_runs."
      };
    }
    return { kind: "grammar", terms: [], tree: compiled.tree, error: "", refs: refs };
  }

  function parseNumber(text) {
    if (typeof text !== "string" || text.trim() === "") return NaN;
    var number = Number(text);
    return number;
  }

  /** A metric value of the filter data: numbers, or "NaN"/"Infinity"/"-Infinity". */
  function metricValue(value) {
    return typeof value === "number" ? value : Number(value);
  }

  /* ---------------------------------------------------------------- the board */

  function Board(table, data) {
    this.table = table;
    this.tbody = table.tBodies[0];
    this.tools = table.hasAttribute("data-no-hash") ? null : document.querySelector(".lb-tools");
    this.columns = this.readColumns();
    this.byKey = {};
    this.cellOffset = 0; // header cells before the first data column (select, run name)
    for (var c = 0; c < this.columns.length; c++) {
      this.byKey[this.columns[c].key] = this.columns[c];
      if (this.columns[c].fixed) this.cellOffset = this.columns[c].index + 1;
    }
    this.selectable = !!(table.tHead.rows[0].cells[0] &&
      table.tHead.rows[0].cells[0].classList.contains("select"));
    this.rows = data ? this.dataRows(data) : this.readRows();
    this.keyCache = {};
    this.texts = null;
    this.matched = null;
    this.collapsed = new Uint8Array(this.rows.length);
    this.marks = {};
    this.bestTouched = false;
    this.sort = null;
    this.filterText = "";
    this.order = this.rows.map(function (row, i) { return i; });
    this.shown = this.order.slice();
    this.pageSize = parseInt(table.getAttribute("data-page-size"), 10) || PAGE_SIZE;
    this.limit = this.pageSize;
    this.lastHash = null;
  }

  Board.prototype.readColumns = function () {
    var cells = this.table.tHead.rows[0].cells;
    var columns = [];
    for (var i = 0; i < cells.length; i++) {
      var th = cells[i];
      var key = th.getAttribute("data-key");
      if (!key) continue;
      columns.push({
        key: key,
        label: th.textContent.trim(),
        kind: th.getAttribute("data-kind") || "attr",
        numeric: th.hasAttribute("data-numeric"),
        direction: th.getAttribute("data-direction") || "",
        index: i,
        th: th,
        defaultVisible: !th.hasAttribute("data-hidden"),
        visible: !th.classList.contains("col-hidden"),
        fixed: key === "attr.name",
        initialSort: th.getAttribute("aria-sort") || "" // the server's ranking (#18)
      });
    }
    return columns;
  };

  Board.prototype.readRows = function () {
    var trs = this.tbody.rows;
    var rows = [];
    var byId = {};
    for (var i = 0; i < trs.length; i++) {
      var tr = trs[i];
      var row = { tr: tr, id: tr.getAttribute("data-run") || "", parent: -1, children: [], index: i };
      row.box = tr.cells[0] ? tr.cells[0].querySelector("input[type=checkbox]") : null;
      row.parentId = tr.getAttribute("data-parent") || "";
      rows.push(row);
      if (row.id) byId[row.id] = i;
    }
    for (var j = 0; j < rows.length; j++) {
      var p = rows[j].parentId ? byId[rows[j].parentId] : undefined;
      // Parents come before their children in the server's order; anything else is top-level.
      if (p !== undefined && p < j) {
        rows[j].parent = p;
        rows[p].children.push(j);
      }
    }
    this.rowById = byId;
    return rows;
  };

  /** Rows from the row chunks (in rank order); the body's own rows keep their <tr>. */
  Board.prototype.dataRows = function (data) {
    var own = {};
    var trs = this.tbody.rows;
    for (var t = 0; t < trs.length; t++) own[trs[t].getAttribute("data-run") || ""] = trs[t];
    var rows = [];
    var byId = {};
    for (var i = 0; i < data.length; i++) {
      var d = data[i];
      var tr = own[d[0]] || null;
      var row = { tr: tr, id: d[0], parent: -1, children: [], index: i, data: d, parentId: d[3] };
      row.box = tr && tr.cells[0] ? tr.cells[0].querySelector("input[type=checkbox]") : null;
      rows.push(row);
      byId[row.id] = i;
    }
    for (var j = 0; j < rows.length; j++) {
      var p = rows[j].parentId ? byId[rows[j].parentId] : undefined;
      if (p !== undefined && p < j) {
        rows[j].parent = p;
        rows[p].children.push(j);
      }
    }
    this.rowById = byId;
    return rows;
  };

  /** The data-sort key of a row's cell in `column` (null when it has none). */
  Board.prototype.cellSort = function (row, column) {
    if (row.data) {
      if (column.fixed) return row.data[1];
      var item = row.data[8][column.index - this.cellOffset];
      return item ? item[1] : null;
    }
    var cell = row.tr.cells[column.index];
    return cell ? cell.getAttribute("data-sort") : null;
  };

  /** A row's <tr>, built from its data the first time it is shown, in the board's state. */
  Board.prototype.trOf = function (index) {
    var row = this.rows[index];
    if (row.tr) return row.tr;
    var d = row.data;
    var tr = document.createElement("tr");
    tr.setAttribute("data-run", d[0]);
    if (d[3]) tr.setAttribute("data-parent", d[3]);
    tr.setAttribute("data-depth", String(d[4]));
    tr.className = "depth-" + Math.min(d[4], 4);
    if (this.selectable) {
      var td = document.createElement("td");
      td.className = "select";
      var box = document.createElement("input");
      box.type = "checkbox";
      box.setAttribute("aria-label", "Select " + d[1]);
      box.value = d[0];
      box.checked = !!row.checked;
      td.appendChild(box);
      tr.appendChild(td);
      row.box = box;
    }
    var th = document.createElement("th");
    th.setAttribute("scope", "row");
    th.setAttribute("data-sort", d[1]);
    var link = document.createElement(d[2] ? "a" : "span");
    if (d[2]) link.setAttribute("href", d[2]);
    link.textContent = d[1];
    th.appendChild(link);
    if (d[7]) {
      var sweep = document.createElement("a");
      sweep.className = "sweep-link";
      sweep.setAttribute("href", d[7]);
      sweep.title = "Trials of this sweep";
      sweep.textContent = "sweep";
      th.appendChild(document.createTextNode(" "));
      th.appendChild(sweep);
    }
    tr.appendChild(th);
    for (var c = 0; c < this.columns.length; c++) {
      var column = this.columns[c];
      if (column.fixed) continue;
      var item = d[8][column.index - this.cellOffset] || ["", ""];
      var cell = document.createElement("td");
      cell.setAttribute("data-sort", item[1]);
      cell.className = (column.numeric ? "num" : "") + (column.visible ? "" : " col-hidden");
      if (column.key === "attr.status") {
        var badge = document.createElement("span");
        badge.className = "badge badge-" + (d[6] ? "dead" : String(d[5]).toLowerCase());
        badge.textContent = d[6] ? "dead" : String(d[5]).toLowerCase();
        if (d[6]) badge.title = "The process logging this run died: it will never finish.";
        cell.appendChild(badge);
      } else {
        cell.textContent = item[0];
        if (item[3]) cell.title = item[3];
      }
      var marks = this.marks[column.key];
      var best = this.bestTouched && marks ? marks.indexOf(index) >= 0 : item[2] === 1;
      if (best) this.markBest(cell, true);
      tr.appendChild(cell);
    }
    if (row.context) {
      tr.classList.add("lb-context");
      tr.setAttribute("data-context", "");
    }
    row.tr = tr;
    if (row.children.length) this.addToggle(index);
    if (this.collapsed[index]) this.setCollapsed(index, true);
    return tr;
  };

  /** Sort keys of one column for every row (read once): numbers (NaN = missing) or strings. */
  Board.prototype.keys = function (column) {
    var cached = this.keyCache[column.key];
    if (cached) return cached;
    var n = this.rows.length;
    var keys = column.numeric ? new Float64Array(n) : new Array(n);
    for (var i = 0; i < n; i++) {
      var raw = this.cellSort(this.rows[i], column);
      if (column.numeric) keys[i] = raw === null || raw === "" ? NaN : parseNumber(raw);
      else keys[i] = raw === null ? "" : raw.toLowerCase();
    }
    this.keyCache[column.key] = keys;
    return keys;
  };

  Board.prototype.rowTexts = function () {
    if (this.texts) return this.texts;
    var texts = new Array(this.rows.length);
    for (var i = 0; i < this.rows.length; i++) {
      var row = this.rows[i];
      if (row.data) {
        var parts = [row.data[1], row.data[6] ? "dead" : row.data[5]];
        for (var c = 0; c < row.data[8].length; c++) parts.push(row.data[8][c][0]);
        texts[i] = parts.join(" ").toLowerCase();
      } else {
        texts[i] = row.tr.textContent.toLowerCase();
      }
    }
    this.texts = texts;
    return texts;
  };

  /* ---------------------------------------------------------------- sorting */

  Board.prototype.comparator = function (column, direction) {
    var keys = this.keys(column);
    var sign = direction === "desc" ? -1 : 1;
    var numeric = column.numeric;
    return function (a, b) {
      var ka = keys[a];
      var kb = keys[b];
      var missingA = numeric ? ka !== ka : ka === "";
      var missingB = numeric ? kb !== kb : kb === "";
      if (missingA || missingB) {
        if (missingA && missingB) return a - b;
        return missingA ? 1 : -1; // missing and NaN last, whatever the direction
      }
      if (ka < kb) return -sign;
      if (ka > kb) return sign;
      return a - b; // stable: ties keep the server's order
    };
  };

  /** Row indices in display order: siblings sorted, each parent followed by its subtree. */
  Board.prototype.displayOrder = function () {
    var rows = this.rows;
    var compare = null;
    if (this.sort && this.byKey[this.sort.key]) {
      compare = this.comparator(this.byKey[this.sort.key], this.sort.dir);
    }
    var tops = [];
    for (var i = 0; i < rows.length; i++) if (rows[i].parent < 0) tops.push(i);
    var order = [];
    var stack = [];
    var sorted = function (list) {
      return compare ? list.slice().sort(compare) : list;
    };
    var top = sorted(tops);
    for (var t = top.length - 1; t >= 0; t--) stack.push(top[t]);
    while (stack.length) {
      var index = stack.pop();
      order.push(index);
      var kids = rows[index].children;
      if (kids.length) {
        var ordered = sorted(kids);
        for (var k = ordered.length - 1; k >= 0; k--) stack.push(ordered[k]);
      }
    }
    return order;
  };

  Board.prototype.updateSortHeaders = function () {
    for (var c = 0; c < this.columns.length; c++) {
      var column = this.columns[c];
      if (this.sort && this.sort.key === column.key) {
        column.th.setAttribute("aria-sort", this.sort.dir === "desc" ? "descending" : "ascending");
      } else if (!this.sort && column.initialSort) {
        column.th.setAttribute("aria-sort", column.initialSort); // unsorted: the build's ranking
      } else {
        column.th.removeAttribute("aria-sort");
      }
    }
  };

  Board.prototype.sortBy = function (key, dir) {
    this.sort = key && this.byKey[key] ? { key: key, dir: dir === "desc" ? "desc" : "asc" } : null;
    this.order = this.displayOrder();
    this.updateSortHeaders();
    this.render();
  };

  Board.prototype.onHeaderClick = function (column) {
    var dir;
    if (this.sort && this.sort.key === column.key) dir = this.sort.dir === "asc" ? "desc" : "asc";
    else dir = column.direction === "max" ? "desc" : "asc"; // metrics: best first
    this.sortBy(column.key, dir);
    this.writeHash();
  };

  /* ---------------------------------------------------------------- filtering */

  /** Filter records by row index: from the build's filter data (every attribute, tag, param
   * and metric) when the page names it, else what the table itself holds (metrics and params
   * as data-sort keys, the run id). null while the filter data is loading. */
  Board.prototype.records = function () {
    if (this.recordList) return this.recordList;
    var srcs = (this.table.getAttribute("data-filter-script") || "").split(" ").filter(Boolean);
    var id = this.table.getAttribute("data-experiment") || "";
    var loaded = srcs.length ? filterChunks(id, srcs.length) : null;
    if (srcs.length && !loaded) {
      this.loadFilterData(srcs);
      return null;
    }
    var list = new Array(this.rows.length);
    var byId = {};
    if (loaded) {
      loaded.forEach(function (r) {
        var metrics = {};
        Object.keys(r.m).forEach(function (k) { metrics[k] = metricValue(r.m[k]); });
        byId[r.i] = {
          id: r.i, name: r.n, status: r.s, user: r.u, start: r.t, end: r.e, stage: "active",
          artifactUri: null, params: r.p, metrics: metrics, tags: r.g
        };
      });
    }
    for (var i = 0; i < this.rows.length; i++) {
      var row = this.rows[i];
      list[i] = loaded ? byId[row.id] || null : this.tableRecord(row);
    }
    this.recordList = list;
    return list;
  };

  /** Every record of the filter data chunks "<id>:<i>/<count>" (#14), or null while one of
   * them has not loaded. */
  function filterChunks(id, count) {
    var all = window[FILTER_GLOBAL] || {};
    var records = [];
    for (var c = 0; c < count; c++) {
      var chunk = all[id + ":" + c + "/" + count];
      if (!chunk) return null;
      records = records.concat(chunk);
    }
    return records;
  }

  Board.prototype.tableRecord = function (row) {
    var record = { id: row.id, stage: "active", metrics: {}, params: {}, tags: {} };
    for (var c = 0; c < this.columns.length; c++) {
      var column = this.columns[c];
      if (column.kind !== "metric" && column.kind !== "param") continue;
      var raw = this.cellSort(row, column);
      if (raw === null || raw === "") continue;
      var key = column.key.slice(column.key.indexOf(".") + 1);
      if (column.kind === "metric") record.metrics[key] = Number(raw);
      else record.params[key] = raw;
    }
    return record;
  };

  /** Load the filter data scripts (once), then apply the filter typed meanwhile. */
  Board.prototype.loadFilterData = function (srcs) {
    if (this.loading) return;
    var self = this;
    var left = srcs.length;
    var failed = false;
    this.loading = true;
    srcs.forEach(function (src) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = script.onerror = function (event) {
        if (event.type === "error") failed = true;
        left -= 1;
        if (left > 0) return;
        self.loading = false;
        if (failed) self.table.removeAttribute("data-filter-script"); // the table's own data
        self.setFilter(self.filterText, true);
      };
      document.head.appendChild(script);
    });
  };

  /** Compile the filter text: {test, error, pending}; test is null when nothing is filtered. */
  Board.prototype.compileFilter = function (text) {
    var parsed = parseFilter(text);
    if (parsed.kind === "error") return { test: null, error: parsed.error };
    if (parsed.kind === "none") return { test: null, error: "" };
    if (parsed.kind === "text") {
      var terms = parsed.terms;
      if (!terms.length) return { test: null, error: "" };
      var texts = this.rowTexts();
      return {
        error: "",
        test: function (i) {
          for (var w = 0; w < terms.length; w++) if (texts[i].indexOf(terms[w]) < 0) return false;
          return true;
        }
      };
    }
    var records = this.records();
    if (records === null) return { test: null, error: "", pending: true };
    var tree = parsed.tree;
    var evaluate = window.tracker.runFilter.evaluate;
    return {
      error: "",
      test: function (i) { return records[i] !== null && evaluate(tree, records[i]); }
    };
  };

  /** Apply a filter. Rows that match are shown; so are the ancestors of a matching child run
   * (marked as context, class lb-context), so a matching trial shows under its sweep. */
  Board.prototype.setFilter = function (text, again) {
    if (again && text !== this.filterText) return true;
    this.filterText = text;
    var compiled = this.compileFilter(text);
    this.showMessage(compiled.error || "");
    this.table.setAttribute("aria-busy", compiled.pending ? "true" : "false");
    if (compiled.pending) return true; // applied when the filter data has loaded
    var rows = this.rows;
    var n = rows.length;
    var matched = null;
    var context = null;
    if (compiled.test) {
      matched = new Uint8Array(n);
      context = new Uint8Array(n);
      for (var i = 0; i < n; i++) matched[i] = compiled.test(i) ? 1 : 0;
      for (var j = 0; j < n; j++) {
        if (!matched[j]) continue;
        for (var p = rows[j].parent; p >= 0 && !matched[p] && !context[p]; p = rows[p].parent) context[p] = 1;
      }
    }
    for (var r = 0; r < n; r++) {
      var isContext = context !== null && context[r] === 1;
      if (isContext !== !!rows[r].context) {
        rows[r].context = isContext;
        if (!rows[r].tr) continue; // built with its context mark when first shown
        rows[r].tr.classList.toggle("lb-context", isContext);
        if (isContext) rows[r].tr.setAttribute("data-context", "");
        else rows[r].tr.removeAttribute("data-context");
      }
    }
    this.matched = matched;
    this.context = context;
    this.render();
    this.updateBest();
    return !compiled.error;
  };

  /** Rows hidden by a collapsed ancestor (parents precede their children in index order). */
  Board.prototype.folded = function () {
    var rows = this.rows;
    var folded = new Uint8Array(rows.length);
    for (var i = 0; i < rows.length; i++) {
      var p = rows[i].parent;
      folded[i] = p >= 0 && (this.collapsed[p] || folded[p]) ? 1 : 0;
    }
    return folded;
  };

  /** Put the first `limit` shown rows, in display order, into the table body (when changed). */
  Board.prototype.render = function () {
    var rows = this.rows;
    var order = this.order;
    var folded = this.folded();
    var shown = [];
    var total = 0;
    for (var k = 0; k < order.length; k++) {
      var i = order[k];
      if (folded[i] || (this.matched !== null && !this.matched[i] && !this.context[i])) continue;
      total += 1;
      if (shown.length < this.limit) shown.push(i);
    }
    var same = shown.length === this.shown.length;
    for (var s = 0; same && s < shown.length; s++) same = shown[s] === this.shown[s];
    if (!same) {
      var table = this.table;
      var body = this.tbody;
      var next = body.nextSibling;
      table.removeChild(body); // edits in a detached body cost no style or layout work
      body.textContent = "";
      var fragment = document.createDocumentFragment();
      for (var r = 0; r < shown.length; r++) fragment.appendChild(this.trOf(shown[r]));
      body.appendChild(fragment);
      table.insertBefore(body, next);
      this.shown = shown;
    }
    this.updateCount(shown.length, total);
  };

  Board.prototype.updateCount = function (shown, total) {
    var n = this.rows.length;
    if (this.count) {
      var all = total === n ? n + " runs" : total + " of " + n + " runs";
      var text = shown < total ? "Showing " + shown + " of " + all : "Showing " + all;
      if (this.matched !== null) {
        var hits = 0;
        for (var i = 0; i < n; i++) hits += this.matched[i];
        text += " (" + hits + (hits === 1 ? " matches" : " match") + " the filter)";
      }
      this.count.textContent = text;
    }
    if (this.more) {
      var left = total - shown;
      this.more.hidden = left <= 0;
      this.moreButton.textContent = "Show " + Math.min(left, this.pageSize) + " more";
      this.allButton.textContent = "Show all " + total;
    }
  };

  /** After search_runs' own message for a bare metric or param name (an attribute there), a
   * hint naming the field that exists: "Did you mean metrics.rmse?". */
  Board.prototype.hintFor = function (message) {
    var match = /: unknown attribute '([^'\\]+)'/.exec(message);
    if (!match) return "";
    var name = match[1];
    var found = [];
    var prefixes = ["metrics.", "params."];
    for (var p = 0; p < prefixes.length; p++) {
      if (this.byKey[prefixes[p] + name]) found.push(prefixes[p] + (/^[\w.]+$/.test(name) ? name : "`" + name + "`"));
    }
    return found.length ? "Did you mean " + found.join(" or ") + "? Bare names are attributes, as in search_runs." : "";
  };

  Board.prototype.showMessage = function (text) {
    if (this.hint) this.hint.textContent = this.hintFor(text);
    if (!this.message) return;
    this.message.textContent = text;
    this.message.classList.toggle("error", text !== "");
    if (this.filterInput) this.filterInput.setAttribute("aria-invalid", text ? "true" : "false");
  };

  /* ---------------------------------------------------------------- best values */

  Board.prototype.markBest = function (cell, on) {
    cell.classList.toggle("best", on);
    var note = cell.querySelector(".visually-hidden.best-note, .visually-hidden");
    if (on && !note) {
      note = document.createElement("span");
      note.className = "visually-hidden best-note";
      note.textContent = " (best)";
      cell.appendChild(note);
    } else if (!on && note) {
      cell.removeChild(note);
    }
  };

  /** Re-mark the best value of each visible metric column among the rows the filter keeps. */
  Board.prototype.updateBest = function () {
    if (this.matched === null && !this.bestTouched) return; // the server's marks are right
    this.bestTouched = true;
    for (var c = 0; c < this.columns.length; c++) {
      var column = this.columns[c];
      if (column.kind !== "metric" || !column.direction || !column.visible) continue;
      this.updateBestColumn(column);
    }
  };

  /** Indices of the rows holding the best key among those `matched` keeps (all when null).
   * With every row, these are the cells the server marked: the keys parse back exactly. */
  Board.prototype.bestRows = function (keys, direction, matched) {
    var max = direction === "max";
    var best = NaN;
    var i;
    for (i = 0; i < keys.length; i++) {
      if (matched !== null && !matched[i]) continue;
      var k = keys[i];
      if (k === k && (best !== best || (max ? k > best : k < best))) best = k;
    }
    var out = [];
    if (best !== best) return out;
    for (i = 0; i < keys.length; i++) {
      if ((matched === null || matched[i]) && keys[i] === best) out.push(i);
    }
    return out;
  };

  Board.prototype.updateBestColumn = function (column) {
    var rows = this.rows;
    var keys = this.keys(column);
    var old = this.marks[column.key] || this.bestRows(keys, column.direction, null);
    var next = this.bestRows(keys, column.direction, this.matched);
    var keep = {};
    for (var x = 0; x < next.length; x++) keep[next[x]] = true;
    for (var o = 0; o < old.length; o++) {
      if (!keep[old[o]]) {
        if (rows[old[o]].tr) this.markBest(rows[old[o]].tr.cells[column.index], false);
      } else keep[old[o]] = "done";
    }
    for (var y = 0; y < next.length; y++) {
      if (keep[next[y]] === true && rows[next[y]].tr) {
        this.markBest(rows[next[y]].tr.cells[column.index], true);
      }
    }
    this.marks[column.key] = next;
  };

  /* ---------------------------------------------------------------- columns */

  Board.prototype.setVisible = function (column, visible) {
    if (column.fixed || column.visible === visible) return;
    column.visible = visible;
    column.th.classList.toggle("col-hidden", !visible);
    for (var i = 0; i < this.rows.length; i++) {
      var tr = this.rows[i].tr;
      var cell = tr ? tr.cells[column.index] : null; // rows not built yet get it when built
      if (cell) cell.classList.toggle("col-hidden", !visible);
    }
    if (this.chooser && this.chooser[column.key]) this.chooser[column.key].checked = visible;
    if (visible && this.bestTouched && column.kind === "metric" && column.direction) {
      this.updateBestColumn(column);
    }
  };

  Board.prototype.buildChooser = function () {
    var list = document.querySelector(".lb-column-list");
    if (!list) return;
    var self = this;
    this.chooser = {};
    var groups = {};
    var kinds = ["attr", "metric", "param"];
    for (var k = 0; k < kinds.length; k++) {
      var fieldset = document.createElement("fieldset");
      var legend = document.createElement("legend");
      legend.textContent = KIND_LABELS[kinds[k]];
      fieldset.appendChild(legend);
      groups[kinds[k]] = fieldset;
    }
    this.columns.forEach(function (column) {
      if (column.fixed) return;
      var label = document.createElement("label");
      var box = document.createElement("input");
      box.type = "checkbox";
      box.checked = column.visible;
      box.setAttribute("data-key", column.key);
      box.addEventListener("change", function () {
        self.setVisible(column, box.checked);
        self.writeHash();
      });
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + column.label));
      (groups[column.kind] || groups.attr).appendChild(label);
      self.chooser[column.key] = box;
    });
    kinds.forEach(function (kind) {
      if (groups[kind].children.length > 1) list.appendChild(groups[kind]);
    });
  };

  /* ---------------------------------------------------------------- URL state */

  Board.prototype.visibleKeys = function () {
    return this.columns.filter(function (c) { return !c.fixed && c.visible; }).map(function (c) { return c.key; });
  };

  Board.prototype.columnsAreDefault = function () {
    return this.columns.every(function (c) { return c.fixed || c.visible === c.defaultVisible; });
  };

  Board.prototype.hash = function () {
    var parts = [];
    if (this.sort) parts.push("sort=" + encodeURIComponent(this.sort.key) + ":" + this.sort.dir);
    if (this.filterText) parts.push("filter=" + encodeURIComponent(this.filterText));
    if (!this.columnsAreDefault()) parts.push("cols=" + this.visibleKeys().map(encodeURIComponent).join(","));
    return parts.join("&");
  };

  Board.prototype.writeHash = function () {
    if (this.table.hasAttribute("data-no-hash")) return; // a report's table (#17): no URL state
    var hash = this.hash();
    this.lastHash = hash;
    var url = window.location.pathname + window.location.search + (hash ? "#" + hash : "");
    try {
      window.history.replaceState(window.history.state, "", url);
    } catch (e) {
      window.location.hash = hash; // fires hashchange; readHash sees lastHash and does nothing
    }
  };

  /** The state in a hash, or null when the hash is not ours (e.g. #main from the skip link). */
  function parseHash(hash) {
    var text = hash.charAt(0) === "#" ? hash.slice(1) : hash;
    var state = { sort: null, filter: "", cols: null };
    if (text === "") return state;
    var ours = false;
    text.split("&").forEach(function (part) {
      var eq = part.indexOf("=");
      if (eq < 0) return;
      var name = part.slice(0, eq);
      var value = part.slice(eq + 1);
      try {
        if (name === "sort") {
          var colon = value.lastIndexOf(":");
          var key = decodeURIComponent(colon < 0 ? value : value.slice(0, colon));
          state.sort = { key: key, dir: colon < 0 ? "asc" : value.slice(colon + 1) };
          ours = true;
        } else if (name === "filter") {
          state.filter = decodeURIComponent(value.replace(/\+/g, " "));
          ours = true;
        } else if (name === "cols") {
          state.cols = value === "" ? [] : value.split(",").map(decodeURIComponent);
          ours = true;
        }
      } catch (e) {
        /* a malformed %-escape: ignore that part */
      }
    });
    return ours ? state : null;
  }

  Board.prototype.readHash = function () {
    if (this.table.hasAttribute("data-no-hash")) return;
    var hash = window.location.hash.replace(/^#/, "");
    if (hash === this.lastHash) return;
    var state = parseHash(hash);
    if (state === null) return;
    this.lastHash = hash;
    var keep = null;
    if (state.cols) {
      keep = {};
      state.cols.forEach(function (key) { keep[key] = true; });
    }
    for (var c = 0; c < this.columns.length; c++) {
      var column = this.columns[c];
      this.setVisible(column, keep ? !!keep[column.key] : column.defaultVisible);
    }
    if (this.filterInput) this.filterInput.value = state.filter;
    this.setFilter(state.filter);
    this.sortBy(state.sort ? state.sort.key : null, state.sort ? state.sort.dir : "asc");
  };

  /** A filter in the query string (a shared link: board.html?filter=metrics.rmse%20%3C%205) is
   * applied when the hash holds none; the view state is then kept in the hash as usual. */
  Board.prototype.readQuery = function () {
    if (this.filterText) return;
    var match = /[?&]filter=([^&]*)/.exec(window.location.search);
    if (!match) return;
    var text;
    try {
      text = decodeURIComponent(match[1].replace(/\+/g, " "));
    } catch (e) {
      return;
    }
    if (this.filterInput) this.filterInput.value = text;
    this.setFilter(text);
    this.writeHash();
  };

  /* ---------------------------------------------------------------- grouping and selection */

  /** The collapse button of a parent row (when its <tr> is built). */
  Board.prototype.addToggle = function (index) {
    var self = this;
    var row = this.rows[index];
    var button = document.createElement("button");
    button.type = "button";
    button.className = "lb-toggle";
    button.setAttribute("aria-expanded", "true");
    button.setAttribute("aria-label", "Hide the " + row.children.length + " child runs");
    button.textContent = "▾";
    button.addEventListener("click", function () {
      self.setCollapsed(index, !self.collapsed[index]);
      self.render();
    });
    row.toggle = button;
    var head = row.tr.cells[this.cellOffset - 1];
    if (head) head.insertBefore(button, head.firstChild);
  };

  Board.prototype.addToggles = function () {
    var self = this;
    var parents = 0;
    this.rows.forEach(function (row, index) {
      if (!row.children.length) return;
      parents += 1;
      if (row.tr) self.addToggle(index);
    });
    var all = document.querySelector(".lb-collapse-all");
    if (all && !parents) all.hidden = true;
    if (all && parents) {
      all.addEventListener("click", function () {
        var collapse = all.getAttribute("aria-pressed") !== "true";
        self.rows.forEach(function (row, index) {
          if (row.children.length) self.setCollapsed(index, collapse);
        });
        all.setAttribute("aria-pressed", collapse ? "true" : "false");
        all.textContent = collapse ? "Expand all children" : "Collapse all children";
        self.render();
      });
    }
  };

  Board.prototype.setCollapsed = function (index, collapsed) {
    var row = this.rows[index];
    this.collapsed[index] = collapsed ? 1 : 0;
    if (!row.toggle) return;
    row.toggle.setAttribute("aria-expanded", collapsed ? "false" : "true");
    row.toggle.setAttribute("aria-label", (collapsed ? "Show" : "Hide") + " the " + row.children.length + " child runs");
    row.toggle.textContent = collapsed ? "▸" : "▾";
    row.tr.classList.toggle("collapsed", !!collapsed);
  };

  Board.prototype.selected = function () {
    var ids = [];
    for (var i = 0; i < this.order.length; i++) {
      var row = this.rows[this.order[i]];
      if (row.box ? row.box.checked : row.checked) ids.push(row.id);
    }
    return ids;
  };

  Board.prototype.updateCompareButton = function () {
    if (!this.compareButton) return;
    var count = this.selected().length;
    this.compareButton.disabled = count === 0 || !this.table.getAttribute("data-compare");
    this.compareButton.textContent = count ? "Compare selected (" + count + ")" : "Compare selected";
  };

  Board.prototype.selectAllVisible = function (on) {
    var shown = {};
    for (var s = 0; s < this.shown.length; s++) shown[this.shown[s]] = true;
    for (var i = 0; i < this.rows.length; i++) {
      this.rows[i].checked = on && shown[i] === true;
      if (this.rows[i].box) this.rows[i].box.checked = this.rows[i].checked;
    }
    this.updateCompareButton();
  };

  Board.prototype.addMoreButtons = function () {
    var self = this;
    var wrap = this.table.parentNode;
    this.more = document.createElement("div");
    this.more.className = "lb-more";
    this.more.hidden = true;
    this.moreButton = document.createElement("button");
    this.moreButton.type = "button";
    this.moreButton.className = "lb-show-more";
    this.moreButton.addEventListener("click", function () {
      self.limit += self.pageSize;
      self.render();
    });
    this.allButton = document.createElement("button");
    this.allButton.type = "button";
    this.allButton.className = "lb-show-all";
    this.allButton.addEventListener("click", function () {
      self.limit = Infinity;
      self.render();
    });
    this.more.appendChild(this.moreButton);
    this.more.appendChild(document.createTextNode(" "));
    this.more.appendChild(this.allButton);
    wrap.parentNode.insertBefore(this.more, wrap.nextSibling);
  };

  /** Read every column's sort keys and the row texts in idle time, one column per slice. */
  Board.prototype.warm = function () {
    var self = this;
    var queue = this.columns.slice();
    var idle = window.requestIdleCallback || function (fn) { return window.setTimeout(fn, 1); };
    var step = function () {
      var column = queue.shift();
      if (column) {
        self.keys(column);
        idle(step);
      } else {
        self.rowTexts();
        self.warmed = true;
      }
    };
    idle(step);
  };

  /* ---------------------------------------------------------------- wiring */

  Board.prototype.wireHeaders = function () {
    var self = this;
    this.columns.forEach(function (column) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "lb-sort";
      while (column.th.firstChild) button.appendChild(column.th.firstChild);
      var arrow = document.createElement("span");
      arrow.className = "lb-arrow";
      arrow.setAttribute("aria-hidden", "true");
      button.appendChild(arrow);
      button.addEventListener("click", function () { self.onHeaderClick(column); });
      column.th.appendChild(button);
    });
    var selectHead = this.table.tHead.rows[0].cells[0];
    if (selectHead && selectHead.classList.contains("select")) {
      var all = document.createElement("input");
      all.type = "checkbox";
      all.className = "lb-select-all";
      all.setAttribute("aria-label", "Select all shown runs");
      all.addEventListener("change", function () { self.selectAllVisible(all.checked); });
      selectHead.appendChild(all);
    }
  };

  Board.prototype.wireTools = function () {
    var self = this;
    var tools = this.tools;
    if (!tools) return;
    this.filterInput = tools.querySelector(".lb-filter");
    this.message = tools.querySelector(".lb-filter-msg");
    this.hint = tools.querySelector(".lb-filter-hint");
    this.count = tools.querySelector(".lb-count");
    this.compareButton = tools.querySelector(".lb-compare");
    var timer = null;
    var apply = function () {
      if (timer !== null) window.clearTimeout(timer);
      timer = null;
      if (self.filterInput.value === self.filterText) return;
      self.setFilter(self.filterInput.value);
      self.writeHash();
    };
    if (this.filterInput) {
      this.filterInput.addEventListener("input", function () {
        if (timer !== null) window.clearTimeout(timer);
        timer = window.setTimeout(apply, 150);
      });
      this.filterInput.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault();
          apply();
        }
      });
      this.filterInput.addEventListener("change", apply);
    }
    this.tbody.addEventListener("change", function (event) {
      if (event.target && event.target.type === "checkbox") self.updateCompareButton();
    });
    if (this.compareButton) {
      this.compareButton.addEventListener("click", function () {
        var ids = self.selected();
        var target = self.table.getAttribute("data-compare");
        if (ids.length && target) {
          window.location.href = target + "#runs=" + ids.map(encodeURIComponent).join(",");
        }
      });
    }
    tools.hidden = false;
  };

  Board.prototype.init = function () {
    this.wireHeaders();
    this.wireTools();
    this.buildChooser();
    this.addToggles();
    this.addMoreButtons();
    this.render();
    this.updateCompareButton();
    this.readHash();
    this.readQuery();
    this.warm();
    var self = this;
    window.addEventListener("hashchange", function () { self.readHash(); });
  };

  /** Load a long board's row chunks (scripts), then call done(rows in rank order), or
   * done(null) when one fails to load (the board then works on the page's own rows). */
  function loadRows(table, done) {
    var srcs = table.getAttribute("data-row-chunks").split(" ");
    var id = table.getAttribute("data-experiment") || "";
    var left = srcs.length;
    var failed = false;
    var finish = function () {
      var all = window[ROWS_GLOBAL] || {};
      var order = all[id + ":order"];
      var count = srcs.length - 1;
      var byId = {};
      for (var c = 0; c < count && order; c++) {
        var chunk = all[id + ":" + c + "/" + count];
        if (!chunk) return done(null);
        for (var r = 0; r < chunk.length; r++) byId[chunk[r][0]] = chunk[r];
      }
      if (!order) return done(null);
      var rows = [];
      for (var o = 0; o < order.length; o++) if (byId[order[o]]) rows.push(byId[order[o]]);
      done(rows);
    };
    srcs.forEach(function (src) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = script.onerror = function (event) {
        if (event.type === "error") failed = true;
        left -= 1;
        if (left === 0) {
          if (failed) done(null);
          else finish();
        }
      };
      document.head.appendChild(script);
    });
  }

  function startBoard(table, data) {
    table.removeAttribute("aria-busy"); // before init: a filter in the URL may set it again
    var board = new Board(table, data);
    board.init();
    window.tracker.leaderboards.push(board);
    if (data) {
      var pages = document.querySelectorAll(".lb-pages");
      for (var p = 0; p < pages.length; p++) pages[p].hidden = true; // every row is here now
    }
  }

  function start() {
    var tables = document.querySelectorAll("table.leaderboard");
    window.tracker = window.tracker || {};
    window.tracker.leaderboards = [];
    Array.prototype.forEach.call(tables, function (table) {
      if (!table.tBodies.length) return;
      if (!table.getAttribute("data-row-chunks")) {
        startBoard(table, null);
        return;
      }
      table.setAttribute("aria-busy", "true");
      loadRows(table, function (rows) { startBoard(table, rows); });
    });
  }

  window.tracker = window.tracker || {};
  window.tracker.parseFilter = parseFilter;
  window.tracker.parseLeaderboardHash = parseHash;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
