/* CTI Hub: the shared page script (no framework, no build step, no inline scripts anywhere). */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  function ApiError(status, body) {
    var error = (body && body.error) || {};
    this.name = "ApiError";
    this.status = status;
    this.body = body;
    this.code = error.code || "http_" + status;
    this.message = error.message || "request failed with HTTP " + status;
    this.details = error.details || [];
    this.stack = new Error(this.message).stack;
  }
  ApiError.prototype = Object.create(Error.prototype);
  ApiError.prototype.constructor = ApiError;

  /* Hub.api(method, url, body?) -> Promise of the parsed JSON (null for an empty answer). */
  function api(method, url, body) {
    var init = {
      method: method.toUpperCase(),
      credentials: "same-origin",
      headers: {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "X-CSRF-Token": csrfToken()
      }
    };
    if (body !== undefined) { init.body = JSON.stringify(body); }
    return fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        if (text) {
          try { parsed = JSON.parse(text); } catch (e) { parsed = { error: { code: "bad_json", message: text.slice(0, 200), details: [] } }; }
        }
        if (!response.ok) { throw new ApiError(response.status, parsed); }
        return parsed;
      });
    });
  }

  /* Hub.formatTime(iso, timeZone) -> "Dec 6, 14:05" in the agent's zone ("" for no time). */
  function formatTime(iso, timeZone) {
    if (!iso) { return ""; }
    var date = new Date(iso);
    if (isNaN(date.getTime())) { return String(iso); }
    var options = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false };
    try {
      return new Intl.DateTimeFormat(undefined, Object.assign({ timeZone: timeZone || "UTC" }, options)).format(date);
    } catch (e) {
      return new Intl.DateTimeFormat(undefined, Object.assign({ timeZone: "UTC" }, options)).format(date) + " UTC";
    }
  }

  /* Forms marked data-autosubmit post themselves (the sandbox's no-click sign-in). */
  function autosubmit() {
    var form = document.querySelector("form[data-autosubmit]");
    if (form) { form.submit(); }
  }

  /* "Sign in with Salesforce" opens a popup (Salesforce's login refuses to be framed); the
     callback page posts {type: "ctihub:signed-in"} back to us, and we reload. */
  function signinPopup() {
    var link = document.querySelector("a[data-signin-popup]");
    if (!link) { return; }
    var status = document.querySelector("[data-signin-status]");
    link.addEventListener("click", function (event) {
      var popup = window.open(link.href, "ctihub-signin", "popup,width=520,height=680");
      if (!popup) { return; } /* blocked: follow the link in this window instead */
      event.preventDefault();
      if (status) { status.textContent = "Finish signing in in the Salesforce window."; }
    });
    window.addEventListener("message", function (event) {
      if (event.origin !== window.location.origin) { return; }
      if (!event.data || event.data.type !== "ctihub:signed-in") { return; }
      var next = link.getAttribute("data-next") || "/";
      if (next.charAt(0) !== "/" || next.charAt(1) === "/") { next = "/"; }
      window.location.assign(next);
    });
  }

  /* The popup's last page: tell the opener (same origin only) and close. */
  function signinComplete() {
    var marker = document.querySelector("[data-signin-complete]");
    if (!marker) { return; }
    var next = marker.getAttribute("data-next") || "/";
    if (window.opener && !window.opener.closed) {
      window.opener.postMessage({ type: "ctihub:signed-in" }, window.location.origin);
      window.close();
    } else {
      window.location.replace(next);
    }
  }

  window.Hub = { api: api, ApiError: ApiError, formatTime: formatTime, csrfToken: csrfToken };

  function start() { autosubmit(); signinPopup(); signinComplete(); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
