/* tracker site search: type-ahead over window.TRACKER_SEARCH, loaded with defer on every page.
 *
 * The index (assets/search-index.js) is a list of [kind, label, extra text, site path]. The box
 * is an ARIA combobox and the results a listbox of plain options (no links nested in them, #18):
 * an option's page (relative to document.body.dataset.root) is in its data-href and opens on
 * click or Enter. Built with DOM APIs and textContent only. Keys: ArrowDown/ArrowUp move, Enter
 * opens, Escape closes; "/" focuses the box.
 */
(function () {
  "use strict";

  var MAX_RESULTS = 12;
  var MAX_EXTRA = 90;
  var KIND_RANK = { experiment: 0, model: 1, version: 2, alias: 3, report: 4, run: 5, param: 6, tag: 7 };

  function rankOf(kind) {
    return Object.prototype.hasOwnProperty.call(KIND_RANK, kind) ? KIND_RANK[kind] : 9;
  }

  function Search(input, list, index) {
    this.input = input;
    this.list = list;
    this.index = index;
    this.root = document.body.dataset.root || "";
    this.haystacks = null;
    this.results = [];
    this.active = -1;
  }

  Search.prototype.find = function (query) {
    var q = query.trim().toLowerCase();
    if (!q) return [];
    var tokens = q.split(/\s+/);
    var index = this.index;
    if (this.haystacks === null) {
      this.haystacks = index.map(function (entry) {
        return (String(entry[1]) + " " + String(entry[2])).toLowerCase();
      });
    }
    var found = [];
    for (var i = 0; i < index.length; i++) {
      var hay = this.haystacks[i];
      var all = true;
      for (var t = 0; t < tokens.length; t++) {
        if (hay.indexOf(tokens[t]) === -1) { all = false; break; }
      }
      if (!all) continue;
      var label = String(index[i][1]).toLowerCase();
      var score = label === q ? 0 : label.indexOf(q) === 0 ? 1 : label.indexOf(q) !== -1 ? 2 : 3;
      found.push([score, rankOf(index[i][0]), label.length, i]);
    }
    found.sort(function (a, b) {
      return a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || a[3] - b[3];
    });
    return found.slice(0, MAX_RESULTS).map(function (item) { return item[3]; });
  };

  Search.prototype.option = function (entry, position) {
    var item = document.createElement("li");
    item.id = "search-result-" + position;
    item.setAttribute("role", "option");
    item.setAttribute("aria-selected", position === this.active ? "true" : "false");
    item.setAttribute("data-href", this.root + entry[3]);
    item.setAttribute("data-position", String(position));
    // The option holds its text itself: no link or other interactive element inside it.
    var kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = entry[0];
    item.appendChild(kind);
    item.appendChild(document.createTextNode(entry[1]));
    if (entry[2]) {
      var extra = document.createElement("span");
      extra.className = "muted";
      var text = String(entry[2]);
      extra.textContent = " · " + (text.length > MAX_EXTRA ? text.slice(0, MAX_EXTRA - 1) + "…" : text);
      item.appendChild(extra);
    }
    return item;
  };

  Search.prototype.render = function () {
    var list = this.list;
    while (list.firstChild) list.removeChild(list.firstChild);
    var self = this;
    this.results.forEach(function (i, position) {
      list.appendChild(self.option(self.index[i], position));
    });
    var query = this.input.value.trim();
    if (query && this.results.length === 0) {
      var none = document.createElement("li");
      none.className = "muted no-results";
      none.setAttribute("role", "option");
      none.setAttribute("aria-disabled", "true");
      none.style.padding = ".35rem .6rem";
      none.textContent = "No matches for “" + query + "”";
      list.appendChild(none);
    }
    this.show(Boolean(query));
    if (this.active >= 0) {
      this.input.setAttribute("aria-activedescendant", "search-result-" + this.active);
      var current = document.getElementById("search-result-" + this.active);
      if (current && current.scrollIntoView) current.scrollIntoView({ block: "nearest" });
    } else {
      this.input.removeAttribute("aria-activedescendant");
    }
  };

  Search.prototype.show = function (visible) {
    this.list.hidden = !visible;
    this.input.setAttribute("aria-expanded", visible ? "true" : "false");
  };

  Search.prototype.update = function () {
    this.results = this.find(this.input.value);
    this.active = this.results.length ? 0 : -1;
    this.render();
  };

  Search.prototype.move = function (step) {
    if (!this.results.length) return;
    if (this.list.hidden) { this.render(); return; }
    this.active = (this.active + step + this.results.length) % this.results.length;
    this.render();
  };

  Search.prototype.open = function (at) {
    var position = at !== undefined ? at : this.active >= 0 ? this.active : 0;
    var i = this.results[position];
    if (i === undefined) return;
    window.location.href = new URL(this.root + this.index[i][3], window.location.href).href;
  };

  Search.prototype.onKey = function (event) {
    if (event.key === "ArrowDown") { event.preventDefault(); this.move(1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); this.move(-1); }
    else if (event.key === "Enter") { event.preventDefault(); this.open(); }
    else if (event.key === "Escape") {
      if (!this.list.hidden) { this.show(false); } else { this.input.value = ""; this.update(); }
    }
  };

  Search.prototype.attach = function () {
    var self = this;
    var input = this.input;
    input.disabled = false;
    input.addEventListener("input", function () { self.update(); });
    input.addEventListener("keydown", function (event) { self.onKey(event); });
    input.addEventListener("focus", function () { if (input.value.trim()) self.update(); });
    if (input.form) {
      input.form.addEventListener("submit", function (event) { event.preventDefault(); self.open(); });
    }
    this.list.addEventListener("click", function (event) {
      var option = event.target.closest ? event.target.closest("[role=option][data-position]") : null;
      if (option) self.open(parseInt(option.getAttribute("data-position"), 10));
    });
    document.addEventListener("click", function (event) {
      if (input.form && !input.form.contains(event.target)) self.show(false);
    });
    document.addEventListener("keydown", function (event) {
      var target = event.target;
      var typing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
      if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        input.focus();
      }
    });
  };

  function setup() {
    var input = document.getElementById("site-search");
    var list = document.getElementById("search-results");
    if (!input || !list || !Array.isArray(window.TRACKER_SEARCH)) return;
    var search = new Search(input, list, window.TRACKER_SEARCH);
    search.attach();
    window.tracker = window.tracker || {};
    window.tracker.search = search;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
