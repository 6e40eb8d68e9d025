/* Completion from a document's JSON Schema in the admin editor (plain JS, no library, no build).
   At the caret it finds the YAML path by indentation (block mappings, "- " items, and one-line
   {flow} / [flow] collections) and offers the keys the schema allows there, or the enum values of the
   key being given a value. The list is a listbox under the caret: ArrowUp/ArrowDown move, Enter or
   Tab inserts, Escape closes; Ctrl+Space opens it; the textarea names the active option with
   aria-activedescendant. It opens by itself while a key or value is being typed. */
(function () {
  "use strict";
  var MAX = 12;

  /* -- the schema: local $ref, allOf/anyOf/oneOf merged into one view ------------------------------ */
  function resolve(node, root, depth) {
    depth = depth || 0;
    if (!node || typeof node !== "object" || depth > 16) return {};
    var out = node;
    if (typeof node.$ref === "string" && node.$ref.indexOf("#/") === 0) {
      var target = node.$ref.slice(2).split("/").reduce(function (at, part) {
        return at && at[part.replace(/~1/g, "/").replace(/~0/g, "~")];
      }, root);
      out = Object.assign({}, resolve(target, root, depth + 1), node);
      delete out.$ref;
    }
    var alternatives = [].concat(out.allOf || [], out.anyOf || [], out.oneOf || []);
    if (!alternatives.length) return out;
    var merged = Object.assign({}, out, { properties: Object.assign({}, out.properties || {}) });
    alternatives.forEach(function (alt) {
      var r = resolve(alt, root, depth + 1);
      Object.assign(merged.properties, r.properties || {});
      ["enum", "items", "additionalProperties", "patternProperties", "propertyNames", "type"].forEach(function (k) {
        if (merged[k] === undefined && r[k] !== undefined) merged[k] = r[k];
      });
    });
    return merged;
  }

  function child(node, key, root) {
    node = resolve(node, root);
    if (key === "[]") return node.items ? resolve(node.items, root) : null;
    if (node.properties && node.properties[key]) return resolve(node.properties[key], root);
    var patterns = node.patternProperties || {};
    for (var p in patterns) {
      try { if (new RegExp(p).test(key)) return resolve(patterns[p], root); } catch (e) { /* not a JS regex */ }
    }
    if (node.additionalProperties && typeof node.additionalProperties === "object") return resolve(node.additionalProperties, root);
    return null;
  }

  function at(root, path) {
    var node = root;
    for (var i = 0; i < path.length && node; i++) node = child(node, path[i], root);
    return node ? resolve(node, root) : null;
  }

  function summary(node, root) {
    node = resolve(node, root);
    var text = node.description || node.title || (Array.isArray(node.type) ? node.type.join(" | ") : node.type) || "";
    return text.length > 90 ? text.slice(0, 89) + "…" : text;
  }

  function keysOf(node, root) {
    var out = Object.keys(node.properties || {}).map(function (k) {
      return { label: k, detail: summary(node.properties[k], root), key: true };
    });
    var names = node.propertyNames ? resolve(node.propertyNames, root) : {};
    (names.enum || []).forEach(function (k) { out.push({ label: String(k), detail: summary(node.additionalProperties || {}, root), key: true }); });
    return out;
  }

  function valuesOf(node) {
    var values = node.enum || (node.const !== undefined ? [node.const] : node.type === "boolean" ? [true, false] : []);
    return values.filter(function (v) { return v === null || typeof v !== "object"; }).map(function (v) {
      return { label: v === null ? "null" : String(v), detail: "", key: false };
    });
  }

  /* -- where the caret is, in YAML terms ------------------------------------------------------------ */
  var KEY = /^("[^"]*"|'[^']*'|[^\s:#{}\[\],"'][^:#]*?)\s*:(?:\s+(.*))?$/;

  function parseLine(line) {
    var m = /^(\s*)((?:-(?:\s+|$))*)(.*)$/.exec(line);
    var indent = m[1].length, dashes = [];
    for (var i = 0; i < m[2].length; i++) if (m[2][i] === "-") dashes.push(indent + i);
    var content = m[3], column = indent + m[2].length;
    var skip = !dashes.length && (!content.trim() || content.trim()[0] === "#");
    var k = KEY.exec(content);
    var rest = k ? (k[2] || "").trim() : "";
    return {
      skip: skip, dashes: dashes, column: column,
      key: k ? k[1].replace(/^["']|["']$/g, "") : null,
      opens: !!k && (rest === "" || rest[0] === "#")
    };
  }

  /* The path of the mapping that holds a key at ``column`` on line ``index`` (keys and "[]"). */
  function pathAbove(lines, index, column) {
    var path = [], target = column, afterDash = false;
    for (var i = index - 1; i >= 0 && (target > 0 || afterDash); i--) {
      var p = parseLine(lines[i]);
      if (p.skip) continue;
      if (p.key !== null && (p.column < target || (afterDash && p.column <= target))) {
        if (!p.opens) break;
        path.unshift(p.key); target = p.column; afterDash = false;
      }
      for (var d = p.dashes.length - 1; d >= 0; d--) {
        if (p.dashes[d] < target) { path.unshift("[]"); target = p.dashes[d]; afterDash = true; }
      }
    }
    return path;
  }

  /* Keys already given in the block mapping that holds ``column`` (offered no more). */
  function siblings(lines, index, column) {
    var found = {};
    function look(i) {
      var p = parseLine(lines[i]);
      if (p.skip) return true;
      if (p.column < column && !p.dashes.some(function (d) { return d + 2 <= column; })) return false;
      if (p.column === column && p.key !== null) found[p.key] = true;
      return !p.dashes.some(function (d) { return d < column; });  // the item's own first line: stop
    }
    for (var up = index - 1; up >= 0 && look(up); up--) { /* walk up */ }
    for (var down = index + 1; down < lines.length; down++) {
      var p = parseLine(lines[down]);
      if (!p.skip && (p.column < column || p.dashes.some(function (d) { return d < column; }))) break;
      if (!p.skip && p.column === column && p.key !== null) found[p.key] = true;
    }
    return found;
  }

  /* {mode: "key"|"value", path, prefix, taken} at the caret, or null where nothing is offered. */
  function contextAt(text, caret) {
    var start = text.lastIndexOf("\n", caret - 1) + 1;
    var before = text.slice(start, caret);
    var lines = text.split("\n");
    var index = text.slice(0, start).split("\n").length - 1;
    if (before.indexOf("#") !== -1) return null;
    var stack = [], quote = null;
    for (var i = 0; i < before.length; i++) {
      var ch = before[i];
      if (quote) { if (ch === quote) quote = null; continue; }
      if (ch === '"' || ch === "'") quote = ch;
      else if (ch === "{" || ch === "[") stack.push({ ch: ch, pos: i });
      else if (ch === "}" || ch === "]") stack.pop();
    }
    if (quote) return null;
    var head = stack.length ? before.slice(0, stack[0].pos) : before;
    var h = /^(\s*)((?:-\s+)*)(?:("[^"]*"|'[^']*'|[^\s:#{}\[\],"'][^:#]*?)\s*:\s*)?([^\s:#{}\[\],"']*)$/.exec(head);
    if (!h) return null;
    var dashCount = (h[2].match(/-/g) || []).length;
    var column = h[1].length + h[2].length;
    var path = pathAbove(lines, index, dashCount ? h[1].length : column);
    for (var n = 0; n < dashCount; n++) path.push("[]");
    var key = h[3] ? h[3].replace(/^["']|["']$/g, "") : null;
    if (!stack.length) {
      if (key === null) {
        var taken = dashCount ? {} : siblings(lines, index, column);
        return { mode: "key", path: path, prefix: h[4], taken: taken };
      }
      return { mode: "value", path: path.concat([key]), prefix: h[4] };
    }
    if (h[4]) return null;
    if (key !== null) path.push(key);
    for (var j = 1; j < stack.length; j++) {
      var between = before.slice(stack[j - 1].pos + 1, stack[j].pos).split(",").pop();
      if (stack[j - 1].ch === "[") { path.push("[]"); continue; }
      var inner = /^\s*([^\s:,{}\[\]"']+)\s*:\s*$/.exec(between);
      if (!inner) return null;
      path.push(inner[1]);
    }
    var last = stack[stack.length - 1];
    var segment = before.slice(last.pos + 1);
    var tail = segment.split(",").pop();
    if (last.ch === "[") {
      var item = /^\s*([^\s,{}\[\]"']*)$/.exec(tail);
      return item ? { mode: "value", path: path.concat(["[]"]), prefix: item[1] } : null;
    }
    var bare = /^\s*([^\s:,{}\[\]"']*)$/.exec(tail);
    if (bare) {
      var given = {};
      segment.replace(/([^\s:,{}\[\]"']+)\s*:/g, function (_, k) { given[k] = true; return _; });
      return { mode: "key", path: path, prefix: bare[1], taken: given };
    }
    var valued = /^\s*([^\s:,{}\[\]"']+)\s*:\s*([^\s,{}\[\]"']*)$/.exec(tail);
    return valued ? { mode: "value", path: path.concat([valued[1]]), prefix: valued[2] } : null;
  }

  function suggestions(schema, text, caret) {
    var where = contextAt(text, caret);
    if (!where || !schema) return null;
    var node = at(schema, where.path);
    if (!node) return null;
    var all = where.mode === "key" ? keysOf(node, schema) : valuesOf(node);
    var lower = where.prefix.toLowerCase();
    var items = all.filter(function (s) {
      return !(where.taken && where.taken[s.label]) && s.label.toLowerCase().indexOf(lower) === 0;
    });
    return { where: where, items: items.slice(0, MAX) };
  }

  /* -- the listbox ---------------------------------------------------------------------------------- */
  function attach(editor, schemaOf) {
    var wrap = editor.closest(".editor-wrap") || editor.parentNode;
    var list = document.createElement("ul");
    list.id = editor.id + "-completion";
    list.className = "completion";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Suggestions from the document's schema");
    list.hidden = true;
    wrap.appendChild(list);
    var status = document.createElement("span");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    wrap.appendChild(status);
    var probe = document.createElement("span");
    probe.className = "completion__probe";
    probe.setAttribute("aria-hidden", "true");
    probe.textContent = "MMMMMMMMMM";
    wrap.appendChild(probe);
    editor.setAttribute("aria-autocomplete", "list");
    editor.setAttribute("aria-controls", list.id);
    var open = null, active = 0;

    function close() {
      open = null;
      list.hidden = true;
      list.textContent = "";
      editor.removeAttribute("aria-activedescendant");
    }

    function render() {
      list.textContent = "";
      open.items.forEach(function (s, i) {
        var option = document.createElement("li");
        option.id = list.id + "-" + i;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", i === active ? "true" : "false");
        option.dataset.index = String(i);
        var label = document.createElement("span");
        label.className = "completion__label";
        label.textContent = s.label;
        option.appendChild(label);
        if (s.detail) {
          var detail = document.createElement("span");
          detail.className = "completion__detail";
          detail.textContent = s.detail;
          option.appendChild(detail);
        }
        list.appendChild(option);
      });
      editor.setAttribute("aria-activedescendant", list.id + "-" + active);
      var chosen = list.children[active];
      if (chosen && chosen.scrollIntoView) chosen.scrollIntoView({ block: "nearest" });
    }

    function place() {
      var caret = editor.selectionStart, text = editor.value;
      var line = text.slice(0, caret).split("\n").length - 1;
      var column = caret - (text.lastIndexOf("\n", caret - 1) + 1);
      var style = getComputedStyle(editor);
      var lineHeight = parseFloat(style.lineHeight) || 18;
      var charWidth = probe.getBoundingClientRect().width / 10 || 8;
      var top = editor.offsetTop + parseFloat(style.paddingTop) + (line + 1) * lineHeight - editor.scrollTop;
      var left = editor.offsetLeft + parseFloat(style.paddingLeft) + column * charWidth - editor.scrollLeft;
      list.hidden = false;
      var width = list.offsetWidth, height = list.offsetHeight;
      left = Math.max(0, Math.min(left, wrap.clientWidth - width));
      if (top + height > editor.offsetTop + editor.clientHeight && top - lineHeight - height >= 0) top = top - lineHeight - height;
      list.style.left = left + "px";
      list.style.top = Math.max(0, top) + "px";
    }

    function update(forced) {
      var found = suggestions(schemaOf(), editor.value, editor.selectionStart);
      var useful = found && found.items.length &&
        (forced || found.where.prefix || found.where.mode === "value") &&
        !(found.items.length === 1 && found.items[0].label === found.where.prefix);
      if (!useful) {
        if (forced) status.textContent = "No suggestions here.";
        close();
        return;
      }
      open = found;
      active = 0;
      render();
      place();
      status.textContent = found.items.length + " suggestion" + (found.items.length === 1 ? "" : "s") +
        ": arrow keys to choose, Enter to insert, Escape to close.";
    }

    function accept(index) {
      var chosen = open.items[index], prefix = open.where.prefix, caret = editor.selectionStart;
      var insert = chosen.key ? chosen.label + ": " : chosen.label;
      editor.setRangeText(insert, caret - prefix.length, caret, "end");
      close();
      editor.dispatchEvent(new Event("input", { bubbles: true }));
      if (chosen.key) update(false);  // the key's allowed values, if it has some
    }

    editor.addEventListener("keydown", function (e) {
      if (e.key === " " && e.ctrlKey) { e.preventDefault(); update(true); return; }
      if (!open) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        var count = open.items.length;
        active = (active + (e.key === "ArrowDown" ? 1 : count - 1)) % count;
        render();
      } else if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        accept(active);
      } else if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        close();
        status.textContent = "Suggestions closed.";
      }
    });
    editor.addEventListener("input", function (e) { if (!e.isTrusted && !open) return; update(false); });
    editor.addEventListener("blur", close);
    editor.addEventListener("click", close);
    editor.addEventListener("scroll", function () { if (open) place(); });
    list.addEventListener("mousedown", function (e) {
      e.preventDefault();  // keep the focus (and the caret) in the editor
      var option = e.target.closest("[role=option]");
      if (option) accept(parseInt(option.dataset.index, 10));
    });
    return { close: close, update: update };
  }

  window.AdminComplete = { attach: attach, contextAt: contextAt, suggestions: suggestions };
})();
