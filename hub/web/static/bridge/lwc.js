/*
 * Lightning Web Component host for the CTI Hub bridge: postMessage with the parent ctiHubPanel
 * component (the package's force-app/main/default/lwc/ctiHubPanel). Protocol version 1:
 *   parent -> panel  {type: "ctihub:record", v: 1, record: {crm, object, id} | null}
 *                    {type: "ctihub:result", v: 1, requestId, ok, id?, error?}
 *   panel -> parent  {type: "ctihub:ready", v: 1}
 *                    {type: "ctihub:pop", v: 1, requestId, record}
 *                    {type: "ctihub:resize", v: 1, height}
 *                    {type: "ctihub:saveLog", v: 1, requestId, fields}
 * A message is accepted only from window.parent, from an allowed Salesforce origin, and, once the
 * parent has spoken, from that same origin; the panel posts only to that origin.
 */
(function () {
  'use strict';

  var SALESFORCE = ['https://*.force.com', 'https://*.salesforce.com'];
  var FIRST_RECORD_MS = 5000;
  var REPLY_MS = 15000;

  window.HubBridge.register('lwc', function (ctx) {
    if (window.parent === window) {
      return Promise.reject(ctx.BridgeError('LWC: the panel is not framed by the component', 'host'));
    }
    var parentOrigin = null;
    var outbox = [];
    var pending = {};
    var sequence = 0;
    var record;  // undefined until the parent has told us
    var fire = function () {};
    var waiting = [];

    function allowed(origin) {
      return ctx.originAllowed(origin, SALESFORCE) && (parentOrigin === null || origin === parentOrigin);
    }

    function send(message) {
      message.v = ctx.protocol;
      if (parentOrigin) {
        window.parent.postMessage(message, parentOrigin);
      } else {
        outbox.push(message);
      }
    }

    function request(type, body) {
      sequence += 1;
      var requestId = 'r' + sequence + '-' + Date.now().toString(36);
      return new Promise(function (resolve, reject) {
        var timer = setTimeout(function () {
          delete pending[requestId];
          reject(ctx.BridgeError('LWC: no answer to ' + type, 'timeout'));
        }, REPLY_MS);
        pending[requestId] = { resolve: resolve, reject: reject, timer: timer };
        body.type = type;
        body.requestId = requestId;
        send(body);
      });
    }

    window.addEventListener('message', function (event) {
      var data = event.data;
      if (event.source !== window.parent || !allowed(event.origin)) {
        return;
      }
      if (!data || typeof data !== 'object' || data.v !== ctx.protocol || typeof data.type !== 'string') {
        return;
      }
      if (parentOrigin === null) {
        parentOrigin = event.origin;
        outbox.splice(0).forEach(send);
      }
      if (data.type === 'ctihub:record') {
        record = ctx.normalizeRecord(data.record);
        waiting.splice(0).forEach(function (resolve) { resolve(record); });
        fire(record);
      } else if (data.type === 'ctihub:result' && pending[data.requestId]) {
        var waiter = pending[data.requestId];
        delete pending[data.requestId];
        clearTimeout(waiter.timer);
        if (data.ok) {
          waiter.resolve(data);
        } else {
          waiter.reject(ctx.BridgeError('LWC: ' + (data.error || 'the component refused'), 'host'));
        }
      }
    });

    // Say hello to the parent, if the referrer (or ancestorOrigins) names an allowed origin; the
    // component also sends the record when the frame loads, so this only speeds things up.
    var candidates = [];
    if (document.referrer) {
      try { candidates.push(new URL(document.referrer).origin); } catch (ignored) { /* not a URL */ }
    }
    if (window.location.ancestorOrigins && window.location.ancestorOrigins.length) {
      candidates.push(window.location.ancestorOrigins[0]);
    }
    var hello = candidates.filter(function (origin) { return ctx.originAllowed(origin, SALESFORCE); })[0];
    if (hello) {
      window.parent.postMessage({ type: 'ctihub:ready', v: ctx.protocol }, hello);
    }

    return {
      current: function () {
        if (record !== undefined) {
          return record;
        }
        return new Promise(function (resolve) {
          waiting.push(resolve);
          setTimeout(function () { resolve(record === undefined ? null : record); }, FIRST_RECORD_MS);
        });
      },
      subscribe: function (callback) { fire = callback; },
      pop: function (target) {
        return request('ctihub:pop', { record: ctx.normalizeRecord(target) || target }).then(function () {
          return undefined;
        });
      },
      saveLog: function (fields) {
        return request('ctihub:saveLog', { fields: fields }).then(function (result) {
          return { saved: true, id: result.id || null };
        });
      },
      resize: function (height) {
        send({ type: 'ctihub:resize', height: height });
      }
    };
  });
})();
