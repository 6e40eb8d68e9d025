// Zendesk's side of the ZAF SDK's postMessage protocol, enough to drive the vendored SDK for real:
// the handshake answered with app.registered, get/invoke requests answered by id, events pushed
// as "zaf.<name>" messages. Messages are accepted only from the app frame's origin.
(function () {
  'use strict';
  var frame = document.getElementById('panel');
  var state = { received: [], invoked: [], subscribed: [], ticketId: 4242 };
  window.__zendesk = state;
  frame.src = new URLSearchParams(window.location.search).get('panel');
  var hubOrigin = new URL(frame.src).origin;

  function send(message) {
    frame.contentWindow.postMessage(JSON.stringify(message), hubOrigin);
  }

  state.fire = function (name, message) { send({ key: 'zaf.' + name, message: message || {} }); };

  window.addEventListener('message', function (event) {
    if (event.origin !== hubOrigin || event.source !== frame.contentWindow) {
      return;
    }
    var data = typeof event.data === 'string' ? JSON.parse(event.data) : event.data;
    state.received.push(data);
    if (data.key === 'iframe.handshake') {
      send({ key: 'zaf.app.registered', message: {
        context: { product: 'support', location: 'ticket_sidebar', ticketId: state.ticketId },
        metadata: { appId: 1, installationId: 1 } } });
    } else if (typeof data.key === 'string' && data.key.indexOf('iframe.on:') === 0) {
      state.subscribed.push(data.key.slice('iframe.on:'.length));
    } else if (data.request === 'get') {
      var result = { errors: {} };
      data.params.forEach(function (path) { result[path] = path === 'ticket.id' ? state.ticketId : null; });
      send({ id: data.id, result: result });
    } else if (data.request === 'invoke') {
      state.invoked.push(data.params);
      send({ id: data.id, result: { errors: {} } });
    }
  });
})();
