/*
 * Zendesk Apps framework v2 host for the CTI Hub bridge.
 *
 * The app's ticket_sidebar / new_ticket_sidebar frame the hub directly (signedUrls), so the ZAF
 * SDK runs in the hub's page. It is served by the hub (vendor/zaf_sdk.js, Apache-2.0, see
 * vendor/README.md), not from Zendesk's CDN: the panel's CSP is script-src 'self'. ZAFClient.init()
 * reads origin and app_guid from the page's query or hash, as Zendesk appends them to the URL;
 * /signin/zendesk must pass them on to the page it redirects to (in the query or the hash).
 */
(function () {
  'use strict';

  var ZENDESK = ['https://*.zendesk.com'];

  // The app frame keeps its origin and app_guid in window.name: the panel moves from
  // /panel/zendesk to /panel/zendesk/tickets/<id> inside the same frame, and Zendesk adds the two
  // parameters only to the first URL. window.name lives exactly as long as the frame.
  var CARRY = 'ctihub-zaf:';

  function hostParams() {
    var query = new URLSearchParams(window.location.search);
    var hash = new URLSearchParams(window.location.hash.replace(/^#/, ''));
    var origin = query.get('origin') || hash.get('origin');
    var guid = query.get('app_guid') || hash.get('app_guid');
    if (origin && guid) {
      window.name = CARRY + JSON.stringify({ origin: origin, app_guid: guid });
      return { origin: origin, guid: guid };
    }
    if (typeof window.name === 'string' && window.name.indexOf(CARRY) === 0) {
      try {
        var saved = JSON.parse(window.name.slice(CARRY.length));
        if (typeof saved.origin === 'string' && typeof saved.app_guid === 'string') {
          // ZAFClient.init() reads them from the URL's query or hash: put them in the hash.
          window.history.replaceState(window.history.state, '', window.location.pathname + window.location.search +
            '#origin=' + encodeURIComponent(saved.origin) + '&app_guid=' + encodeURIComponent(saved.app_guid));
          return { origin: saved.origin, guid: saved.app_guid };
        }
      } catch (ignored) { /* not ours */ }
    }
    return { origin: origin, guid: guid };
  }

  function ticket(data) {
    var id = data && data['ticket.id'];
    return id ? { crm: 'zendesk', object: 'ticket', id: String(id) } : null;
  }

  window.HubBridge.register('zaf', function (ctx) {
    var origin = hostParams().origin;
    if (!origin || !ctx.originAllowed(origin, ZENDESK)) {
      return Promise.reject(ctx.BridgeError(
        'Zendesk: origin ' + JSON.stringify(origin) + ' is not a configured Zendesk domain', 'origin'));
    }
    var loaded = window.ZAFClient ? Promise.resolve() : ctx.loadScript(ctx.base + 'vendor/zaf_sdk.js');
    return loaded.then(function () {
      var client = window.ZAFClient && window.ZAFClient.init();
      if (!client) {
        throw ctx.BridgeError('Zendesk: the page lacks the origin and app_guid the app adds', 'host');
      }
      function current() {
        return client.get('ticket.id').then(ticket, function () { return null; });
      }
      return {
        current: current,
        subscribe: function (fire) {
          var refresh = function () { current().then(fire); };
          // A new ticket gets its id when submitted; the sidebar instance stays the same.
          ['app.registered', 'app.activated', 'ticket.saved', 'ticket.submit.done'].forEach(function (name) {
            client.on(name, refresh);
          });
        },
        pop: function (record) {
          if (!record.id) {
            throw ctx.BridgeError('Zendesk: pop needs a ticket or user id', 'argument');
          }
          var where = record.object === 'user' ? 'user' : 'ticket';
          return client.invoke('routeTo', where, String(record.id));
        },
        saveLog: function () {
          // ZAF has no activity log; dispositions reach the ticket through the hub's Zendesk adapter.
          return { saved: false, reason: 'Zendesk tickets are updated by the hub, not through the app' };
        },
        resize: function (height) {
          return client.invoke('resize', { width: '100%', height: height + 'px' });
        }
      };
    });
  });
})();
