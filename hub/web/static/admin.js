/* The admin console: versions, a document editor with problems in place, draft/publish/rollback,
   diff and preview. It talks to the hub only through /v1/admin (window.Hub.api). */
(function () {
  "use strict";
  var state = { versions: [], published: null, base: null, documents: {}, current: null, problems: [], draft: null,
    schemas: {} };
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function say(text, kind) {
    var box = $("admin-message");
    box.textContent = text;
    box.className = "alert" + (kind ? " alert--" + kind : "");
    box.hidden = !text;
  }
  function failed(error) {
    var body = error && error.body && error.body.error;
    say(body ? body.message : String(error), "error");
    return body;
  }

  function loadVersions() {
    return Hub.api("GET", "/v1/admin/config").then(function (answer) {
      state.versions = answer.versions;
      state.published = answer.published_version;
      var body = $("versions").querySelector("tbody");
      body.textContent = "";
      ["diff-a", "diff-b"].forEach(function (id) { $(id).textContent = ""; });
      answer.versions.forEach(function (v) {
        var row = el("tr");
        row.appendChild(el("td", {}, "v" + v.version));
        var stateCell = el("td");
        var kind = v.state === "published" ? "ok" : v.state === "draft" ? "warn" : "muted";
        stateCell.appendChild(el("span", { "class": "badge badge--" + kind }, v.state));
        row.appendChild(stateCell);
        row.appendChild(el("td", {}, v.created_by_name || v.created_by));
        row.appendChild(el("td", {}, Hub.formatTime(v.published_at || v.created_at)));
        row.appendChild(el("td", {}, v.note));
        var actions = el("td", { "class": "row" });
        var open = el("button", { type: "button", "class": "btn", "data-open": v.version }, "Edit");
        actions.appendChild(open);
        if (v.state !== "published" && v.state !== "draft") {
          actions.appendChild(el("button", { type: "button", "class": "btn btn--danger", "data-rollback": v.version },
            "Roll back to v" + v.version));
        }
        row.appendChild(actions);
        body.appendChild(row);
        ["diff-a", "diff-b"].forEach(function (id) { $(id).appendChild(el("option", { value: v.version }, "v" + v.version)); });
      });
      if (answer.versions.length > 1) $("diff-a").value = String(answer.versions[1].version);
    });
  }

  function openVersion(id) {
    return Hub.api("GET", "/v1/admin/config/" + id).then(function (v) {
      state.base = v.state === "draft" ? v.based_on : v.version;
      state.draft = v.state === "draft" ? v.version : null;
      state.documents = Object.assign({}, v.documents);
      state.problems = v.problems;
      $("editing-from").textContent = "(from v" + v.version + ", " + v.state + ")";
      var select = $("document");
      select.textContent = "";
      Object.keys(v.documents).sort().forEach(function (name) { select.appendChild(el("option", { value: name }, name)); });
      var keep = state.current && v.documents[state.current] !== undefined ? state.current : "fields." + (document.body.dataset.crm || "zendesk") + ".yaml";
      select.value = v.documents[keep] !== undefined ? keep : select.options[0].value;
      showDocument(select.value);
      updatePublish();
    });
  }

  function showDocument(name) {
    if (state.current && state.documents[state.current] !== undefined) state.documents[state.current] = $("editor").value;
    state.current = name;
    $("editor").value = state.documents[name] || "";
    renderProblems();
    loadSchema(name);
  }

  /* The document's JSON Schema, for the editor's completion (admin_complete.js); fetched once. */
  function loadSchema(name) {
    if (state.schemas[name] !== undefined) return;
    state.schemas[name] = null;
    Hub.api("GET", "/v1/admin/schemas/" + encodeURIComponent(name)).then(function (schema) {
      state.schemas[name] = schema;
    }, function () { delete state.schemas[name]; });
  }

  function problemsOf(name) {
    return state.problems.filter(function (p) { return p.path === name || p.path.indexOf(name + ":") === 0; });
  }
  function lineOf(problem) { var m = /:(\d+)$/.exec(problem.path); return m ? parseInt(m[1], 10) : null; }

  function renderGutter() {
    var lines = $("editor").value.split("\n").length;
    var bad = {};
    problemsOf(state.current).forEach(function (p) { var n = lineOf(p); if (n) bad[n] = p.message; });
    var gutter = $("gutter");
    gutter.textContent = "";
    for (var n = 1; n <= lines; n++) {
      var span = el("span", bad[n] ? { "class": "bad", title: bad[n] } : {}, String(n));
      gutter.appendChild(span);
    }
    gutter.scrollTop = $("editor").scrollTop;
  }

  function renderProblems() {
    var list = $("problems");
    list.textContent = "";
    var mine = problemsOf(state.current);
    var others = state.problems.length - mine.length;
    mine.forEach(function (p) {
      var item = el("li");
      var n = lineOf(p);
      var link = el("button", { type: "button", "class": "btn btn--link", "data-line": n || 1 }, n ? "line " + n : state.current);
      item.appendChild(link);
      item.appendChild(document.createTextNode(": " + p.message));
      list.appendChild(item);
    });
    if (others) list.appendChild(el("li", {}, others + " problem(s) in other documents"));
    if (!state.problems.length) list.appendChild(el("li", { "class": "muted" }, "No problems."));
    var status = $("document-status");
    status.textContent = mine.length ? mine.length + " problem(s)" : "valid";
    status.className = "badge " + (mine.length ? "badge--danger" : "badge--ok");
    renderGutter();
  }

  function goToLine(n) {
    var editor = $("editor");
    var lines = editor.value.split("\n");
    var start = 0;
    for (var i = 0; i < n - 1 && i < lines.length; i++) start += lines[i].length + 1;
    editor.focus();
    editor.setSelectionRange(start, start + (lines[n - 1] || "").length);
  }

  function updatePublish() { $("publish").disabled = !(state.draft && state.problems.length === 0); }

  function saveDraft() {
    state.documents[state.current] = $("editor").value;
    return Hub.api("POST", "/v1/admin/config", { documents: state.documents, based_on: state.base, note: $("note").value })
      .then(function (saved) {
        state.draft = saved.version;
        state.problems = saved.problems;
        renderProblems();
        updatePublish();
        say(saved.problems.length ? "Saved as draft v" + saved.version + " with " + saved.problems.length +
          " problem(s); fix them to publish." : "Saved as draft v" + saved.version + ".", saved.problems.length ? "error" : "");
        $("editing-from").textContent = "(draft v" + saved.version + ")";
        return loadVersions();
      }, failed);
  }

  function publish() {
    return Hub.api("POST", "/v1/admin/config/" + state.draft + "/publish", { base_version: state.base })
      .then(function (v) {
        say("Published v" + v.version + ". Every process applies it within seconds.", "");
        state.base = v.version; state.draft = null; updatePublish();
        return loadVersions();
      }, function (error) {
        var body = failed(error);
        if (body && body.current_version) say(body.message + " Open v" + body.current_version + ", reapply your change, and publish again.", "error");
        if (body && body.details && body.details.length) { state.problems = body.details; renderProblems(); }
      });
  }

  function rollback(id) {
    return Hub.api("POST", "/v1/admin/config/" + id + "/rollback", { base_version: state.published, note: "" })
      .then(function (v) { say("Rolled back: v" + v.version + " republishes v" + id + ".", ""); return loadVersions(); }, failed);
  }

  function showDiff() {
    var a = $("diff-a").value, b = $("diff-b").value;
    return Hub.api("GET", "/v1/admin/config/diff?a=" + a + "&b=" + b).then(function (answer) {
      var out = $("diff-result");
      out.textContent = "";
      var names = Object.keys(answer.documents);
      if (!names.length) out.appendChild(el("p", { "class": "muted" }, "No differences."));
      names.forEach(function (name) {
        out.appendChild(el("h3", {}, name));
        var pre = el("pre");
        answer.documents[name].split("\n").forEach(function (line) {
          var cls = line[0] === "+" && line.indexOf("+++") !== 0 ? "diff-add" : line[0] === "-" && line.indexOf("---") !== 0 ? "diff-del" : "";
          pre.appendChild(el("span", cls ? { "class": cls } : {}, line + "\n"));
        });
        out.appendChild(pre);
      });
    }, failed);
  }

  function previewColumn(title, result, other) {
    var box = el("div", { "class": "card stack" });
    box.appendChild(el("h3", {}, title));
    if (!result) { box.appendChild(el("p", { "class": "muted" }, "Save a draft to compare.")); return box; }
    if (result.problems) { box.appendChild(el("p", {}, "This version does not load: fix its problems first.")); return box; }
    box.appendChild(el("p", {}, (result.case.action === "create" ? "Creates a new " : "Appends to ") + result.crm +
      (result.crm === "zendesk" ? " ticket" : " case") + (result.case.id ? " " + result.case.id : "")));
    var rows = [];
    Object.keys(result.case.fields).forEach(function (k) { rows.push(["case." + k, result.case.fields[k]]); });
    Object.keys(result.activity.fields).forEach(function (k) { rows.push(["activity." + k, result.activity.fields[k]]); });
    rows.push(["disposition", result.disposition.code + " → " + JSON.stringify(result.disposition.values)]);
    if (result.case.action === "create") rows.push(["routed to", routingText(result.case.routing)]);
    rows.push(["SLA policy", result.sla_policy || "none"]);
    var table = el("table", { "class": "table" });
    rows.forEach(function (r) {
      var value = typeof r[1] === "string" ? r[1] : JSON.stringify(r[1]);
      var otherValue = other && !other.problems ? lookup(other, r[0]) : value;
      var tr = el("tr", value !== otherValue ? { "class": "changed" } : {});
      var th = el("th", { scope: "row" });  // long field names wrap after their dots
      r[0].split(".").forEach(function (part, i, parts) {
        th.appendChild(document.createTextNode(part + (i < parts.length - 1 ? "." : "")));
        if (i < parts.length - 1) th.appendChild(document.createElement("wbr"));
      });
      tr.appendChild(th);
      var td = el("td"); td.appendChild(el("pre", {}, value)); tr.appendChild(td);
      table.appendChild(tr);
    });
    box.appendChild(table);
    var plan = recoveryPlan(result.recovery, title);
    if (other && !other.problems && recoverySummary(other.recovery) !== recoverySummary(result.recovery)) plan.classList.add("changed");
    box.appendChild(plan);
    return box;
  }

  /* The plan as text, to tell whether the two sides differ (the differing side is highlighted). */
  function recoverySummary(plan) {
    if (!plan) return "none";
    var head = plan.policy ? plan.status + ": " + plan.policy : plan.status;
    return [head].concat((plan.attempts || []).map(function (a) {
      return a.attempt + ". " + a.action + " " + a.at + " " + a.status + (a.reason ? " (" + a.reason + ")" : "");
    })).join("\n");
  }

  var ATTEMPT_BADGE = { planned: "ok", rescheduled: "warn", blocked: "danger" };
  function recoveryPlan(plan, side) {
    var section = el("div", { "class": "plan stack" });
    section.appendChild(el("h4", {}, "Recovery plan · " + side));
    if (!plan) return section;
    var head = plan.policy ? "Policy “" + plan.policy + "”" + (plan.status === "disabled" ? " (disabled: nothing is made; if enabled:)" : "") : "";
    section.appendChild(el("p", { "class": "plan__head" }, [head, plan.detail].filter(Boolean).join(" · ")));
    if (!plan.attempts || !plan.attempts.length) return section;
    var list = el("ol", { "class": "plan__attempts" });
    plan.attempts.forEach(function (a) {
      var item = el("li", { "class": "plan__attempt plan__attempt--" + a.status });
      var top = el("div", { "class": "plan__top" });
      top.appendChild(el("strong", {}, a.attempt + ". " + a.action + (a.channel !== a.action ? " · " + a.channel + " consent" : "")));
      top.appendChild(el("span", { "class": "badge badge--" + (ATTEMPT_BADGE[a.status] || "muted") },
        a.status + (a.reason ? ": " + a.reason : "")));
      item.appendChild(top);
      item.appendChild(el("div", {}, a.local_time ? a.local_time + ", the customer's time" : "The customer's time zone is unknown"));
      var when = el("div", { "class": "muted" });  // each part unbroken (no break at a date's hyphens)
      [a.time_zone, a.at, a.planned_for !== a.at ? "planned for " + a.planned_for : null].filter(Boolean).forEach(function (part, i) {
        if (i) when.appendChild(document.createTextNode(" · "));
        when.appendChild(el("span", { "class": "nowrap" }, part));
      });
      item.appendChild(when);
      if (a.guard) item.appendChild(el("div", { "class": "plan__guard" }, a.guard + ": " + a.detail));
      list.appendChild(item);
    });
    section.appendChild(list);
    return section;
  }
  /* Where routing.yaml puts a new case: "Zendesk group Billing (360000000502) · rules[2] · routing.yaml:29". */
  function routingText(r) {
    if (!r) return "unassigned (no routing.yaml)";
    var what = r.target === null || r.target === undefined ? "unassigned"
      : (r.kind === "queue" ? "Salesforce queue " : "Zendesk group ") + r.target + (r.id ? " (" + r.id + ")" : "");
    return [what, r.rule, r.path, r.problem ? "not assigned: " + r.problem : null]
      .filter(Boolean).join(" · ");
  }
  function lookup(result, key) {
    var v;
    if (key === "routed to") return routingText(result.case.routing);
    if (key.indexOf("case.") === 0) v = result.case.fields[key.slice(5)];
    else if (key.indexOf("activity.") === 0) v = result.activity.fields[key.slice(9)];
    else if (key === "disposition") v = result.disposition.code + " → " + JSON.stringify(result.disposition.values);
    else v = result.sla_policy || "none";
    return typeof v === "string" ? v : JSON.stringify(v);
  }

  function preview() {
    var text = $("preview-event").value.trim();
    var body = { version: state.draft };
    if (text[0] === "{") {
      try { body.event = JSON.parse(text); } catch (e) { say("The event is not JSON: " + e.message, "error"); return; }
    } else {
      var parts = text.split(":"); body.source = parts[0]; body.event_id = parts.slice(1).join(":");
    }
    return Hub.api("POST", "/v1/admin/preview", body).then(function (answer) {
      var out = $("preview-result");
      out.textContent = "";
      out.appendChild(previewColumn("Published (v" + (answer.published ? answer.published.version : "–") + ")", answer.published, answer.draft));
      out.appendChild(previewColumn("Draft" + (answer.draft ? " (v" + answer.draft.version + ")" : ""), answer.draft, answer.published));
    }, failed);
  }

  function crmCheck() {
    var version = state.draft || state.base;
    return Hub.api("GET", "/v1/admin/config/" + version + "/crm-check").then(function (report) {
      var list = $("crm-findings");
      list.textContent = "";
      if (!report.findings.length) list.appendChild(el("li", { "class": "muted" }, "v" + version + ": all " + report.checked + " mapped fields fit " + report.crm + "."));
      report.findings.forEach(function (f) {
        var item = el("li", { "class": f.severity === "error" ? "" : "warning" });
        var m = /:(\d+)$/.exec(f.path);
        item.appendChild(el("button", { type: "button", "class": "btn btn--link", "data-line": m ? m[1] : 1 }, f.path));
        item.appendChild(document.createTextNode(" " + f.severity + ": " + f.problem + ". Fix: " + f.hint));
        list.appendChild(item);
      });
    }, failed);
  }

  function start() {
    if (!$("versions")) return;
    if (window.AdminComplete) AdminComplete.attach($("editor"), function () { return state.schemas[state.current] || null; });
    $("document").addEventListener("change", function (e) { showDocument(e.target.value); });
    $("editor").addEventListener("input", function () { state.documents[state.current] = $("editor").value; renderGutter(); });
    $("editor").addEventListener("scroll", function () { $("gutter").scrollTop = $("editor").scrollTop; });
    $("problems").addEventListener("click", function (e) { var n = e.target.getAttribute("data-line"); if (n) goToLine(parseInt(n, 10)); });
    $("versions").addEventListener("click", function (e) {
      var open = e.target.getAttribute("data-open"), back = e.target.getAttribute("data-rollback");
      if (open) openVersion(open); else if (back) rollback(back);
    });
    $("save-draft").addEventListener("click", saveDraft);
    $("publish").addEventListener("click", publish);
    $("diff").addEventListener("click", showDiff);
    $("preview").addEventListener("click", preview);
    $("crm-check").addEventListener("click", crmCheck);
    $("crm-findings").addEventListener("click", function (e) {
      var n = e.target.getAttribute("data-line");
      if (!n) return;
      var name = e.target.textContent.split(":")[0];
      if (name !== state.current) { $("document").value = name; showDocument(name); }
      goToLine(parseInt(n, 10));
    });
    loadVersions().then(function () { if (state.published) return openVersion(state.published); }, failed);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
