/* The search_runs filter grammar in the browser (#10): the leaderboard's filter box accepts what
 * `tracker.search_runs(filter_string=...)` accepts, selects the same runs and rejects the same
 * filters with the same messages. This file mirrors tracker/query/filter.py (tokenizer,
 * recursive-descent parser, messages) and evaluates the tree on run records instead of
 * compiling it to SQL; keep the two in step (tests/test_site_filter.py checks both on a table of
 * filters in Chromium).
 *
 * Positions in messages count Unicode code points, as Python's do; quoted text in messages is
 * written as Python's repr() writes it. No eval, no new Function: the tree is walked.
 *
 * A record is {id, name, status, user, start, end, stage, metrics: {k: number}, params: {k: str},
 * tags: {k: str}}; missing attributes are null, missing keys absent.
 */
(function () {
  "use strict";

  var PREFIXES = {
    metric: "metric", metrics: "metric", param: "param", params: "param",
    parameter: "param", parameters: "param", tag: "tag", tags: "tag",
    attribute: "attribute", attributes: "attribute", attr: "attribute", run: "attribute"
  };
  var PREFIX_NAMES = Object.keys(PREFIXES).sort();
  var STRING_ATTRIBUTES = {
    run_id: "run_id", run_name: "run_name", status: "status", user_id: "user_id",
    artifact_uri: "artifact_uri", lifecycle_stage: "lifecycle_stage",
    "run name": "run_name", "Run name": "run_name", "Run Name": "run_name"
  };
  var NUMERIC_ATTRIBUTES = { start_time: "start_time", end_time: "end_time", created: "start_time", Created: "start_time" };
  var ATTRIBUTE_NAMES = Object.keys(STRING_ATTRIBUTES).concat(Object.keys(NUMERIC_ATTRIBUTES))
    .filter(function (name) { return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && name === name.toLowerCase(); })
    .sort();
  var NULL_OPS = ["IS NULL", "IS NOT NULL"];
  var COMPARISON_OPS = ["=", "!=", "<", "<=", ">", ">="];
  var NUMERIC_OPS = COMPARISON_OPS.concat(NULL_OPS);
  var STRING_OPS = ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"].concat(NULL_OPS);
  var KEYWORDS = { AND: 1, OR: 1, NOT: 1, IN: 1, IS: 1, NULL: 1, LIKE: 1, ILIKE: 1, ASC: 1, DESC: 1 };
  var MAX_DEPTH = 50;
  var NUMBER_RE = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
  var NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
  var QUOTES = "'\"`";
  var OP_CHARS = "=!<>";

  /** Python's str.isspace() for one code point (\s plus the four separators, minus BOM). */
  function isSpace(c) {
    return (/^\s$/.test(c) && c !== "\ufeff") || c === "\x1c" || c === "\x1d" || c === "\x1e" ||
      c === "\x1f" || c === "\x85";
  }

  function hex(code, width) {
    var text = code.toString(16);
    while (text.length < width) text = "0" + text;
    return text;
  }

  /** Python's repr() of a str. */
  function pyRepr(text) {
    var quote = text.indexOf("'") >= 0 && text.indexOf('"') < 0 ? '"' : "'";
    var out = quote;
    Array.from(text).forEach(function (c) {
      var code = c.codePointAt(0);
      if (c === quote || c === "\\") out += "\\" + c;
      else if (c === "\t") out += "\\t";
      else if (c === "\n") out += "\\n";
      else if (c === "\r") out += "\\r";
      else if (code < 0x20 || code === 0x7f) out += "\\x" + hex(code, 2);
      else if (code < 0x7f || c === " ") out += c;
      else if (!NOT_PRINTABLE.test(c)) out += c;
      else if (code <= 0xff) out += "\\x" + hex(code, 2);
      else if (code <= 0xffff) out += "\\u" + hex(code, 4);
      else out += "\\U" + hex(code, 8);
    });
    return out + quote;
  }

  function FilterSyntaxError(message) {
    this.name = "FilterSyntaxError";
    this.message = message;
  }

  function Source(text, label) {
    this.text = text;
    this.label = label;
  }

  Source.prototype.error = function (detail) {
    return new FilterSyntaxError("Invalid " + this.label + " " + pyRepr(this.text) + ": " + detail);
  };

  /* ---------------------------------------------------------------- tokens */

  function token(kind, text, value, pos, end) {
    return { kind: kind, text: text, value: value, pos: pos, end: end };
  }

  function isWordChar(c) {
    return !isSpace(c) && OP_CHARS.indexOf(c) < 0 && "(),".indexOf(c) < 0 && QUOTES.indexOf(c) < 0;
  }

  function readQuoted(src, chars, start) {
    var quote = chars[start];
    var value = [];
    var pos = start + 1;
    while (pos < chars.length) {
      var c = chars[pos];
      var next = pos + 1 < chars.length ? chars[pos + 1] : "";
      if (c === "\\" && next && "\\'\"`".indexOf(next) >= 0) {
        value.push(next);
        pos += 2;
      } else if (c === quote && next === quote) {
        value.push(quote);
        pos += 2;
      } else if (c === quote) {
        var kind = quote === "`" ? "backtick" : "string";
        return token(kind, chars.slice(start, pos + 1).join(""), value.join(""), start, pos + 1);
      } else {
        value.push(c);
        pos += 1;
      }
    }
    throw src.error("unterminated quoted text starting at position " + start);
  }

  function tokenize(src) {
    var chars = Array.from(src.text);
    var tokens = [];
    var pos = 0;
    while (pos < chars.length) {
      var c = chars[pos];
      if (isSpace(c)) {
        pos += 1;
        continue;
      }
      var tok;
      if (QUOTES.indexOf(c) >= 0) {
        tok = readQuoted(src, chars, pos);
      } else if ("(),".indexOf(c) >= 0) {
        tok = token(c, c, c, pos, pos + 1);
      } else {
        var end = pos;
        var ops = OP_CHARS.indexOf(c) >= 0;
        while (end < chars.length && (ops ? OP_CHARS.indexOf(chars[end]) >= 0 : isWordChar(chars[end]))) end += 1;
        var text = chars.slice(pos, end).join("");
        tok = token(ops ? "op" : "word", text, text, pos, end);
      }
      tokens.push(tok);
      pos = tok.end;
    }
    tokens.push(token("end", "", "", chars.length, chars.length));
    return tokens;
  }

  /* ---------------------------------------------------------------- parser */

  function Field(kind, key, name, numeric) {
    this.kind = kind; // "metric" | "param" | "tag" | "attribute"
    this.key = key; // the key, or the runs column for attributes
    this.name = name;
    this.numeric = numeric;
  }

  Field.prototype.describe = function () {
    return this.kind + " " + pyRepr(this.name);
  };

  function Parser(src) {
    this.src = src;
    this.tokens = tokenize(src);
    this.index = 0;
    this.depth = 0;
  }

  Parser.prototype.peek = function () { return this.tokens[this.index]; };

  Parser.prototype.next = function () {
    var tok = this.tokens[this.index];
    if (tok.kind !== "end") this.index += 1;
    return tok;
  };

  Parser.prototype.atKeyword = function () {
    var tok = this.peek();
    if (tok.kind !== "word") return false;
    var upper = tok.text.toUpperCase();
    for (var i = 0; i < arguments.length; i++) if (arguments[i] === upper) return true;
    return false;
  };

  Parser.prototype.describeToken = function (tok) {
    return tok.kind === "end" ? "end of " + this.src.label : "token " + pyRepr(tok.text);
  };

  Parser.prototype.error = function (tok, detail) {
    return this.src.error(detail + "; got " + this.describeToken(tok) + " at position " + tok.pos);
  };

  Parser.prototype.fail = function (tok, expected) {
    throw this.src.error("unexpected " + this.describeToken(tok) + " at position " + tok.pos + "; expected " + expected);
  };

  Parser.prototype.parseFilter = function () {
    var node = this.parseOr();
    var tok = this.peek();
    if (tok.kind !== "end") this.fail(tok, "AND, OR or the end of the filter");
    return node;
  };

  Parser.prototype.parseOr = function () {
    var items = [this.parseAnd()];
    while (this.atKeyword("OR")) {
      this.next();
      items.push(this.parseAnd());
    }
    return items.length === 1 ? items[0] : { op: "OR", items: items };
  };

  Parser.prototype.parseAnd = function () {
    var items = [this.parsePrimary()];
    while (this.atKeyword("AND")) {
      this.next();
      items.push(this.parsePrimary());
    }
    return items.length === 1 ? items[0] : { op: "AND", items: items };
  };

  Parser.prototype.parsePrimary = function () {
    var tok = this.peek();
    if (tok.kind !== "(") return this.parseComparison();
    if (this.depth >= MAX_DEPTH) throw this.error(tok, "parentheses nested deeper than " + MAX_DEPTH + " levels");
    this.next();
    this.depth += 1;
    var node = this.parseOr();
    this.depth -= 1;
    var close = this.next();
    if (close.kind !== ")") this.fail(close, "')', AND or OR");
    return node;
  };

  Parser.prototype.parseComparison = function () {
    var field = this.parseField();
    var op = this.parseOperator(field);
    if (NULL_OPS.indexOf(op) >= 0) return { field: field, op: op, value: null };
    if (op === "IN" || op === "NOT IN") return { field: field, op: op, value: this.parseList(field) };
    return { field: field, op: op, value: this.parseValue(field) };
  };

  Parser.prototype.parseField = function () {
    var tok = this.next();
    if (tok.kind !== "word" || KEYWORDS[tok.text.toUpperCase()]) {
      this.fail(tok, "an identifier such as metrics.<key>, params.<key>, tags.<key> or an attribute like status");
    }
    var dot = tok.text.indexOf(".");
    if (dot < 0) return this.attribute(tok, tok.text);
    var prefix = tok.text.slice(0, dot);
    var key = tok.text.slice(dot + 1);
    var kind = Object.prototype.hasOwnProperty.call(PREFIXES, prefix) ? PREFIXES[prefix] : null;
    if (kind === null) {
      throw this.error(tok, "unknown entity type " + pyRepr(prefix) + "; expected one of " +
        "metrics., params., tags. or attributes. (or their aliases " + PREFIX_NAMES.join(", ") + ")");
    }
    var keyToken = tok;
    if (!key) {
      keyToken = this.next();
      if ((keyToken.kind !== "string" && keyToken.kind !== "backtick") || keyToken.pos !== tok.end) {
        this.fail(keyToken, "a key right after " + pyRepr(tok.text));
      }
      key = keyToken.value;
    }
    if (!key) throw this.error(keyToken, "empty key");
    if (kind === "attribute") return this.attribute(keyToken, key);
    return new Field(kind, key, key, kind === "metric");
  };

  Parser.prototype.attribute = function (tok, name) {
    if (Object.prototype.hasOwnProperty.call(NUMERIC_ATTRIBUTES, name)) {
      return new Field("attribute", NUMERIC_ATTRIBUTES[name], name, true);
    }
    if (Object.prototype.hasOwnProperty.call(STRING_ATTRIBUTES, name)) {
      return new Field("attribute", STRING_ATTRIBUTES[name], name, false);
    }
    throw this.error(tok, "unknown attribute " + pyRepr(name) + "; allowed attributes are " +
      ATTRIBUTE_NAMES.join(", ") + " (use metrics.<key>, params.<key> or tags.<key> for logged data)");
  };

  Parser.prototype.parseOperator = function (field) {
    var allowed = field.numeric ? NUMERIC_OPS : STRING_OPS;
    var tok = this.next();
    var word = tok.kind === "word" ? tok.text.toUpperCase() : "";
    var op;
    if (tok.kind === "op" && COMPARISON_OPS.indexOf(tok.text) >= 0) {
      op = tok.text;
    } else if (word === "LIKE" || word === "ILIKE" || word === "IN") {
      op = word;
    } else if (word === "NOT") {
      if (!this.atKeyword("IN")) this.fail(this.peek(), "IN after NOT");
      this.next();
      op = "NOT IN";
    } else if (word === "IS") {
      op = this.parseIsNull();
    } else {
      this.fail(tok, "one of " + allowed.join(" "));
    }
    if (allowed.indexOf(op) < 0) {
      var kinds = field.numeric ? "metrics and start_time/end_time" : "params, tags and string attributes";
      throw this.error(tok, "operator " + op + " cannot be used with " + field.describe() + ": " +
        kinds + " support only " + allowed.join(" "));
    }
    return op;
  };

  Parser.prototype.parseIsNull = function () {
    var negate = this.atKeyword("NOT");
    if (negate) this.next();
    if (!this.atKeyword("NULL")) this.fail(this.peek(), negate ? "NULL" : "NOT NULL or NULL after IS");
    this.next();
    return negate ? "IS NOT NULL" : "IS NULL";
  };

  Parser.prototype.parseValue = function (field) {
    var tok = this.next();
    if (field.numeric) {
      if (tok.kind === "word" && NUMBER_RE.test(tok.text)) return Number(tok.text);
      throw this.error(tok, field.describe() + " can only be compared with a number (e.g. 3, -0.5, 1e-4)");
    }
    if (tok.kind === "string") return tok.value;
    throw this.error(tok, field.describe() + " can only be compared with a quoted string (e.g. 'value' or \"value\")");
  };

  Parser.prototype.parseList = function (field) {
    var opening = this.next();
    if (opening.kind !== "(") this.fail(opening, "'(' starting a list of quoted strings, e.g. ('a', 'b')");
    var values = [];
    for (;;) {
      var tok = this.next();
      if (tok.kind !== "string") this.fail(tok, "a quoted string in the list for " + field.describe());
      values.push(tok.value);
      var separator = this.next();
      if (separator.kind === ")") return values;
      if (separator.kind !== ",") this.fail(separator, "',' or ')'");
    }
  };

  /* ---------------------------------------------------------------- evaluation */

  var likeCache = {};

  /** SQL LIKE as DuckDB does it: % any run, _ one character, no escape character. */
  function likeRegex(pattern, insensitive) {
    var cacheKey = (insensitive ? "i" : "s") + pattern;
    if (likeCache[cacheKey]) return likeCache[cacheKey];
    var source = Array.from(insensitive ? pattern.toLowerCase() : pattern).map(function (c) {
      if (c === "%") return "[^]*";
      if (c === "_") return "[^]";
      return c.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
    }).join("");
    var regex = new RegExp("^" + source + "$", "u");
    likeCache[cacheKey] = regex;
    return regex;
  }

  function stringTest(op, value, actual) {
    if (op === "=") return actual === value;
    if (op === "!=") return actual !== value;
    if (op === "LIKE") return likeRegex(value, false).test(actual);
    if (op === "ILIKE") return likeRegex(value, true).test(actual.toLowerCase());
    if (op === "IN") return value.indexOf(actual) >= 0;
    return value.indexOf(actual) < 0; // NOT IN
  }

  function numberTest(op, value, actual) {
    if (op === "=") return actual === value;
    if (op === "!=") return actual !== value;
    if (op === "<") return actual < value;
    if (op === "<=") return actual <= value;
    if (op === ">") return actual > value;
    return actual >= value;
  }

  var ATTRIBUTE_FIELDS = {
    run_id: "id", run_name: "name", status: "status", user_id: "user", artifact_uri: "artifactUri",
    lifecycle_stage: "stage", start_time: "start", end_time: "end"
  };
  var GROUPS = { metric: "metrics", param: "params", tag: "tags" };

  /** Whether one comparison holds for a record: SQL's answer, with NULL as false. */
  function compare(node, record) {
    var field = node.field;
    var op = node.op;
    var actual;
    if (field.kind === "attribute") {
      actual = record[ATTRIBUTE_FIELDS[field.key]];
      if (actual === undefined) actual = null;
    } else {
      var group = record[GROUPS[field.kind]] || {};
      actual = Object.prototype.hasOwnProperty.call(group, field.key) ? group[field.key] : null;
    }
    if (op === "IS NULL") return actual === null;
    if (op === "IS NOT NULL") return actual !== null;
    if (actual === null) return false;
    if (field.numeric) {
      // NaN (which DuckDB sorts above everything) only satisfies != (filter.py's nan_guard)
      if (actual !== actual) return op === "!=";
      return numberTest(op, node.value, actual);
    }
    return stringTest(op, node.value, String(actual));
  }

  function evaluate(node, record) {
    if (node.items) {
      var any = node.op === "OR";
      for (var i = 0; i < node.items.length; i++) {
        if (evaluate(node.items[i], record) === any) return any;
      }
      return !any;
    }
    return compare(node, record);
  }

  /** What a tree refers to: {kinds: {metric: true, ...}, attributes: {status: true, ...}}. */
  function references(node, out) {
    out = out || { kinds: {}, attributes: {} };
    if (node.items) {
      node.items.forEach(function (item) { references(item, out); });
    } else {
      out.kinds[node.field.kind] = true;
      if (node.field.kind === "attribute") out.attributes[node.field.key] = true;
    }
    return out;
  }

  /** Parse a filter: the tree (null for a blank filter); throws FilterSyntaxError. */
  function parse(text) {
    if (typeof text !== "string" || !text.trim()) return null;
    return new Parser(new Source(text, "filter")).parseFilter();
  }

  /** Parse without throwing: {tree, error} (error is the message, or ""). */
  function compile(text) {
    try {
      return { tree: parse(text), error: "" };
    } catch (e) {
      if (e instanceof FilterSyntaxError) return { tree: null, error: e.message };
      throw e;
    }
  }

  window.tracker = window.tracker || {};
  window.tracker.runFilter = {
    parse: parse,
    compile: compile,
    evaluate: evaluate,
    references: references,
    pyRepr: pyRepr,
    FilterSyntaxError: FilterSyntaxError
  };
})();
