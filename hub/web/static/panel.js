/* CTI Hub agent panel: live updates, actions with confirmation, console bridge. No framework. */
(function () {
  "use strict";

  var OBJECTS = { zendesk: "tickets", salesforce: "cases" };
  var bridge = null;

  function host() { return document.body.getAttribute("data-host") || ""; }

  function panelUrl(record) {
    var object = OBJECTS[record.crm];
    if (!object || !record.id) { return null; }
    // Open CTI and the utility bar report every record the agent opens (Account, Contact, ...);
    // the panel follows Cases only.
    if (record.crm === "salesforce" && record.object !== "Case") { return null; }
    var url = "/panel/" + record.crm + "/" + object + "/" + encodeURIComponent(record.id);
    return host() ? url + "?host=" + encodeURIComponent(host()) : url;
  }

  function announce(text) {
    var live = document.getElementById("panel-live");
    if (live) { live.textContent = text; }
  }

  function newActionId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  /* --- live: a conditional GET of the version; the re-rendered body when it changed --------------- */

  var etag = null;
  var refreshing = false;

  function refresh(message) {
    if (refreshing) { return Promise.resolve(); }
    refreshing = true;
    var url = window.location.pathname + "?fragment=1" + (host() ? "&host=" + encodeURIComponent(host()) : "");
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        etag = response.headers.get("ETag") || etag;
        return response.text();
      })
      .then(function (html) {
        var body = document.getElementById("panel-body");
        var open = Array.prototype.map.call(body.querySelectorAll("details[open]"), function (d) { return d.id; });
        var focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement.id : null;
        body.innerHTML = html;
        open.forEach(function (id) { var d = id && document.getElementById(id); if (d) { d.open = true; } });
        if (focused && document.getElementById(focused)) { document.getElementById(focused).focus(); }
        if (message) { announce(message); }
        resize();
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { refreshing = false; });
  }

  function poll(api, seconds) {
    var headers = { "Accept": "application/json" };
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(api + "/version", { credentials: "same-origin", headers: headers })
      .then(function (response) {
        var tag = response.headers.get("ETag");
        if (response.status === 200 && tag && etag && tag !== etag) {
          etag = tag;
          return refresh("New activity on this case.");
        }
        if (tag) { etag = tag; }
      })
      .catch(function () { /* offline for a moment: keep polling */ })
      .then(function () { window.setTimeout(function () { poll(api, seconds); }, seconds * 1000); });
  }

  /* --- actions ------------------------------------------------------------------------------------ */

  function confirmFirst(text) {
    var dialog = document.getElementById("panel-confirm");
    if (!dialog || typeof dialog.showModal !== "function") { return Promise.resolve(window.confirm(text)); }
    document.getElementById("panel-confirm-text").textContent = text;
    return new Promise(function (resolve) {
      dialog.addEventListener("close", function onClose() {
        dialog.removeEventListener("close", onClose);
        resolve(dialog.returnValue === "confirm");
      });
      dialog.returnValue = "";
      dialog.showModal();
    });
  }

  function showError(form, error) {
    var box = form.querySelector(".panel-error");
    if (!box) {
      box = document.createElement("p");
      box.className = "alert alert--error panel-error";
      box.setAttribute("role", "alert");
      form.appendChild(box);
    }
    var details = (error.details || []).map(function (d) { return d.path + ": " + d.message; }).join("; ");
    box.textContent = (error.message || "The action failed.") + (details ? " (" + details + ")" : "");
  }

  function submitAction(form, button, api) {
    var kind = button.value;
    var confirmText = button.getAttribute("data-confirm");
    var asked = confirmText ? confirmFirst(confirmText) : Promise.resolve(true);
    return asked.then(function (confirmed) {
      if (!confirmed) { return; }
      /* one id per intended action: a double click or a retry after an error repeats the same id */
      var key = "actionId_" + kind;
      if (!form.dataset[key]) { form.dataset[key] = newActionId(); }
      var body = { action_id: form.dataset[key] };
      var reason = form.elements.reason && form.elements.reason.value.trim();
      if (reason) { body.reason = reason; }
      if (kind === "disposition") {
        body.code = form.elements.code.value;
        if (form.elements.inbox_id) { body.inbox_id = parseInt(form.elements.inbox_id.value, 10); }
      }
      if (confirmText) { body.confirm = true; }
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      return window.Hub.api("POST", api + "/actions/" + kind, body)
        .then(function () {
          delete form.dataset[key];
          return refresh(button.textContent.trim() + ": done.");
        })
        .catch(function (error) { showError(form, error); button.disabled = false; })
        .then(function () { button.removeAttribute("aria-busy"); });
    });
  }

  function wireActions(api) {
    var body = document.getElementById("panel-body");
    body.addEventListener("submit", function (event) {
      var form = event.target.closest("form[data-panel-action]");
      if (!form) { return; }
      event.preventDefault();
      var button = event.submitter || form.querySelector("button[type=submit]");
      if (!button || button.disabled) { return; }
      submitAction(form, button, api);
    });
  }

  /* A record link opens in the console through the bridge when there is one (else: a new tab). */
  function wirePops() {
    document.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-panel-pop]");
      // Standalone (no console host): the link is an ordinary link.
      if (!link || !bridge || !bridge.host || typeof bridge.pop !== "function") { return; }
      var parts = link.getAttribute("data-panel-pop").split("|");
      event.preventDefault();
      bridge.pop({ crm: parts[0], object: parts[1], id: parts[2] });
    });
  }

  /* --- the console bridge (bridge.js, when installed) ------------------------------------------------ */

  function resize() {
    if (bridge && typeof bridge.resize === "function") { bridge.resize(document.documentElement.scrollHeight); }
  }

  function connect() {
    if (!window.HubBridge || typeof window.HubBridge.connect !== "function") { return Promise.resolve(null); }
    return window.HubBridge.connect(host() || null).then(function (connected) {
      bridge = connected;
      return connected;
    }).catch(function () { return null; });
  }

  function followRecord() {
    if (!bridge || typeof bridge.onRecordChange !== "function") { return; }
    bridge.onRecordChange(function (record) {
      var url = record && panelUrl(record);
      if (url && url.split("?")[0] !== window.location.pathname) { window.location.assign(url); }
    });
  }

  function entry() {
    var status = document.getElementById("panel-entry-status");
    if (!host()) { return; }
    connect().then(function (connected) {
      if (!connected) {
        status.textContent = "The console connection is not available on this hub; open a record from its panel link.";
        return null;
      }
      followRecord();
      return connected.currentRecord();
    }).then(function (record) {
      var url = record && panelUrl(record);
      if (url) { window.location.replace(url); }
      else if (bridge) { status.textContent = "Open a ticket or case to see its panel here."; }
    }).catch(function () { status.textContent = "Could not ask the console which record is open."; });
  }

  function start() {
    var api = document.body.getAttribute("data-panel-api");
    wirePops();
    if (document.body.hasAttribute("data-panel-entry")) { entry(); return; }
    if (!api) { connect(); return; }
    var seconds = parseFloat(document.body.getAttribute("data-poll-seconds")) || 3;
    wireActions(api);
    connect().then(function () { followRecord(); resize(); });
    poll(api, seconds);
    /* time passes even when nothing is recorded: re-render the clocks' "left" once a minute */
    window.setInterval(function () { refresh(""); }, 60000);
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
